package v1alpha2

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types KServe v0.20 reports on an LLMInferenceService (pkg/apis/serving/v1alpha2/
// llm_inference_service_lifecycle.go). Ready is knative's living condition set over WorkloadsReady and
// RouterReady.
const (
	ConditionReady = "Ready"
	// ConditionPresetsCombined: every LLMInferenceServiceConfig the service uses (KServe's well-known
	// presets and spec.baseRefs) was found and merged; False (ConfigNotFound, CombineBaseError) stops the
	// reconcile there. Not part of Ready.
	ConditionPresetsCombined = "PresetsCombined"
	// ConditionWorkloadsReady rolls up MainWorkloadReady (the model server Deployment Available), the
	// worker and prefill workloads when present, and ScalingReady when autoscaling is set.
	ConditionWorkloadsReady = "WorkloadsReady"
	// ConditionMainWorkloadReady is the model server Deployment's availability.
	ConditionMainWorkloadReady = "MainWorkloadReady"
	// ConditionRouterReady rolls up GatewaysReady, HTTPRoutesReady, InferencePoolReady and
	// SchedulerWorkloadReady, those present.
	ConditionRouterReady = "RouterReady"
	// ConditionSchedulerWorkloadReady is the endpoint picker (EPP) Deployment's availability; present when
	// spec.router.scheduler is set.
	ConditionSchedulerWorkloadReady = "SchedulerWorkloadReady"
	// ConditionInferencePoolReady: a Gateway of the service's own routes accepted its InferencePool.
	ConditionInferencePoolReady = "InferencePoolReady"
)

// Labels KServe v0.20 puts on an LLMInferenceService's model server pods (GetWorkloadLabelSelector in
// pkg/controller/v1alpha2/llmisvc/workload.go); the InferencePool and the workload Service select them.
const (
	LabelAppName      = "app.kubernetes.io/name"
	LabelPartOf       = "app.kubernetes.io/part-of"
	PartOfValue       = "llminferenceservice"
	LabelComponent    = "kserve.io/component"
	ComponentWorkload = "workload"
)

// LLMInferenceService serves one LLM with vLLM and, when spec.router.scheduler is set, KServe's router
// scheduler: an InferencePool (inference.networking.k8s.io/v1) and its endpoint picker.
// +kubebuilder:object:root=true
type LLMInferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   LLMInferenceServiceSpec   `json:"spec,omitempty"`
	Status LLMInferenceServiceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// LLMInferenceServiceList is a list of LLMInferenceServices.
type LLMInferenceServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LLMInferenceService `json:"items"`
}

// LLMInferenceServiceSpec is the spec: the model, the main workload (KServe inlines its WorkloadSpec
// here: replicas, scaling, template) and the router.
type LLMInferenceServiceSpec struct {
	// Model is the model's source and served name.
	Model LLMModelSpec `json:"model"`

	// Replicas is a fixed replica count; mutually exclusive with Scaling (a CEL rule of the CRD).
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Scaling autoscales the main workload between bounds.
	// +optional
	Scaling *ScalingSpec `json:"scaling,omitempty"`

	// Template is the main pod's spec, merged by KServe into its preset (kserve-config-llm-template, whose
	// container "main" runs vllm serve).
	// +optional
	Template *PodSpec `json:"template,omitempty"`

	// Router configures the InferencePool and endpoint picker (scheduler), and KServe's own route and
	// gateway (route, gateway): left empty, KServe makes no HTTPRoute.
	// +optional
	Router *RouterSpec `json:"router,omitempty"`
}

// LLMModelSpec is the model: where it comes from and the name it is served as.
type LLMModelSpec struct {
	// URI is where the storage initializer downloads the model from (hf://, s3://, pvc://, oci://).
	URI string `json:"uri"`

	// Name is the "model" of requests (vllm serve --served-model-name). Empty: the service's name.
	// +optional
	Name *string `json:"name,omitempty"`
}

// ScalingSpec autoscales a workload. In KServe v0.20 the only mechanism is the llm-d Workload Variant
// Autoscaler (wva), with an HPA or a KEDA ScaledObject as its actuator.
type ScalingSpec struct {
	// MinReplicas is the floor (at least 1; KServe's default 1).
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// MaxReplicas is the ceiling.
	MaxReplicas int32 `json:"maxReplicas"`

	// WVA configures the Workload Variant Autoscaler (required by the CRD when scaling is set).
	// +optional
	WVA *WVASpec `json:"wva,omitempty"`
}

// WVASpec configures the Workload Variant Autoscaler: exactly one actuator.
type WVASpec struct {
	// HPA makes an HorizontalPodAutoscaler follow WVA's wva_desired_replicas external metric.
	// +optional
	HPA *HPAScalingSpec `json:"hpa,omitempty"`
}

// HPAScalingSpec is the HPA actuator (KServe's behavior field is not set by the operator).
type HPAScalingSpec struct{}

// PodSpec is the subset of a pod spec the operator sets on the main workload.
type PodSpec struct {
	// NodeSelector places the model server's pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let the pods onto tainted (GPU) nodes.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// ImagePullSecrets are the pods' registry credentials.
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Containers are merged by name into the preset's: the operator sets "main" only.
	Containers []Container `json:"containers"`
}

// Container is the subset of a container the operator sets on the preset's "main" container.
type Container struct {
	// Name of the container ("main": KServe's model server container).
	Name string `json:"name"`

	// Args are appended to vllm serve's arguments (the preset's command forwards "$@").
	// +optional
	Args []string `json:"args,omitempty"`

	// Env is added to the container's environment.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// Resources are the container's compute resources (GPUs included).
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// RouterSpec is the routing configuration. The operator sets only Scheduler: the Tier Two HTTPRoute is
// its own, so KServe makes no route and attaches to no gateway.
type RouterSpec struct {
	// Scheduler, even empty, makes KServe create the InferencePool <name>-inference-pool and the endpoint
	// picker (Deployment <name>-kserve-router-scheduler, Service <name>-epp-service) from its preset
	// kserve-config-llm-scheduler.
	// +optional
	Scheduler *SchedulerSpec `json:"scheduler,omitempty"`
}

// SchedulerSpec configures the endpoint picker; the operator keeps KServe's preset.
type SchedulerSpec struct{}

// LLMInferenceServiceStatus is what KServe reports (read only). KServe inlines knative's duckv1.Status:
// observedGeneration and knative conditions.
type LLMInferenceServiceStatus struct {
	// ObservedGeneration is the generation KServe last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are knative-style conditions (see the Condition* constants).
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`

	// URL is the primary address (without a route of KServe's own: the workload Service's).
	// +optional
	URL *string `json:"url,omitempty"`
}

// Condition is a knative condition (knative.dev/pkg/apis.Condition), as KServe reports it.
type Condition struct {
	// Type is the condition's type, e.g. "WorkloadsReady".
	Type string `json:"type"`

	// Status is "True", "False" or "Unknown".
	Status corev1.ConditionStatus `json:"status"`

	// Severity is "" (an error) for conditions that gate readiness, "Warning" or "Info" otherwise.
	// +optional
	Severity string `json:"severity,omitempty"`

	// LastTransitionTime is an RFC 3339 time; the CRD types it as a plain string (knative VolatileTime).
	// +optional
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`

	// Reason is a CamelCase reason.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message is a human-readable message.
	// +optional
	Message string `json:"message,omitempty"`
}

func init() {
	SchemeBuilder.Register(&LLMInferenceService{}, &LLMInferenceServiceList{})
}
