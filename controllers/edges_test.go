package controllers_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// TestPlatformNearTheSizeLimit: a platform whose spec is about 1.4 MiB (256 self-hosted models at the
// API's cap, each with long server arguments) is admitted, rendered and applied, and its status (a line
// per model) still fits beside the spec in the API server's 1.5 MiB request limit.
func TestPlatformNearTheSizeLimit(t *testing.T) {
	ns := newNamespace(t)
	arg := "--" + strings.Repeat("x", 77)
	args := make([]string, 64)
	for i := range args {
		args[i] = fmt.Sprintf("%s%02d", arg, i)
	}
	argsYAML, err := sigyaml.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	flow := strings.ReplaceAll(strings.TrimSpace(string(argsYAML)), "\n", ", ")
	flow = "[" + strings.ReplaceAll(flow, "- ", "") + "]"
	var b strings.Builder
	b.WriteString("gateway: {listener: {protocol: HTTP}}\nmodelClusters: [{name: c, namespace: " + ns + "-models, nodePools: [{name: p}]}]\nmodels:\n")
	for i := range 256 {
		fmt.Fprintf(&b, "- {name: org/model-with-a-rather-long-name-%03d, selfHosted: {storageUri: 'hf://org/m%d', args: %s, placements: [{cluster: c, nodePool: p}]}}\n", i, i, flow)
	}
	p := createPlatform(t, ns, "big", b.String())
	p = getPlatform(t, p)
	raw, err := sigyaml.Marshal(p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("spec: %d KiB", len(raw)/1024)
	if len(raw) < 1200*1024 {
		t.Fatalf("the spec is only %d KiB: not near the limit", len(raw)/1024)
	}
	eventually(t, 90*time.Second, func() error {
		got := getPlatform(t, p)
		if got.Status.ObservedGeneration != got.Generation || len(got.Status.Models) != 256 {
			return fmt.Errorf("observedGeneration %d of %d, %d model statuses", got.Status.ObservedGeneration, got.Generation, len(got.Status.Models))
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionReady); c == nil {
			return fmt.Errorf("no Ready condition")
		}
		return nil
	})
	isvcs := 0
	for i := range 256 {
		u := newISVC()
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns + "-models", Name: render.InferenceServiceName(p, ns+"-models", fmt.Sprintf("org/model-with-a-rather-long-name-%03d", i), "p")}, u); err == nil {
			isvcs++
		}
	}
	if isvcs != 256 {
		t.Errorf("%d of 256 InferenceServices", isvcs)
	}
}

func newISVC() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvkISVC)
	return u
}

// TestCacheHoldsOnlyOwnedObjects inspects the operator's informers, not its code: after another team's
// Secret and HTTPRoute are created beside a platform, the operator's cache lists, for every child kind
// but Namespace (cached whole: a namespace's labels decide where a platform may write), only objects
// carrying the operator's label. User Secrets are read uncached, never stored.
func TestCacheHoldsOnlyOwnedObjects(t *testing.T) {
	p := twoProviderPlatform(t)
	createSecret(t, p.Namespace, "another-teams-secret", map[string]string{"password": "x"})
	route := &gwapiv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "another-teams-route", Namespace: p.Namespace}}
	route.Spec.ParentRefs = []gwapiv1.ParentReference{{Name: "elsewhere"}}
	if err := k8s.Create(testCtx, route); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // time for a watch event to reach an informer that would take it
	seen := 0
	for _, gvk := range testenv.ChildGVKs() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := testCache.List(testCtx, list); err != nil {
			t.Fatalf("listing %s from the operator's cache: %v", gvk.Kind, err)
		}
		for _, item := range list.Items {
			seen++
			if item.GetLabels()[platformv1.LabelManagedBy] != platformv1.ManagedByValue {
				t.Errorf("the operator's cache holds %s %s/%s, which is not the operator's", gvk.Kind, item.GetNamespace(), item.GetName())
			}
		}
	}
	if seen == 0 {
		t.Fatal("the operator's cache holds nothing: the check would be vacuous")
	}
	if err := testCache.Get(testCtx, client.ObjectKey{Namespace: p.Namespace, Name: "another-teams-secret"}, &corev1.Secret{}); err == nil {
		t.Error("the operator's cache holds another team's Secret")
	}
	t.Logf("%d objects in the operator's informers, all its own", seen)

	// User Secrets are watched (metadata only) in the namespaces of platforms and their teams' models,
	// never cluster-wide: the Secrets of a namespace without either are not even listed.
	lonely := newNamespace(t)
	createSecret(t, lonely, "nobodys-secret", map[string]string{"password": "x"})
	time.Sleep(time.Second)
	platformNS := false
	for _, path := range secretLists.since(0) {
		u, err := url.Parse(strings.TrimPrefix(path, "GET "))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case u.Path == "/api/v1/secrets" && !strings.Contains(u.Query().Get("labelSelector"), platformv1.LabelManagedBy+"="+platformv1.ManagedByValue):
			t.Errorf("the operator lists or watches every Secret of the cluster, not only its own: %s", path)
		case strings.Contains(path, "/namespaces/"+lonely+"/"):
			t.Errorf("the operator watches the Secrets of a namespace with no platform: %s", path)
		case strings.Contains(path, "/namespaces/"+p.Namespace+"/"):
			platformNS = true
		}
	}
	if !platformNS {
		t.Errorf("the Secrets of the platform's namespace %s are not watched; lists and watches of Secrets: %v", p.Namespace, secretLists.since(0))
	}
}
