package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// envoyProxy holds the Tier One proxy's deployment settings. It is attached to the Gateway through
// spec.infrastructure.parametersRef rather than to the GatewayClass, so it works with a user-provided
// GatewayClass too.
func envoyProxy(p *platformv1.GenAIPlatform) *egv1a1.EnvoyProxy {
	replicas := p.Spec.Gateway.Replicas
	if replicas == nil {
		replicas = int32Ptr(2)
	}
	return &egv1a1.EnvoyProxy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindEnvoyProxy},
		ObjectMeta: objectMeta(p, envoyProxyName(p), "tier-one"),
		Spec: egv1a1.EnvoyProxySpec{
			Provider: &egv1a1.EnvoyProxyProvider{
				Type: egv1a1.EnvoyProxyProviderTypeKubernetes,
				Kubernetes: &egv1a1.EnvoyProxyKubernetesProvider{
					EnvoyDeployment: &egv1a1.KubernetesDeploymentSpec{Replicas: replicas},
				},
			},
		},
	}
}

func int32Ptr(i int32) *int32 { return &i }
