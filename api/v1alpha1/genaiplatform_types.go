package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GenAIPlatform declares a whole two-tier GenAI platform: a Tier One Envoy AI Gateway in this cluster (one
// OpenAI-compatible entry point), outside model providers, Tier Two gateways in model-serving clusters, and
// the self-hosted models that run there. The operator creates and keeps every child object and rolls their
// status up into this resource.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=genai;gaip,categories=genai
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Models",type=string,JSONPath=`.status.modelsSummary`,description="ready/total models"
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters: it is used in labels of every child object"
type GenAIPlatform struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GenAIPlatformSpec   `json:"spec"`
	Status GenAIPlatformStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// GenAIPlatformList is a list of GenAIPlatforms.
type GenAIPlatformList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GenAIPlatform `json:"items"`
}

func init() {
	SchemeBuilder.Register(&GenAIPlatform{}, &GenAIPlatformList{})
}

// GenAIPlatformSpec is the desired platform.
//
// +kubebuilder:validation:XValidation:rule="!has(self.models) || self.models.all(m, !has(m.routes) || m.routes.all(r, has(self.providers) && self.providers.exists(p, p.name == r.provider)))",message="spec.models[].routes[].provider must name a provider of spec.providers"
// +kubebuilder:validation:XValidation:rule="!has(self.models) || self.models.all(m, !has(m.selfHosted) || m.selfHosted.placements.all(pl, has(self.modelClusters) && self.modelClusters.exists(c, c.name == pl.cluster)))",message="spec.models[].selfHosted.placements[].cluster must name a model cluster of spec.modelClusters"
// +kubebuilder:validation:XValidation:rule="!has(self.models) || self.models.all(m, !has(m.selfHosted) || m.selfHosted.placements.all(pl, has(self.modelClusters) && self.modelClusters.exists(c, c.name == pl.cluster && has(c.nodePools) && c.nodePools.exists(np, np.name == pl.nodePool))))",message="spec.models[].selfHosted.placements[].nodePool must name a node pool of the placement's model cluster"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway.limits) || self.gateway.limits.all(l, !has(l.models) || l.models.all(n, has(self.models) && self.models.exists(m, m.name == n)))",message="spec.gateway.limits[].models must name models of spec.models"
type GenAIPlatformSpec struct {
	// Gateway is the Tier One gateway: the platform's single OpenAI-compatible entry point, in the cluster
	// and namespace of this GenAIPlatform.
	Gateway GatewaySpec `json:"gateway"`

	// Providers are the outside model providers Tier One may route to.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Providers []ProviderSpec `json:"providers,omitempty"`

	// ModelClusters are the model-serving clusters, each with its own Tier Two gateway.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=12
	// +kubebuilder:validation:XValidation:rule="self.filter(c, !has(c.kubeconfigSecretRef)).map(c, c.namespace).all(n, self.filter(d, !has(d.kubeconfigSecretRef) && d.namespace == n).size() == 1)",message="model clusters in this cluster (no kubeconfigSecretRef) need distinct namespaces: their Tier Two objects would overwrite each other"
	ModelClusters []ModelClusterSpec `json:"modelClusters,omitempty"`

	// Models are what clients may ask for, by the "model" field of their requests.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Models []ModelSpec `json:"models,omitempty"`

	// AllowedModels says which namespaces' GenAIModels may attach to this platform: teams own their
	// models there, and the platform serves them beside spec.models (which win a name both claim).
	// Default: GenAIModels of the platform's own namespace.
	// +optional
	// +kubebuilder:default={namespaces: {from: Same}}
	AllowedModels *AllowedModels `json:"allowedModels,omitempty"`

	// Observability configures tracing, access logs and metrics of the gateways.
	// +optional
	Observability *ObservabilitySpec `json:"observability,omitempty"`
}

// GatewaySpec is the Tier One gateway.
//
// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !self.limits.exists(l, has(l.perClient) && l.perClient) || has(self.clientAuth)",message="spec.gateway.limits[].perClient needs spec.gateway.clientAuth: without client identity there is no client to count per"
type GatewaySpec struct {
	// GatewayClassName is the GatewayClass of the Tier One Gateway. Empty: the operator creates and manages
	// a GatewayClass for Envoy Gateway (controllerName gateway.envoyproxy.io/gatewayclass-controller).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	GatewayClassName string `json:"gatewayClassName,omitempty"`

	// Listener is where clients connect.
	Listener ListenerSpec `json:"listener"`

	// Replicas is the number of Envoy proxy replicas of the Tier One gateway.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// Exposure says how the Tier One proxies are exposed (their Service) and sized. Empty: a LoadBalancer
	// Service, Envoy Gateway's default resources.
	// +optional
	Exposure *GatewayExposure `json:"exposure,omitempty"`

	// ClientAuth says who may call the platform. Empty: anyone who reaches the listener.
	// +optional
	ClientAuth *ClientAuthSpec `json:"clientAuth,omitempty"`

	// Limits are token budgets enforced at Tier One.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Limits []TokenLimit `json:"limits,omitempty"`

	// Costs is the price table that turns token usage into money, for GenAITenants' cost budgets, the
	// access log and metrics.
	// +optional
	Costs *CostSpec `json:"costs,omitempty"`
}

// CostSpec prices token usage.
type CostSpec struct {
	// Currency is the ISO 4217 code of the prices and cost budgets, for example USD: a label for humans,
	// no conversion is made.
	// +kubebuilder:validation:Pattern=`^[A-Z]{3}$`
	Currency string `json:"currency"`

	// Prices per model and provider; the first entry that matches a request's model and backend prices
	// it. A model without a price costs nothing.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	Prices []ModelPrice `json:"prices"`
}

