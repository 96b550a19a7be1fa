// Package v1beta1 holds the subset of Envoy AI Gateway's v1beta1 API (aigateway.envoyproxy.io) that the
// operator writes and reads. Envoy AI Gateway's Go module is not available to this project, so these types
// are written from its v1.1 CRDs; json names match the upstream schema exactly and every optional field is
// omitempty, so that server-side apply only ever sends what the operator means to own.
// +kubebuilder:object:generate=true
// +groupName=aigateway.envoyproxy.io
package v1beta1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupName is Envoy AI Gateway's API group.
const GroupName = "aigateway.envoyproxy.io"

var (
	GroupVersion  = schema.GroupVersion{Group: GroupName, Version: "v1beta1"}
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	AddToScheme   = SchemeBuilder.AddToScheme
)
