package controllers_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

var childGVKs = testenv.ChildGVKs()

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
	objs, err := testenv.ReadObjects(file)
	if err != nil {
		t.Fatal(err)
	}
	var platform *platformv1.GenAIPlatform
	for _, u := range objs {
		if u.GetKind() == "Namespace" || u.GetKind() == "Facts" || u.GetKind() == "" {
			continue
		}
		u.SetNamespace(ns)
		if err := k8s.Apply(testCtx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("test"), client.ForceOwnership); err != nil {
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
	setStatusConditionsWith(t, c, gvk, ns, name, extra, "set by the test as the controller would", types...)
}

// setStatusConditionsMessage is setStatusConditions with the conditions' message.
func setStatusConditionsMessage(t *testing.T, gvk schema.GroupVersionKind, ns, name string, extra map[string]any, message string, types ...string) {
	t.Helper()
	setStatusConditionsWith(t, k8s, gvk, ns, name, extra, message, types...)
}

func setStatusConditionsWith(t *testing.T, c client.Client, gvk schema.GroupVersionKind, ns, name string, extra map[string]any, message string, types ...string) {
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
				"type": typ, "status": "True", "reason": typ, "message": message,
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

func keyOf(obj client.Object) types.NamespacedName { return client.ObjectKeyFromObject(obj) }

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

// expectNoWritesOnReconcile makes the operator reconcile an unchanged, converged platform three times
// (an annotation change triggers a reconcile without changing the spec; the test's own client is not
// counted) and checks it sent no write. Each round waits until the operator's reconcile counter shows
// that a reconcile ran to its end after the poke, so "no write" is never "not reconciled yet".
func expectNoWritesOnReconcile(t *testing.T, p *platformv1.GenAIPlatform) {
	t.Helper()
	// Converged: the operator's writes have stopped (its informers have caught up with its own writes).
	eventually(t, 30*time.Second, func() error {
		start := writes.mark()
		before := reconcileCount(t, p)
		time.Sleep(time.Second)
		if w := writes.since(start); len(w) > 0 || reconcileCount(t, p) != before {
			return fmt.Errorf("still converging: %d writes, reconciles %v -> %v", len(w), before, reconcileCount(t, p))
		}
		return nil
	})
	for round := 0; round < 3; round++ {
		start := writes.mark()
		poke(t, p, round)
		if w := writes.since(start); len(w) != 0 {
			t.Fatalf("round %d: the operator wrote %d times on an unchanged platform: %v", round, len(w), w)
		}
	}
}

// poke annotates the platform (round is the value) and waits until a reconcile of it has run to its end.
func poke(t *testing.T, p *platformv1.GenAIPlatform, round int) {
	t.Helper()
	before := reconcileCount(t, p)
	updatePlatform(t, p, func(latest *platformv1.GenAIPlatform) {
		latest.Annotations = map[string]string{"test/poke": fmt.Sprint(round)}
	})
	eventually(t, 30*time.Second, func() error {
		if reconcileCount(t, p) == before {
			return fmt.Errorf("round %d: no reconcile yet", round)
		}
		return nil
	})
}

// reconcileCount is the operator's genai_platform_reconciles_total for a platform, read from the
// manager's own metrics registry (the manager runs in this test process).
func reconcileCount(t *testing.T, p *platformv1.GenAIPlatform) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "genai_platform_reconciles_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == p.Namespace && labels["name"] == p.Name {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// acceptTierTwoIn plays Envoy Gateway in one model cluster (c) for a platform's Tier Two: its
// GatewayClass Accepted, and each of its HTTPRoutes Accepted with ResolvedRefs for its parent Gateway,
// in Envoy Gateway's shape (status.parents[], per parent ref, with the controller's name). The Gateway's
// own status (its address) is left to the caller.
func acceptTierTwoIn(t *testing.T, c client.Client, p *platformv1.GenAIPlatform, cluster, modelNamespace string) {
	t.Helper()
	setStatusConditionsIn(t, c, gvkGatewayClass, "", render.Name("genai", p.Namespace, p.Name, "t2", cluster), nil, "Accepted")
	eventually(t, 20*time.Second, func() error {
		var routes unstructured.UnstructuredList
		routes.SetGroupVersionKind(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRouteList"})
		if err := c.List(testCtx, &routes, client.InNamespace(modelNamespace), client.MatchingLabels(render.SelectorLabels(p))); err != nil {
			return err
		}
		if len(routes.Items) == 0 {
			return fmt.Errorf("no Tier Two HTTPRoute in %s yet", cluster)
		}
		for i := range routes.Items {
			r := &routes.Items[i]
			var conds []any
			for _, typ := range []string{"Accepted", "ResolvedRefs"} {
				conds = append(conds, map[string]any{"type": typ, "status": "True", "reason": typ, "message": "set by the test as Envoy Gateway would",
					"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": r.GetGeneration()})
			}
			r.Object["status"] = map[string]any{"parents": []any{map[string]any{
				"parentRef":      map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": render.TierTwoGatewayName(p)},
				"controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
				"conditions":     conds,
			}}}
			if err := c.Status().Update(testCtx, r); err != nil {
				return err
			}
		}
		return nil
	})
}
