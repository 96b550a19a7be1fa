package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AIGatewayRoute routes OpenAI-compatible requests by model to AIServiceBackends.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type AIGatewayRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AIGatewayRouteSpec `json:"spec,omitempty"`
	Status            AIGatewayStatus    `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AIGatewayRouteList is a list of AIGatewayRoutes.
type AIGatewayRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AIGatewayRoute `json:"items"`
}

// AIGatewayRouteSpec is the route's spec.
type AIGatewayRouteSpec struct {
	// +optional
	// +kubebuilder:validation:MaxItems=16
	ParentRefs []gwapiv1.ParentReference `json:"parentRefs,omitempty"`
	// +kubebuilder:validation:MaxItems=15
	Rules []AIGatewayRouteRule `json:"rules"`
	// +optional
	LLMRequestCosts []LLMRequestCost `json:"llmRequestCosts,omitempty"`
}

// AIGatewayRouteRule matches requests and sends them to backends.
type AIGatewayRouteRule struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	BackendRefs []AIGatewayRouteRuleBackendRef `json:"backendRefs,omitempty"`
	// +optional
	Matches []AIGatewayRouteRuleMatch `json:"matches,omitempty"`
	// +optional
	Timeouts *gwapiv1.HTTPRouteTimeouts `json:"timeouts,omitempty"`
	// StreamIdleTimeout is how long Envoy waits for the next byte from the upstream (before the first
	// one, a retry can fall over to the next backend).
	// +optional
	StreamIdleTimeout *gwapiv1.Duration `json:"streamIdleTimeout,omitempty"`
}

// AIGatewayRouteRuleBackendRef is one backend of a rule.
type AIGatewayRouteRuleBackendRef struct {
	// Name of the AIServiceBackend.
	Name string `json:"name"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// ModelNameOverride replaces the request's model name upstream.
	// +optional
	ModelNameOverride string `json:"modelNameOverride,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Weight *int32 `json:"weight,omitempty"`
	// Priority: 0 first, higher values are fallbacks.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Priority *uint32 `json:"priority,omitempty"`
}

// AIGatewayRouteRuleMatch matches requests by header (x-ai-eg-model carries the request's model).
type AIGatewayRouteRuleMatch struct {
	// +optional
	Headers []gwapiv1.HTTPHeaderMatch `json:"headers,omitempty"`
}

// LLMRequestCostType is what a request cost counts.
// +kubebuilder:validation:Enum=OutputToken;InputToken;CachedInputToken;CacheCreationInputToken;TotalToken;ReasoningToken;CEL
type LLMRequestCostType string

const (
	LLMRequestCostTypeInputToken  LLMRequestCostType = "InputToken"
	LLMRequestCostTypeOutputToken LLMRequestCostType = "OutputToken"
	LLMRequestCostTypeTotalToken  LLMRequestCostType = "TotalToken"
)

// LLMRequestCost stores a request's token cost in dynamic metadata, for rate limiting.
type LLMRequestCost struct {
	MetadataKey string             `json:"metadataKey"`
	Type        LLMRequestCostType `json:"type"`
	// +optional
	CEL *string `json:"cel,omitempty"`
}

// AIGatewayStatus is the status every Envoy AI Gateway object reports.
type AIGatewayStatus struct {
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AIServiceBackend is an upstream LLM service and the API schema it speaks.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type AIServiceBackend struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AIServiceBackendSpec `json:"spec,omitempty"`
	Status            AIGatewayStatus      `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AIServiceBackendList is a list of AIServiceBackends.
type AIServiceBackendList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AIServiceBackend `json:"items"`
}

// AIServiceBackendSpec is the backend's spec.
type AIServiceBackendSpec struct {
	APISchema  VersionedAPISchema             `json:"schema"`
	BackendRef gwapiv1.BackendObjectReference `json:"backendRef"`
}

// APISchema is an LLM API.
// +kubebuilder:validation:Enum=OpenAI;Cohere;AWSBedrock;AzureOpenAI;GCPVertexAI;GCPAnthropic;Anthropic;AWSAnthropic
type APISchema string

const (
	APISchemaOpenAI       APISchema = "OpenAI"
	APISchemaCohere       APISchema = "Cohere"
	APISchemaAWSBedrock   APISchema = "AWSBedrock"
	APISchemaAzureOpenAI  APISchema = "AzureOpenAI"
	APISchemaGCPVertexAI  APISchema = "GCPVertexAI"
	APISchemaGCPAnthropic APISchema = "GCPAnthropic"
	APISchemaAnthropic    APISchema = "Anthropic"
	APISchemaAWSAnthropic APISchema = "AWSAnthropic"
)

// VersionedAPISchema is an API schema, its version, and (OpenAI) its path prefix.
type VersionedAPISchema struct {
	Name APISchema `json:"name"`
	// +optional
	Version *string `json:"version,omitempty"`
	// +optional
	Prefix *string `json:"prefix,omitempty"`
}

