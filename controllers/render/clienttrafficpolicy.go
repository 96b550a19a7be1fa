package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// llmBufferLimit replaces Envoy Gateway's 32 KiB default connection buffer, far too small for LLM request
// bodies (long prompts, images, tool definitions); 50 MiB is what Envoy AI Gateway's examples use.
var llmBufferLimit = resource.MustParse("50Mi")

// clientTrafficPolicy sizes the Tier One listener for LLM traffic. With tenants, it also removes the
// client-id and tenant-claim headers from every request as it arrives, before any filter: those headers
// are set by Envoy's authentication filters and read by the tenants' access rules and budgets, and a
// value sent by the client (a JWT without the tenant claim, for which jwt_authn sets nothing) would
// otherwise pass for an identity.
func clientTrafficPolicy(p *platformv1.GenAIPlatform, tp *tenantPlan) *egv1a1.ClientTrafficPolicy {
	limit := llmBufferLimit.DeepCopy()
	var headers *egv1a1.HeaderSettings
	if tp.active() {
		remove := []string{ClientIDHeader(p)}
		if tenantClaim(p) != "" {
			remove = append(remove, TenantClaimHeader)
		}
		headers = &egv1a1.HeaderSettings{EarlyRequestHeaders: &egv1a1.HTTPHeaderFilter{Remove: remove}}
	}
	return &egv1a1.ClientTrafficPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindClientTrafficPolicy},
		ObjectMeta: objectMeta(p, clientTrafficPolicyName(p), "tier-one"),
		Spec: egv1a1.ClientTrafficPolicySpec{
			PolicyTargetReferences: egv1a1.PolicyTargetReferences{
				TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{gatewayTargetRef(p)},
			},
			Connection: &egv1a1.ClientConnection{BufferLimit: &limit},
			Headers:    headers,
		},
	}
}

func gatewayTargetRef(p *platformv1.GenAIPlatform) gwapiv1.LocalPolicyTargetReferenceWithSectionName {
	return gwapiv1.LocalPolicyTargetReferenceWithSectionName{
		LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
			Group: gwapiv1.GroupName,
			Kind:  "Gateway",
			Name:  gwapiv1.ObjectName(GatewayName(p)),
		},
	}
}
