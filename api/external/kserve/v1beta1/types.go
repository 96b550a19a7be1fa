package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types KServe reports on an InferenceService (knative-style conditions).
const (
	// ConditionReady is the aggregate readiness.
	ConditionReady = "Ready"
	// ConditionPredictorReady is the predictor's readiness.
	ConditionPredictorReady = "PredictorReady"
	// ConditionIngressReady is set once the InferenceService's ingress (or Service) exists.
	ConditionIngressReady = "IngressReady"
)

// Values of InferenceService fields the operator sets or reads.
const (
	// ModelFormatHuggingFace selects KServe's Hugging Face runtime (vLLM for text generation).
	ModelFormatHuggingFace = "huggingface"

	// ProtocolV1, ProtocolV2: the predictor's inference protocol (KServe's InferenceServiceProtocol).
	ProtocolV1 = "v1"
	ProtocolV2 = "v2"

	// AnnotationDeploymentMode selects the deployment mode: "Standard" (formerly "RawDeployment": a
	// Deployment, Service and HPA) or "Knative" (formerly "Serverless").
	AnnotationDeploymentMode = "serving.kserve.io/deploymentMode"
)

// InferenceService serves a model.
// +kubebuilder:object:root=true
type InferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   InferenceServiceSpec   `json:"spec,omitempty"`
	Status InferenceServiceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// InferenceServiceList is a list of InferenceServices.
type InferenceServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferenceService `json:"items"`
}

// InferenceServiceSpec is the spec: the predictor only (no transformer or explainer).
type InferenceServiceSpec struct {
	// Predictor serves the model (required by the CRD).
	Predictor PredictorSpec `json:"predictor"`
}

// PredictorSpec runs the model server. In KServe it inlines a PodSpec (nodeSelector, tolerations,
// serviceAccountName here) and the component extension (minReplicas, maxReplicas).
type PredictorSpec struct {
	// MinReplicas is the fewest replicas (KServe's default is 1; 0 allows scale to zero in Knative mode).
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// MaxReplicas is the most replicas the autoscaler may create (0: no limit / KServe's default).
	// +optional
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// NodeSelector places the predictor's pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let the predictor's pods onto tainted (GPU) nodes.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// ServiceAccountName is the predictor pods' service account (and the storage initializer's
	// credentials source).
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// ImagePullSecrets are the predictor pods' registry credentials (for the runtime image, and for an
	// oci:// model image KServe runs as a modelcar).
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Model is the model and its server container.
	// +optional
	Model *ModelSpec `json:"model,omitempty"`
}

