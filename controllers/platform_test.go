package controllers_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

const samplesDir = "../config/samples/"

// expectedChildren is what render says the platform should have, as liveChildren prints it.
func expectedChildren(t *testing.T, p *platformv1.GenAIPlatform, creds map[string]map[string][]byte) []string {
	return expectedChildrenOf(t, render.Input{Platform: p, Facts: facts.Facts{Secrets: facts.Secrets{Credentials: creds}}})
}

// expectedChildrenOf is expectedChildren for any render input (model clusters need more facts).
func expectedChildrenOf(t *testing.T, in render.Input) []string {
	t.Helper()
	scheme := controllers.NewScheme()
	var out []string
	for _, c := range render.Render(in).Children {
		gvk, err := apiutil.GVKForObject(c.Object, scheme)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, gvk.Kind+"/"+c.Object.GetNamespace()+"/"+c.Object.GetName())
	}
	sort.Strings(out)
	return out
}

func waitChildren(t *testing.T, p *platformv1.GenAIPlatform, want []string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if got := liveChildren(t, p); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("children differ:\n got  %v\n want %v", got, want)
		}
		return nil
	})
}

// TestSamplesConverge: the samples' children are exactly the rendered set, each one written to (and so
// validated by) the real API server with the real upstream CRDs; status says what it waits for.
func TestSamplesConverge(t *testing.T) {
	ns := newNamespace(t)
	applyYAMLFile(t, ns, samplesDir+"secrets.yaml")
	p := applyYAMLFile(t, ns, samplesDir+"platform_v1alpha1_genaiplatform.yaml")

	want := expectedChildren(t, getPlatform(t, p), map[string]map[string][]byte{
		"openai": {"apiKey": nil}, "anthropic": {"apiKey": nil}, "azure": {"apiKey": nil},
	})
	if len(want) < 15 {
		t.Fatalf("the sample should render every Tier One kind, got %v", want)
	}
	waitChildren(t, p, want)

	got := waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionFalse, status.ReasonWaitingForGateway)
	c := findCondition(got, platformv1.ConditionReady)
	if !strings.Contains(c.Message, "Envoy Gateway") {
		t.Errorf("Ready should name the controller it waits for: %q", c.Message)
	}
	if c := findCondition(got, platformv1.ConditionReconciling); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Reconciling should be True while waiting, got %+v", c)
	}
	if findCondition(got, platformv1.ConditionStalled) != nil {
		t.Errorf("Stalled must be absent while not stalled")
	}
	if got.Status.TotalModels != 3 || got.Status.ReadyModels != 0 || got.Status.ModelsSummary != "0/3" {
		t.Errorf("model counts: %+v", got.Status)
	}
}

func findCondition(p *platformv1.GenAIPlatform, typ string) *metav1.Condition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

var _ client.Object

// providerSpec is a platform with two providers and three models, used by several tests.
const twoProviders = `
gateway:
  listener: {protocol: HTTP}
providers:
- name: openai
  type: OpenAI
  credentials: {secretRef: {name: openai-key}}
- name: anthropic
  type: Anthropic
  credentials: {secretRef: {name: anthropic-key, key: token}}
models:
- name: gpt-4o
  routes: [{provider: openai}]
- name: claude
  routes: [{provider: anthropic, model: claude-sonnet-4-5}]
- name: meta-llama/Llama-3.1-8B-Instruct
  routes: [{provider: openai, priority: 0}, {provider: anthropic, priority: 1}]
`

func twoProviderPlatform(t *testing.T) *platformv1.GenAIPlatform {
	ns := newNamespace(t)
	createSecret(t, ns, "openai-key", map[string]string{"whatever-name": "sk-openai-secret-value-1"})
	createSecret(t, ns, "anthropic-key", map[string]string{"token": "sk-anthropic-secret-value-1", "other": "x"})
	p := createPlatform(t, ns, "acme", twoProviders)
	waitChildren(t, p, expectedChildren(t, getPlatform(t, p), map[string]map[string][]byte{"openai": nil, "anthropic": nil}))
	return p
}

