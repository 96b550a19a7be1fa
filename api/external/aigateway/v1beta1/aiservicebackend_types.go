package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AIServiceBackend is an upstream LLM service: the Envoy Gateway Backend that reaches it and the API
// schema it speaks.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
type AIServiceBackend struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AIServiceBackendSpec `json:"spec,omitempty"`
	Status AIGatewayStatus      `json:"status,omitempty"`
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
	// APISchema is the API the upstream speaks; Envoy AI Gateway translates requests to it.
	APISchema VersionedAPISchema `json:"schema"`

	// BackendRef is the Envoy Gateway Backend (group gateway.envoyproxy.io, kind Backend: both must be
	// set explicitly; a Service is rejected in v1.1) that reaches the upstream.
	// +kubebuilder:validation:XValidation:rule="has(self.kind) && self.kind == 'Backend' && has(self.group) && self.group == 'gateway.envoyproxy.io'",message="BackendRef must be a Backend resource of Envoy Gateway. See https://github.com/envoyproxy/ai-gateway/issues/902 for more details."
	BackendRef gwapiv1.BackendObjectReference `json:"backendRef"`

	// HeaderMutation edits request headers before they go to this backend.
	// +optional
	HeaderMutation *HTTPHeaderMutation `json:"headerMutation,omitempty"`

	// BodyMutation edits the request body's top-level JSON fields before it goes to this backend.
	// +optional
	BodyMutation *HTTPBodyMutation `json:"bodyMutation,omitempty"`
}

func init() {
	SchemeBuilder.Register(&AIServiceBackend{}, &AIServiceBackendList{})
}
