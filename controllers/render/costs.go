package render

import (
	"fmt"
	"strconv"
	"strings"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// CostMetadataKey is the dynamic metadata key of a response's cost, in cost units, that Envoy AI Gateway
// computes with each AIGatewayRoute's CEL expression and the rate limiter charges cost budgets from.
const CostMetadataKey = "llm_cost"

// costDecimals: a cost unit is 10^-4 of the platform's currency (a hundredth of a cent). Budgets are
// counted by Envoy's rate limit service in uint32, so the unit sets the largest budget: 429496.7295 in
// the currency per window; a micro-unit would cap budgets at 4294. A request's cost is rounded up to the
// next unit: at most 0.0001 too much per request.
const costDecimals = 4

// priceDecimals: prices per million tokens have at most 6 decimals (0.075 USD, 0.0375 USD).
const priceDecimals = 6

// decimalUnits parses a non-negative decimal ("2.50") into integer units of 10^-decimals, exactly.
func decimalUnits(s string, decimals int) (uint64, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > decimals {
		return 0, false
	}
	frac += strings.Repeat("0", decimals-len(frac))
	v, err := strconv.ParseUint(whole+frac, 10, 64)
	return v, err == nil
}

// price is one backend's price in micro-units of the currency per million tokens.
type price struct{ input, output uint64 }

// priceOf is the first price of spec.gateway.costs that matches a model on a backend (a provider, or a
// model cluster); ok false: the model costs nothing there.
func priceOf(p *platformv1.GenAIPlatform, model string, t Target) (price, bool) {
	c := p.Spec.Gateway.Costs
	if c == nil {
		return price{}, false
	}
	for _, pr := range c.Prices {
		if !globMatch(pr.Model, model) || (pr.Provider != "" && pr.Provider != t.Provider) || (pr.ModelCluster != "" && pr.ModelCluster != t.Cluster) {
			continue
		}
		in, ok1 := decimalUnits(pr.Input, priceDecimals)
		out, ok2 := decimalUnits(pr.Output, priceDecimals)
		if !ok1 || !ok2 {
			return price{}, false // admission checks the pattern; an unparsable price prices nothing
		}
		return price{in, out}, true
	}
	return price{}, false
}

// costExpr is the CEL of one price: the tokens' cost in micro-units, divided into cost units and rounded
// up, in unsigned integers (Envoy AI Gateway gives token counts as uint). Prices below 1000 per million
// tokens keep every product under 2^63 for token counts up to 2^32.
func costExpr(pr price) string {
	div := uint64(1)
	for range priceDecimals + 6 - costDecimals { // micro-units per million tokens -> cost units per token
		div *= 10
	}
	return fmt.Sprintf("(input_tokens * %du + output_tokens * %du + %du) / %du", pr.input, pr.output, div-1, div)
}

// routeCostCEL is the CEL expression of a route shard's llmRequestCosts: the cost of a response, by
// the model's rule (model) and its backend (backend is "<namespace>/<AIServiceBackend>/route/<route>/
// rule/<index>/ref/<index>" in Envoy AI Gateway v1.1). Each shard's expression covers only its own models
// (at most 15), so it stays small however many models the platform has. Empty: no model of the shard has
// a price.
//
// Envoy AI Gateway's model is the backend's modelNameOverride where the route sets one (routes[].model:
// internal/extproc/processor_impl.go sets x-ai-eg-model to it before the cost is evaluated), not the
// model the client asked for. A model with such a backend is therefore priced by its rule's backends
// alone, before any model name is compared, so that an override equal to another model's name cannot
// take that model's price.
func routeCostCEL(p *platformv1.GenAIPlatform, route string, models []string, routes map[string][]Target) string {
	var byRule, byModel strings.Builder
	priced := false
	for rule, m := range models {
		targets := routes[m]
		var exprs []string
		var prefixes []string
		same := true
		anyPrice, overridden := false, false
		for _, t := range targets {
			pr, ok := priceOf(p, m, t)
			e := "0u"
			if ok {
				e, anyPrice = costExpr(pr), true
			}
			exprs = append(exprs, e)
			prefixes = append(prefixes, p.Namespace+"/"+backendNameOf(p, t)+"/")
			same = same && e == exprs[0]
			overridden = overridden || modelOverride(p, m, t) != ""
		}
		priced = priced || anyPrice
		if overridden {
			for i, e := range exprs {
				fmt.Fprintf(&byRule, "backend.startsWith('%sroute/%s/rule/%d/') ? %s : ", prefixes[i], route, rule, e)
			}
			continue
		}
		// A model without any price falls through to the final 0u.
		if !anyPrice {
			continue
		}
		fmt.Fprintf(&byModel, "model == '%s' ? ", m)
		if same {
			byModel.WriteString(exprs[0])
		} else {
			byModel.WriteString("(")
			for i := range exprs[:len(exprs)-1] {
				fmt.Fprintf(&byModel, "backend.startsWith('%s') ? %s : ", prefixes[i], exprs[i])
			}
			byModel.WriteString(exprs[len(exprs)-1] + ")")
		}
		byModel.WriteString(" : ")
	}
	if !priced {
		return ""
	}
	return byRule.String() + byModel.String() + "0u"
}

// modelOverride is the model name a model's route sends to a provider in its place (routes[].model), as
// the AIGatewayRoute's modelNameOverride; empty: none.
func modelOverride(p *platformv1.GenAIPlatform, model string, t Target) string {
	if t.Provider == "" {
		return ""
	}
	for i := range p.Spec.Models {
		if m := &p.Spec.Models[i]; m.Name == model {
			for _, r := range m.Routes {
				if r.Provider == t.Provider && r.Model != "" && r.Model != m.Name {
					return r.Model
				}
			}
		}
	}
	return ""
}

// backendNameOf is the AIServiceBackend a target is reached through.
func backendNameOf(p *platformv1.GenAIPlatform, t Target) string {
	if t.Provider != "" {
		return ProviderBackendName(p, t.Provider)
	}
	return ClusterBackendName(p, t.Cluster)
}

// costRequestCost is the llmRequestCosts entry of a shard's cost expression.
func costRequestCost(expr string) aigv1b1.LLMRequestCost {
	return aigv1b1.LLMRequestCost{MetadataKey: CostMetadataKey, Type: aigv1b1.LLMRequestCostTypeCEL, CEL: &expr}
}
