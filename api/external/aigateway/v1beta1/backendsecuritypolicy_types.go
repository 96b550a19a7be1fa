package v1beta1

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Keys Envoy AI Gateway reads from the Secrets a BackendSecurityPolicy references.
const (
	// SecretKeyAPIKey holds the key of APIKey (sent as "Authorization: Bearer"), AzureAPIKey (header
	// "api-key") and AnthropicAPIKey (header "x-api-key").
	SecretKeyAPIKey = "apiKey"
	// SecretKeyAWSCredentials holds an AWS shared credentials file (AWSCredentials' credentialsFile).
	SecretKeyAWSCredentials = "credentials"
	// SecretKeyGCPServiceAccount holds a GCP service-account key file (GCPCredentials' credentialsFile).
	SecretKeyGCPServiceAccount = "service_account.json"
	// SecretKeyAzureClientSecret holds an Entra ID client secret (AzureCredentials' clientSecretRef).
	SecretKeyAzureClientSecret = "client-secret"
)

// BackendSecurityPolicy injects upstream credentials into requests to its target AIServiceBackends (or
// InferencePools). At most one policy may target a given backend.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
// +kubebuilder:metadata:labels="gateway.networking.k8s.io/policy=direct"
type BackendSecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BackendSecurityPolicySpec `json:"spec,omitempty"`
	Status AIGatewayStatus           `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackendSecurityPolicyList is a list of BackendSecurityPolicies.
type BackendSecurityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackendSecurityPolicy `json:"items"`
}

// BackendSecurityPolicyType is the kind of credentials.
// +kubebuilder:validation:Enum=APIKey;AWSCredentials;AzureAPIKey;AzureCredentials;GCPCredentials;AnthropicAPIKey
type BackendSecurityPolicyType string

const (
	// BackendSecurityPolicyTypeAPIKey: spec.apiKey, Secret key "apiKey", sent as a bearer token.
	BackendSecurityPolicyTypeAPIKey BackendSecurityPolicyType = "APIKey"
	// BackendSecurityPolicyTypeAWSCredentials: spec.awsCredentials, SigV4 signing; Secret key "credentials".
	BackendSecurityPolicyTypeAWSCredentials BackendSecurityPolicyType = "AWSCredentials"
	// BackendSecurityPolicyTypeAzureAPIKey: spec.azureAPIKey, Secret key "apiKey", header "api-key".
	BackendSecurityPolicyTypeAzureAPIKey BackendSecurityPolicyType = "AzureAPIKey"
	// BackendSecurityPolicyTypeAzureCredentials: spec.azureCredentials, Entra ID; Secret key "client-secret".
	BackendSecurityPolicyTypeAzureCredentials BackendSecurityPolicyType = "AzureCredentials"
	// BackendSecurityPolicyTypeGCPCredentials: spec.gcpCredentials; Secret key "service_account.json".
	BackendSecurityPolicyTypeGCPCredentials BackendSecurityPolicyType = "GCPCredentials"
	// BackendSecurityPolicyTypeAnthropicAPIKey: spec.anthropicAPIKey, Secret key "apiKey", header "x-api-key".
	BackendSecurityPolicyTypeAnthropicAPIKey BackendSecurityPolicyType = "AnthropicAPIKey" // #nosec G101 -- a type name, not a credential
)

// BackendSecurityPolicySpec is the policy's spec: exactly the member Type names is set (CEL-enforced).
//
// +kubebuilder:validation:XValidation:rule="self.type == 'APIKey' ? (has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureAPIKey) && !has(self.azureCredentials) && !has(self.gcpCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is APIKey, only apiKey field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'AWSCredentials' ? (has(self.awsCredentials) && !has(self.apiKey) && !has(self.azureAPIKey) && !has(self.azureCredentials) && !has(self.gcpCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is AWSCredentials, only awsCredentials field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'AzureAPIKey' ? (has(self.azureAPIKey) && !has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureCredentials) && !has(self.gcpCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is AzureAPIKey, only azureAPIKey field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'AzureCredentials' ? (has(self.azureCredentials) && !has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureAPIKey) && !has(self.gcpCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is AzureCredentials, only azureCredentials field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'GCPCredentials' ? (has(self.gcpCredentials) && !has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureAPIKey) && !has(self.azureCredentials) && !has(self.anthropicAPIKey)) : true",message="When type is GCPCredentials, only gcpCredentials field should be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'AnthropicAPIKey' ? (has(self.anthropicAPIKey) && !has(self.apiKey) && !has(self.awsCredentials) && !has(self.azureAPIKey) && !has(self.azureCredentials) && !has(self.gcpCredentials)) : true",message="When type is AnthropicAPIKey, only anthropicAPIKey field should be set"
type BackendSecurityPolicySpec struct {
	// TargetRefs are the AIServiceBackends (group aigateway.envoyproxy.io) or InferencePools (group
	// inference.networking.k8s.io) the policy applies to; group, kind and name are all required.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(ref, (ref.group == 'aigateway.envoyproxy.io' && ref.kind == 'AIServiceBackend') || (ref.group == 'inference.networking.k8s.io' && ref.kind == 'InferencePool'))",message="targetRefs must reference AIServiceBackend or InferencePool resources"
	TargetRefs []gwapiv1.LocalPolicyTargetReference `json:"targetRefs,omitempty"`

	// Type is the kind of credentials, and names the one member below that is set.
	Type BackendSecurityPolicyType `json:"type"`

	// APIKey injects an API key as "Authorization: Bearer <key>".
	// +optional
	APIKey *BackendSecurityPolicyAPIKey `json:"apiKey,omitempty"`

	// AWSCredentials signs requests with AWS SigV4.
	// +optional
	AWSCredentials *BackendSecurityPolicyAWSCredentials `json:"awsCredentials,omitempty"`

	// AzureAPIKey injects an Azure OpenAI API key as header "api-key".
	// +optional
	AzureAPIKey *BackendSecurityPolicyAzureAPIKey `json:"azureAPIKey,omitempty"`

	// AzureCredentials obtains Entra ID access tokens.
	// +optional
	AzureCredentials *BackendSecurityPolicyAzureCredentials `json:"azureCredentials,omitempty"`

	// GCPCredentials obtains GCP access tokens.
	// +optional
	GCPCredentials *BackendSecurityPolicyGCPCredentials `json:"gcpCredentials,omitempty"`

	// AnthropicAPIKey injects an Anthropic API key as header "x-api-key".
	// +optional
	AnthropicAPIKey *BackendSecurityPolicyAnthropicAPIKey `json:"anthropicAPIKey,omitempty"`

	// CredentialOverride takes the credential per request from dynamic metadata or a request header
	// written by a trusted filter, instead of the static one above.
	// +optional
	CredentialOverride *BackendSecurityPolicyCredentialOverride `json:"credentialOverride,omitempty"`
}

// SecretObjectReference names a Secret (Gateway API's shape: group "" and kind Secret by default).
type SecretObjectReference = gwapiv1.SecretObjectReference

// BackendSecurityPolicyAPIKey reads an API key from key "apiKey" of a Secret.
type BackendSecurityPolicyAPIKey struct {
	// SecretRef is the Secret holding the key under "apiKey".
	SecretRef *SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyAzureAPIKey reads an Azure OpenAI API key from key "apiKey" of a Secret.
type BackendSecurityPolicyAzureAPIKey struct {
	// SecretRef is the Secret holding the key under "apiKey".
	SecretRef *SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyAnthropicAPIKey reads an Anthropic API key from key "apiKey" of a Secret.
type BackendSecurityPolicyAnthropicAPIKey struct {
	// SecretRef is the Secret holding the key under "apiKey".
	SecretRef *SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyAWSCredentials signs requests for AWS. With neither a credentials file nor an OIDC
// exchange, the gateway uses AWS's default credential chain (environment, EKS Pod Identity, IRSA,
// instance role).
type BackendSecurityPolicyAWSCredentials struct {
	// Region is the AWS region requests are signed for.
	// +kubebuilder:validation:MinLength=1
	Region string `json:"region"`

	// CredentialsFile is an AWS shared credentials file; it takes precedence over the default chain.
	// +optional
	CredentialsFile *AWSCredentialsFile `json:"credentialsFile,omitempty"`

	// OIDCExchangeToken exchanges an OIDC token for temporary credentials of an IAM role; it takes
	// precedence over the default chain.
	// +optional
	OIDCExchangeToken *AWSOIDCExchangeToken `json:"oidcExchangeToken,omitempty"`
}

// AWSCredentialsFile is an AWS shared credentials file in key "credentials" of a Secret.
type AWSCredentialsFile struct {
	// SecretRef is the Secret holding the file under "credentials".
	SecretRef *SecretObjectReference `json:"secretRef"`

	// Profile is the file's profile to use (default "default").
	// +optional
	// +kubebuilder:default=default
	Profile string `json:"profile,omitempty"`
}

// AWSOIDCExchangeToken exchanges an OIDC token for an IAM role's temporary credentials.
type AWSOIDCExchangeToken struct {
	BackendSecurityPolicyOIDC `json:",inline"`

	// AwsRoleArn is the IAM role assumed with the OIDC token.
	// +kubebuilder:validation:MinLength=1
	AwsRoleArn string `json:"awsRoleArn"`
}

// BackendSecurityPolicyOIDC obtains an OIDC token (Envoy Gateway's OIDC settings) to exchange for
// provider credentials.
type BackendSecurityPolicyOIDC struct {
	// OIDC is the identity provider and client.
	OIDC egv1a1.OIDC `json:"oidc"`

	// GrantType is how the access token is obtained.
	// +optional
	GrantType string `json:"grantType,omitempty"`

	// Aud is the ID token's audience.
	// +optional
	Aud string `json:"aud,omitempty"`
}

// BackendSecurityPolicyAzureCredentials obtains Entra ID tokens for an application: exactly one of a client
// secret (key "client-secret" of a Secret) or an OIDC exchange.
//
// +kubebuilder:validation:XValidation:rule="(has(self.clientSecretRef) && !has(self.oidcExchangeToken)) || (!has(self.clientSecretRef) && has(self.oidcExchangeToken))",message="Exactly one of clientSecretRef or oidcExchangeToken must be specified"
type BackendSecurityPolicyAzureCredentials struct {
	// ClientID is the application's (client) ID.
	// +kubebuilder:validation:MinLength=1
	ClientID string `json:"clientID"`

	// TenantID is the Entra ID tenant.
	// +kubebuilder:validation:MinLength=1
	TenantID string `json:"tenantID"`

	// ClientSecretRef is the Secret holding the client secret under "client-secret".
	// +optional
	ClientSecretRef *SecretObjectReference `json:"clientSecretRef,omitempty"`

	// OIDCExchangeToken obtains the token by OIDC federation instead of a client secret.
	// +optional
	OIDCExchangeToken *AzureOIDCExchangeToken `json:"oidcExchangeToken,omitempty"`
}

// AzureOIDCExchangeToken exchanges an OIDC token for an Entra ID access token.
type AzureOIDCExchangeToken struct {
	BackendSecurityPolicyOIDC `json:",inline"`
}

// BackendSecurityPolicyGCPCredentials authenticates to Vertex AI: with a service-account key file, by
// workload identity federation, or (neither) with Application Default Credentials.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.credentialsFile) && has(self.workloadIdentityFederationConfig))",message="At most one of credentialsFile or workloadIdentityFederationConfig may be specified"
type BackendSecurityPolicyGCPCredentials struct {
	// ProjectName is the GCP project.
	// +kubebuilder:validation:MinLength=1
	ProjectName string `json:"projectName"`

	// Region is the GCP region (Vertex AI location).
	// +kubebuilder:validation:MinLength=1
	Region string `json:"region"`

	// CredentialsFile is a service-account key file.
	// +optional
	CredentialsFile *GCPCredentialsFile `json:"credentialsFile,omitempty"`

	// WorkloadIdentityFederationConfig obtains tokens by workload identity federation.
	// +optional
	WorkloadIdentityFederationConfig *GCPWorkloadIdentityFederationConfig `json:"workloadIdentityFederationConfig,omitempty"`
}

// GCPCredentialsFile is a service-account key file in key "service_account.json" of a Secret.
type GCPCredentialsFile struct {
	// SecretRef is the Secret holding the file under "service_account.json".
	SecretRef *SecretObjectReference `json:"secretRef"`
}

// GCPWorkloadIdentityFederationConfig exchanges an OIDC token through a workload identity pool.
type GCPWorkloadIdentityFederationConfig struct {
	// ProjectID is the GCP project ID.
	// +kubebuilder:validation:MinLength=1
	ProjectID string `json:"projectID"`

	// WorkloadIdentityPoolName is the workload identity pool.
	// +kubebuilder:validation:MinLength=1
	WorkloadIdentityPoolName string `json:"workloadIdentityPoolName"`

	// WorkloadIdentityProviderName is the pool's identity provider.
	// +kubebuilder:validation:MinLength=1
	WorkloadIdentityProviderName string `json:"workloadIdentityProviderName"`

	// OIDCExchangeToken obtains the OIDC token to exchange.
	OIDCExchangeToken GCPOIDCExchangeToken `json:"oidcExchangeToken"`

	// ServiceAccountImpersonation impersonates a service account with the federated token.
	// +optional
	ServiceAccountImpersonation *GCPServiceAccountImpersonationConfig `json:"serviceAccountImpersonation,omitempty"`
}

// GCPOIDCExchangeToken exchanges an OIDC token for a GCP access token.
type GCPOIDCExchangeToken struct {
	BackendSecurityPolicyOIDC `json:",inline"`
}

// GCPServiceAccountImpersonationConfig names the service account to impersonate.
type GCPServiceAccountImpersonationConfig struct {
	// ServiceAccountName is the service account.
	// +kubebuilder:validation:MinLength=1
	ServiceAccountName string `json:"serviceAccountName"`
}

// BackendSecurityPolicyCredentialOverride takes the upstream credential from each request.
type BackendSecurityPolicyCredentialOverride struct {
	// FromDynamicMetadata reads it from Envoy dynamic metadata a trusted filter (e.g. ext_authz) wrote.
	// +optional
	FromDynamicMetadata *CredentialFromDynamicMetadata `json:"fromDynamicMetadata,omitempty"`

	// FromRequestHeaders reads it from a request header a trusted filter wrote (the gateway strips the
	// header before forwarding).
	// +optional
	FromRequestHeaders *CredentialFromRequestHeaders `json:"fromRequestHeaders,omitempty"`
}

// CredentialFromDynamicMetadata reads the credential from dynamic metadata.
type CredentialFromDynamicMetadata struct {
	// Namespace is the metadata namespace, e.g. "envoy.filters.http.ext_authz".
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace"`

	// Key is the metadata key (default: the x-aigw-* name of the policy type).
	// +optional
	Key string `json:"key,omitempty"`

	// FallbackToConfigured uses the static credential when the key is absent (default true); false
	// answers 401.
	// +optional
	// +kubebuilder:default=true
	FallbackToConfigured *bool `json:"fallbackToConfigured,omitempty"`
}

// CredentialFromRequestHeaders reads the credential from a request header.
type CredentialFromRequestHeaders struct {
	// Header is the header name (default: x-aigw-api-key, x-aigw-anthropic-api-key,
	// x-aigw-azure-api-key, x-aigw-azure-access-token or x-aigw-gcp-access-token by policy type; a
	// prefix for AWSCredentials).
	// +optional
	Header string `json:"header,omitempty"`

	// FallbackToConfigured uses the static credential when the header is absent (default true); false
	// answers 401.
	// +optional
	// +kubebuilder:default=true
	FallbackToConfigured *bool `json:"fallbackToConfigured,omitempty"`
}

func init() {
	SchemeBuilder.Register(&BackendSecurityPolicy{}, &BackendSecurityPolicyList{})
}
