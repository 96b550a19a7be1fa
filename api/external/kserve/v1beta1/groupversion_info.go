// Package v1beta1 holds the subset of KServe's serving.kserve.io/v1beta1 InferenceService that the operator
// writes and reads.
//
// KServe's own Go API packages need controller-runtime < v0.23 (and pull in knative, keda and cloud SDKs),
// which does not build with this project's controller-runtime, so these minimal types are written from
// KServe v0.20.0's CRD (config/crd/full/serving.kserve.io_inferenceservices.yaml) and Go types
// (pkg/apis/serving/v1beta1). The json names match KServe's exactly and every optional field is omitempty.
// InferenceServices are only ever sent with server-side apply, never with a full Update, so fields KServe
// knows and these types do not are never dropped. No CRD is generated from these types (+kubebuilder:skip);
// only deepcopy code is.
//
// +kubebuilder:object:generate=true
// +kubebuilder:skip
// +groupName=serving.kserve.io
package v1beta1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupName is KServe's API group.
const GroupName = "serving.kserve.io"

var (
	// GroupVersion is serving.kserve.io/v1beta1.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1beta1"}

	// SchemeBuilder registers this package's kinds with a scheme.
	//lint:ignore SA1019 kubebuilder layout: the generated types register with it (init Register calls); the API packages are imported only by this operator
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
