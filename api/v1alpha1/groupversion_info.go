// Package v1alpha1 holds the GenAIPlatform API: one resource that declares a whole two-tier GenAI
// platform (a Tier One Envoy AI Gateway, Tier Two gateways in model clusters, KServe models, credentials).
// +kubebuilder:object:generate=true
// +groupName=platform.genai.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of the GenAIPlatform API.
	GroupVersion = schema.GroupVersion{Group: "platform.genai.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the GenAIPlatform types with a scheme.
	//lint:ignore SA1019 kubebuilder layout: the generated types register with it (init Register calls); the API packages are imported only by this operator
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the GenAIPlatform types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
