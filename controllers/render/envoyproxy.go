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
			Provider:    &egv1a1.EnvoyProxyProvider{Type: egv1a1.EnvoyProxyProviderTypeKubernetes, Kubernetes: k8s},
			Telemetry:   g.telemetry,
			FilterOrder: g.filterOrder,
		},
	}
}

// customResponseBeforeRBAC moves Envoy's custom_response filter from the head of Envoy Gateway's filter
// chain to just before rbac. It must stay before rbac to rewrite rbac's 403 (a local reply passes only
// through the filters before the one that sent it); and at the head it would take Envoy AI Gateway's
// external processor with it, which its extension server inserts before the first of custom_response,
// rbac, rate limits and others (internal/extensionserver/post_translate_modify.go,
// afterExtProcFilterPrefixes): the processor would then read every request's body before api_key_auth
// and jwt_authn have authenticated it. Envoy Gateway ignores an order whose other filter is absent.
var customResponseBeforeRBAC = []egv1a1.FilterPosition{{Name: egv1a1.EnvoyFilterCustomResponse, Before: ptr.To(egv1a1.EnvoyFilterRBAC)}}
