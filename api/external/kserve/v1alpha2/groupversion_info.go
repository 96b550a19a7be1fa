// Package v1alpha2 holds the subset of KServe's serving.kserve.io/v1alpha2 LLMInferenceService that the
// operator writes and reads.
//
// As for package v1beta1, KServe's own Go API packages cannot be imported (they need controller-runtime <
// v0.23, knative, keda and the llm-d autoscaler's APIs), so these minimal types are written from KServe
// v0.20.0's CRD (config/crd/full/llmisvc/serving.kserve.io_llminferenceservices.yaml, whose storage version
// is v1alpha2) and Go types (pkg/apis/serving/v1alpha2/llm_inference_service_types.go and
// llm_inference_service_lifecycle.go). The json names match KServe's exactly and every optional field is
// omitempty. LLMInferenceServices are only ever sent with server-side apply, so fields KServe knows and
// these types do not are never dropped. No CRD is generated from these types (+kubebuilder:skip); only
// deepcopy code is.
//
// +kubebuilder:object:generate=true
// +kubebuilder:skip
// +groupName=serving.kserve.io
package v1alpha2

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupName is KServe's API group.
const GroupName = "serving.kserve.io"

var (
	// GroupVersion is serving.kserve.io/v1alpha2, the storage version of LLMInferenceService in KServe v0.20.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha2"}

	// SchemeBuilder registers this package's kinds with a scheme.
	//lint:ignore SA1019 kubebuilder layout: the generated types register with it (init Register calls); the API packages are imported only by this operator
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
