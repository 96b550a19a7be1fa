package kinds_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	sigyaml "sigs.k8s.io/yaml"

	kservev1a2 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1alpha2"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
)

// TestRegistryMatchesTypes: each entry's GVK is its Go type's in the operator's scheme, and kinds.Of finds
// it. (That its resource is the one the API server serves is checked on a real one, in the controllers
// suite.)
func TestRegistryMatchesTypes(t *testing.T) {
	scheme := controllers.NewScheme()
	for _, k := range kinds.All {
		gvk, err := apiutil.GVKForObject(k.New(), scheme)
		if err != nil || gvk != k.GVK {
			t.Errorf("%s: the type's GVK is %v (%v)", k.GVK, gvk, err)
		}
		if got, ok := kinds.Of(k.New()); !ok || got.GVK != k.GVK {
			t.Errorf("kinds.Of(%T) = %v %v", k.New(), got.GVK, ok)
		}
		if _, ok := apiutil.GVKForObject(k.NewList(), scheme); ok != nil {
			t.Errorf("%s: list type not in the scheme: %v", k.GVK.Kind, ok)
		}
	}
}

// The verbs every child kind needs: read through the cache (get, list, watch), server-side apply
// (create, patch), prune (delete).
var childVerbs = []string{"get", "list", "watch", "create", "patch", "delete"}

// TestRBACAgreesWithRegistry: the ClusterRole generated from the reconciler's RBAC markers, and the role
// a model cluster grants, give exactly the registry's kinds what they need, and no other resource in the
// child kinds' API groups (apart from the listed extras, each with its reason).
func TestRBACAgreesWithRegistry(t *testing.T) {
	extras := map[string]bool{
		"/pods":                             true, // the scheduler's reason for a Pending predictor pod
		"/events":                           true, // events on the platform
		"events.k8s.io/events":              true,
		"platform.genai.dev/genaiplatforms": true,
		"platform.genai.dev/genaiplatforms/status":       true,
		"platform.genai.dev/genaiplatforms/finalizers":   true,
		"platform.genai.dev/genaimodels":                 true, // teams' models, attached to platforms
		"platform.genai.dev/genaimodels/status":          true,
		"platform.genai.dev/genaitenants":                true, // tenants of platforms
		"platform.genai.dev/genaitenants/status":         true,
		"apiextensions.k8s.io/customresourcedefinitions": true, // which child kinds are served
	}
	for _, tc := range []struct {
		file  string
		kinds []kinds.Kind
	}{
		{"../../config/rbac/role.yaml", kinds.All},
		{"../../config/rbac/model-cluster/role.yaml", kinds.ModelCluster()},
	} {
		t.Run(filepath.Base(filepath.Dir(tc.file)), func(t *testing.T) {
			granted := readRole(t, tc.file)
			want := map[string]bool{}
			for _, k := range tc.kinds {
				key := k.GVK.Group + "/" + k.Resource
				want[key] = true
				for _, v := range childVerbs {
					if !slices.Contains(granted[key], v) {
						t.Errorf("%s: %s lacks verb %s", tc.file, key, v)
					}
				}
			}
			for key := range granted {
				if !want[key] && !extras[key] {
					t.Errorf("%s grants %s, which is not a child kind in the registry", tc.file, key)
				}
			}
		})
	}
}

// readRole reads a ClusterRole's rules as "group/resource" -> verbs.
func readRole(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := sigyaml.Unmarshal(b, &role); err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) == 0 {
		t.Fatalf("%s has no rules", file)
	}
	out := map[string][]string{}
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				out[g+"/"+res] = append(out[g+"/"+res], r.Verbs...)
			}
		}
	}
	return out
}

// TestObserveLLMInferenceService: an LLMInferenceService's status, in KServe v0.20's shape (knative's
// duckv1.Status: observedGeneration beside knative conditions with a string lastTransitionTime and a
// severity), is read as its readiness rule says: every condition, each carrying status.observedGeneration;
// and the rule wants the model server, the endpoint picker and the presets, not KServe's Ready (which
// never turns True without a route of KServe's own).
func TestObserveLLMInferenceService(t *testing.T) {
	llm := &kservev1a2.LLMInferenceService{}
	llm.Generation = 3
	llm.Status.ObservedGeneration = 2
	llm.Status.Conditions = []kservev1a2.Condition{
		{Type: "WorkloadsReady", Status: corev1.ConditionTrue, LastTransitionTime: "2026-01-02T03:04:05Z"},
		{Type: "InferencePoolReady", Status: corev1.ConditionFalse, Reason: "WaitingForGateway", LastTransitionTime: "2026-01-02T03:04:05Z"},
		{Type: "Ready", Status: corev1.ConditionFalse, Reason: "WaitingForGateway", LastTransitionTime: "2026-01-02T03:04:05Z"},
	}
	k, ok := kinds.Of(llm)
	if !ok || k.GVK.Kind != "LLMInferenceService" || k.GVK.Version != "v1alpha2" || !k.InModelClusters || !k.Optional {
		t.Fatalf("registry entry %+v %v", k, ok)
	}
	if want := []string{"PresetsCombined", "WorkloadsReady", "SchedulerWorkloadReady"}; k.Readiness == nil || !slices.Equal(k.Readiness.Want, want) || k.Readiness.Shape != kinds.GenerationInStatus {
		t.Fatalf("readiness %+v: want %v in status.conditions with status.observedGeneration", k.Readiness, want)
	}
	o := kinds.Observe(llm, "genai-platform-operator")
	if len(o.Conditions) != 3 || o.Generation != 3 {
		t.Fatalf("observed %+v", o)
	}
	for _, c := range o.Conditions {
		if c.ObservedGeneration != 2 || c.LastTransitionTime.IsZero() {
			t.Errorf("condition %+v: want observedGeneration 2 from status and its time parsed", c)
		}
	}
	if c := o.Conditions[1]; c.Type != "InferencePoolReady" || c.Status != metav1.ConditionFalse || c.Reason != "WaitingForGateway" {
		t.Errorf("condition %+v", c)
	}
}

// TestPruneOrder: the AIGatewayRoutes are gone before the BackendSecurityPolicies are deleted, and those
// before everything else (kinds.Kind.PruneFirst says why).
func TestPruneOrder(t *testing.T) {
	stage := map[string]int{}
	for _, k := range kinds.All {
		stage[k.GVK.Kind] = k.PruneFirst
	}
	if !(stage["AIGatewayRoute"] > stage["BackendSecurityPolicy"] && stage["BackendSecurityPolicy"] > stage["AIServiceBackend"] && stage["AIServiceBackend"] == 0) {
		t.Errorf("prune stages: %v", stage)
	}
	if got := fmt.Sprint(kinds.PruneStages()); got != "[2 1 0]" {
		t.Errorf("PruneStages() = %s, want [2 1 0]", got)
	}
}
