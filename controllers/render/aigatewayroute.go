package render

import (
	"maps"
	"slices"

	"k8s.io/utils/ptr"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// ModelHeader is the header Envoy AI Gateway fills with the request body's "model" field.
const ModelHeader = "x-ai-eg-model"

// MaxRulesPerRoute is Envoy AI Gateway's limit of rules in one AIGatewayRoute (its CRD's maxItems).
const MaxRulesPerRoute = 15

// modelRule is one model's routing rule before it is placed in a route shard.
type modelRule struct {
	model    string
	rule     aigv1b1.AIGatewayRouteRule
	fallback bool // the rule has backends of several priorities
}

// Timeouts of Tier One's rules.
const (
	requestTimeout    = "300s"
	streamIdleTimeout = "30s"
)

func hasSeveralPriorities(refs []aigv1b1.AIGatewayRouteRuleBackendRef) bool {
	for _, r := range refs[1:] {
		if *r.Priority != *refs[0].Priority {
			return true
		}
	}
	return false
}

// modelRules builds one rule per model, and records in routes the backends each model is served by.
//
// A provider that was not rendered (its credentials are missing) is left out, so that no route
// references a backend that does not exist. A self-hosted model is routed to each model cluster where
// one of its placements is Ready, weighted by those placements' weights, at their best priority: a
// placement that is not Ready (GPUs pending, image pulling, crashing) gets no traffic, which goes to the
// model's other placements and provider routes instead. A model with nothing Ready keeps its rule, sent
// to all its placements on reachable or pending clusters (pendingClusters: the Tier Two address is not
// known yet), so clients get the gateway's error rather than a 404 for an unknown model, and the rule
// keeps its place in the route shards.
func modelRules(in Input, providers, linkedClusters, pendingClusters map[string]bool, routes map[string][]Target) []modelRule {
	p := in.Platform
	var rules []modelRule
	for i := range p.Spec.Models {
		m := &p.Spec.Models[i]
		var refs []aigv1b1.AIGatewayRouteRuleBackendRef
		for _, r := range m.Routes {
			if !providers[r.Provider] {
				continue
			}
			ref := aigv1b1.AIGatewayRouteRuleBackendRef{Name: ProviderBackendName(p, r.Provider)}
			if r.Model != "" && r.Model != m.Name {
				ref.ModelNameOverride = r.Model
			}
			ref.Weight = weightOf(r.Weight)
			ref.Priority = priorityOf(r.Priority)
			refs = append(refs, ref)
			routes[m.Name] = append(routes[m.Name], Target{Provider: r.Provider})
		}
		if m.SelfHosted != nil {
			ready, readyRoutes := clusterRefs(in, m, linkedClusters, true)
			refs = append(refs, ready...)
			routes[m.Name] = append(routes[m.Name], readyRoutes...)
			if len(refs) == 0 {
				refs, _ = clusterRefs(in, m, orMaps(linkedClusters, pendingClusters), false)
			}
		}
		if len(refs) == 0 {
			continue
		}
		rule := aigv1b1.AIGatewayRouteRule{
			Matches: []aigv1b1.AIGatewayRouteRuleMatch{{
				Headers: []gwapiv1.HTTPHeaderMatch{{Type: headerExact(), Name: ModelHeader, Value: m.Name}},
			}},
			BackendRefs: refs,
			// LLM responses take long: a generous overall deadline instead of Envoy's 15 s default.
			Timeouts: &gwapiv1.HTTPRouteTimeouts{Request: ptr.To(gwapiv1.Duration(requestTimeout))},
		}
		fallback := hasSeveralPriorities(refs)
		if fallback {
			// A backend that sends nothing for this long is given up, and the retry policy falls over
			// to the next priority (time to first token).
			rule.StreamIdleTimeout = ptr.To(gwapiv1.Duration(streamIdleTimeout))
		}
		rules = append(rules, modelRule{model: m.Name, rule: rule, fallback: fallback})
	}
	return rules
}

// clusterRefs are a self-hosted model's backends at Tier One, one per linked model cluster that holds a
// placement (a Ready one when onlyReady), with the sum of those placements' weights and their best
// priority; and the placements they stand for.
func clusterRefs(in Input, m *platformv1.ModelSpec, linked map[string]bool, onlyReady bool) ([]aigv1b1.AIGatewayRouteRuleBackendRef, []Target) {
	var refs []aigv1b1.AIGatewayRouteRuleBackendRef
	var routes []Target
	index := map[string]int{}
	serving := map[string]map[string]bool{} // by cluster: the pools that take traffic there
	for _, pl := range m.SelfHosted.Placements {
		if serving[pl.Cluster] == nil {
			serving[pl.Cluster] = servingPools(in, m, pl.Cluster)
		}
		if !linked[pl.Cluster] || (onlyReady && !serving[pl.Cluster][pl.NodePool]) {
			continue
		}
		w, prio := *weightOf(pl.Weight), *priorityOf(pl.Priority)
		routes = append(routes, Target{Cluster: pl.Cluster, NodePool: pl.NodePool})
		if i, ok := index[pl.Cluster]; ok {
			*refs[i].Weight += w
			*refs[i].Priority = min(*refs[i].Priority, prio)
			continue
		}
		index[pl.Cluster] = len(refs)
		refs = append(refs, aigv1b1.AIGatewayRouteRuleBackendRef{
			Name: ClusterBackendName(in.Platform, pl.Cluster), Weight: ptr.To[int32](w), Priority: &prio,
		})
	}
	return refs, routes
}

// orMaps is the union of boolean maps: a key is true when it is true in any of them.
func orMaps(maps ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = out[k] || v
		}
	}
	return out
}

