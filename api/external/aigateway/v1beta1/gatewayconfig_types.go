package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GatewayConfig configures Envoy AI Gateway's external processor (the container Envoy AI Gateway adds to
// the Envoy pods) for the Gateways that name it in annotation aigateway.envoyproxy.io/gateway-config
// (same namespace). The external processor reads OpenTelemetry's standard environment
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...) from Env.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=gwconfig
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[-1:].type`
type GatewayConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GatewayConfigSpec   `json:"spec,omitempty"`
	Status GatewayConfigStatus `json:"status,omitempty"`
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
	// ExtProc configures the external processor container.
	// +optional
	ExtProc *GatewayConfigExtProc `json:"extProc,omitempty"`

	// GlobalLLMRequestCosts are default request costs for every route of the Gateways; an AIGatewayRoute's
	// llmRequestCosts override those of the same metadataKey.
	// +optional
	// +listType=map
	// +listMapKey=metadataKey
	GlobalLLMRequestCosts []LLMRequestCost `json:"globalLLMRequestCosts,omitempty"`

	// ForwardProxy sends all upstream traffic through an HTTP CONNECT proxy.
	// +optional
	ForwardProxy *GatewayConfigForwardProxy `json:"forwardProxy,omitempty"`
}

// GatewayConfigExtProc configures the external processor.
type GatewayConfigExtProc struct {
	// Kubernetes is the external processor container's settings.
	// +optional
	Kubernetes *GatewayConfigExtProcKubernetes `json:"kubernetes,omitempty"`
}

// GatewayConfigExtProcKubernetes is the external processor container's settings (a subset of Envoy
// Gateway's KubernetesContainerSpec, with the same json names).
//
// +kubebuilder:validation:XValidation:rule="!has(self.image) || !has(self.imageRepository)",message="Either image or imageRepository can be set."
type GatewayConfigExtProcKubernetes struct {
	// Env is added to the container's environment; it wins over the controller's own extra variables
	// of the same name. The list is atomic (not merged by name).
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// Resources are the container's compute resources.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Image replaces the container image (with its tag).
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9._-]+(:[0-9]+)?(/[a-zA-Z0-9._/-]+)?(:[a-zA-Z0-9._-]+)?(@sha256:[a-z0-9]+)?$')",message="Image must include a tag and allowed characters only (e.g., 'repo:tag')."
	Image *string `json:"image,omitempty"`

	// ImageRepository replaces the image repository, keeping the default tag.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9._-]+(:[0-9]+)?[a-zA-Z0-9._/-]+$')",message="ImageRepository must contain only allowed characters and must not include a tag."
	ImageRepository *string `json:"imageRepository,omitempty"`

	// SecurityContext is the container's security context.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`

	// VolumeMounts are added to the container.
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
}

// GatewayConfigForwardProxy is an HTTP CONNECT forward proxy.
type GatewayConfigForwardProxy struct {
	// Address is the proxy's "host:port".
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
}

// GatewayConfigStatus is the GatewayConfig's status.
type GatewayConfigStatus struct {
	// Conditions describe the GatewayConfig's current state.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

func init() {
	SchemeBuilder.Register(&GatewayConfig{}, &GatewayConfigList{})
}