// ModelSpec is the predictor's model and its server container (KServe inlines a Container here).
type ModelSpec struct {
	// ModelFormat selects the serving runtime ("huggingface").
	ModelFormat ModelFormat `json:"modelFormat"`

	// Runtime names a ServingRuntime / ClusterServingRuntime explicitly, instead of auto-selection by
	// model format.
	// +optional
	Runtime *string `json:"runtime,omitempty"`

	// StorageURI is where the model is downloaded from (e.g. "hf://org/model", "s3://...", "pvc://...").
	// +optional
	StorageURI *string `json:"storageUri,omitempty"`

	// ProtocolVersion is the inference protocol ("v1", "v2", "grpc-v1", "grpc-v2").
	// +optional
	ProtocolVersion *string `json:"protocolVersion,omitempty"`

	// Args are added to the runtime's arguments (e.g. "--model_name=...", vLLM flags).
	// +optional
	Args []string `json:"args,omitempty"`

	// Env is added to the runtime container's environment (e.g. HF_TOKEN from a Secret).
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// Resources are the runtime container's compute resources (GPUs included).
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ModelFormat names the model's format.
type ModelFormat struct {
	// Name is the format, e.g. "huggingface".
	Name string `json:"name"`

	// Version is the format's version.
	// +optional
	Version *string `json:"version,omitempty"`
}

// InferenceServiceStatus is what KServe reports (read only; the operator never writes it).
type InferenceServiceStatus struct {
	// ObservedGeneration is the generation KServe last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are knative-style conditions: Ready, PredictorReady, IngressReady, ...
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`

	// URL is the InferenceService's URL (http[s]://{name}.{namespace}.{domain} or, in Standard mode
	// without ingress, the predictor Service's cluster-local URL).
	// +optional
	URL string `json:"url,omitempty"`

	// Address is the cluster-local address (knative Addressable).
	// +optional
	Address *Addressable `json:"address,omitempty"`

	// ModelStatus is the predictor model's lifecycle.
	// +optional
	ModelStatus *ModelStatus `json:"modelStatus,omitempty"`

	// DeploymentMode is the deployment mode KServe used ("Standard", "Knative", ...).
	// +optional
	DeploymentMode string `json:"deploymentMode,omitempty"`
}

// Condition is a knative condition (knative.dev/pkg/apis.Condition), as KServe reports it.
type Condition struct {
	// Type is the condition's type, e.g. "Ready".
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

// Addressable is a knative duck-typed address.
type Addressable struct {
	// Name is the address's name.
	// +optional
	Name *string `json:"name,omitempty"`

	// URL is the address (e.g. http://name-predictor.namespace.svc.cluster.local).
	// +optional
	URL *string `json:"url,omitempty"`

	// CACerts are the PEM CA certificates for a TLS address.
	// +optional
	CACerts *string `json:"CACerts,omitempty"`

	// Audience is the OIDC audience for the address.
	// +optional
	Audience *string `json:"audience,omitempty"`
}

// TransitionStatus values: whether the predictor's endpoints reflect the current spec.
const (
	TransitionStatusUpToDate            = "UpToDate"
	TransitionStatusInProgress          = "InProgress"
	TransitionStatusBlockedByFailedLoad = "BlockedByFailedLoad"
	TransitionStatusInvalidSpec         = "InvalidSpec"
)

// Model states (ModelRevisionStates).
const (
	ModelStatePending      = "Pending"
	ModelStateStandby      = "Standby"
	ModelStateLoading      = "Loading"
	ModelStateLoaded       = "Loaded"
	ModelStateFailedToLoad = "FailedToLoad"
)

// Failure reasons (FailureInfo.Reason).
const (
	FailureReasonModelLoadFailed      = "ModelLoadFailed"
	FailureReasonRuntimeUnhealthy     = "RuntimeUnhealthy"
	FailureReasonRuntimeDisabled      = "RuntimeDisabled"
	FailureReasonNoSupportingRuntime  = "NoSupportingRuntime"
	FailureReasonRuntimeNotRecognized = "RuntimeNotRecognized"
	FailureReasonInvalidPredictorSpec = "InvalidPredictorSpec"
)

// ModelStatus is KServe's view of the predictor model's lifecycle.
type ModelStatus struct {
	// TransitionStatus is "UpToDate", "InProgress", "BlockedByFailedLoad" or "InvalidSpec".
	// +optional
	TransitionStatus string `json:"transitionStatus,omitempty"`

	// States are the active and target model states.
	// +optional
	States *ModelRevisionStates `json:"states,omitempty"`

	// LastFailureInfo is the last failure to load (or validate) the model.
	// +optional
	LastFailureInfo *FailureInfo `json:"lastFailureInfo,omitempty"`

	// Copies counts the model's copies.
	// +optional
	Copies *ModelCopies `json:"copies,omitempty"`
}

// ModelRevisionStates are the active and target model states: "Pending", "Standby", "Loading", "Loaded"
// or "FailedToLoad".
type ModelRevisionStates struct {
	// ActiveModelState is the state of the model serving traffic.
	// +optional
	ActiveModelState string `json:"activeModelState,omitempty"`

	// TargetModelState is the state of the model being rolled out ("" when none is).
	// +optional
	TargetModelState string `json:"targetModelState,omitempty"`
}

// FailureInfo is the last failure KServe saw.
type FailureInfo struct {
	// Location is what failed (usually a pod name).
	// +optional
	Location string `json:"location,omitempty"`

	// Reason is the failure's class, e.g. "ModelLoadFailed", "NoSupportingRuntime".
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message is the detailed error.
	// +optional
	Message string `json:"message,omitempty"`

	// ModelRevisionName is KServe's internal revision of the model.
	// +optional
	ModelRevisionName string `json:"modelRevisionName,omitempty"`

	// Time is when the failure happened or was discovered.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`

	// ExitCode is the container's last exit code.
	// +optional
	ExitCode int32 `json:"exitCode,omitempty"`
}

// ModelCopies counts the predictor model's copies.
type ModelCopies struct {
	// FailedCopies is how many copies failed to load recently.
	FailedCopies int `json:"failedCopies"`

	// TotalCopies is how many copies exist, in any state.
	// +optional
	TotalCopies int `json:"totalCopies,omitempty"`
}

func init() {
	SchemeBuilder.Register(&InferenceService{}, &InferenceServiceList{})
}