// ModelPrice is the price of a model's tokens, on one provider or on every backend.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.provider) && has(self.modelCluster))",message="spec.gateway.costs.prices[]: set at most one of provider and modelCluster"
type ModelPrice struct {
	// Model is a model name, or a glob where * matches any run of characters ("*" prices every model).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9*][A-Za-z0-9._/:*-]*$`
	Model string `json:"model"`

	// Provider limits the price to the model's requests sent to this provider of spec.providers.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Provider string `json:"provider,omitempty"`

	// ModelCluster limits the price to the model's requests served by this model cluster (self-hosted
	// capacity has a cost too).
	// +optional
	// +kubebuilder:validation:MaxLength=63
	ModelCluster string `json:"modelCluster,omitempty"`

	// Input is the price of a million input tokens, a decimal with at most 6 decimals, below 1000.
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:Pattern=`^[0-9]{1,3}(\.[0-9]{1,6})?$`
	Input string `json:"input"`

	// Output is the price of a million output tokens, a decimal with at most 6 decimals, below 1000.
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:Pattern=`^[0-9]{1,3}(\.[0-9]{1,6})?$`
	Output string `json:"output"`
}

// GatewayExposure is how a gateway's Envoy proxies are exposed and sized.
type GatewayExposure struct {
	// ServiceType of the proxies' Service.
	// +optional
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	ServiceType string `json:"serviceType,omitempty"`

	// ServiceAnnotations are added to the proxies' Service: for example an internal load balancer
	// (service.beta.kubernetes.io/aws-load-balancer-internal: "true", or networking.gke.io/load-balancer-type:
	// Internal).
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`

	// Resources of each proxy's Envoy container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ListenerProtocol is the protocol clients speak to the Tier One gateway.
// +kubebuilder:validation:Enum=HTTP;HTTPS
type ListenerProtocol string

const (
	ListenerHTTP  ListenerProtocol = "HTTP"
	ListenerHTTPS ListenerProtocol = "HTTPS"
)

// ListenerSpec is the Tier One gateway's listener.
//
// +kubebuilder:validation:XValidation:rule="self.protocol != 'HTTPS' || has(self.tlsSecretRef)",message="spec.gateway.listener.tlsSecretRef is required when protocol is HTTPS"
type ListenerSpec struct {
	// Protocol is HTTP or HTTPS.
	// +kubebuilder:default=HTTPS
	Protocol ListenerProtocol `json:"protocol,omitempty"`

	// Port is the listener port. Empty: 443 for HTTPS, 80 for HTTP.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`

	// Hostname is the host name clients use (also the endpoint reported in status). Empty: any host name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Hostname string `json:"hostname,omitempty"`

	// TLSSecretRef names a kubernetes.io/tls Secret in this namespace with the listener's certificate.
	// Required for HTTPS.
	// +optional
	TLSSecretRef *SecretReference `json:"tlsSecretRef,omitempty"`
}

// SecretReference names a Secret. Only Secrets in the GenAIPlatform's own namespace are allowed (as in
// Gateway API without a ReferenceGrant); another namespace is refused with a condition.
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`

	// Namespace of the Secret. Empty or the GenAIPlatform's namespace: any other is refused.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// SecretKeyReference names one key of a Secret.
type SecretKeyReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`

	// Namespace of the Secret. Empty or the GenAIPlatform's namespace: any other is refused.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// Key in the Secret's data. Empty: the Secret's only key, or the conventional key of the credential
	// (apiKey, credentials, service_account.json, client-secret, kubeconfig, HF_TOKEN).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// ClientAuthSpec says how clients authenticate to Tier One. With both API keys and JWT set, Envoy Gateway
// requires both (the client id then comes from the API key).
//
// +kubebuilder:validation:XValidation:rule="has(self.apiKeys) || has(self.jwt)",message="spec.gateway.clientAuth needs apiKeys or jwt"
// +kubebuilder:validation:XValidation:rule="!has(self.apiKeys) || !has(self.jwt) || (has(self.apiKeys.header) && self.apiKeys.header.lowerAscii() != 'authorization')",message="spec.gateway.clientAuth.apiKeys.header must name a header other than Authorization when jwt is also set: both would read the same header"
type ClientAuthSpec struct {
	// APIKeys authenticates clients by API key: each data key of the Secret is a client id, its value that
	// client's key.
	// +optional
	APIKeys *APIKeyAuth `json:"apiKeys,omitempty"`

	// JWT authenticates clients by a bearer JSON Web Token.
	// +optional
	JWT *JWTAuth `json:"jwt,omitempty"`

	// ClientIDHeader is the request header that carries the authenticated client id to the backends and to
	// the rate limiter.
	// +optional
	// +kubebuilder:default=x-genai-client-id
	// +kubebuilder:validation:Pattern=`^[a-z0-9-]+$`
	// +kubebuilder:validation:MaxLength=64
	ClientIDHeader string `json:"clientIDHeader,omitempty"`
}

// APIKeyAuth authenticates clients with keys held in a Secret.
type APIKeyAuth struct {
	// SecretRef names the Secret: each data key is a client id, its value that client's key.
	SecretRef SecretReference `json:"secretRef"`

	// Header is where clients send their key. Empty: "Authorization: Bearer <key>".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Header string `json:"header,omitempty"`
}

// JWTAuth authenticates clients with JSON Web Tokens.
type JWTAuth struct {
	// Issuer is the expected "iss" claim.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Issuer string `json:"issuer"`

	// JWKSURI is where the issuer's signing keys are published (https).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	JWKSURI string `json:"jwksURI"`

	// Audiences are the accepted "aud" values. Empty: any audience.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Audiences []string `json:"audiences,omitempty"`

	// ClientIDClaim is the claim that names the client.
	// +optional
	// +kubebuilder:default=sub
	// +kubebuilder:validation:MaxLength=253
	ClientIDClaim string `json:"clientIDClaim,omitempty"`

	// TenantClaim is the claim whose value names the client's GenAITenant (their spec.jwt.claimValues),
	// for example "tenant": a claim with one string value (a list such as "groups" never equals one).
	// Envoy copies it into the header x-genai-tenant-claim, where the tenants' model access rules and
	// budgets read it. JWT tenants need a platform without apiKeys (with both, every client also sends a
	// key, which decides). Empty: JWT clients are not attributed to tenants.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.:/-]+$`
	TenantClaim string `json:"tenantClaim,omitempty"`
}