// TestRemovingProviderAndModelPrunes: removing a provider or a model from the spec deletes exactly its
// children; deleting the platform deletes all of them, the cluster-scoped GatewayClass included.
func TestRemovingProviderAndModelPrunes(t *testing.T) {
	p := twoProviderPlatform(t)

	// Remove the model "claude" and the provider "anthropic" (and the route to it).
	updatePlatform(t, p, func(latest *platformv1.GenAIPlatform) {
		latest.Spec.Models = latest.Spec.Models[:1]
		latest.Spec.Providers = latest.Spec.Providers[:1]
	})
	want := expectedChildren(t, getPlatform(t, p), map[string]map[string][]byte{"openai": nil})
	for _, w := range want {
		if strings.Contains(w, "anthropic") {
			t.Fatalf("render still has %s", w)
		}
	}
	waitChildren(t, p, want)
	route := &unstructured.Unstructured{}
	route.SetGroupVersionKind(schema.GroupVersionKind{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "AIGatewayRoute"})
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: p.Namespace, Name: render.RouteName(p, 0)}, route); err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	if len(rules) != 1 {
		t.Errorf("route should hold only gpt-4o's rule, has %d rules", len(rules))
	}

	// Delete the platform: nothing labelled is left, in any namespace or at cluster scope.
	if err := k8s.Delete(testCtx, getPlatform(t, p)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if left := liveChildren(t, p); len(left) > 0 {
			return fmt.Errorf("left behind: %v", left)
		}
		err := k8s.Get(testCtx, keyOf(p), &platformv1.GenAIPlatform{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("platform still there: %v", err)
		}
		return nil
	})
}

// TestHandEditsAreRepaired: a child deleted or edited by hand comes back as rendered.
func TestHandEditsAreRepaired(t *testing.T) {
	p := twoProviderPlatform(t)
	backendGVK := schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "Backend"}
	name := render.ProviderBackendName(p, "openai")

	// Edit: point the Backend somewhere else.
	b := &unstructured.Unstructured{}
	b.SetGroupVersionKind(backendGVK)
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: p.Namespace, Name: name}, b); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(b.Object, []any{map[string]any{"fqdn": map[string]any{"hostname": "evil.example.com", "port": int64(443)}}}, "spec", "endpoints"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Update(testCtx, b); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(backendGVK)
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: p.Namespace, Name: name}, got); err != nil {
			return err
		}
		eps, _, _ := unstructured.NestedSlice(got.Object, "spec", "endpoints")
		if len(eps) != 1 || !strings.Contains(fmt.Sprint(eps[0]), "api.openai.com") {
			return fmt.Errorf("backend not repaired: %v", eps)
		}
		return nil
	})

	// Delete: the Gateway comes back.
	gw := &unstructured.Unstructured{}
	gw.SetGroupVersionKind(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"})
	gw.SetNamespace(p.Namespace)
	gw.SetName(render.GatewayName(p))
	if err := k8s.Delete(testCtx, gw); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		got := gw.DeepCopy()
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(gw), got); err != nil {
			return err
		}
		if got.GetDeletionTimestamp() != nil {
			return fmt.Errorf("still the deleted one")
		}
		return nil
	})
}

// TestSecondReconcileSendsNoWrites: once converged, a reconcile of the unchanged platform sends zero
// write requests to the API server.
func TestSecondReconcileSendsNoWrites(t *testing.T) {
	p := twoProviderPlatform(t)
	waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionFalse, status.ReasonWaitingForGateway)
	expectNoWritesOnReconcile(t, p)
}

// TestUserSecretChangeUpdatesManagedSecret: rotating the value in a user's Secret updates the managed
// copy within seconds, without a restart.
func TestUserSecretChangeUpdatesManagedSecret(t *testing.T) {
	p := twoProviderPlatform(t)
	managed := client.ObjectKey{Namespace: p.Namespace, Name: render.ProviderSecretName(p, "openai")}
	waitSecretValue(t, managed, render.KeyAPIKey, "sk-openai-secret-value-1")

	user := &corev1.Secret{}
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: p.Namespace, Name: "openai-key"}, user); err != nil {
		t.Fatal(err)
	}
	user.Data["whatever-name"] = []byte("sk-openai-secret-value-2")
	if err := k8s.Update(testCtx, user); err != nil {
		t.Fatal(err)
	}
	waitSecretValue(t, managed, render.KeyAPIKey, "sk-openai-secret-value-2")
}

