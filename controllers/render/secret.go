package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// providerSecret is the managed copy of a provider's credentials, in the platform's namespace, under the
// key BackendSecurityPolicy reads. The copy decouples the user's Secret layout from Envoy AI Gateway's and
// carries the operator's label, so the operator's Secret cache holds it (and only such Secrets).
func providerSecret(p *platformv1.GenAIPlatform, pr *platformv1.ProviderSpec, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(p, ProviderSecretName(p, pr.Name), "provider"),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}