// LimitPeriod is the period a token budget covers. Week and Month are fixed windows of Envoy's rate limit
// service (a month is 30 days), not calendar ones.
// +kubebuilder:validation:Enum=Second;Minute;Hour;Day;Week;Month
type LimitPeriod string

// TokenType says which tokens a budget counts.
// +kubebuilder:validation:Enum=Total;Input;Output
type TokenType string

const (
	TokensTotal  TokenType = "Total"
	TokensInput  TokenType = "Input"
	TokensOutput TokenType = "Output"
)

// TokenLimit is a token budget enforced at Tier One by Envoy Gateway's global rate limit (which needs its
// Redis backend configured in Envoy Gateway).
type TokenLimit struct {
	// Name identifies the budget.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Tokens is the budget per period.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	Tokens int64 `json:"tokens"`

	// Per is the period: Second, Minute, Hour, Day, Week or Month.
	Per LimitPeriod `json:"per"`

	// PerClient gives every client its own budget (needs clientAuth); false: one budget shared by all.
	// +optional
	PerClient bool `json:"perClient,omitempty"`

	// Models limits the budget to these models; empty: every model.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=128
	Models []string `json:"models,omitempty"`

	// TokenType is which tokens count against the budget.
	// +optional
	// +kubebuilder:default=Total
	TokenType TokenType `json:"tokenType,omitempty"`
}

// ProviderType is the kind of outside model provider.
// +kubebuilder:validation:Enum=OpenAI;AzureOpenAI;Anthropic;AWSBedrock;GCPVertexAI;GCPAnthropic;Cohere;OpenAICompatible
type ProviderType string

const (
	ProviderOpenAI           ProviderType = "OpenAI"
	ProviderAzureOpenAI      ProviderType = "AzureOpenAI"
	ProviderAnthropic        ProviderType = "Anthropic"
	ProviderAWSBedrock       ProviderType = "AWSBedrock"
	ProviderGCPVertexAI      ProviderType = "GCPVertexAI"
	ProviderGCPAnthropic     ProviderType = "GCPAnthropic"
	ProviderCohere           ProviderType = "Cohere"
	ProviderOpenAICompatible ProviderType = "OpenAICompatible"
)

// ProviderSpec is an outside model provider reached from Tier One.
//
// +kubebuilder:validation:XValidation:rule="!(self.type in ['AzureOpenAI', 'OpenAICompatible']) || has(self.hostname)",message="hostname is required for providers of type AzureOpenAI and OpenAICompatible"
// +kubebuilder:validation:XValidation:rule="(self.type == 'AWSBedrock') == has(self.aws)",message="aws is required for type AWSBedrock and allowed only for it"
// +kubebuilder:validation:XValidation:rule="(self.type in ['GCPVertexAI', 'GCPAnthropic']) == has(self.gcp)",message="gcp is required for types GCPVertexAI and GCPAnthropic and allowed only for them"
// +kubebuilder:validation:XValidation:rule="self.type == 'AzureOpenAI' || !has(self.azure)",message="azure is allowed only for type AzureOpenAI"
// +kubebuilder:validation:XValidation:rule="self.type != 'AzureOpenAI' || (has(self.credentials) != has(self.azure))",message="type AzureOpenAI needs exactly one of credentials (an API key) or azure (Entra ID)"
// +kubebuilder:validation:XValidation:rule="!(self.type in ['OpenAI', 'Anthropic', 'Cohere']) || has(self.credentials)",message="credentials is required for types OpenAI, Anthropic and Cohere"
// +kubebuilder:validation:XValidation:rule="!has(self.apiVersion) || self.type in ['AzureOpenAI', 'GCPAnthropic']",message="apiVersion is used only by types AzureOpenAI (the api-version) and GCPAnthropic (the anthropic_version): the other types' APIs are not versioned this way"
// +kubebuilder:validation:XValidation:rule="!(self.type in ['AWSBedrock', 'GCPVertexAI', 'GCPAnthropic']) || !has(self.credentials)",message="credentials is not used for AWSBedrock, GCPVertexAI and GCPAnthropic: set aws.credentialsSecretRef or gcp.credentialsSecretRef"
type ProviderSpec struct {
	// Name identifies the provider in routes; a DNS label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Type is the provider's API: OpenAI, AzureOpenAI, Anthropic, AWSBedrock, GCPVertexAI, GCPAnthropic,
	// Cohere or OpenAICompatible (any service speaking the OpenAI API).
	Type ProviderType `json:"type"`

	// Hostname of the provider's API. Defaulted per type (api.openai.com, api.anthropic.com,
	// api.cohere.com, bedrock-runtime.<region>.amazonaws.com, <region>-aiplatform.googleapis.com); required
	// for AzureOpenAI and OpenAICompatible.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Hostname string `json:"hostname,omitempty"`

	// Port of the provider's API (TLS).
	// +optional
	// +kubebuilder:default=443
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// APIVersion is the provider API version, for the types that have one: AzureOpenAI's api-version
	// (empty: 2024-10-21, the current GA version) and GCPAnthropic's anthropic_version (empty:
	// vertex-2023-10-16). Refused for the other types.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	APIVersion string `json:"apiVersion,omitempty"`

	// PathPrefix is the API path prefix of an OpenAICompatible provider (for example "/v1" or
	// "/api/openai/v1"). Empty: "/v1".
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^/`
	PathPrefix string `json:"pathPrefix,omitempty"`

	// Credentials is the provider API key (OpenAI, AzureOpenAI, Anthropic, Cohere, OpenAICompatible).
	// +optional
	Credentials *ProviderCredentials `json:"credentials,omitempty"`

	// AWS configures AWS Bedrock: region and, optionally, a credentials file Secret. Without a Secret the
	// gateway uses its pod's own cloud identity (IRSA, EKS Pod Identity).
	// +optional
	AWS *AWSProviderSpec `json:"aws,omitempty"`

	// GCP configures Vertex AI: project, region and, optionally, a service-account key Secret.
	// +optional
	GCP *GCPProviderSpec `json:"gcp,omitempty"`

	// Azure authenticates to Azure OpenAI with Entra ID (a client secret) instead of an API key.
	// +optional
	Azure *AzureProviderSpec `json:"azure,omitempty"`
}

// ProviderCredentials holds a provider API key.
type ProviderCredentials struct {
	// SecretRef names the Secret and key that hold the API key.
	SecretRef SecretKeyReference `json:"secretRef"`
}

// AWSProviderSpec configures AWS Bedrock.
type AWSProviderSpec struct {
	// Region of Bedrock, for example us-east-1.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9-]+$`
	Region string `json:"region"`

	// CredentialsSecretRef names an AWS shared credentials file. Empty: the pod's own cloud identity.
	// +optional
	CredentialsSecretRef *SecretKeyReference `json:"credentialsSecretRef,omitempty"`
}

