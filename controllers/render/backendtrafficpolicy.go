package render

import (
	"fmt"
	"slices"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// AIGatewayMetadataNamespace is where Envoy AI Gateway puts each response's token counts (the
// llmRequestCosts metadata keys), for the rate limiter to charge.
const AIGatewayMetadataNamespace = "io.envoy.ai_gateway"

// Metadata keys of the token counts, declared in every AIGatewayRoute's llmRequestCosts when limits are set.
var tokenCostKeys = map[platformv1.TokenType]string{
	platformv1.TokensInput:  "llm_input_token",
	platformv1.TokensOutput: "llm_output_token",
	platformv1.TokensTotal:  "llm_total_token",
}

var limitUnits = map[platformv1.LimitPeriod]egv1a1.RateLimitUnit{
	"Second": egv1a1.RateLimitUnitSecond, "Minute": egv1a1.RateLimitUnitMinute,
	"Hour": egv1a1.RateLimitUnitHour, "Day": egv1a1.RateLimitUnitDay,
	"Week": egv1a1.RateLimitUnitWeek, "Month": egv1a1.RateLimitUnitMonth,
}

// MaxRateLimitRules is Envoy Gateway's limit of global rate-limit rules in one BackendTrafficPolicy (its
// CRD's maxItems). Every budget is one rule of the Tier One policy: past the limit, budgets are refused
// (the tenant's status says which), never the whole policy.
const MaxRateLimitRules = 256

func rateLimitPolicyName(p *platformv1.GenAIPlatform) string { return Name(p.Name, "token-limits") }
func retryPolicyName(p *platformv1.GenAIPlatform) string     { return Name(p.Name, "fallback") }

// TierOnePolicyName names the Tier One Gateway's BackendTrafficPolicy: token limits, budgets and the 403
// body of refused models. (Named for what it first held: renaming it would recreate it.)
func TierOnePolicyName(p *platformv1.GenAIPlatform) string { return rateLimitPolicyName(p) }

// budgetRule is one global rate-limit rule: a budget of tokens or cost units per window, charged from
// the response's metadata key, for the requests that match headers.
func budgetRule(limit uint64, per platformv1.LimitPeriod, costKey string, headers []egv1a1.HeaderMatch) egv1a1.RateLimitRule {
	rule := egv1a1.RateLimitRule{
		Limit: egv1a1.RateLimitValue{Requests: uint32(limit), Unit: limitUnits[per]},
		// One bucket across every route (and so every model) the policy reaches: without it Envoy
		// Gateway counts each route rule, i.e. each model, separately.
		Shared: ptr.To(true),
		Cost: &egv1a1.RateLimitCost{
			// Nothing is charged when the request arrives; the response's token count (or cost) is.
			Request: &egv1a1.RateLimitCostSpecifier{From: egv1a1.RateLimitCostFromNumber, Number: ptr.To[uint64](0)},
			Response: &egv1a1.RateLimitCostSpecifier{From: egv1a1.RateLimitCostFromMetadata, Metadata: &egv1a1.RateLimitCostMetadata{
				Namespace: AIGatewayMetadataNamespace, Key: costKey,
			}},
		},
	}
	if len(headers) > 0 {
		rule.ClientSelectors = []egv1a1.RateLimitSelectCondition{{Headers: headers}}
	}
	return rule
}

func modelsHeader(models []string) egv1a1.HeaderMatch {
	re := egv1a1.HeaderMatchRegularExpression
	return egv1a1.HeaderMatch{Type: &re, Name: ModelHeader, Value: ptr.To(anyOf(models))}
}

// tokenLimitPolicy is the Tier One Gateway's BackendTrafficPolicy, enforced with Envoy Gateway's global
// rate limit (which needs its Redis backend): spec.gateway.limits, each model's own budget, and each
// tenant's budgets, one rule each; and, when tenants control model access, the 403 body of a refused
// model. Nil when there is none of these.
func tokenLimitPolicy(p *platformv1.GenAIPlatform, tp *tenantPlan) *egv1a1.BackendTrafficPolicy {
	var rules []egv1a1.RateLimitRule
	for _, l := range p.Spec.Gateway.Limits {
		var headers []egv1a1.HeaderMatch
		if l.PerClient {
			distinct := egv1a1.HeaderMatchDistinct
			headers = append(headers, egv1a1.HeaderMatch{Type: &distinct, Name: ClientIDHeader(p)})
		}
		if len(l.Models) > 0 {
			headers = append(headers, modelsHeader(l.Models))
		}
		rules = append(rules, budgetRule(uint64(l.Tokens), l.Per, tokenCostKeys[tokenType(l)], headers))
	}
	for _, m := range p.Spec.Models {
		if b := m.Budget; b != nil && len(rules) < MaxRateLimitRules {
			rules = append(rules, budgetRule(uint64(b.Tokens), b.Per, tokenCostKeys[orTotal(b.TokenType)], []egv1a1.HeaderMatch{modelsHeader([]string{m.Name})}))
		}
	}
	rules = append(rules, tenantBudgetRules(p, tp, MaxRateLimitRules-len(rules))...)
	var override []*egv1a1.ResponseOverride
	if tp.active() {
		override = []*egv1a1.ResponseOverride{modelNotAllowedResponse()}
	}
	if len(rules) == 0 && len(override) == 0 {
		return nil
	}
	spec := egv1a1.BackendTrafficPolicySpec{
		PolicyTargetReferences: egv1a1.PolicyTargetReferences{TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{gatewayTargetRef(p)}},
		ResponseOverride:       override,
	}
	if len(rules) > 0 {
		global := egv1a1.RateLimitType(egv1a1.GlobalRateLimitType)
		//lint:ignore SA1019 Envoy Gateway before v1.8 requires type; v1.9 still accepts it, and the applied object must not change
		spec.RateLimit = &egv1a1.RateLimitSpec{Type: &global, Global: &egv1a1.GlobalRateLimit{Rules: rules}}
	}
	return &egv1a1.BackendTrafficPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindBackendTrafficPolicy},
		ObjectMeta: objectMeta(p, rateLimitPolicyName(p), "tier-one"),
		Spec:       spec,
	}
}

