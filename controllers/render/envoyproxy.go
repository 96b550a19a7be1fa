package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// envoyProxy holds a gateway's proxy deployment settings. It is attached to the Gateway through
// spec.infrastructure.parametersRef rather than to the GatewayClass, so it also works with a
// user-provided GatewayClass.
func envoyProxy(g gatewayParams) *egv1a1.EnvoyProxy {
	k8s := &egv1a1.EnvoyProxyKubernetesProvider{
		EnvoyDeployment: &egv1a1.KubernetesDeploymentSpec{Replicas: ptr.To[int32](g.replicas)},
	}
	if e := g.exposure; e.ServiceType != "" || len(e.ServiceAnnotations) > 0 {
		k8s.EnvoyService = &egv1a1.KubernetesServiceSpec{Annotations: e.ServiceAnnotations}
		if e.ServiceType != "" {
			k8s.EnvoyService.Type = ptr.To(egv1a1.ServiceType(e.ServiceType))
		}
	}
	if g.exposure.Resources != nil {
		k8s.EnvoyDeployment.Container = &egv1a1.KubernetesContainerSpec{Resources: g.exposure.Resources}
	}
	return &egv1a1.EnvoyProxy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindEnvoyProxy},
		ObjectMeta: g.meta(g.proxyName),
		Spec: egv1a1.EnvoyProxySpec{
			Provider:  &egv1a1.EnvoyProxyProvider{Type: egv1a1.EnvoyProxyProviderTypeKubernetes, Kubernetes: k8s},
			Telemetry: g.telemetry,
		},
	}
}