// BackendSecurityPolicy injects upstream credentials into requests to its target AIServiceBackends.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type BackendSecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BackendSecurityPolicySpec `json:"spec,omitempty"`
	Status            AIGatewayStatus           `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackendSecurityPolicyList is a list of BackendSecurityPolicies.
type BackendSecurityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackendSecurityPolicy `json:"items"`
}

// BackendSecurityPolicyType is the kind of credentials. The managed Secret's key each reads: APIKey,
// AzureAPIKey and AnthropicAPIKey "apiKey"; AWSCredentials' credentials file "credentials"; GCPCredentials'
// credentials file "service_account.json"; AzureCredentials' client secret "client-secret".
// +kubebuilder:validation:Enum=APIKey;AWSCredentials;AzureAPIKey;AzureCredentials;GCPCredentials;AnthropicAPIKey
type BackendSecurityPolicyType string

const (
	BackendSecurityPolicyTypeAPIKey           BackendSecurityPolicyType = "APIKey"
	BackendSecurityPolicyTypeAWSCredentials   BackendSecurityPolicyType = "AWSCredentials"
	BackendSecurityPolicyTypeAzureAPIKey      BackendSecurityPolicyType = "AzureAPIKey"
	BackendSecurityPolicyTypeAzureCredentials BackendSecurityPolicyType = "AzureCredentials"
	BackendSecurityPolicyTypeGCPCredentials   BackendSecurityPolicyType = "GCPCredentials"
	BackendSecurityPolicyTypeAnthropicAPIKey  BackendSecurityPolicyType = "AnthropicAPIKey"
)

// BackendSecurityPolicySpec is the policy's spec; exactly the member named by Type is set.
type BackendSecurityPolicySpec struct {
	// +optional
	// +kubebuilder:validation:MaxItems=16
	TargetRefs []gwapiv1.LocalPolicyTargetReference `json:"targetRefs,omitempty"`
	Type       BackendSecurityPolicyType            `json:"type"`
	// +optional
	APIKey *BackendSecurityPolicyAPIKey `json:"apiKey,omitempty"`
	// +optional
	AzureAPIKey *BackendSecurityPolicyAzureAPIKey `json:"azureAPIKey,omitempty"`
	// +optional
	AnthropicAPIKey *BackendSecurityPolicyAnthropicAPIKey `json:"anthropicAPIKey,omitempty"`
	// +optional
	AWSCredentials *BackendSecurityPolicyAWSCredentials `json:"awsCredentials,omitempty"`
	// +optional
	AzureCredentials *BackendSecurityPolicyAzureCredentials `json:"azureCredentials,omitempty"`
	// +optional
	GCPCredentials *BackendSecurityPolicyGCPCredentials `json:"gcpCredentials,omitempty"`
}

// SecretObjectReference names a Secret (Gateway API's shape).
type SecretObjectReference = gwapiv1.SecretObjectReference

// BackendSecurityPolicyAPIKey reads an API key from key "apiKey" of a Secret.
type BackendSecurityPolicyAPIKey struct {
	SecretRef *SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyAzureAPIKey reads an Azure API key from key "apiKey" of a Secret.
type BackendSecurityPolicyAzureAPIKey struct {
	SecretRef *SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyAnthropicAPIKey reads an Anthropic API key from key "apiKey" of a Secret.
type BackendSecurityPolicyAnthropicAPIKey struct {
	SecretRef *SecretObjectReference `json:"secretRef"`
}

// BackendSecurityPolicyAWSCredentials signs requests for AWS. Without a credentials file the gateway
// uses the default credential chain (IRSA, EKS Pod Identity).
type BackendSecurityPolicyAWSCredentials struct {
	Region string `json:"region"`
	// +optional
	CredentialsFile *AWSCredentialsFile `json:"credentialsFile,omitempty"`
}

// AWSCredentialsFile is an AWS shared credentials file in key "credentials" of a Secret.
type AWSCredentialsFile struct {
	SecretRef *SecretObjectReference `json:"secretRef"`
	// +optional
	Profile string `json:"profile,omitempty"`
}

// BackendSecurityPolicyAzureCredentials authenticates with Entra ID; the client secret is in key
// "client-secret" of a Secret.
type BackendSecurityPolicyAzureCredentials struct {
	ClientID string `json:"clientID"`
	TenantID string `json:"tenantID"`
	// +optional
	ClientSecretRef *SecretObjectReference `json:"clientSecretRef,omitempty"`
}

// BackendSecurityPolicyGCPCredentials authenticates to Vertex AI.
type BackendSecurityPolicyGCPCredentials struct {
	ProjectName string `json:"projectName"`
	Region      string `json:"region"`
	// +optional
	CredentialsFile *GCPCredentialsFile `json:"credentialsFile,omitempty"`
}

// GCPCredentialsFile is a service-account key in key "service_account.json" of a Secret.
type GCPCredentialsFile struct {
	SecretRef *SecretObjectReference `json:"secretRef"`
}

func init() {
	SchemeBuilder.Register(&AIGatewayRoute{}, &AIGatewayRouteList{}, &AIServiceBackend{}, &AIServiceBackendList{},
		&BackendSecurityPolicy{}, &BackendSecurityPolicyList{})
}

// GatewayConfig configures Envoy AI Gateway's external processor for the Gateways that reference it
// (annotation aigateway.envoyproxy.io/gateway-config).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type GatewayConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GatewayConfigSpec `json:"spec,omitempty"`
	Status            AIGatewayStatus   `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// GatewayConfigList is a list of GatewayConfigs.
type GatewayConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GatewayConfig `json:"items"`
}

// GatewayConfigSpec is the GatewayConfig's spec.
type GatewayConfigSpec struct {
	// +optional
	ExtProc *GatewayConfigExtProc `json:"extProc,omitempty"`
}

// GatewayConfigExtProc configures the external processor.
type GatewayConfigExtProc struct {
	// +optional
	Kubernetes *GatewayConfigExtProcKubernetes `json:"kubernetes,omitempty"`
}

// GatewayConfigExtProcKubernetes is the external processor container's settings.
type GatewayConfigExtProcKubernetes struct {
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

func init() {
	SchemeBuilder.Register(&GatewayConfig{}, &GatewayConfigList{})
}