// tenantBudgetRules are the tenants' budgets, in tenant name then spec order, at most room of them; each
// tenant's result says which were refused and why.
func tenantBudgetRules(p *platformv1.GenAIPlatform, tp *tenantPlan, room int) []egv1a1.RateLimitRule {
	if !tp.active() {
		return nil
	}
	names := make([]string, 0, len(p.Spec.Models))
	for _, m := range p.Spec.Models {
		names = append(names, m.Name)
	}
	var rules []egv1a1.RateLimitRule
	for _, t := range tp.tenants {
		res := tp.results[t.Name]
		refuse := func(b platformv1.TenantBudget, why string) {
			res.RefusedBudgets = append(res.RefusedBudgets, b.Name+": "+why)
		}
		sel := tp.tenantSelector(p, t)
		for _, b := range t.Spec.Budgets {
			var headers []egv1a1.HeaderMatch
			if sel == nil {
				refuse(b, "the tenant has no client id and no claim value to count its requests by")
				continue
			}
			re := egv1a1.HeaderMatchRegularExpression
			headers = append(headers, egv1a1.HeaderMatch{Type: &re, Name: sel.name, Value: ptr.To(sel.regex)})
			if len(b.Models) > 0 {
				var models []string
				for _, pattern := range b.Models {
					matched := MatchModels(pattern, names)
					if len(matched) == 0 && !slices.Contains(res.Unknown, pattern) {
						res.Unknown = append(res.Unknown, pattern)
					}
					models = append(models, matched...)
				}
				slices.Sort(models)
				if models = slices.Compact(models); len(models) == 0 {
					refuse(b, "spec.budgets[].models match no model of the platform")
					continue
				}
				headers = append(headers, modelsHeader(models))
			}
			var limit uint64
			key := tokenCostKeys[orTotal(b.TokenType)]
			switch {
			case b.Tokens != nil:
				limit = uint64(*b.Tokens)
			case p.Spec.Gateway.Costs == nil:
				refuse(b, "a cost budget needs the platform's price table, spec.gateway.costs")
				continue
			default:
				units, ok := decimalUnits(*b.Cost, costDecimals)
				if !ok || units == 0 || units > 1<<32-1 {
					refuse(b, "spec.budgets[].cost must be a decimal above 0 and at most 429496, with at most 4 decimals")
					continue
				}
				limit, key = units, CostMetadataKey
			}
			if len(rules) >= room {
				refuse(b, fmt.Sprintf("the platform's Tier One policy holds at most %d budget rules (Envoy Gateway's limit), all taken", MaxRateLimitRules))
				continue
			}
			rules = append(rules, budgetRule(limit, b.Per, key, headers))
			res.Budgets = append(res.Budgets, b.Name)
		}
	}
	return rules
}

