package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AIGatewayRoute routes OpenAI-compatible requests, by model (header x-ai-eg-model), to AIServiceBackends
// (or one InferencePool). Envoy AI Gateway turns it into an HTTPRoute of the same name, which it owns.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
type AIGatewayRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AIGatewayRouteSpec `json:"spec,omitempty"`
	Status AIGatewayStatus    `json:"status,omitempty"`
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
	// ParentRefs are the Gateways the route attaches to (kind must be Gateway).
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(match, match.kind == 'Gateway')",message="only Gateway is supported"
	ParentRefs []gwapiv1.ParentReference `json:"parentRefs,omitempty"`

	// Hostnames filter requests by Host header, as HTTPRoute's hostnames do.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Hostnames []gwapiv1.Hostname `json:"hostnames,omitempty"`

	// Rules match requests and send them to backends. At most 15: the generated HTTPRoute keeps one of
	// Gateway API's 16 rule slots for a catch-all rule; split larger route tables over several routes.
	// +kubebuilder:validation:MaxItems=15
	// +kubebuilder:validation:XValidation:rule="self.all(r1, !has(r1.name) || self.exists_one(r2, has(r2.name) && r1.name == r2.name))",message="rule name must be unique within the route"
	Rules []AIGatewayRouteRule `json:"rules"`

	// LLMRequestCosts stores each request's token usage in dynamic metadata (namespace
	// "io.envoy.ai_gateway"), for token rate limits. They override a GatewayConfig's globalLLMRequestCosts
	// of the same metadataKey. The list is atomic.
	// +optional
	// +kubebuilder:validation:MaxItems=36
	LLMRequestCosts []LLMRequestCost `json:"llmRequestCosts,omitempty"`
}

// AIGatewayRouteRule matches requests and sends them to backends.
//
// +kubebuilder:validation:XValidation:rule="!has(self.name) || self.name != 'route-not-found'",message="rule name route-not-found is reserved"
// +kubebuilder:validation:XValidation:rule="!has(self.backendRefs) || size(self.backendRefs) == 0 || (self.backendRefs.all(ref, !has(ref.group) && !has(ref.kind)) || self.backendRefs.all(ref, has(ref.group) && has(ref.kind)))",message="cannot mix InferencePool and AIServiceBackend references in the same rule"
// +kubebuilder:validation:XValidation:rule="!has(self.backendRefs) || size(self.backendRefs) == 0 || !self.backendRefs.exists(ref, has(ref.group) && has(ref.kind)) || size(self.backendRefs) == 1",message="only one InferencePool backend is allowed per rule"
type AIGatewayRouteRule struct {
	// Name names the rule (unique within the route; "route-not-found" is reserved). It becomes the
	// generated HTTPRoute rule's name.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name,omitempty"`

	// BackendRefs are the rule's backends: AIServiceBackends, or a single InferencePool.
	// +optional
	// +kubebuilder:validation:MaxItems=128
	BackendRefs []AIGatewayRouteRuleBackendRef `json:"backendRefs,omitempty"`

	// Matches select the requests the rule takes (x-ai-eg-model carries the request's model).
	// +optional
	// +kubebuilder:validation:MaxItems=128
	Matches []AIGatewayRouteRuleMatch `json:"matches,omitempty"`

	// Timeouts are the request timeouts. Unset, Envoy AI Gateway uses a 60s request timeout (not Envoy
	// Gateway's 15s); streaming responses may need more.
	// +optional
	Timeouts *gwapiv1.HTTPRouteTimeouts `json:"timeouts,omitempty"`

	// StreamIdleTimeout is how long Envoy waits for the next byte from the upstream. Before the first byte,
	// a retry can fall over to the next backend; mid-stream the client gets a 504.
	// +optional
	StreamIdleTimeout *gwapiv1.Duration `json:"streamIdleTimeout,omitempty"`

	// ModelsOwnedBy is the "owned_by" the /models endpoint reports for the rule's x-ai-eg-model matches
	// (default "Envoy AI Gateway").
	// +optional
	// +kubebuilder:default="Envoy AI Gateway"
	ModelsOwnedBy *string `json:"modelsOwnedBy,omitempty"`

	// ModelsCreatedAt is the "created" time the /models endpoint reports for the rule's x-ai-eg-model
	// matches (default: the route's creation time).
	// +optional
	// +kubebuilder:validation:Format=date-time
	ModelsCreatedAt *metav1.Time `json:"modelsCreatedAt,omitempty"`
}

// AIGatewayRouteRuleBackendRef is one backend of a rule: an AIServiceBackend (group and kind unset) or an
// InferencePool (group inference.networking.k8s.io, kind InferencePool).
//
// +kubebuilder:validation:XValidation:rule="!has(self.group) && !has(self.kind) || (has(self.group) && has(self.kind))",message="group and kind must be specified together"
// +kubebuilder:validation:XValidation:rule="!has(self.group) || (self.group == 'inference.networking.k8s.io' && self.kind == 'InferencePool')",message="only InferencePool from inference.networking.k8s.io group is supported"
type AIGatewayRouteRuleBackendRef struct {
	// Name of the AIServiceBackend (or InferencePool).
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Namespace of the backend; the route's own when empty (another needs a ReferenceGrant).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// Group is the backend's group: unset for an AIServiceBackend, inference.networking.k8s.io for an
	// InferencePool.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Group *string `json:"group,omitempty"`

	// Kind is the backend's kind: unset for an AIServiceBackend, InferencePool for an InferencePool.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^$|^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`
	Kind *string `json:"kind,omitempty"`

	// ModelNameOverride replaces the request's model name upstream (ignored for an InferencePool).
	// +optional
	ModelNameOverride string `json:"modelNameOverride,omitempty"`

	// HeaderMutation edits request headers for this backend (route-level mutations win on conflict).
	// +optional
	HeaderMutation *HTTPHeaderMutation `json:"headerMutation,omitempty"`

	// BodyMutation edits the request body's top-level JSON fields for this backend.
	// +optional
	BodyMutation *HTTPBodyMutation `json:"bodyMutation,omitempty"`

	// Weight is the backend's share of traffic among backends of the same priority (default 1).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=1
	Weight *int32 `json:"weight,omitempty"`

	// Priority is the backend's Envoy endpoint priority: 0 first, higher values are fallbacks (default
	// 0; ignored for an InferencePool). Failover between priorities also needs a BackendTrafficPolicy
	// with retries on the generated HTTPRoute.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=0
	Priority *uint32 `json:"priority,omitempty"`
}

// AIGatewayRouteRuleMatch matches requests by header, as Gateway API's HTTPRouteMatch does.
type AIGatewayRouteRuleMatch struct {
	// Headers must all match (Exact or RegularExpression).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Headers []gwapiv1.HTTPHeaderMatch `json:"headers,omitempty"`
}

func init() {
	SchemeBuilder.Register(&AIGatewayRoute{}, &AIGatewayRouteList{})
}
