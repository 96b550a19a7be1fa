package bench

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// teamModelsResult is the scale phase of team-owned models: many GenAIModels, in many namespaces, on
// one platform, past spec.models' cap of 256.
type teamModelsResult struct {
	Namespaces int `json:"namespaces"`
	ModelsEach int `json:"models_each"`
	Models     int `json:"models"`
	// Routes are the platform's AIGatewayRoutes once converged; MaxRules the most rules one holds (Envoy
	// AI Gateway's CRD allows 15).
	Routes           int     `json:"routes"`
	MaxRules         int     `json:"max_rules"`
	ConvergedSeconds float64 `json:"converged_seconds"`
	Writes           int     `json:"writes"`
	// GenAIModel status writes are among Writes; the rest are the platform's and its children's.
	ModelStatusWrites int            `json:"model_status_writes"`
	Requests          map[string]int `json:"requests"`
	Memory            memoryPoint    `json:"memory"`
}

// teamModels creates a platform that admits GenAIModels from every namespace, then TeamNamespaces
// namespaces of TeamModelsEach provider-routed GenAIModels each, 8 requests at a time, and times them
// until the platform routes every one: its status counts them all accepted, at its current generation,
// and its AIGatewayRoutes (the benchmark's label-selected informers) hold one rule per model.
func (b *bench) teamModels() *teamModelsResult {
	b.t.Helper()
	n, m := b.cfg.TeamNamespaces, b.cfg.TeamModelsEach
	p := b.newPlatform("teams", "bench", 1, "allowedModels: {namespaces: {from: All}}\n")
	b.create(p)
	b.waitConverged([]*platform{p}, 5*time.Minute)
	for i := range n {
		b.namespace(fmt.Sprintf("team-%03d", i))
	}

	pr := b.begin(fmt.Sprintf("team models: %d GenAIModels in %d namespaces on one platform", n*m, n))
	var wg sync.WaitGroup
	next := make(chan *platformv1.GenAIModel)
	for range 8 {
		wg.Go(func() {
			for gm := range next {
				if err := b.admin.Create(b.ctx, gm); err != nil {
					b.t.Errorf("creating GenAIModel %s/%s: %v", gm.Namespace, gm.Name, err)
				}
			}
		})
	}
	for i := range n {
		for j := range m {
			gm := &platformv1.GenAIModel{}
			doc := fmt.Sprintf(`{metadata: {name: m%d, namespace: team-%03d}, spec: {platformRef: {name: bench, namespace: teams}, name: team-%03d/m%d, routes: [{provider: p%d}]}}`, j, i, i, j, (i+j)%4)
			if err := sigyaml.UnmarshalStrict([]byte(doc), gm); err != nil {
				b.t.Fatal(err)
			}
			next <- gm
		}
	}
	close(next)
	wg.Wait()

	want := n*m + p.models // the platform's own spec.models too
	deadline := time.Now().Add(20 * time.Minute)
	var converged time.Time
	var routes, maxRules int
	for {
		var why string
		var rules int
		routes, maxRules, rules = b.routeRules(p)
		cur := &platformv1.GenAIPlatform{}
		if err := b.admin.Get(b.ctx, p.key, cur); err != nil {
			b.t.Fatal(err)
		}
		switch {
		case cur.Status.ObservedGeneration != cur.Generation:
			why = fmt.Sprintf("observedGeneration %d of %d", cur.Status.ObservedGeneration, cur.Generation)
		case cur.Status.AttachedModels == nil || int(cur.Status.AttachedModels.Accepted) != n*m:
			why = fmt.Sprintf("attachedModels: %+v", cur.Status.AttachedModels)
		case rules != want:
			why = fmt.Sprintf("%d rules in %d AIGatewayRoutes, want %d", rules, routes, want)
		}
		if why == "" {
			converged = time.Now()
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("team models not converged within 20 minutes: %s", why)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ph := b.end(pr, 0, false)
	res := &teamModelsResult{Namespaces: n, ModelsEach: m, Models: n * m, Routes: routes, MaxRules: maxRules,
		ConvergedSeconds: converged.Sub(pr.from).Seconds(), Writes: ph.Writes, ModelStatusWrites: ph.Requests["patch genaimodels/status"] + ph.Requests["update genaimodels/status"],
		Requests: ph.Requests}
	res.Memory = b.forceGCAndRead(fmt.Sprintf("with %d team models", n*m))
	b.logf("team models: %d GenAIModels in %d namespaces converged in %.1fs: %d AIGatewayRoutes (at most %d rules each), %d writes (%d of them GenAIModel statuses)",
		res.Models, n, res.ConvergedSeconds, routes, maxRules, res.Writes, res.ModelStatusWrites)
	if maxRules > render.MaxRulesPerRoute {
		b.t.Errorf("an AIGatewayRoute holds %d rules, more than Envoy AI Gateway's %d", maxRules, render.MaxRulesPerRoute)
	}
	return res
}

// routeRules counts the platform's AIGatewayRoutes in the benchmark's informers, the most rules one
// holds, and the rules of all.
func (b *bench) routeRules(p *platform) (routes, maxRules, rules int) {
	k, ok := kinds.Of(&aigv1b1.AIGatewayRoute{})
	if !ok {
		b.t.Fatal("no AIGatewayRoute in the registry of child kinds")
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(k.GVK.GroupVersion().WithKind("AIGatewayRouteList"))
	if err := b.cache.List(b.ctx, list, client.InNamespace(p.key.Namespace), client.MatchingLabels{platformv1.LabelPlatform: p.key.Name}); err != nil {
		b.t.Fatal(err)
	}
	for _, r := range list.Items {
		rs, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
		routes++
		rules += len(rs)
		maxRules = max(maxRules, len(rs))
	}
	return routes, maxRules, rules
}
