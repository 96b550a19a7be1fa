package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GenAIModel is a model that a team owns and attaches to a GenAIPlatform: the name clients send, and the
// outside providers or the platform's GPUs that serve it. The team edits it in its own namespace, with
// no rights on the platform's; the platform serves it when its spec.allowedModels admits that namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=genaimodel;gaim,categories=genai
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Platform",type=string,JSONPath=`.spec.platformRef.name`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GenAIModel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GenAIModelSpec   `json:"spec"`
	Status GenAIModelStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// GenAIModelList is a list of GenAIModels.
type GenAIModelList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GenAIModel `json:"items"`
}

func init() {
	SchemeBuilder.Register(&GenAIModel{}, &GenAIModelList{})
}

// GenAIModelSpec is a team's model: a model as in a platform's spec.models, and the platform it attaches
// to. Its Secrets (a Hugging Face token, storage credentials, image pull Secrets) are in its own
// namespace: a reference to another namespace is refused.
//
// +kubebuilder:validation:XValidation:rule="has(self.selfHosted) || (has(self.routes) && size(self.routes) > 0)",message="a model needs selfHosted or at least one entry in routes"
// +kubebuilder:validation:XValidation:rule="!has(self.selfHosted) || !has(self.selfHosted.credentialsSecretRef) || !has(self.selfHosted.credentialsSecretRef.__namespace__)",message="spec.selfHosted.credentialsSecretRef.namespace: a team's model reads Secrets of its own namespace only"
// +kubebuilder:validation:XValidation:rule="!has(self.selfHosted) || !has(self.selfHosted.imagePullSecrets) || self.selfHosted.imagePullSecrets.all(s, !has(s.__namespace__))",message="spec.selfHosted.imagePullSecrets[].namespace: a team's model reads Secrets of its own namespace only"
type GenAIModelSpec struct {
	// PlatformRef is the GenAIPlatform that serves the model.
	PlatformRef PlatformReference `json:"platformRef"`

	// Name is what clients send in the "model" field of their requests. A name that the platform's own
	// spec.models, or an older GenAIModel, already serves is not taken over: this model then reports
	// Accepted=False, Conflicted.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._/:-]*$`
	Name string `json:"name"`

	// SelfHosted serves the model on the platform's GPUs with KServe: its placements name the platform's
	// model clusters and node pools.
	// +optional
	SelfHosted *SelfHostedModel `json:"selfHosted,omitempty"`

	// Routes send the model to the platform's outside providers.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Routes []ModelRoute `json:"routes,omitempty"`

	// Budget is the model's own token budget, for all the platform's clients together: it protects the
	// team's GPUs from any one burst of demand.
	// +optional
	Budget *ModelBudget `json:"budget,omitempty"`
}

// PlatformReference names a GenAIPlatform.
type PlatformReference struct {
	// Name of the GenAIPlatform.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Namespace of the GenAIPlatform; empty: the model's own.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// GenAIModelStatus is what the platform says of the model.
type GenAIModelStatus struct {
	// ObservedGeneration is the generation of the model last looked at by its platform.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Accepted says whether the platform serves the model (False: PlatformNotFound,
	// NotAllowed, Conflicted, InvalidReference); Ready whether it can serve requests now.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Routes are the backends currently routed to, as "provider:<name>" or "cluster:<name>/<pool>".
	// +optional
	Routes []string `json:"routes,omitempty"`

	// Versions are the state of each version, when selfHosted.versions is set.
	// +optional
	// +listType=map
	// +listMapKey=name
	Versions []VersionStatus `json:"versions,omitempty"`
}

// AllowedModels says which namespaces' GenAIModels may attach to a platform, as a Gateway's
// allowedRoutes does for routes.
type AllowedModels struct {
	// Namespaces whose GenAIModels are admitted.
	// +optional
	// +kubebuilder:default={from: Same}
	Namespaces ModelNamespaces `json:"namespaces,omitempty"`
}

// FromNamespaces says where admitted GenAIModels may live.
// +kubebuilder:validation:Enum=Same;Selector;All
type FromNamespaces string

// Where GenAIModels may live.
const (
	// FromSame admits the platform's own namespace.
	FromSame FromNamespaces = "Same"
	// FromSelector admits the namespaces that match the selector.
	FromSelector FromNamespaces = "Selector"
	// FromAll admits every namespace.
	FromAll FromNamespaces = "All"
)

// ModelNamespaces selects namespaces.
//
// +kubebuilder:validation:XValidation:rule="self.from != 'Selector' || has(self.selector)",message="spec.allowedModels.namespaces.selector is required when from is Selector"
type ModelNamespaces struct {
	// From is Same (the platform's namespace), Selector (namespaces matching selector) or All.
	// +optional
	// +kubebuilder:default=Same
	From FromNamespaces `json:"from,omitempty"`
	// Selector selects namespaces by their labels, when from is Selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// The conditions and reasons of a GenAIModel.
const (
	ConditionAccepted = "Accepted"

	ReasonModelAccepted    = "Accepted"
	ReasonPlatformNotFound = "PlatformNotFound"
	ReasonNotAllowed       = "NotAllowed"
	ReasonConflicted       = "Conflicted"
	ReasonInvalidReference = "InvalidReference"
)
