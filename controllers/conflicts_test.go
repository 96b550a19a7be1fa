package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// TestOtherFieldManagers: another tool server-side applies a child with its own field manager, forcing a
// field the operator owns and adding one of its own. The operator takes its field back and leaves the
// other tool's field alone, on that reconcile and the next.
func TestOtherFieldManagers(t *testing.T) {
	p := twoProviderPlatform(t)
	backendGVK := schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "Backend"}
	key := client.ObjectKey{Namespace: p.Namespace, Name: render.ProviderBackendName(p, "openai")}

	other := &unstructured.Unstructured{}
	other.SetGroupVersionKind(backendGVK)
	other.SetNamespace(key.Namespace)
	other.SetName(key.Name)
	other.SetLabels(map[string]string{"cost-center.example.com/team": "ml"})
	if err := unstructured.SetNestedSlice(other.Object, []any{map[string]any{"fqdn": map[string]any{"hostname": "proxy.example.com", "port": int64(8443)}}}, "spec", "endpoints"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Apply(testCtx, client.ApplyConfigurationFromUnstructured(other), client.FieldOwner("team-tool"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	check := func() error {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(backendGVK)
		if err := k8s.Get(testCtx, key, got); err != nil {
			return err
		}
		eps, _, _ := unstructured.NestedSlice(got.Object, "spec", "endpoints")
		if len(eps) != 1 || !strings.Contains(fmt.Sprint(eps[0]), "api.openai.com") {
			return fmt.Errorf("the operator's field is not repaired: endpoints %v", eps)
		}
		if got.GetLabels()["cost-center.example.com/team"] != "ml" {
			return fmt.Errorf("the other tool's label is gone: %v", got.GetLabels())
		}
		return nil
	}
	eventually(t, 20*time.Second, check)
	updatePlatform(t, p, func(latest *platformv1.GenAIPlatform) { latest.Annotations = map[string]string{"test/poke": "1"} })
	time.Sleep(2 * time.Second)
	if err := check(); err != nil {
		t.Errorf("after another reconcile: %v", err)
	}
}

// TestAdmissionDenialStallsAndNamesTheKind: an admission policy of the cluster (a
// ValidatingAdmissionPolicy: the API server's own admission, denying as a webhook does, with 403) refuses
// the platform's BackendTrafficPolicy. The platform is not ready, Stalled, and the message names the kind,
// the object and the policy's words. Once the policy goes, the platform recovers with no edit: the
// operator rechecks a Stalled platform by itself.
func TestAdmissionDenialStallsAndNamesTheKind(t *testing.T) {
	ns := newNamespace(t)
	const message = "rate limits are set by the platform team here"
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-no-rate-limits"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"gateway.envoyproxy.io"}, APIVersions: []string{"*"}, Resources: []string{"backendtrafficpolicies"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: message}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-no-rate-limits"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}},
		},
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := k8s.Create(testCtx, obj); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = k8s.Delete(testCtx, policy) })
	// The API server takes a moment to load a new policy: wait until it denies.
	eventually(t, 20*time.Second, func() error {
		probe := &unstructured.Unstructured{}
		probe.SetGroupVersionKind(schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "BackendTrafficPolicy"})
		probe.SetNamespace(ns)
		probe.SetName("probe")
		_ = unstructured.SetNestedSlice(probe.Object, []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "x"}}, "spec", "targetRefs")
		if err := k8s.Create(testCtx, probe, client.DryRunAll); err == nil {
			return fmt.Errorf("the policy does not deny yet")
		}
		return nil
	})

	p := createPlatform(t, ns, "limited", `
gateway:
  listener: {protocol: HTTP}
  limits: [{name: all, tokens: 1000, per: Hour}]
providers: [{name: b, type: OpenAICompatible, hostname: b.example}]
models: [{name: m, routes: [{provider: b}]}]
`)
	got := waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionFalse, status.ReasonApplyFailed)
	ready := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionReady)
	for _, want := range []string{"backendtrafficpolicies", message} {
		if !strings.Contains(ready.Message, want) {
			t.Errorf("Ready's message %q does not name %q", ready.Message, want)
		}
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Stalled %+v: a denial repeats until the policy or the spec changes", c)
	}

	if err := k8s.Delete(testCtx, binding); err != nil {
		t.Fatal(err)
	}
	eventually(t, 40*time.Second, func() error {
		got := getPlatform(t, p)
		if c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionReady); c != nil && c.Reason == status.ReasonApplyFailed {
			return fmt.Errorf("still %s: %s", c.Reason, c.Message)
		}
		if meta.IsStatusConditionTrue(got.Status.Conditions, platformv1.ConditionStalled) {
			return fmt.Errorf("still Stalled")
		}
		return nil
	})
}
