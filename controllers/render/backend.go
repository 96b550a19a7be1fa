package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// providerBackend is the Envoy Gateway Backend for a provider's API host.
func providerBackend(p *platformv1.GenAIPlatform, pr *platformv1.ProviderSpec) *egv1a1.Backend {
	return &egv1a1.Backend{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindBackend},
		ObjectMeta: objectMeta(p, ProviderBackendName(p, pr.Name), "provider"),
		Spec: egv1a1.BackendSpec{
			Endpoints: []egv1a1.BackendEndpoint{{
				FQDN: &egv1a1.FQDNEndpoint{Hostname: providerHostname(pr), Port: providerPort(pr)},
			}},
		},
	}
}