// GCPProviderSpec configures Google Vertex AI.
type GCPProviderSpec struct {
	// ProjectName is the Google Cloud project.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	ProjectName string `json:"projectName"`

	// Region of Vertex AI, for example us-central1.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9-]+$`
	Region string `json:"region"`

	// CredentialsSecretRef names a service-account key JSON. Empty: the pod's own cloud identity.
	// +optional
	CredentialsSecretRef *SecretKeyReference `json:"credentialsSecretRef,omitempty"`
}

// AzureProviderSpec authenticates to Azure OpenAI with an Entra ID application.
type AzureProviderSpec struct {
	// ClientID of the Entra ID application.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	ClientID string `json:"clientID"`

	// TenantID of the Entra ID tenant.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	TenantID string `json:"tenantID"`

	// ClientSecretRef names the application's client secret.
	ClientSecretRef SecretKeyReference `json:"clientSecretRef"`
}

// ModelClusterSpec is a model-serving cluster with its Tier Two gateway.
type ModelClusterSpec struct {
	// Name identifies the cluster in placements; a DNS label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// KubeconfigSecretRef names a kubeconfig for the cluster. Empty: the cluster this GenAIPlatform lives in.
	// +optional
	KubeconfigSecretRef *SecretKeyReference `json:"kubeconfigSecretRef,omitempty"`

	// Namespace in the model cluster for the Tier Two gateway and the InferenceServices; created if absent.
	// +optional
	// +kubebuilder:default=genai-models
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// Address is how Tier One reaches this cluster's Tier Two gateway. Empty: the Tier Two Gateway's
	// status address.
	// +optional
	Address *ClusterAddress `json:"address,omitempty"`

	// TLS secures the link from Tier One to this cluster's Tier Two: the prompts, the answers and the link
	// key cross it. Empty: the operator's own CA issues Tier Two's certificate and renews it.
	// +optional
	TLS *TierLinkTLS `json:"tls,omitempty"`

	// KeyRotationPeriod rotates the Tier One -> Tier Two key on a schedule (for example 720h), besides on
	// demand (the annotation platform.genai.dev/rotate-cluster-keys). Empty: on demand only.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="keyRotationPeriod must be at least 1h: a rotation takes twice the key rotation grace"
	KeyRotationPeriod *metav1.Duration `json:"keyRotationPeriod,omitempty"`

	// Replicas is the number of Envoy proxy replicas of the Tier Two gateway.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// Exposure says how the Tier Two proxies are exposed (their Service) and sized. Empty: ClusterIP for
	// a model cluster that is the platform's own cluster (only Tier One, inside the cluster, calls it), a
	// LoadBalancer Service for a remote one.
	// +optional
	Exposure *GatewayExposure `json:"exposure,omitempty"`

	// NodePools are the cluster's GPU node pools models can be placed on.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	NodePools []NodePoolSpec `json:"nodePools,omitempty"`
}

// ClusterAddress is a Tier Two gateway address as seen from Tier One.
type ClusterAddress struct {
	// Hostname (or IP address) of the Tier Two gateway.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Hostname string `json:"hostname"`

	// Port of the Tier Two gateway. Empty: 443, where Tier Two listens (80 with tls.mode None); another
	// port when a load balancer or port mapping fronts it.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
}

// TierLinkTLSMode says where Tier Two's serving certificate comes from.
// +kubebuilder:validation:Enum=OperatorCA;Secret;None
type TierLinkTLSMode string

const (
	// TierLinkTLSOperatorCA: the operator runs a CA per model cluster, issues Tier Two's certificate and
	// renews it before it expires.
	TierLinkTLSOperatorCA TierLinkTLSMode = "OperatorCA"
	// TierLinkTLSSecret: Tier Two serves the certificate of a Secret the user keeps (cert-manager's layout).
	TierLinkTLSSecret TierLinkTLSMode = "Secret"
	// TierLinkTLSNone: plain HTTP, for a link something else encrypts (a service mesh, a VPN).
	TierLinkTLSNone TierLinkTLSMode = "None"
)