// modelNotAllowedResponse is the body of the 403 a client gets for a model its tenant may not call, in
// OpenAI's error shape, so that SDKs show its message. Envoy Gateway puts the custom_response filter
// first in the chain, so on the way out it sees the rbac filter's local 403; only Envoy's own replies are
// rewritten (source Local), never a provider's 403. A JWT whose audience is refused also gets a local
// 403: code carries Envoy's response code details (rbac_access_denied_matched_policy[none] for a model
// refused) so the two can be told apart.
func modelNotAllowedResponse() *egv1a1.ResponseOverride {
	return &egv1a1.ResponseOverride{
		Match:  egv1a1.CustomResponseMatch{StatusCodes: []egv1a1.StatusCodeMatch{{Type: ptr.To(egv1a1.StatusCodeValueTypeValue), Value: ptr.To(403)}}},
		Source: ptr.To(egv1a1.ResponseOverrideSourceLocal),
		Response: &egv1a1.CustomResponse{
			ContentType: ptr.To("application/json"),
			Body:        &egv1a1.CustomResponseBody{Type: ptr.To(egv1a1.ResponseValueTypeInline), Inline: ptr.To(ModelNotAllowedBody)},
		},
	}
}

// ModelNotAllowedBody is the 403 body of a refused model.
const ModelNotAllowedBody = `{"error":{"message":"This client may not call model '%REQ(` + ModelHeader + `)%': its GenAITenant's spec.models does not allow it.","type":"permission_denied","param":"model","code":"%RESPONSE_CODE_DETAILS%"}}`

func orTotal(t platformv1.TokenType) platformv1.TokenType {
	if t == "" {
		return platformv1.TokensTotal
	}
	return t
}

func tokenType(l platformv1.TokenLimit) platformv1.TokenType {
	if l.TokenType == "" {
		return platformv1.TokensTotal
	}
	return l.TokenType
}

// fallbackPolicy makes priority fallback real: on a 429, a 5xx or a connection failure the request is
// retried, once per priority, so the next priority's backends take over. It targets the HTTPRoutes that
// Envoy AI Gateway generates from the AIGatewayRoutes (same names) holding a model with several priorities.
func fallbackPolicy(p *platformv1.GenAIPlatform, routes []string) *egv1a1.BackendTrafficPolicy {
	if len(routes) == 0 {
		return nil
	}
	var targets []gwapiv1.LocalPolicyTargetReferenceWithSectionName
	for _, r := range routes {
		targets = append(targets, gwapiv1.LocalPolicyTargetReferenceWithSectionName{LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
			Group: gwapiv1.GroupName, Kind: "HTTPRoute", Name: gwapiv1.ObjectName(r),
		}})
	}
	perTry := gwapiv1.Duration("60s")
	return &egv1a1.BackendTrafficPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindBackendTrafficPolicy},
		ObjectMeta: objectMeta(p, retryPolicyName(p), "tier-one"),
		Spec: egv1a1.BackendTrafficPolicySpec{
			PolicyTargetReferences: egv1a1.PolicyTargetReferences{TargetRefs: targets},
			// Merged into the Gateway's policy (the token limits) rather than replacing it for these
			// routes, which is what a route-level policy does by default.
			MergeType: ptr.To(egv1a1.StrategicMerge),
			ClusterSettings: egv1a1.ClusterSettings{Retry: &egv1a1.Retry{
				NumRetries:             ptr.To[int32](3),
				NumAttemptsPerPriority: ptr.To[int32](1),
				RetryOn: &egv1a1.RetryOn{
					Triggers:        []egv1a1.TriggerEnum{egv1a1.ConnectFailure, egv1a1.RetriableStatusCodes, egv1a1.Reset},
					HTTPStatusCodes: []egv1a1.HTTPStatus{429, 500, 502, 503, 504},
				},
				PerRetry: &egv1a1.PerRetryPolicy{
					Timeout: &perTry,
					BackOff: &egv1a1.BackOffPolicy{BaseInterval: ptr.To(gwapiv1.Duration("100ms")), MaxInterval: ptr.To(gwapiv1.Duration("2s"))},
				},
			}},
		},
	}
}
