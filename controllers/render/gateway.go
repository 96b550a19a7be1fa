package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// ListenerName is the name of each gateway's one listener.
const ListenerName = "llm"

// gateway is a Gateway with one listener.
func gateway(g gatewayParams) *gwapiv1.Gateway {
	meta := g.meta(g.name)
	meta.Annotations = g.annotations
	return &gwapiv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: meta,
		Spec: gwapiv1.GatewaySpec{
			GatewayClassName: gwapiv1.ObjectName(g.className),
			Listeners:        []gwapiv1.Listener{g.listener},
			Infrastructure: &gwapiv1.GatewayInfrastructure{
				ParametersRef: &gwapiv1.LocalParametersReference{
					Group: gwapiv1.Group(egv1a1.GroupName),
					Kind:  gwapiv1.Kind(egv1a1.KindEnvoyProxy),
					Name:  g.proxyName,
				},
			},
		},
	}
}

// tierOneGateway describes the Tier One gateway from the platform's spec.gateway.
func tierOneGateway(p *platformv1.GenAIPlatform) gatewayParams {
	l := p.Spec.Gateway.Listener
	listener := gwapiv1.Listener{Name: ListenerName, Protocol: gwapiv1.HTTPProtocolType, Port: gwapiv1.PortNumber(ListenerPort(p))}
	if l.Hostname != "" {
		h := gwapiv1.Hostname(l.Hostname)
		listener.Hostname = &h
	}
	if l.Protocol != platformv1.ListenerHTTP {
		listener.Protocol = gwapiv1.HTTPSProtocolType
		mode := gwapiv1.TLSModeTerminate
		listener.TLS = &gwapiv1.ListenerTLSConfig{Mode: &mode}
		if l.TLSSecretRef != nil {
			listener.TLS.CertificateRefs = []gwapiv1.SecretObjectReference{{Name: gwapiv1.ObjectName(l.TLSSecretRef.Name)}}
		}
	}
	replicas := int32(2)
	if p.Spec.Gateway.Replicas != nil {
		replicas = *p.Spec.Gateway.Replicas
	}
	var annotations map[string]string
	if gatewayConfig(p) != nil {
		annotations = map[string]string{AnnotationGatewayConfig: gatewayConfigName(p)}
	}
	var exposure platformv1.GatewayExposure
	if e := p.Spec.Gateway.Exposure; e != nil {
		exposure = *e
	}
	return gatewayParams{
		exposure:     exposure,
		telemetry:    proxyTelemetry(p),
		annotations:  annotations,
		meta:         func(name string) metav1.ObjectMeta { return objectMeta(p, name, "tier-one") },
		labels:       Labels(p, "tier-one"),
		className:    gatewayClassName(p),
		managedClass: p.Spec.Gateway.GatewayClassName == "",
		description:  "Tier One gateway of a GenAIPlatform, managed by its operator",
		name:         GatewayName(p),
		proxyName:    envoyProxyName(p),
		replicas:     replicas,
		listener:     listener,
	}
}

// ListenerPort is the Tier One listener port: the spec's, else 443 for HTTPS and 80 for HTTP.
func ListenerPort(p *platformv1.GenAIPlatform) int32 {
	l := p.Spec.Gateway.Listener
	switch {
	case l.Port != nil:
		return *l.Port
	case l.Protocol == platformv1.ListenerHTTP:
		return 80
	}
	return 443
}
