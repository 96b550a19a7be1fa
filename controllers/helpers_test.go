package controllers_test

import (
	"bytes"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// childGVKs are every kind the operator may create, to find its objects by label.
var childGVKs = []schema.GroupVersionKind{
	{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "AIGatewayRoute"},
	{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "AIServiceBackend"},
	{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "BackendSecurityPolicy"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "BackendTLSPolicy"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayClass"},
	{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "Backend"},
	{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "ClientTrafficPolicy"},
	{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "EnvoyProxy"},
	{Group: "", Version: "v1", Kind: "Secret"},
	{Group: "", Version: "v1", Kind: "Namespace"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
	{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "SecurityPolicy"},
	{Group: "serving.kserve.io", Version: "v1beta1", Kind: "InferenceService"},
	{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "BackendTrafficPolicy"},
	{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "GatewayConfig"},
}

// liveChildren lists the platform's labelled objects in the cluster, as "Kind/namespace/name".
func liveChildren(t *testing.T, p *platformv1.GenAIPlatform) []string {
	t.Helper()
	var out []string
	for _, gvk := range childGVKs {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := k8s.List(testCtx, list, client.MatchingLabels{
			platformv1.LabelPlatform: p.Name, platformv1.LabelPlatformNS: p.Namespace,
		}); err != nil {
			t.Fatalf("listing %s: %v", gvk.Kind, err)
		}
		for _, item := range list.Items {
			if item.GetDeletionTimestamp() != nil {
				continue
			}
			out = append(out, gvk.Kind+"/"+item.GetNamespace()+"/"+item.GetName())
		}
	}
	sort.Strings(out)
	return out
}

// applyYAMLFile creates the objects of a YAML file in namespace ns (server-side apply, as kubectl
// apply --server-side would) and returns the GenAIPlatform in it, if any.
func applyYAMLFile(t *testing.T, ns, file string) *platformv1.GenAIPlatform {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var platform *platformv1.GenAIPlatform
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		if u.GetKind() == "Namespace" || u.GetKind() == "Facts" || u.GetKind() == "" {
			continue
		}
		u.SetNamespace(ns)
		if err := k8s.Patch(testCtx, u, client.Apply, client.FieldOwner("test"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		if u.GetKind() == "GenAIPlatform" {
			platform = &platformv1.GenAIPlatform{}
			if err := k8s.Get(testCtx, client.ObjectKeyFromObject(u), platform); err != nil {
				t.Fatal(err)
			}
		}
	}
	return platform
}

// createPlatform creates a platform from YAML (spec only) in ns.
func createPlatform(t *testing.T, ns, name, specYAML string) *platformv1.GenAIPlatform {
	t.Helper()
	p := &platformv1.GenAIPlatform{}
	if err := sigyaml.UnmarshalStrict([]byte(specYAML), &p.Spec); err != nil {
		t.Fatalf("spec: %v", err)
	}
	p.Name, p.Namespace = name, ns
	if err := k8s.Create(testCtx, p); err != nil {
		t.Fatalf("creating platform: %v", err)
	}
	return p
}

func createSecret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
	if err := k8s.Create(testCtx, s); err != nil {
		t.Fatal(err)
	}
}

// updateOrCreateSecret creates a Secret with data, or replaces the data of the existing one.
func updateOrCreateSecret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	err := k8s.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, &corev1.Secret{})
	switch {
	case apierrors.IsNotFound(err):
		createSecret(t, ns, name, data)
	case err != nil:
		t.Fatal(err)
	default:
		updateSecretData(t, ns, name, data)
	}
}

// updateSecretData replaces a Secret's data.
func updateSecretData(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if err := k8s.Update(testCtx, s); err != nil {
		t.Fatal(err)
	}
}

func getPlatform(t *testing.T, p *platformv1.GenAIPlatform) *platformv1.GenAIPlatform {
	t.Helper()
	out := &platformv1.GenAIPlatform{}
	if err := k8s.Get(testCtx, client.ObjectKeyFromObject(p), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitCondition waits until the platform's condition has the status and reason (any reason if empty),
// for the current generation, and returns the platform.
func waitCondition(t *testing.T, p *platformv1.GenAIPlatform, typ string, want metav1.ConditionStatus, reason string) *platformv1.GenAIPlatform {
	t.Helper()
	var got *platformv1.GenAIPlatform
	eventually(t, 20*time.Second, func() error {
		got = &platformv1.GenAIPlatform{}
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(p), got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, typ)
		if c == nil {
			return fmt.Errorf("no %s condition yet", typ)
		}
		if c.Status != want || (reason != "" && c.Reason != reason) || c.ObservedGeneration != got.Generation {
			return fmt.Errorf("%s=%s reason %s (gen %d of %d): %s", typ, c.Status, c.Reason, c.ObservedGeneration, got.Generation, c.Message)
		}
		return nil
	})
	return got
}

// setStatusConditions writes conditions into a child's status, as its controller would.
func setStatusConditions(t *testing.T, gvk schema.GroupVersionKind, ns, name string, extra map[string]any, types ...string) {
	t.Helper()
	setStatusConditionsIn(t, k8s, gvk, ns, name, extra, types...)
}

// setStatusConditionsIn is setStatusConditions in the cluster c talks to.
func setStatusConditionsIn(t *testing.T, c client.Client, gvk schema.GroupVersionKind, ns, name string, extra map[string]any, types ...string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := c.Get(testCtx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			return err
		}
		var conds []any
		for _, typ := range types {
			conds = append(conds, map[string]any{
				"type": typ, "status": "True", "reason": typ, "message": "set by the test as the controller would",
				"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": u.GetGeneration(),
			})
		}
		st := map[string]any{"conditions": conds}
		for k, v := range extra {
			st[k] = v
		}
		u.Object["status"] = st
		return c.Status().Update(testCtx, u)
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func keyOf(obj client.Object) types.NamespacedName { return client.ObjectKeyFromObject(obj) }

var _ = strings.Contains

// updatePlatform edits the latest platform and updates it, retrying on conflicts with the operator's
// own writes (finalizer, status).
func updatePlatform(t *testing.T, p *platformv1.GenAIPlatform, edit func(*platformv1.GenAIPlatform)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest := &platformv1.GenAIPlatform{}
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(p), latest); err != nil {
			return err
		}
		edit(latest)
		return k8s.Update(testCtx, latest)
	})
	if err != nil {
		t.Fatal(err)
	}
}
