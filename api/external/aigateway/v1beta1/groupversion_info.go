// Package v1beta1 holds the subset of Envoy AI Gateway's v1beta1 API (aigateway.envoyproxy.io) that the
// operator writes and reads: AIGatewayRoute, AIServiceBackend, BackendSecurityPolicy and GatewayConfig.
//
// Envoy AI Gateway's Go module is not available to this project, so these types are written from its
// v1.1.0 CRDs. The json names match the upstream schema exactly, and every optional field is omitempty
// (optional structs and scalars are pointers), so that marshalling a value never emits a zero value the
// operator did not set: these objects are sent with server-side apply, where every field sent is a field
// owned. The kubebuilder markers mirror the upstream CRDs closely enough for controller-gen to generate a
// fallback CRD from these types (make manifests); the upstream CRDs remain the reference.
//
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
	// GroupVersion is aigateway.envoyproxy.io/v1beta1.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1beta1"}

	// SchemeBuilder registers this package's kinds with a scheme.
	//lint:ignore SA1019 kubebuilder layout: the generated types register with it (init Register calls); the API packages are imported only by this operator
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
