package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// providerBackendSecurityPolicy injects the provider's credentials into upstream requests, reading the
// managed Secret. It returns nil when the provider needs no credentials (an OpenAI-compatible service
// without a key).
func providerBackendSecurityPolicy(p *platformv1.GenAIPlatform, pr *platformv1.ProviderSpec, hasSecret bool) *aigv1b1.BackendSecurityPolicy {
	secret := aigv1b1.SecretObjectReference{Name: gwapiv1.ObjectName(ProviderSecretName(p, pr.Name))}
	spec := aigv1b1.BackendSecurityPolicySpec{
		TargetRefs: []gwapiv1.LocalPolicyTargetReference{{
			Group: aigv1b1.GroupName,
			Kind:  "AIServiceBackend",
			Name:  gwapiv1.ObjectName(ProviderBackendName(p, pr.Name)),
		}},
	}
	switch {
	case pr.Type == platformv1.ProviderAWSBedrock:
		spec.Type = aigv1b1.BackendSecurityPolicyTypeAWSCredentials
		spec.AWSCredentials = &aigv1b1.BackendSecurityPolicyAWSCredentials{Region: pr.AWS.Region}
		if hasSecret {
			spec.AWSCredentials.CredentialsFile = &aigv1b1.AWSCredentialsFile{SecretRef: &secret}
		}
	case pr.Type == platformv1.ProviderGCPVertexAI || pr.Type == platformv1.ProviderGCPAnthropic:
		spec.Type = aigv1b1.BackendSecurityPolicyTypeGCPCredentials
		spec.GCPCredentials = &aigv1b1.BackendSecurityPolicyGCPCredentials{ProjectName: pr.GCP.ProjectName, Region: pr.GCP.Region}
		if hasSecret {
			spec.GCPCredentials.CredentialsFile = &aigv1b1.GCPCredentialsFile{SecretRef: &secret}
		}
	case pr.Type == platformv1.ProviderAzureOpenAI && pr.Azure != nil:
		spec.Type = aigv1b1.BackendSecurityPolicyTypeAzureCredentials
		spec.AzureCredentials = &aigv1b1.BackendSecurityPolicyAzureCredentials{
			ClientID: pr.Azure.ClientID, TenantID: pr.Azure.TenantID, ClientSecretRef: &secret,
		}
	case !hasSecret:
		return nil
	case pr.Type == platformv1.ProviderAzureOpenAI:
		spec.Type = aigv1b1.BackendSecurityPolicyTypeAzureAPIKey
		spec.AzureAPIKey = &aigv1b1.BackendSecurityPolicyAzureAPIKey{SecretRef: &secret}
	default:
		// Anthropic too: its OpenAI-compatible API takes the key as a bearer token, as OpenAI's SDKs
		// send it.
		spec.Type = aigv1b1.BackendSecurityPolicyTypeAPIKey
		spec.APIKey = &aigv1b1.BackendSecurityPolicyAPIKey{SecretRef: &secret}
	}
	return &aigv1b1.BackendSecurityPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: aigv1b1.GroupVersion.String(), Kind: "BackendSecurityPolicy"},
		ObjectMeta: objectMeta(p, ProviderBackendName(p, pr.Name), "provider"),
		Spec:       spec,
	}
}