// TierLinkTLS is how the link from Tier One to a model cluster's Tier Two is encrypted: Tier Two listens
// HTTPS, and Tier One verifies its certificate.
//
// +kubebuilder:validation:XValidation:rule="(has(self.mode) && self.mode == 'Secret') == has(self.secretRef)",message="secretRef is required for tls.mode Secret and allowed only for it"
type TierLinkTLS struct {
	// Mode: OperatorCA (default), Secret or None.
	// +optional
	// +kubebuilder:default=OperatorCA
	Mode TierLinkTLSMode `json:"mode,omitempty"`

	// SecretRef names a Secret in the platform's namespace with tls.crt, tls.key and ca.crt (the layout
	// cert-manager writes): Tier Two serves tls.crt, Tier One trusts ca.crt. Renewing it is the user's part.
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`

	// Hostname is the name Tier One verifies in Tier Two's certificate (and sends as SNI). Empty: with
	// OperatorCA, <cluster>.tier-two.genai.internal (also in the certificate, with address.hostname); with
	// Secret, the certificate's first DNS name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Hostname string `json:"hostname,omitempty"`
}

// NodePoolSpec is a set of GPU nodes a model can be placed on.
type NodePoolSpec struct {
	// Name identifies the pool in placements; a DNS label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// NodeSelector selects the pool's nodes.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let model pods run on the pool's tainted nodes.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// GPUResourceName is the extended resource the pool's GPUs are counted in.
	// +optional
	// +kubebuilder:default="nvidia.com/gpu"
	GPUResourceName corev1.ResourceName `json:"gpuResourceName,omitempty"`
}

// ModelSpec is a model clients may ask for.
//
// +kubebuilder:validation:XValidation:rule="has(self.selfHosted) || (has(self.routes) && size(self.routes) > 0)",message="a model needs selfHosted or at least one entry in routes"
type ModelSpec struct {
	// Name is what clients send in the "model" field of their requests (letters, digits, '.', '_', '-',
	// '/', ':'), for example meta-llama/Llama-3.1-8B-Instruct.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._/:-]*$`
	Name string `json:"name"`

	// SelfHosted serves the model on the platform's own GPUs with KServe.
	// +optional
	SelfHosted *SelfHostedModel `json:"selfHosted,omitempty"`

	// Routes send the model to outside providers.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Routes []ModelRoute `json:"routes,omitempty"`

	// Budget is the model's own token budget, for all clients together: it protects self-hosted
	// capacity (or a provider quota) from any one burst of demand.
	// +optional
	Budget *ModelBudget `json:"budget,omitempty"`
}

// ModelBudget is a model's own token budget, shared by every client (Envoy Gateway's global rate limit).
type ModelBudget struct {
	// Tokens is the budget per window.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	Tokens int64 `json:"tokens"`

	// Per is the window: Minute, Hour, Day, Week or Month.
	// +kubebuilder:validation:XValidation:rule="self != 'Second'",message="budget.per must be Minute, Hour, Day, Week or Month"
	Per LimitPeriod `json:"per"`

	// TokenType is which tokens count: Total (default), Input or Output.
	// +optional
	// +kubebuilder:default=Total
	TokenType TokenType `json:"tokenType,omitempty"`
}

