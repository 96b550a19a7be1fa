package render

import (
	"slices"
	"strconv"

	"k8s.io/utils/ptr"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// maxRulesPerHTTPRoute is Gateway API's limit of rules in one HTTPRoute.
const maxRulesPerHTTPRoute = 16

// kserveOpenAIPrefix is where KServe's Hugging Face runtime serves the OpenAI API; Tier One sends /v1.
const kserveOpenAIPrefix = "/openai/v1"

// TierTwoRouteName names the i-th HTTPRoute shard of a Tier Two gateway.
func TierTwoRouteName(p *platformv1.GenAIPlatform, i int) string {
	return Name(tierTwoPrefix(p), "models", strconv.Itoa(i))
}

// weightedService is one backend a Tier Two rule sends to: an InferenceService's predictor, or an
// LLMInferenceService.
type weightedService struct {
	// name is the InferenceService's or LLMInferenceService's.
	name   string
	weight int32
	// llm: an LLMInferenceService (engine LLMInferenceService).
	llm bool
}

// tierTwoRule routes one model, by the header Tier One's AI Gateway sets, to its backends in this
// cluster, weighted. Every version of a model has one engine (admission checks it), so the backends are
// all InferenceServices or all LLMInferenceServices:
//
//   - InferenceServices: their predictor Services, the OpenAI path rewritten to KServe's /openai/v1.
//   - LLMInferenceServices, one taking all the traffic: its InferencePool, so that the endpoint picker
//     chooses the replica. Envoy Gateway v1.9.1 serves an InferencePool backend only through Envoy AI
//     Gateway's extension server, which allows one InferencePool per rule and nothing beside it (Envoy AI
//     Gateway v1.1.0: internal/extensionserver/post_route_modify.go "at most one inferencepool can be
//     referenced per route rule"; api/v1beta1/ai_gateway_route.go "only one InferencePool backend is
//     allowed per rule", "cannot mix InferencePool and AIServiceBackend references in the same rule").
//   - LLMInferenceServices sharing the traffic (a canary, several node pools of one priority): their
//     workload Services, weighted, since one rule cannot split among InferencePools; each version's pods
//     are then balanced by Envoy, not by the endpoint picker.
//
// vLLM serves the OpenAI API at /v1 itself, so an LLMInferenceService's path is not rewritten.
func tierTwoRule(model string, backends []weightedService) gwapiv1.HTTPRouteRule {
	rule := gwapiv1.HTTPRouteRule{
		Matches: []gwapiv1.HTTPRouteMatch{{
			Path:    &gwapiv1.HTTPPathMatch{Type: pathPrefix(), Value: ptr.To("/v1")},
			Headers: []gwapiv1.HTTPHeaderMatch{{Type: headerExact(), Name: ModelHeader, Value: model}},
		}},
	}
	if len(backends) > 0 && backends[0].llm {
		var taking []weightedService
		for _, b := range backends {
			if b.weight > 0 {
				taking = append(taking, b)
			}
		}
		if len(taking) == 1 {
			rule.BackendRefs = []gwapiv1.HTTPBackendRef{{BackendRef: gwapiv1.BackendRef{
				BackendObjectReference: gwapiv1.BackendObjectReference{
					Group: ptr.To(gwapiv1.Group(InferencePoolGroup)), Kind: ptr.To(gwapiv1.Kind("InferencePool")),
					Name: gwapiv1.ObjectName(InferencePoolName(taking[0].name)),
				},
				Weight: ptr.To(taking[0].weight),
			}}}
			return rule
		}
		for _, b := range backends {
			rule.BackendRefs = append(rule.BackendRefs, serviceRef(LLMWorkloadServiceName(b.name), LLMWorkloadPort, b.weight))
		}
		return rule
	}
	rule.Filters = []gwapiv1.HTTPRouteFilter{{
		Type: gwapiv1.HTTPRouteFilterURLRewrite,
		URLRewrite: &gwapiv1.HTTPURLRewriteFilter{Path: &gwapiv1.HTTPPathModifier{
			Type: gwapiv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To(kserveOpenAIPrefix),
		}},
	}}
	for _, b := range backends {
		rule.BackendRefs = append(rule.BackendRefs, serviceRef(PredictorServiceName(b.name), 80, b.weight))
	}
	return rule
}

// serviceRef is a weighted backend reference to a Service port.
func serviceRef(name string, port gwapiv1.PortNumber, weight int32) gwapiv1.HTTPBackendRef {
	return gwapiv1.HTTPBackendRef{BackendRef: gwapiv1.BackendRef{
		BackendObjectReference: gwapiv1.BackendObjectReference{Name: gwapiv1.ObjectName(name), Port: &port},
		Weight:                 ptr.To(weight),
	}}
}

// tierTwoRule is one model's rule at Tier Two.
type tierTwoModelRule struct {
	model string
	rule  gwapiv1.HTTPRouteRule
}

// tierTwoRoutes shards a cluster's rules into HTTPRoutes attached to its Tier Two Gateway.
func tierTwoRoutes(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, rules []tierTwoModelRule) []routeShard {
	var out []routeShard
	for chunk := range slices.Chunk(rules, maxRulesPerHTTPRoute) {
		route := &gwapiv1.HTTPRoute{
			TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "HTTPRoute"},
			ObjectMeta: tierTwoMeta(p, mc, TierTwoRouteName(p, len(out)), "tier-two"),
			Spec: gwapiv1.HTTPRouteSpec{
				CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: []gwapiv1.ParentReference{{
					Group: ptr.To(gwapiv1.Group(gwapiv1.GroupName)), Kind: ptr.To(gwapiv1.Kind("Gateway")), Name: gwapiv1.ObjectName(TierTwoGatewayName(p)),
				}}},
			},
		}
		shard := routeShard{route: route, backends: map[string][]string{}}
		for _, r := range chunk {
			route.Spec.Rules = append(route.Spec.Rules, r.rule)
			shard.models = append(shard.models, r.model)
			for _, ref := range r.rule.BackendRefs {
				shard.backends[r.model] = append(shard.backends[r.model], string(ref.Name))
			}
		}
		out = append(out, shard)
	}
	return out
}

func pathPrefix() *gwapiv1.PathMatchType { t := gwapiv1.PathMatchPathPrefix; return &t }
