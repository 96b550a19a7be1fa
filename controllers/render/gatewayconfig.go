package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// AnnotationGatewayConfig attaches an Envoy AI Gateway GatewayConfig to a Gateway.
const AnnotationGatewayConfig = "aigateway.envoyproxy.io/gateway-config"

func gatewayConfigName(p *platformv1.GenAIPlatform) string { return Name(p.Name, "ai-gateway") }

// gatewayConfig configures Envoy AI Gateway's external processor of the Tier One gateway: it exports
// OpenTelemetry traces of the GenAI calls (model, tokens, latency) when tracing is set.
func gatewayConfig(p *platformv1.GenAIPlatform) *aigv1b1.GatewayConfig {
	o := p.Spec.Observability
	if o == nil || o.Tracing == nil {
		return nil
	}
	ratio := o.Tracing.SamplingRatio
	if ratio == "" {
		ratio = "1"
	}
	return &aigv1b1.GatewayConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: aigv1b1.GroupVersion.String(), Kind: "GatewayConfig"},
		ObjectMeta: objectMeta(p, gatewayConfigName(p), "tier-one"),
		Spec: aigv1b1.GatewayConfigSpec{ExtProc: &aigv1b1.GatewayConfigExtProc{Kubernetes: &aigv1b1.GatewayConfigExtProcKubernetes{
			Env: []corev1.EnvVar{
				{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: o.Tracing.OTLPEndpoint},
				{Name: "OTEL_SERVICE_NAME", Value: "genai-platform-" + p.Name},
				{Name: "OTEL_TRACES_SAMPLER", Value: "parentbased_traceidratio"},
				{Name: "OTEL_TRACES_SAMPLER_ARG", Value: ratio},
			},
		}}},
	}
}
