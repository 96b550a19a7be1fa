package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// tierTwoKeySecret holds the Authorization values Tier Two admits: one data key per admitted key (Envoy
// Gateway's API key auth reads each data key as a client id, its value as that client's key).
func tierTwoKeySecret(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, k ClusterKey) *corev1.Secret {
	data := map[string][]byte{}
	for id, v := range map[string]string{"tier-one": k.Current, "tier-one-next": k.Next, "tier-one-previous": k.Previous} {
		if v != "" {
			data[id] = []byte(TierTwoAuthorization(v))
		}
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: tierTwoMeta(p, mc, TierTwoKeySecretName(p), "tier-two"),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// tierTwoSecurityPolicy admits only requests whose Authorization header carries a key Tier One holds:
// model teams' clusters are reachable through Tier One only.
func tierTwoSecurityPolicy(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) *egv1a1.SecurityPolicy {
	return &egv1a1.SecurityPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindSecurityPolicy},
		ObjectMeta: tierTwoMeta(p, mc, tierTwoPolicyName(p), "tier-two"),
		Spec: egv1a1.SecurityPolicySpec{
			PolicyTargetReferences: egv1a1.PolicyTargetReferences{
				TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{
					LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
						Group: gwapiv1.GroupName, Kind: "Gateway", Name: gwapiv1.ObjectName(TierTwoGatewayName(p)),
					},
				}},
			},
			APIKeyAuth: &egv1a1.APIKeyAuth{
				CredentialRefs: []gwapiv1.SecretObjectReference{{Name: gwapiv1.ObjectName(TierTwoKeySecretName(p))}},
				ExtractFrom:    []*egv1a1.ExtractFrom{{Headers: []string{"Authorization"}}},
			},
		},
	}
}
