package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// TestFortyModelsAreSharded: 40 provider-routed models become AIGatewayRoutes of at most 15 rules each,
// accepted by the real AIGatewayRoute CRD, with every model routed exactly once.
func TestFortyModelsAreSharded(t *testing.T) {
	ns := newNamespace(t)
	createSecret(t, ns, "k", map[string]string{"apiKey": "sk-x"})
	var spec strings.Builder
	spec.WriteString("gateway: {listener: {protocol: HTTP}}\nproviders:\n- {name: openai, type: OpenAI, credentials: {secretRef: {name: k}}}\n- {name: compat, type: OpenAICompatible, hostname: vllm.example}\nmodels:\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&spec, "- {name: 'org/model-%02d:latest', routes: [{provider: openai, weight: 3}, {provider: compat, priority: 1}]}\n", i)
	}
	p := createPlatform(t, ns, "many", spec.String())

	seen := map[string]int{}
	eventually(t, 30*time.Second, func() error {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvkRoute.GroupVersion().WithKind("AIGatewayRouteList"))
		if err := k8s.List(testCtx, list, client.InNamespace(ns), client.MatchingLabels{platformv1.LabelPlatform: p.Name}); err != nil {
			return err
		}
		seen = map[string]int{}
		for _, route := range list.Items {
			rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
			if len(rules) > render.MaxRulesPerRoute {
				return fmt.Errorf("route %s has %d rules", route.GetName(), len(rules))
			}
			for _, r := range rules {
				headers := r.(map[string]any)["matches"].([]any)[0].(map[string]any)["headers"].([]any)
				seen[headers[0].(map[string]any)["value"].(string)]++
			}
		}
		if len(list.Items) != 3 || len(seen) != 40 {
			return fmt.Errorf("%d routes holding %d models", len(list.Items), len(seen))
		}
		return nil
	})
	for i := 0; i < 40; i++ {
		if n := seen[fmt.Sprintf("org/model-%02d:latest", i)]; n != 1 {
			t.Errorf("model %d routed %d times", i, n)
		}
	}
}
