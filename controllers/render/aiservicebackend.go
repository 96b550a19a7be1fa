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

// providerSchema maps a provider type to Envoy AI Gateway's API schema.
func providerSchema(pr *platformv1.ProviderSpec) aigv1b1.VersionedAPISchema {
	s := aigv1b1.VersionedAPISchema{}
	switch pr.Type {
	case platformv1.ProviderAzureOpenAI:
		s.Name = aigv1b1.APISchemaAzureOpenAI
	case platformv1.ProviderAnthropic:
		s.Name = aigv1b1.APISchemaAnthropic
	case platformv1.ProviderAWSBedrock:
		s.Name = aigv1b1.APISchemaAWSBedrock
	case platformv1.ProviderGCPVertexAI:
		s.Name = aigv1b1.APISchemaGCPVertexAI
	case platformv1.ProviderGCPAnthropic:
		s.Name = aigv1b1.APISchemaGCPAnthropic
	case platformv1.ProviderCohere:
		s.Name = aigv1b1.APISchemaCohere
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