// routeShard is one AIGatewayRoute and the models whose rules it holds.
type routeShard struct {
	route    client.Object
	models   []string
	backends map[string][]string // by model, for Tier Two shards
}

// placeRules places the rules into route shards of at most MaxRulesPerRoute rules each, by index. A
// model stays in the shard that serves it now (live: model -> AIGatewayRoute name), so that removing a
// model never moves the others; the others, new ones first among them, go to the lowest shard with room,
// in rule order. A new platform's shards are thus filled in spec order, 15 at a time. Shards that end up
// empty are left out (their routes are pruned); the others keep their index, and so their name.
func placeRules(p *platformv1.GenAIPlatform, rules []modelRule, live map[string]string) []placedShard {
	byName := map[string]int{}
	if len(live) > 0 {
		// A live route's index, from its name. Shards are numbered from 0 and a new one takes the lowest
		// free index, so a live index past this bound means a history of hundreds of emptied routes: its
		// models are then placed afresh.
		for i := range len(rules) + len(live) + 1 {
			byName[RouteName(p, i)] = i
		}
	}
	count := map[int]int{}
	at := make([]int, len(rules))
	var rest []int
	for i, r := range rules {
		if idx, ok := byName[live[r.model]]; ok && count[idx] < MaxRulesPerRoute {
			at[i] = idx
			count[idx]++
			continue
		}
		rest = append(rest, i)
	}
	next := 0
	for _, i := range rest {
		for count[next] >= MaxRulesPerRoute {
			next++
		}
		at[i] = next
		count[next]++
	}
	byIndex := map[int][]modelRule{}
	for i, r := range rules {
		byIndex[at[i]] = append(byIndex[at[i]], r)
	}
	var out []placedShard
	for _, idx := range slices.Sorted(maps.Keys(byIndex)) {
		out = append(out, placedShard{index: idx, rules: byIndex[idx]})
	}
	return out
}

// placedShard is one route shard's index and its rules, in rule order.
type placedShard struct {
	index int
	rules []modelRule
}

