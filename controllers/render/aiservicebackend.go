package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// providerAIServiceBackend tells Envoy AI Gateway which API schema the provider speaks, so it translates
// the OpenAI-compatible request Tier One receives into the provider's own.
func providerAIServiceBackend(p *platformv1.GenAIPlatform, pr *platformv1.ProviderSpec) *aigv1b1.AIServiceBackend {
	return &aigv1b1.AIServiceBackend{
		TypeMeta:   metav1.TypeMeta{APIVersion: aigv1b1.GroupVersion.String(), Kind: "AIServiceBackend"},
		ObjectMeta: objectMeta(p, ProviderBackendName(p, pr.Name), "provider"),
		Spec: aigv1b1.AIServiceBackendSpec{
			APISchema: providerSchema(pr),
			BackendRef: gwapiv1.BackendObjectReference{
				Group: ptr.To(gwapiv1.Group(egv1a1.GroupName)),
				Kind:  ptr.To(gwapiv1.Kind(egv1a1.KindBackend)),
				Name:  gwapiv1.ObjectName(ProviderBackendName(p, pr.Name)),
			},
		},
	}
}

// Versions used when a provider's spec names none: Envoy AI Gateway v1.1 has no default and pastes the
// empty string into the upstream request.
const (
	// DefaultAzureOpenAIAPIVersion is Azure OpenAI's current GA data-plane API version
	// (api-version=2024-10-21); a preview version must be asked for.
	DefaultAzureOpenAIAPIVersion = "2024-10-21"
	// DefaultGCPAnthropicVersion is the anthropic_version Claude on Vertex AI requires in the body.
	DefaultGCPAnthropicVersion = "vertex-2023-10-16"
)

// cohereOpenAIPrefix is where Cohere serves its OpenAI-compatible API (chat completions, embeddings).
const cohereOpenAIPrefix = "compatibility/v1"

// providerSchema maps a provider type to the Envoy AI Gateway API schema that serves OpenAI-API clients.
//
// Envoy AI Gateway v1.1 translates /v1/chat/completions only for the OpenAI, AzureOpenAI, AWSBedrock,
// GCPVertexAI and GCPAnthropic schemas (internal/endpointspec, ChatCompletionsEndpointSpec): its
// Anthropic schema serves Anthropic's native /v1/messages only, and its Cohere schema rerank only. So
// Anthropic and Cohere are reached through their own OpenAI-compatible APIs, which serve chat
// completions (and Cohere's embeddings); Anthropic's native /v1/messages requests are then translated to
// chat completions by the gateway.
func providerSchema(pr *platformv1.ProviderSpec) aigv1b1.VersionedAPISchema {
	s := aigv1b1.VersionedAPISchema{}
	switch pr.Type {
	case platformv1.ProviderAzureOpenAI:
		s.Name = aigv1b1.APISchemaAzureOpenAI
		s.Version = ptr.To(DefaultAzureOpenAIAPIVersion)
	case platformv1.ProviderAnthropic:
		// https://api.anthropic.com/v1/chat/completions: the schema's default prefix is v1.
		s.Name = aigv1b1.APISchemaOpenAI
	case platformv1.ProviderAWSBedrock:
		s.Name = aigv1b1.APISchemaAWSBedrock
	case platformv1.ProviderGCPVertexAI:
		s.Name = aigv1b1.APISchemaGCPVertexAI
	case platformv1.ProviderGCPAnthropic:
		s.Name = aigv1b1.APISchemaGCPAnthropic
		s.Version = ptr.To(DefaultGCPAnthropicVersion)
	case platformv1.ProviderCohere:
		s.Name = aigv1b1.APISchemaOpenAI
		s.Prefix = ptr.To(cohereOpenAIPrefix)
	case platformv1.ProviderOpenAICompatible:
		s.Name = aigv1b1.APISchemaOpenAI
		prefix := pr.PathPrefix
		if prefix == "" {
			prefix = "/v1"
		}
		s.Prefix = &prefix
	default:
		s.Name = aigv1b1.APISchemaOpenAI
	}
	if pr.APIVersion != "" {
		v := pr.APIVersion
		s.Version = &v
	}
	return s
}
