package render

import (
	"regexp"
	"strings"

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
}

func rateLimitPolicyName(p *platformv1.GenAIPlatform) string { return Name(p.Name, "token-limits") }
func retryPolicyName(p *platformv1.GenAIPlatform) string     { return Name(p.Name, "fallback") }

// tokenLimitPolicy enforces spec.gateway.limits with Envoy Gateway's global rate limit (which needs its
// Redis backend): each limit is a rule whose cost is charged from the response's token count, per client
// (keyed on the client-id header) or shared, for every model or only the listed ones (one shared bucket).
func tokenLimitPolicy(p *platformv1.GenAIPlatform) *egv1a1.BackendTrafficPolicy {
	if len(p.Spec.Gateway.Limits) == 0 {
		return nil
	}
	global := egv1a1.RateLimitType(egv1a1.GlobalRateLimitType)
	spec := egv1a1.BackendTrafficPolicySpec{
		PolicyTargetReferences: egv1a1.PolicyTargetReferences{TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{gatewayTargetRef(p)}},
		//lint:ignore SA1019 Envoy Gateway before v1.8 requires type; v1.9 still accepts it, and the applied object must not change
		RateLimit: &egv1a1.RateLimitSpec{Type: &global, Global: &egv1a1.GlobalRateLimit{}},
	}
	for _, l := range p.Spec.Gateway.Limits {
		rule := egv1a1.RateLimitRule{
			Limit: egv1a1.RateLimitValue{Requests: uint32(l.Tokens), Unit: limitUnits[l.Per]},
			// One bucket across every route (and so every model) the policy reaches: without it Envoy
			// Gateway counts each route rule, i.e. each model, separately.
			Shared: ptr.To(true),
			Cost: &egv1a1.RateLimitCost{
				// Nothing is charged when the request arrives; the response's token count is.
				Request: &egv1a1.RateLimitCostSpecifier{From: egv1a1.RateLimitCostFromNumber, Number: ptr.To[uint64](0)},
				Response: &egv1a1.RateLimitCostSpecifier{From: egv1a1.RateLimitCostFromMetadata, Metadata: &egv1a1.RateLimitCostMetadata{
					Namespace: AIGatewayMetadataNamespace, Key: tokenCostKeys[tokenType(l)],
				}},
			},
		}
		var headers []egv1a1.HeaderMatch
		if l.PerClient {
			distinct := egv1a1.HeaderMatchDistinct
			headers = append(headers, egv1a1.HeaderMatch{Type: &distinct, Name: ClientIDHeader(p)})
		}
		if len(l.Models) > 0 {
			quoted := make([]string, len(l.Models))
			for i, m := range l.Models {
				quoted[i] = regexp.QuoteMeta(m)
			}
			re := egv1a1.HeaderMatchRegularExpression
			headers = append(headers, egv1a1.HeaderMatch{Type: &re, Name: ModelHeader, Value: ptr.To("^(" + strings.Join(quoted, "|") + ")$")})
		}
		if len(headers) > 0 {
			rule.ClientSelectors = []egv1a1.RateLimitSelectCondition{{Headers: headers}}
		}
		spec.RateLimit.Global.Rules = append(spec.RateLimit.Global.Rules, rule)
	}
	return &egv1a1.BackendTrafficPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindBackendTrafficPolicy},
		ObjectMeta: objectMeta(p, rateLimitPolicyName(p), "tier-one"),
		Spec:       spec,
	}
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