// aiGatewayRoutes makes one AIGatewayRoute per placed shard.
//
// With named rules (tenants control model access), each rule carries its model's RuleName, which Envoy AI
// Gateway copies into the generated HTTPRoute, so that a policy can target the one model's rule. Without
// tenants the rules stay unnamed, as before tenants existed, so those platforms' routes do not change.
func aiGatewayRoutes(p *platformv1.GenAIPlatform, placed []placedShard, named bool, routes map[string][]Target) (shards []routeShard, withFallback []string) {
	var out []routeShard
	for _, sh := range placed {
		chunk := sh.rules
		name := RouteName(p, sh.index)
		route := &aigv1b1.AIGatewayRoute{
			TypeMeta:   metav1.TypeMeta{APIVersion: aigv1b1.GroupVersion.String(), Kind: "AIGatewayRoute"},
			ObjectMeta: objectMeta(p, name, "tier-one"),
			Spec: aigv1b1.AIGatewayRouteSpec{
				ParentRefs: []gwapiv1.ParentReference{{
					Group: ptr.To(gwapiv1.Group(gwapiv1.GroupName)),
					Kind:  ptr.To(gwapiv1.Kind("Gateway")),
					Name:  gwapiv1.ObjectName(GatewayName(p)),
				}},
			},
		}
		fallback := false
		var models []string
		for _, r := range chunk {
			if named {
				r.rule.Name = RuleName(r.model)
			}
			route.Spec.Rules = append(route.Spec.Rules, r.rule)
			models = append(models, r.model)
			fallback = fallback || r.fallback
		}
		if fallback {
			withFallback = append(withFallback, name)
		}
		route.Spec.LLMRequestCosts = llmRequestCosts(p, named)
		if cel := routeCostCEL(p, name, models, routes); cel != "" {
			route.Spec.LLMRequestCosts = append(route.Spec.LLMRequestCosts, costRequestCost(cel))
		}
		out = append(out, routeShard{route: route, models: models})
	}
	return out, withFallback
}

// llmRequestCosts makes Envoy AI Gateway record each response's input, output and total tokens in
// dynamic metadata, where the token limits' and budgets' rate-limit rules charge them (and the access log
// reads them). Only set when something counts tokens: limits, a model's budget, tenants (their budgets)
// or a price table.
func llmRequestCosts(p *platformv1.GenAIPlatform, tenants bool) []aigv1b1.LLMRequestCost {
	counted := len(p.Spec.Gateway.Limits) > 0 || tenants || p.Spec.Gateway.Costs != nil ||
		slices.ContainsFunc(p.Spec.Models, func(m platformv1.ModelSpec) bool { return m.Budget != nil })
	if !counted {
		return nil
	}
	return []aigv1b1.LLMRequestCost{
		{MetadataKey: tokenCostKeys[platformv1.TokensInput], Type: aigv1b1.LLMRequestCostTypeInputToken},
		{MetadataKey: tokenCostKeys[platformv1.TokensOutput], Type: aigv1b1.LLMRequestCostTypeOutputToken},
		{MetadataKey: tokenCostKeys[platformv1.TokensTotal], Type: aigv1b1.LLMRequestCostTypeTotalToken},
	}
}

func headerExact() *gwapiv1.HeaderMatchType { t := gwapiv1.HeaderMatchExact; return &t }

// weightOf is a backend's weight: the spec's, else 1.
func weightOf(w *int32) *int32 {
	if w == nil {
		return ptr.To[int32](1)
	}
	return ptr.To[int32](*w)
}

// priorityOf is a backend's priority: the spec's, else 0 (first choice).
func priorityOf(prio *int32) *uint32 {
	v := uint32(0)
	if prio != nil {
		v = uint32(*prio)
	}
	return &v
}

// RouteShardsOf is where an output places each model at Tier One: model -> AIGatewayRoute name.
func RouteShardsOf(out Output) map[string]string {
	shards := map[string]string{}
	for _, c := range out.Children {
		if r, ok := c.Object.(*aigv1b1.AIGatewayRoute); ok && c.Cluster == "" {
			for m, name := range ModelsOfRoute(r) {
				shards[m] = name
			}
		}
	}
	return shards
}

// ModelsOfRoute reads which models a Tier One AIGatewayRoute serves, from its rules' model header
// matches: model -> the route's name.
func ModelsOfRoute(r *aigv1b1.AIGatewayRoute) map[string]string {
	out := map[string]string{}
	for _, rule := range r.Spec.Rules {
		for _, m := range rule.Matches {
			for _, h := range m.Headers {
				if string(h.Name) == ModelHeader {
					out[h.Value] = r.Name
				}
			}
		}
	}
	return out
}