func waitSecretValue(t *testing.T, key client.ObjectKey, dataKey, want string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		s := &corev1.Secret{}
		if err := k8s.Get(testCtx, key, s); err != nil {
			return err
		}
		if string(s.Data[dataKey]) != want {
			return fmt.Errorf("managed secret %s has not the expected value yet", key)
		}
		return nil
	})
}

// TestDeletionWaitsForTheAIGatewayRouteFinalizer: Envoy AI Gateway holds each AIGatewayRoute with its
// finalizer and needs the route's backends to release it. Deleting the platform deletes the routes
// first, keeps the AIServiceBackends while a route is terminating (the status says why; past a while,
// Stalled), and deletes the rest once Envoy AI Gateway has let the route go.
func TestDeletionWaitsForTheAIGatewayRouteFinalizer(t *testing.T) {
	p := twoProviderPlatform(t)
	const aigwFinalizer = "aigateway.envoyproxy.io/finalizer"
	route := &unstructured.Unstructured{}
	route.SetGroupVersionKind(gvkRoute)
	key := client.ObjectKey{Namespace: p.Namespace, Name: render.RouteName(p, 0)}
	// What Envoy AI Gateway does first with a route it reconciles.
	eventually(t, 10*time.Second, func() error {
		if err := k8s.Get(testCtx, key, route); err != nil {
			return err
		}
		route.SetFinalizers(append(route.GetFinalizers(), aigwFinalizer))
		return k8s.Update(testCtx, route)
	})
	if err := k8s.Delete(testCtx, getPlatform(t, p)); err != nil {
		t.Fatal(err)
	}
	backend := client.ObjectKey{Namespace: p.Namespace, Name: render.ProviderBackendName(p, "openai")}
	eventually(t, 20*time.Second, func() error {
		got := getPlatform(t, p)
		c := findCondition(got, platformv1.ConditionReady)
		if c == nil || c.Reason != status.ReasonDeletionWaiting || !strings.Contains(c.Message, aigwFinalizer) {
			return fmt.Errorf("Ready: %+v", c)
		}
		return nil
	})
	aisb := &unstructured.Unstructured{}
	aisb.SetGroupVersionKind(gvkAISB)
	if err := k8s.Get(testCtx, backend, aisb); err != nil || aisb.GetDeletionTimestamp() != nil {
		t.Fatalf("the route's AIServiceBackend must stay while the route is terminating: %v %v", err, aisb.GetDeletionTimestamp())
	}
	// The BackendSecurityPolicies too: deleting one makes Envoy AI Gateway sync its backends' routes,
	// and a terminating route reconciled twice at once loses its finalizer update (kinds.Kind.PruneFirst).
	policies := &unstructured.UnstructuredList{}
	policies.SetGroupVersionKind(schema.GroupVersionKind{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "BackendSecurityPolicyList"})
	if err := k8s.List(testCtx, policies, client.MatchingLabels(render.SelectorLabels(p))); err != nil || len(policies.Items) == 0 {
		t.Fatalf("the platform's BackendSecurityPolicies: %d, %v", len(policies.Items), err)
	}
	for _, bsp := range policies.Items {
		if bsp.GetDeletionTimestamp() != nil {
			t.Errorf("BackendSecurityPolicy %s deleted while the route is terminating", bsp.GetName())
		}
	}
	// Past DeletionStallAfter (3 s in these tests), only a human can end the wait: Stalled, with the
	// remedies (Envoy AI Gateway's known failure to retry, or its removal for good).
	eventually(t, 20*time.Second, func() error {
		c := findCondition(getPlatform(t, p), platformv1.ConditionStalled)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != status.ReasonDeletionWaiting ||
			!strings.Contains(c.Message, aigwFinalizer) || !strings.Contains(c.Message, "restart its controller") {
			return fmt.Errorf("Stalled: %+v", c)
		}
		return nil
	})
	// Envoy AI Gateway has cleaned up: it releases the route.
	eventually(t, 10*time.Second, func() error {
		if err := k8s.Get(testCtx, key, route); err != nil {
			return err
		}
		route.SetFinalizers(nil)
		return k8s.Update(testCtx, route)
	})
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(testCtx, backend, aisb); !apierrors.IsNotFound(err) {
			return fmt.Errorf("AIServiceBackend still there: %v", err)
		}
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(p), &platformv1.GenAIPlatform{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("platform still there: %v", err)
		}
		return nil
	})
}
