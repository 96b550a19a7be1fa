package controllers_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// TestModelsStayInTheirRoutes: on the real API server, a platform of 20 models with a tenant (so each
// model's rule has its own access SecurityPolicy, targeting its route and rule). Removing the first model
// leaves the second route and every remaining access policy untouched (the same resourceVersion): no model
// moves between AIGatewayRoutes, so none is ever in a rule its policy does not target. A model added
// then takes the hole in the first route. Without the operator's record of the routes, every model after
// the first would move up one place, and the five in the second route would be rewritten with their
// policies.
func TestModelsStayInTheirRoutes(t *testing.T) {
	ns := newNamespace(t)
	createSecret(t, ns, "client-keys", map[string]string{"admin": "admin-key-0123456789abcdef"})
	models := func(names []string) string {
		var b strings.Builder
		for _, m := range names {
			fmt.Fprintf(&b, "  - {name: %s, routes: [{provider: compat}]}\n", m)
		}
		return b.String()
	}
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("m%02d", i))
	}
	spec := func(names []string) string {
		return "gateway: {listener: {protocol: HTTP}, clientAuth: {apiKeys: {secretRef: {name: client-keys}}}}\n" +
			"providers: [{name: compat, type: OpenAICompatible, hostname: vllm.example.com}]\nmodels:\n" + models(names)
	}
	p := createPlatform(t, ns, "shards", spec(names))
	tenant := &platformv1.GenAITenant{}
	if err := sigyaml.UnmarshalStrict([]byte(fmt.Sprintf(`{metadata: {name: team, namespace: %s}, spec: {platformRef: {name: shards}, apiKeys: {generate: {keys: 1}}, models: ["m1*"]}}`, ns)), tenant); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(testCtx, tenant); err != nil {
		t.Fatal(err)
	}

	// served: model -> route, and the resourceVersions of the routes and access policies, once the
	// platform has converged on its current generation with those models.
	type snapshot struct {
		served   map[string]string
		versions map[string]string
	}
	converged := func(want []string) snapshot {
		t.Helper()
		var snap snapshot
		eventually(t, 30*time.Second, func() error {
			cur := getPlatform(t, p)
			if cur.Status.ObservedGeneration != cur.Generation {
				return fmt.Errorf("observedGeneration %d of %d", cur.Status.ObservedGeneration, cur.Generation)
			}
			snap = snapshot{served: map[string]string{}, versions: map[string]string{}}
			var routes aigv1b1.AIGatewayRouteList
			if err := k8s.List(testCtx, &routes, client.InNamespace(ns), client.MatchingLabels{platformv1.LabelPlatform: p.Name}); err != nil {
				return err
			}
			for i := range routes.Items {
				r := &routes.Items[i]
				if len(r.Spec.Rules) > render.MaxRulesPerRoute {
					t.Fatalf("%s holds %d rules", r.Name, len(r.Spec.Rules))
				}
				for m, name := range render.ModelsOfRoute(r) {
					snap.served[m] = name
				}
				snap.versions["route "+r.Name] = r.ResourceVersion
			}
			for _, m := range want {
				if snap.served[m] == "" {
					return fmt.Errorf("model %s in no route yet: %v", m, snap.served)
				}
				if !strings.HasPrefix(m, "m1") {
					continue
				}
				var sp egv1a1.SecurityPolicy
				if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.AccessPolicyName(p, m)}, &sp); err != nil {
					return err
				}
				if got := string(sp.Spec.TargetRefs[0].Name); got != snap.served[m] {
					return fmt.Errorf("access policy of %s targets %s, its rule is in %s", m, got, snap.served[m])
				}
				snap.versions["policy "+m] = sp.ResourceVersion
			}
			if len(snap.served) != len(want) {
				return fmt.Errorf("%d models routed, want %d", len(snap.served), len(want))
			}
			return nil
		})
		return snap
	}
	before := converged(names)
	if before.served["m00"] != render.RouteName(p, 0) || before.served["m15"] != render.RouteName(p, 1) {
		t.Fatalf("a new platform's routes: %v", before.served)
	}

	// m00 removed: the second route and every access policy left as they were.
	updatePlatform(t, p, func(p *platformv1.GenAIPlatform) { p.Spec.Models = p.Spec.Models[1:] })
	after := converged(names[1:])
	for _, m := range names[1:] {
		if after.served[m] != before.served[m] {
			t.Errorf("%s moved from %s to %s", m, before.served[m], after.served[m])
		}
	}
	for k, v := range after.versions {
		if strings.HasPrefix(k, "policy ") || k == "route "+render.RouteName(p, 1) {
			if before.versions[k] != v {
				t.Errorf("%s was written (resourceVersion %s, was %s)", k, v, before.versions[k])
			}
		}
	}

	// A new model takes the hole in the first route.
	updatePlatform(t, p, func(p *platformv1.GenAIPlatform) {
		p.Spec.Models = append(p.Spec.Models, platformv1.ModelSpec{Name: "zz-new", Routes: slices.Clone(p.Spec.Models[0].Routes)})
	})
	added := converged(append(slices.Clone(names[1:]), "zz-new"))
	if added.served["zz-new"] != render.RouteName(p, 0) {
		t.Errorf("the new model is in %s, want the hole in %s", added.served["zz-new"], render.RouteName(p, 0))
	}
	if added.versions["route "+render.RouteName(p, 1)] != before.versions["route "+render.RouteName(p, 1)] {
		t.Errorf("the second route was written when a model joined the first")
	}
}