// SelfHostedModel is a model served by KServe InferenceServices in model clusters.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.credentialsSecretRef) && has(self.storage))",message="credentialsSecretRef is the shorthand of storage.huggingFace.tokenSecretRef: set one of credentialsSecretRef and storage"
// +kubebuilder:validation:XValidation:rule="!has(self.credentialsSecretRef) || self.storageUri.startsWith('hf://')",message="credentialsSecretRef is a Hugging Face token, used only for an hf:// storageUri"
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || !has(self.storage.huggingFace) || self.storageUri.startsWith('hf://')",message="storage.huggingFace needs an hf:// storageUri"
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || !has(self.storage.s3) || self.storageUri.startsWith('s3://')",message="storage.s3 needs an s3:// storageUri"
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || !has(self.storage.gcs) || self.storageUri.startsWith('gs://')",message="storage.gcs needs a gs:// storageUri"
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || !has(self.storage.azureBlob) || self.storageUri.startsWith('https://')",message="storage.azureBlob needs an https://<account>.blob.core.windows.net/... storageUri"
// +kubebuilder:validation:XValidation:rule="!has(self.versions) || self.versions.all(v, (has(v.engine) ? v.engine : 'InferenceService') == (has(self.versions[0].engine) ? self.versions[0].engine : 'InferenceService'))",message="versions[].engine must be the same for every version of a model: Tier Two sends a model's requests to /openai/v1 of an InferenceService but to /v1 of an LLMInferenceService, and Gateway API rewrites the path per model, not per backend"
// +kubebuilder:validation:XValidation:rule="!has(self.versions) || self.versions.all(v, !has(v.engine) || v.engine != 'LLMInferenceService' || (has(v.storageUri) ? v.storageUri : self.storageUri).matches('^(hf|s3|pvc|oci)://'))",message="versions[].engine LLMInferenceService downloads only hf://, s3://, pvc:// and oci:// storageUris (KServe v0.20): set the version's storageUri, or the model's, to one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.versions) || !self.versions.exists(v, has(v.engine) && v.engine == 'LLMInferenceService' && (has(v.runtime) || has(self.runtime)))",message="runtime names a KServe ServingRuntime, which a version with engine LLMInferenceService does not use (KServe's LLM presets run vLLM): remove runtime from the model and its versions"
// +kubebuilder:validation:XValidation:rule="!has(self.versions) || self.versions.all(v, !has(v.maxReplicas) || has(v.minReplicas) || self.placements.all(p, p.minReplicas <= v.maxReplicas))",message="versions[].maxReplicas is below a placement's minReplicas: set the version's minReplicas too"
// +kubebuilder:validation:XValidation:rule="!has(self.versions) || self.versions.all(v, !has(v.engine) || v.engine != 'LLMInferenceService' || self.placements.all(p, (has(v.minReplicas) ? v.minReplicas : p.minReplicas) >= 1 || (has(v.maxReplicas) ? v.maxReplicas : (has(v.minReplicas) ? v.minReplicas : (has(p.maxReplicas) ? p.maxReplicas : p.minReplicas))) == (has(v.minReplicas) ? v.minReplicas : p.minReplicas)))",message="versions[].engine LLMInferenceService autoscales (maxReplicas above minReplicas) only from minReplicas 1 or more (KServe's scaling.minReplicas): raise minReplicas, or set maxReplicas equal to minReplicas for a fixed count"
type SelfHostedModel struct {
	// StorageURI is where the weights come from (hf://, s3://, gs://, pvc://, https://, oci://).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^(hf|s3|gs|pvc|https?|oci)://`
	StorageURI string `json:"storageUri"`

	// GPUs per replica, requested and limited in the node pool's GPU resource.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=64
	GPUs int32 `json:"gpus,omitempty"`

	// CredentialsSecretRef names a Hugging Face token for a gated or private hf:// model (key HF_TOKEN
	// unless set): the shorthand of storage.huggingFace.tokenSecretRef.
	// +optional
	CredentialsSecretRef *SecretKeyReference `json:"credentialsSecretRef,omitempty"`

	// Storage holds the credentials KServe's storage initializer downloads storageUri with: a Hugging
	// Face token, S3 keys (with endpoint and region), a GCS service-account key or Azure Blob
	// credentials. The operator copies them into the model cluster as the Secret KServe reads (the
	// InferenceService's serving.kserve.io/storageSecretName); the model server container never sees
	// them. Empty: an anonymous download, or the pods' own cloud identity.
	// +optional
	Storage *ModelStorage `json:"storage,omitempty"`

	// ImagePullSecrets name docker-registry Secrets (kubernetes.io/dockerconfigjson) in the platform's
	// namespace, copied into the model cluster and set on the predictor pods: for a private serving
	// runtime image, or the model image of an oci:// storageUri (KServe's modelcar, pulled by the kubelet).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	ImagePullSecrets []SecretReference `json:"imagePullSecrets,omitempty"`

	// Runtime is the KServe ServingRuntime. Empty: KServe picks the Hugging Face (vLLM) runtime.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Runtime string `json:"runtime,omitempty"`

	// Args are extra arguments for the model server.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Args []string `json:"args,omitempty"`

	// Env are extra environment variables for the model server.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Env []corev1.EnvVar `json:"env,omitempty"`

	// Resources are extra CPU and memory requests and limits; GPUs come from gpus.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Placements say where the model runs; several mean multi-cluster, weighted or failover.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=cluster
	// +listMapKey=nodePool
	Placements []Placement `json:"placements"`

	// Versions serve the model from one InferenceService (or LLMInferenceService, per engine) per
	// version in each placement, sharing the model's traffic by weight at Tier Two: a canary is {name:
	// v1, weight: 90} and {name: v2, weight: 10}. A version overrides storageUri, runtime, args and the
	// replica bounds, and chooses its engine; everything else is the model's. A version that is not
	// Ready gets no traffic: its share goes to the Ready ones. Moving weights, adding or retiring a
	// version changes only Tier Two objects, never Tier One's. Empty: one version, the model itself.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=4
	Versions []ModelVersion `json:"versions,omitempty"`
}

// ServingEngine is the KServe resource that serves a version of a self-hosted model.
// +kubebuilder:validation:Enum=InferenceService;LLMInferenceService
type ServingEngine string

// The serving engines.
const (
	// EngineInferenceService: a KServe InferenceService (serving.kserve.io/v1beta1) with KServe's Hugging
	// Face runtime (vLLM), in raw deployment mode; Tier Two routes to its predictor Service.
	EngineInferenceService ServingEngine = "InferenceService"
	// EngineLLMInferenceService: a KServe LLMInferenceService (serving.kserve.io/v1alpha2) with its
	// router scheduler: an InferencePool and an endpoint picker (Gateway API Inference Extension) that
	// picks the pod for each request by its KV cache and queue; Tier Two routes to the InferencePool.
	EngineLLMInferenceService ServingEngine = "LLMInferenceService"
)

// ModelVersion is one version of a self-hosted model.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || !has(self.maxReplicas) || self.maxReplicas >= self.minReplicas",message="versions[].maxReplicas must be at least versions[].minReplicas"
type ModelVersion struct {
	// Name of the version: a DNS label of at most 12 characters, part of its InferenceServices' names.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Weight is the version's share of the model's traffic in each placement. 0: none, the version is
	// kept running (warming up, or about to be retired).
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Weight *int32 `json:"weight,omitempty"`

	// StorageURI of this version's weights, downloaded with the model's storage credentials. Empty: the
	// model's storageUri.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^(hf|s3|gs|pvc|https?|oci)://`
	StorageURI string `json:"storageUri,omitempty"`

	// Runtime is this version's KServe ServingRuntime. Empty: the model's.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Runtime string `json:"runtime,omitempty"`

	// Args replace the model's server arguments for this version, when set: with engine
	// LLMInferenceService they are passed to vllm serve (KServe's preset names the model and the port).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Args []string `json:"args,omitempty"`

	// Engine serves the version with a KServe InferenceService (empty or InferenceService: KServe's
	// Hugging Face runtime, vLLM, behind its predictor Service) or a KServe LLMInferenceService
	// (LLMInferenceService: vLLM with KServe's router scheduler, an InferencePool and an endpoint picker
	// that picks the replica for each request by its KV cache and queue; Tier Two routes to the
	// InferencePool). Every version of a model uses the same engine.
	// +optional
	Engine ServingEngine `json:"engine,omitempty"`

	// MinReplicas replaces each placement's minReplicas for this version: for example a canary that
	// runs one replica beside a version autoscaled on several.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// MaxReplicas replaces each placement's maxReplicas for this version. Empty: the version's
	// minReplicas when it sets one, else the placement's bounds.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxReplicas *int32 `json:"maxReplicas,omitempty"`
}

