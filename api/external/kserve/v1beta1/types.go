// Package v1beta1 holds the subset of KServe's serving.kserve.io/v1beta1 InferenceService the operator
// writes and reads. KServe's own Go API packages need controller-runtime v0.22 and k8s.io v0.34 (and pull
// in knative, keda and cloud SDKs), which do not build with this project's controller-runtime v0.25, so
// these minimal types are written from KServe v0.20's CRD. They are only ever sent with server-side apply,
// never with a full Update, so fields KServe knows and these types do not are never dropped.
// +kubebuilder:object:generate=true
// +kubebuilder:skip
// +groupName=serving.kserve.io
package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	GroupVersion  = schema.GroupVersion{Group: "serving.kserve.io", Version: "v1beta1"}
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	AddToScheme   = SchemeBuilder.AddToScheme
)

// InferenceService serves a model.
// +kubebuilder:object:root=true
type InferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              InferenceServiceSpec   `json:"spec,omitempty"`
	Status            InferenceServiceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// InferenceServiceList is a list of InferenceServices.
type InferenceServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferenceService `json:"items"`
}

// InferenceServiceSpec is the spec (predictor only).
type InferenceServiceSpec struct {
	Predictor PredictorSpec `json:"predictor"`
}

// PredictorSpec runs the model server.
type PredictorSpec struct {
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	// +optional
	MaxReplicas int32 `json:"maxReplicas,omitempty"`
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// +optional
	Model *ModelSpec `json:"model,omitempty"`
}

// ModelSpec is the predictor's model and its server container.
type ModelSpec struct {
	ModelFormat ModelFormat `json:"modelFormat"`
	// +optional
	Runtime *string `json:"runtime,omitempty"`
	// +optional
	StorageURI *string `json:"storageUri,omitempty"`
	// +optional
	ProtocolVersion *string `json:"protocolVersion,omitempty"`
	// +optional
	Args []string `json:"args,omitempty"`
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ModelFormat names the model's format (huggingface).
type ModelFormat struct {
	Name string `json:"name"`
	// +optional
	Version *string `json:"version,omitempty"`
}

// InferenceServiceStatus is what KServe reports.
type InferenceServiceStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
	// +optional
	URL string `json:"url,omitempty"`
	// +optional
	ModelStatus *ModelStatus `json:"modelStatus,omitempty"`
}

// Condition is a knative-style condition (KServe's).
type Condition struct {
	Type   string                 `json:"type"`
	Status corev1.ConditionStatus `json:"status"`
	// +optional
	Severity string `json:"severity,omitempty"`
	// +optional
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// ModelStatus is KServe's view of the model's lifecycle.
type ModelStatus struct {
	// +optional
	TransitionStatus string `json:"transitionStatus,omitempty"`
	// +optional
	States *ModelRevisionStates `json:"states,omitempty"`
	// +optional
	LastFailureInfo *FailureInfo `json:"lastFailureInfo,omitempty"`
}

// ModelRevisionStates are the active and target model states.
type ModelRevisionStates struct {
	// +optional
	ActiveModelState string `json:"activeModelState,omitempty"`
	// +optional
	TargetModelState string `json:"targetModelState,omitempty"`
}

// FailureInfo is the last failure KServe saw.
type FailureInfo struct {
	// +optional
	Location string `json:"location,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	ModelRevisionName string `json:"modelRevisionName,omitempty"`
	// +optional
	ExitCode int32 `json:"exitCode,omitempty"`
}

func init() {
	SchemeBuilder.Register(&InferenceService{}, &InferenceServiceList{})
}
