package render

import (
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// Conventional keys of the managed credential Secrets, as Envoy AI Gateway's BackendSecurityPolicy reads
// them. The user's Secret may use any key name: the operator copies its value under these.
const (
	KeyAPIKey             = "apiKey"
	KeyAWSCredentials     = "credentials"
	KeyGCPServiceAccount  = "service_account.json"
	KeyAzureClientSecret  = "client-secret"
	defaultProviderPort   = 443
	defaultOpenAIHostname = "api.openai.com"
)

// CredentialSource says which user Secret key a provider's credentials come from and under which key
// the managed copy holds it. Ref is nil when the provider needs no Secret (for example AWS Bedrock with
// the pod's own cloud identity).
type CredentialSource struct {
	Ref        *platformv1.SecretKeyReference
	ManagedKey string
}

// ProviderCredentialSource is the one place that knows each provider type's credential layout.
func ProviderCredentialSource(pr *platformv1.ProviderSpec) CredentialSource {
	switch {
	case pr.Type == platformv1.ProviderAWSBedrock && pr.AWS != nil:
		return CredentialSource{Ref: pr.AWS.CredentialsSecretRef, ManagedKey: KeyAWSCredentials}
	case (pr.Type == platformv1.ProviderGCPVertexAI || pr.Type == platformv1.ProviderGCPAnthropic) && pr.GCP != nil:
		return CredentialSource{Ref: pr.GCP.CredentialsSecretRef, ManagedKey: KeyGCPServiceAccount}
	case pr.Type == platformv1.ProviderAzureOpenAI && pr.Azure != nil:
		return CredentialSource{Ref: &pr.Azure.ClientSecretRef, ManagedKey: KeyAzureClientSecret}
	case pr.Credentials != nil:
		return CredentialSource{Ref: &pr.Credentials.SecretRef, ManagedKey: KeyAPIKey}
	}
	return CredentialSource{ManagedKey: KeyAPIKey}
}

// providerHostname is the provider API's host: the spec's, else the type's well-known one.
func providerHostname(pr *platformv1.ProviderSpec) string {
	if pr.Hostname != "" {
		return pr.Hostname
	}
	switch pr.Type {
	case platformv1.ProviderOpenAI:
		return defaultOpenAIHostname
	case platformv1.ProviderAnthropic:
		return "api.anthropic.com"
	case platformv1.ProviderCohere:
		return "api.cohere.com"
	case platformv1.ProviderAWSBedrock:
		if pr.AWS != nil {
			return "bedrock-runtime." + pr.AWS.Region + ".amazonaws.com"
		}
	case platformv1.ProviderGCPVertexAI, platformv1.ProviderGCPAnthropic:
		if pr.GCP != nil {
			return VertexAIHostname(pr.GCP.Region)
		}
	}
	return ""
}

func providerPort(pr *platformv1.ProviderSpec) int32 {
	if pr.Port != 0 {
		return pr.Port
	}
	return defaultProviderPort
}

// PickSecretKey chooses the key of a user's Secret that holds a credential: the reference's key, else
// the Secret's only key, else the conventional key. It returns the key and whether it holds a value.
func PickSecretKey(data map[string][]byte, refKey, conventionalKey string) (string, bool) {
	key := refKey
	if key == "" {
		key = conventionalKey
		if len(data) == 1 {
			for k := range data {
				key = k
			}
		}
	}
	return key, len(data[key]) > 0
}

// VertexAIHostname is Vertex AI's API host for a region: <region>-aiplatform.googleapis.com, except the
// global endpoint, which has no region prefix (https://cloud.google.com/vertex-ai/generative-ai/docs/learn/locations#global-endpoint).
func VertexAIHostname(region string) string {
	if region == "global" {
		return "aiplatform.googleapis.com"
	}
	return region + "-aiplatform.googleapis.com"
}