// ModelStorage says how a model's weights are downloaded: exactly one of its fields.
//
// +kubebuilder:validation:XValidation:rule="(has(self.huggingFace) ? 1 : 0) + (has(self.s3) ? 1 : 0) + (has(self.gcs) ? 1 : 0) + (has(self.azureBlob) ? 1 : 0) == 1",message="storage needs exactly one of huggingFace, s3, gcs and azureBlob"
type ModelStorage struct {
	// HuggingFace is a token for gated or private hf:// models.
	// +optional
	HuggingFace *HuggingFaceStorage `json:"huggingFace,omitempty"`

	// S3 are keys for s3:// models, on AWS or an S3-compatible store.
	// +optional
	S3 *S3Storage `json:"s3,omitempty"`

	// GCS is a service-account key for gs:// models.
	// +optional
	GCS *GCSStorage `json:"gcs,omitempty"`

	// AzureBlob are credentials for models in Azure Blob Storage.
	// +optional
	AzureBlob *AzureBlobStorage `json:"azureBlob,omitempty"`
}

// HuggingFaceStorage is a Hugging Face access token.
type HuggingFaceStorage struct {
	// TokenSecretRef names the token (key HF_TOKEN unless set).
	TokenSecretRef SecretKeyReference `json:"tokenSecretRef"`
}

// S3Storage are S3 access keys and where the bucket is.
type S3Storage struct {
	// SecretRef names a Secret with the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
	SecretRef SecretReference `json:"secretRef"`

	// Endpoint of an S3-compatible store, host[:port] without a scheme (for example minio.example:9000).
	// Empty: AWS.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$`
	Endpoint string `json:"endpoint,omitempty"`

	// Region of the bucket (for example us-east-1).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// UseHTTPS talks to the endpoint over HTTPS.
	// +optional
	// +kubebuilder:default=true
	UseHTTPS *bool `json:"useHTTPS,omitempty"`

	// VerifySSL verifies the endpoint's certificate.
	// +optional
	// +kubebuilder:default=true
	VerifySSL *bool `json:"verifySSL,omitempty"`

	// VirtualHostedBucket addresses the bucket as <bucket>.<endpoint> instead of <endpoint>/<bucket>.
	// +optional
	VirtualHostedBucket bool `json:"virtualHostedBucket,omitempty"`

	// CABundleConfigMap names a ConfigMap in the model cluster's namespace holding the CA bundle of a
	// private endpoint.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	CABundleConfigMap string `json:"caBundleConfigMap,omitempty"`
}

// GCSStorage is a Google Cloud service-account key.
type GCSStorage struct {
	// SecretRef names the service-account key JSON (key gcloud-application-credentials.json unless set).
	SecretRef SecretKeyReference `json:"secretRef"`
}

// AzureBlobStorage are Azure Blob Storage credentials.
type AzureBlobStorage struct {
	// SecretRef names a Secret with a service principal (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
	// AZURE_TENANT_ID, optionally AZURE_SUBSCRIPTION_ID) or a storage account key
	// (AZURE_STORAGE_ACCESS_KEY, with AZURE_ACCOUNT_NAME).
	SecretRef SecretReference `json:"secretRef"`
}

// Placement runs a self-hosted model on a node pool of a model cluster.
//
// +kubebuilder:validation:XValidation:rule="!has(self.maxReplicas) || self.maxReplicas >= self.minReplicas",message="maxReplicas must be at least minReplicas"
type Placement struct {
	// Cluster names a model cluster of spec.modelClusters.
	// +kubebuilder:validation:MaxLength=63
	Cluster string `json:"cluster"`

	// NodePool names a node pool of that cluster.
	// +kubebuilder:validation:MaxLength=63
	NodePool string `json:"nodePool"`

	// MinReplicas is the autoscaling floor.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MinReplicas int32 `json:"minReplicas"`

	// MaxReplicas is the autoscaling ceiling. Empty: minReplicas.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxReplicas *int32 `json:"maxReplicas,omitempty"`

	// Weight shares traffic among backends of the same priority. Empty: 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Weight *int32 `json:"weight,omitempty"`

	// Priority orders backends: 0 is used first, 1 when every 0 fails, and so on. Empty: 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=16
	Priority *int32 `json:"priority,omitempty"`
}

// ModelRoute sends a model to an outside provider.
type ModelRoute struct {
	// Provider names a provider of spec.providers.
	// +kubebuilder:validation:MaxLength=63
	Provider string `json:"provider"`

	// Model is the provider's name of the model. Empty: the model's own name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Model string `json:"model,omitempty"`

	// Weight shares traffic among backends of the same priority. Empty: 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Weight *int32 `json:"weight,omitempty"`

	// Priority orders backends: 0 is used first, 1 when every 0 fails, and so on. Empty: 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=16
	Priority *int32 `json:"priority,omitempty"`
}

// ObservabilitySpec configures tracing, access logs and metrics.
type ObservabilitySpec struct {
	// Tracing sends OpenTelemetry traces of every request.
	// +optional
	Tracing *TracingSpec `json:"tracing,omitempty"`

	// AccessLog writes one line per request with the model, the backend and token usage.
	// +optional
	AccessLog *AccessLogSpec `json:"accessLog,omitempty"`
}

