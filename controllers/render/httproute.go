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

// weightedService is one InferenceService predictor a Tier Two rule sends to.
type weightedService struct {
	name   string
	weight int32
}

// tierTwoRule routes one model, by the header Tier One's AI Gateway sets, to its predictors in this
// cluster, weighted, rewriting the OpenAI path to KServe's.
func tierTwoRule(model string, backends []weightedService) gwapiv1.HTTPRouteRule {
	rule := gwapiv1.HTTPRouteRule{
		Matches: []gwapiv1.HTTPRouteMatch{{
			Path:    &gwapiv1.HTTPPathMatch{Type: pathPrefix(), Value: ptr.To("/v1")},
			Headers: []gwapiv1.HTTPHeaderMatch{{Type: headerExact(), Name: ModelHeader, Value: model}},
		}},
		Filters: []gwapiv1.HTTPRouteFilter{{
			Type: gwapiv1.HTTPRouteFilterURLRewrite,
			URLRewrite: &gwapiv1.HTTPURLRewriteFilter{Path: &gwapiv1.HTTPPathModifier{
				Type: gwapiv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To(kserveOpenAIPrefix),
			}},
		}},
	}
	for _, b := range backends {
		port := gwapiv1.PortNumber(80)
		rule.BackendRefs = append(rule.BackendRefs, gwapiv1.HTTPBackendRef{BackendRef: gwapiv1.BackendRef{
			BackendObjectReference: gwapiv1.BackendObjectReference{Name: gwapiv1.ObjectName(PredictorServiceName(b.name)), Port: &port},
			Weight:                 ptr.To[int32](b.weight),
		}})
	}
	return rule
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
