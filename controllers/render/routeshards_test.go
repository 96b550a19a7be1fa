package render_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigyaml "sigs.k8s.io/yaml"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// TestRouteShardsKeepTheirModels: models are placed 15 to an AIGatewayRoute, and a model stays in the
// route that serves it now (Facts.RouteShards). Removing a model leaves a hole that the next new model
// fills; the other routes are rendered exactly as before, so nothing is written to them and no model's
// rule is, for a moment, in a route its access policy does not target.
func TestRouteShardsKeepTheirModels(t *testing.T) {
	names := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("m%02d", i))
		}
		return out
	}
	without := func(models []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(models), func(m string) bool { return slices.Contains(drop, m) })
	}

	// A new platform: filled in spec order.
	first := renderModels(t, names(0, 40), nil)
	want := map[string][]string{"p-route-0": names(0, 15), "p-route-1": names(15, 30), "p-route-2": names(30, 40)}
	checkShards(t, "new platform", first, want)

	// m03 removed: a hole in route 0; routes 1 and 2 unchanged, object for object.
	second := renderModels(t, without(names(0, 40), "m03"), render.RouteShardsOf(first))
	want["p-route-0"] = without(names(0, 15), "m03")
	checkShards(t, "one removed", second, want)
	for _, r := range []string{"p-route-1", "p-route-2"} {
		if !equalRoutes(route(first, r), route(second, r)) {
			t.Errorf("one removed: %s changed", r)
		}
	}

	// A new model, first in spec order, takes the hole; nobody moves.
	third := renderModels(t, append([]string{"a-new"}, without(names(0, 40), "m03")...), render.RouteShardsOf(second))
	want["p-route-0"] = append([]string{"a-new"}, without(names(0, 15), "m03")...)
	checkShards(t, "one added", third, want)

	// Route 1's models all removed: route 1 is no longer rendered (pruned), route 2 keeps its name.
	kept := without(append([]string{"a-new"}, without(names(0, 40), "m03")...), names(15, 30)...)
	fourth := renderModels(t, kept, render.RouteShardsOf(third))
	delete(want, "p-route-1")
	checkShards(t, "a route emptied", fourth, want)

	// 20 new models: route 0 is full, so 15 go to the free index 1, and 5 to route 2.
	fifth := renderModels(t, append(slices.Clone(kept), names(50, 70)...), render.RouteShardsOf(fourth))
	want["p-route-1"] = names(50, 65)
	want["p-route-2"] = append(names(30, 40), names(65, 70)...)
	checkShards(t, "twenty added", fifth, want)

	// Live routes that cannot be kept: one claiming 40 models (edited by hand), one of a name render never
	// makes. Its first 15 models stay, the rest are placed afresh; every route holds at most 15.
	live := map[string]string{}
	for _, m := range names(0, 40) {
		live[m] = "p-route-0"
	}
	live["m39"] = "someone-elses-route"
	checkShards(t, "overfull live route", renderModels(t, names(0, 40), live),
		map[string][]string{"p-route-0": names(0, 15), "p-route-1": names(15, 30), "p-route-2": names(30, 40)})
}

// renderModels renders a platform of provider-routed models, with those live route shards.
func renderModels(t *testing.T, models []string, live map[string]string) render.Output {
	t.Helper()
	var b strings.Builder
	b.WriteString("gateway: {listener: {protocol: HTTP}}\nproviders: [{name: p0, type: OpenAICompatible, hostname: p0.example}]\nmodels:\n")
	for _, m := range models {
		fmt.Fprintf(&b, "- {name: %s, routes: [{provider: p0}]}\n", m)
	}
	p := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}}
	if err := sigyaml.UnmarshalStrict([]byte(b.String()), &p.Spec); err != nil {
		t.Fatal(err)
	}
	return render.Render(render.Input{Platform: p, Facts: facts.Facts{RouteShards: live}})
}

// checkShards compares each AIGatewayRoute's models, in rule order, with want.
func checkShards(t *testing.T, step string, out render.Output, want map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	for _, c := range out.Children {
		if r, ok := c.Object.(*aigv1b1.AIGatewayRoute); ok {
			if len(r.Spec.Rules) > render.MaxRulesPerRoute {
				t.Errorf("%s: %s holds %d rules", step, r.Name, len(r.Spec.Rules))
			}
			for _, rule := range r.Spec.Rules {
				got[r.Name] = append(got[r.Name], rule.Matches[0].Headers[0].Value)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !slices.Equal(got[name], want[name]) {
			t.Errorf("%s: %s serves %v, want %v", step, name, got[name], want[name])
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected %s serving %v", step, name, got[name])
		}
	}
}

func route(out render.Output, name string) *aigv1b1.AIGatewayRoute {
	for _, c := range out.Children {
		if r, ok := c.Object.(*aigv1b1.AIGatewayRoute); ok && r.Name == name {
			return r
		}
	}
	return nil
}

func equalRoutes(a, b *aigv1b1.AIGatewayRoute) bool {
	if a == nil || b == nil {
		return false
	}
	ja, _ := sigyaml.Marshal(a)
	jb, _ := sigyaml.Marshal(b)
	return string(ja) == string(jb)
}