// TracingSpec configures OpenTelemetry tracing.
type TracingSpec struct {
	// OTLPEndpoint is the OTLP/gRPC collector, for example http://otel-collector.monitoring:4317.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^/:]+(:[0-9]+)?/?$`
	OTLPEndpoint string `json:"otlpEndpoint"`

	// SamplingRatio is the fraction of requests traced, "0" to "1".
	// +optional
	// +kubebuilder:default="1"
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]+)?|1(\.0+)?)$`
	SamplingRatio string `json:"samplingRatio,omitempty"`
}

// AccessLogSpec configures access logs.
type AccessLogSpec struct {
	// Enabled turns access logs on.
	Enabled bool `json:"enabled"`
}

// GenAIPlatformStatus is the observed state of the platform.
type GenAIPlatformStatus struct {
	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Endpoint is where clients send requests.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Conditions: Ready summarises; GatewayReady, ProvidersReady, ModelClustersReady and ModelsReady say
	// which part holds it back; Reconciling and Stalled (kstatus) are present only while True;
	// Unauthenticated is present, True, while spec.gateway.clientAuth is not set.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ReadyModels is the number of models that can serve requests.
	// +optional
	ReadyModels int32 `json:"readyModels"`

	// TotalModels is the number of models in the spec.
	// +optional
	TotalModels int32 `json:"totalModels"`

	// ModelsOnFallback is the number of self-hosted models served only by their provider routes, because
	// none of their placements is Ready (each says why in models[]): the GPUs are not serving, and a
	// provider is being paid for it.
	// +optional
	ModelsOnFallback int32 `json:"modelsOnFallback,omitempty"`

	// ModelsSummary is "readyModels/totalModels", for kubectl get.
	// +optional
	ModelsSummary string `json:"modelsSummary,omitempty"`

	// Models is the state of each model.
	// +optional
	// +listType=map
	// +listMapKey=name
	Models []ModelStatus `json:"models,omitempty"`

	// ModelClusters is the state of each model cluster.
	// +optional
	// +listType=map
	// +listMapKey=name
	ModelClusters []ModelClusterStatus `json:"modelClusters,omitempty"`

	// Providers is the state of each provider.
	// +optional
	// +listType=map
	// +listMapKey=name
	Providers []ProviderStatus `json:"providers,omitempty"`

	// AttachedModels summarises the GenAIModels attached to the platform; each has its own status.
	// +optional
	AttachedModels *AttachedModelsStatus `json:"attachedModels,omitempty"`

	// Tenants summarises the GenAITenants of the platform; each has its own status.
	// +optional
	Tenants *TenantsStatus `json:"tenants,omitempty"`

	// LastAPIServerOutage is the last time the operator lost this cluster's API server: nothing could be
	// read or written while it lasted, so changes made meanwhile took effect only after it ended. Absent
	// when the operator has seen no outage since the platform was created.
	// +optional
	LastAPIServerOutage *APIServerOutage `json:"lastAPIServerOutage,omitempty"`
}

// AttachedModelsStatus counts the GenAIModels that name a platform, and names the first few not ready, so
// that the platform's status stays small with thousands of them.
type AttachedModelsStatus struct {
	// Accepted is how many the platform serves.
	Accepted int32 `json:"accepted"`
	// Ready is how many of those can serve requests.
	Ready int32 `json:"ready"`
	// Refused is how many the platform does not serve (not allowed, conflicted, invalid).
	// +optional
	Refused int32 `json:"refused,omitempty"`
	// NotReady names up to 10 that are refused or not ready, as "<namespace>/<name>: <reason>".
	// +optional
	// +kubebuilder:validation:MaxItems=10
	NotReady []string `json:"notReady,omitempty"`
}

// APIServerOutage is a time during which no request from the operator to its API server got an answer
// (a connection refused, reset or timed out, or 502, 503 or 504), for at least two seconds.
type APIServerOutage struct {
	// Start is when the first request failed.
	Start metav1.Time `json:"start"`
	// End is when the API server answered again.
	End metav1.Time `json:"end"`
	// FailedRequests is how many requests got no answer meanwhile.
	FailedRequests int64 `json:"failedRequests"`
	// Message is the last failure, for example "dial tcp 10.0.0.1:6443: connect: connection refused".
	// +optional
	Message string `json:"message,omitempty"`
}

// ComponentStatus is the state of one part of the platform.
type ComponentStatus struct {
	// Name of the part, as in the spec.
	Name string `json:"name"`
	// Ready is true when the part works.
	Ready bool `json:"ready"`
	// Reason is a CamelCase word saying why the part is (not) ready.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says it for humans.
	// +optional
	Message string `json:"message,omitempty"`
}

// ModelStatus is the state of one model.
type ModelStatus struct {
	ComponentStatus `json:",inline"`
	// Routes are the backends currently routed to, as "provider:<name>" or "cluster:<name>/<pool>".
	// +optional
	Routes []string `json:"routes,omitempty"`
	// Versions are the state of each version of a self-hosted model with selfHosted.versions.
	// +optional
	// +listType=map
	// +listMapKey=name
	Versions []VersionStatus `json:"versions,omitempty"`
}

// VersionStatus is the state of one version of a self-hosted model.
type VersionStatus struct {
	// Name of the version.
	Name string `json:"name"`
	// Weight is the version's share of the model's traffic in each placement, as the spec says.
	Weight int32 `json:"weight"`
	// Ready is true when at least one placement's InferenceService (or LLMInferenceService) of the
	// version is Ready: only then does the version take its share.
	Ready bool `json:"ready"`
	// Placements are "<cluster>/<pool>: <reason>" for each placement of the version that is not Ready.
	// +optional
	NotReady []string `json:"notReady,omitempty"`
}

// ModelClusterStatus is the state of one model cluster.
type ModelClusterStatus struct {
	ComponentStatus `json:",inline"`
	// GatewayAddress is the address Tier One uses for the cluster's Tier Two gateway.
	// +optional
	GatewayAddress string `json:"gatewayAddress,omitempty"`
}

// ProviderStatus is the state of one provider.
type ProviderStatus struct {
	ComponentStatus `json:",inline"`
}
