package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// providerBackendTLSPolicy makes Tier One speak TLS to the provider and verify its certificate against
// the system's well-known CAs, for the provider's own host name.
func providerBackendTLSPolicy(p *platformv1.GenAIPlatform, pr *platformv1.ProviderSpec) *gwapiv1.BackendTLSPolicy {
	system := gwapiv1.WellKnownCACertificatesSystem
	return backendTLSPolicy(objectMeta(p, backendTLSPolicyName(p, pr.Name), "provider"), ProviderBackendName(p, pr.Name),
		gwapiv1.BackendTLSPolicyValidation{Hostname: gwapiv1.PreciseHostname(providerHostname(pr)), WellKnownCACertificates: &system})
}

// backendTLSPolicy verifies the TLS of one of Tier One's Backends.
func backendTLSPolicy(meta metav1.ObjectMeta, backend string, v gwapiv1.BackendTLSPolicyValidation) *gwapiv1.BackendTLSPolicy {
	return &gwapiv1.BackendTLSPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "BackendTLSPolicy"},
		ObjectMeta: meta,
		Spec: gwapiv1.BackendTLSPolicySpec{
			TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{
				LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
					Group: gwapiv1.Group(egv1a1.GroupName),
					Kind:  gwapiv1.Kind(egv1a1.KindBackend),
					Name:  gwapiv1.ObjectName(backend),
				},
			}},
			Validation: v,
		},
	}
}
