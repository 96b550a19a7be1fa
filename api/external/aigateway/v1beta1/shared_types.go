package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const (
	// AIModelHeaderKey is the request header Envoy AI Gateway fills with the model named in the request
	// body, before routing: AIGatewayRoute rules match on it.
	AIModelHeaderKey = "x-ai-eg-model"

	// AIGatewayFilterMetadataNamespace is the Envoy dynamic metadata namespace LLMRequestCosts are stored
	// under (what a BackendTrafficPolicy's rate limit cost reads).
	AIGatewayFilterMetadataNamespace = "io.envoy.ai_gateway"

	// GatewayConfigAnnotation is the Gateway annotation naming the GatewayConfig (same namespace) that
	// configures the Gateway's external processor.
	GatewayConfigAnnotation = "aigateway.envoyproxy.io/gateway-config"
)

// APISchema is an LLM API an AIServiceBackend speaks.
// +kubebuilder:validation:Enum=OpenAI;Cohere;AWSBedrock;AzureOpenAI;GCPVertexAI;GCPAnthropic;Anthropic;AWSAnthropic
type APISchema string

const (
	// APISchemaOpenAI is OpenAI's API (and any OpenAI-compatible API, with Prefix for its path).
	APISchemaOpenAI APISchema = "OpenAI"
	// APISchemaCohere is Cohere's v2 API.
	APISchemaCohere APISchema = "Cohere"
	// APISchemaAWSBedrock is the AWS Bedrock runtime API.
	APISchemaAWSBedrock APISchema = "AWSBedrock"
	// APISchemaAzureOpenAI is Azure OpenAI (Version is its "api-version").
	APISchemaAzureOpenAI APISchema = "AzureOpenAI"
	// APISchemaGCPVertexAI is Gemini on GCP Vertex AI (needs a GCPCredentials BackendSecurityPolicy: the
	// project and region come from it).
	APISchemaGCPVertexAI APISchema = "GCPVertexAI"
	// APISchemaGCPAnthropic is Anthropic models on GCP Vertex AI.
	APISchemaGCPAnthropic APISchema = "GCPAnthropic"
	// APISchemaAnthropic is Anthropic's native Messages API.
	APISchemaAnthropic APISchema = "Anthropic"
	// APISchemaAWSAnthropic is Anthropic models on AWS Bedrock, with the native Messages API.
	APISchemaAWSAnthropic APISchema = "AWSAnthropic"
)

// VersionedAPISchema is an API schema, its version, and its path prefix.
type VersionedAPISchema struct {
	// Name is the API schema.
	Name APISchema `json:"name"`

	// Version is the schema's version: Azure OpenAI's API version; for GCPAnthropic / AWSAnthropic the
	// Anthropic version (e.g. "vertex-2023-10-16", "bedrock-2023-05-31"). Ignored for OpenAI, AWSBedrock,
	// GCPVertexAI and Anthropic.
	// +optional
	Version *string `json:"version,omitempty"`

	// Prefix is the API's path prefix for OpenAI and Anthropic ("${prefix}/chat/completions",
	// "${prefix}/messages"), with or without a leading slash.
	// +optional
	Prefix *string `json:"prefix,omitempty"`
}

// LLMRequestCostType is what a request cost counts.
// +kubebuilder:validation:Enum=OutputToken;InputToken;CachedInputToken;CacheCreationInputToken;TotalToken;ReasoningToken;CEL
type LLMRequestCostType string

const (
	// LLMRequestCostTypeInputToken counts input tokens.
	LLMRequestCostTypeInputToken LLMRequestCostType = "InputToken"
	// LLMRequestCostTypeCachedInputToken counts cache-read input tokens.
	LLMRequestCostTypeCachedInputToken LLMRequestCostType = "CachedInputToken"
	// LLMRequestCostTypeCacheCreationInputToken counts cache-creation input tokens.
	LLMRequestCostTypeCacheCreationInputToken LLMRequestCostType = "CacheCreationInputToken"
	// LLMRequestCostTypeOutputToken counts output tokens.
	LLMRequestCostTypeOutputToken LLMRequestCostType = "OutputToken"
	// LLMRequestCostTypeTotalToken counts all tokens.
	LLMRequestCostTypeTotalToken LLMRequestCostType = "TotalToken"
	// LLMRequestCostTypeReasoningToken counts reasoning tokens.
	LLMRequestCostTypeReasoningToken LLMRequestCostType = "ReasoningToken"
	// LLMRequestCostTypeCEL computes the cost with the CEL expression in CEL.
	LLMRequestCostTypeCEL LLMRequestCostType = "CEL"
)

// LLMRequestCost stores a request's cost (token usage) in Envoy dynamic metadata, under namespace
// "io.envoy.ai_gateway" and key MetadataKey, where a rate limit's response cost can read it.
type LLMRequestCost struct {
	// MetadataKey is the dynamic metadata key the cost is stored under.
	MetadataKey string `json:"metadataKey"`

	// Type is what the cost counts.
	Type LLMRequestCostType `json:"type"`

	// CEL computes the cost when Type is CEL. It must return a non-negative integer; it can use model,
	// backend ("<namespace>/<AIServiceBackend>/route/<route>/rule/<i>/ref/<j>" in v1.1), route_name,
	// input_tokens, cached_input_tokens, cache_creation_input_tokens,
	// output_tokens, total_tokens and reasoning_tokens.
	// +optional
	CEL *string `json:"cel,omitempty"`
}

// HTTPHeaderMutation sets and removes request headers before the request goes to a backend.
type HTTPHeaderMutation struct {
	// Set overwrites or adds headers.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Set []gwapiv1.HTTPHeader `json:"set,omitempty"`

	// Remove removes headers (names are case-insensitive).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	Remove []string `json:"remove,omitempty"`
}

// HTTPBodyMutation sets and removes top-level JSON fields of the request body before the request goes
// to a backend.
type HTTPBodyMutation struct {
	// Set overwrites or adds top-level fields.
	// +optional
	// +listType=map
	// +listMapKey=path
	// +kubebuilder:validation:MaxItems=16
	Set []HTTPBodyField `json:"set,omitempty"`

	// Remove removes top-level fields.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	Remove []string `json:"remove,omitempty"`
}

// HTTPBodyField is a top-level JSON field of the request body and its value.
type HTTPBodyField struct {
	// Path is the top-level field name, e.g. "service_tier".
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path"`

	// Value is the field's value as JSON text: "\"scale\"", "42", "true", "{\"k\": \"v\"}", "null".
	Value string `json:"value"`
}

// AIGatewayStatus is the status AIGatewayRoute, AIServiceBackend and BackendSecurityPolicy report:
// conditions whose last one (the printed "Status" column) is "Accepted" or "NotAccepted".
type AIGatewayStatus struct {
	// Conditions are the reconciliation's results.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

const (
	// ConditionTypeAccepted is the condition type Envoy AI Gateway reports when it accepted an object.
	ConditionTypeAccepted = "Accepted"
	// ConditionTypeNotAccepted is the condition type Envoy AI Gateway reports when it rejected an object.
	ConditionTypeNotAccepted = "NotAccepted"
)
