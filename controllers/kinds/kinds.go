// Package kinds is the one registry of the kinds of object the operator creates. Each kind is declared
// once, here, with where it lives, how it is cached, and how its own controller reports on it; the
// watches, the prune, the CRD-presence check, the remote clusters' caches, status and the tests all read
// this list. Adding a kind means adding an entry here and the render function that makes its objects.
package kinds

import (
	"maps"
	"reflect"
	"slices"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	kservev1a2 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1alpha2"
	kservev1b1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
)

// Kind is one kind of child object.
type Kind struct {
	GVK schema.GroupVersionKind
	// Resource is the kind's plural resource name, as RBAC names it.
	Resource string
	// New and NewList make an empty object and list of the kind.
	New     func() client.Object
	NewList func() client.ObjectList
	// InModelClusters: render also writes this kind into model clusters (Tier Two and models), so a
	// remote cluster's cache watches it and config/rbac/model-cluster grants it.
	InModelClusters bool
	// Readiness says how the kind's own controller reports on it; nil: nothing reports (Secrets,
	// Namespaces, EnvoyProxies), so existing is enough.
	Readiness *Readiness
	// PruneFirst orders deletion, because Envoy AI Gateway v1.1's finalizers need other objects and are
	// lost on a conflict: every object of the kinds with the highest PruneFirst is deleted, and gone,
	// before the next are deleted; 0 (most kinds) go last, together. Its controller does not retry a
	// finalizer removal refused on a conflict (envoyproxy/ai-gateway#2565), and its watches pass only
	// generation changes, so an object whose removal conflicts stays Terminating for good. So:
	//   - AIGatewayRoutes (2) go before everything: the controller reconciles a route before releasing its
	//     finalizer, and with the route's AIServiceBackends already gone that reconcile writes
	//     NotAccepted, and the finalizer update that follows conflicts;
	//   - BackendSecurityPolicies (1) go once the routes are gone: deleting a policy syncs its
	//     AIServiceBackends, which sync their routes; a route being deleted then is reconciled twice at
	//     once, and its finalizer update conflicts (measured twice in the simulated cluster's deletion
	//     step); and an AIServiceBackend deleted at the same time as its policy conflicts the same way.
	PruneFirst int
	// Optional: only some platforms use the kind, so a cluster without its CRD is not at fault until one
	// of its objects is wanted there (a remote model cluster is not reported CRDNotInstalled for it; the
	// placement that needs it is). KServe's LLMInferenceService ships apart from KServe's manager, with its
	// own controller and CRDs (config/llmisvc in KServe v0.20).
	Optional bool
}

// Controller names the controller that reports on a kind.
type Controller string

// The controllers whose statuses the operator reads.
const (
	EnvoyGateway   Controller = "Envoy Gateway"
	EnvoyAIGateway Controller = "Envoy AI Gateway"
	KServe         Controller = "KServe"
)

// Shape is where and how a kind's controller writes its conditions.
type Shape int

const (
	// Conditions: status.conditions, each with the observedGeneration it was computed for (Gateway API
	// and Envoy Gateway objects).
	Conditions Shape = iota
	// Parents: status.parents[].conditions, one entry per parent Gateway (HTTPRoute).
	Parents
	// Ancestors: status.ancestors[].conditions, one entry per object the policy attaches to (Envoy
	// Gateway's policies, BackendTLSPolicy).
	Ancestors
	// AIGateway: status.conditions holds exactly one condition, {Accepted, True} or {NotAccepted,
	// False} with the error as message, and never an observedGeneration (Envoy AI Gateway v1.1,
	// internal/controller/controller.go newConditions). Its lastTransitionTime is the time of the
	// controller's last reconcile of the object.
	AIGateway
	// GenerationInStatus: status.conditions with the generation in status.observedGeneration (KServe).
	GenerationInStatus
)

// Readiness is a kind's readiness rule.
type Readiness struct {
	Shape Shape
	// Want are the condition types that must be True.
	Want []string
	// Controller is named when the object has no status yet.
	Controller Controller
	// OnlyRefusal: a missing status is not waited for, only a refusal counts. Policies report only once
	// the object they attach to is processed, and BackendTLSPolicy only once a route uses the backend.
	OnlyRefusal bool
}

func accepted(shape Shape, c Controller) *Readiness {
	return &Readiness{Shape: shape, Want: []string{"Accepted"}, Controller: c}
}

func policy() *Readiness {
	return &Readiness{Shape: Ancestors, Want: []string{"Accepted"}, Controller: EnvoyGateway, OnlyRefusal: true}
}

func kind[T client.Object, L client.ObjectList](gvk schema.GroupVersionKind, resource string, newObj func() T, newList func() L) Kind {
	return Kind{GVK: gvk, Resource: resource,
		New:     func() client.Object { return newObj() },
		NewList: func() client.ObjectList { return newList() }}
}

func (k Kind) inModelClusters() Kind   { k.InModelClusters = true; return k }
func (k Kind) ready(r *Readiness) Kind { k.Readiness = r; return k }
func (k Kind) pruneFirst(n int) Kind   { k.PruneFirst = n; return k }
func (k Kind) optional() Kind          { k.Optional = true; return k }

var (
	gw  = schema.GroupVersion{Group: gwapiv1.GroupName, Version: gwapiv1.GroupVersion.Version}
	eg  = egv1a1.GroupVersion
	aig = aigv1b1.GroupVersion
)

// The RBAC markers of the child kinds, one per entry of All: controller-gen reads them into
// config/rbac/role.yaml, and a test checks that the role and the registry agree. Secrets have no update:
// every write is a server-side apply, never a PUT (an apply that creates is authorized as create).
//
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.envoyproxy.io,resources=envoyproxies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.envoyproxy.io,resources=clienttrafficpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.envoyproxy.io,resources=securitypolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=aigateway.envoyproxy.io,resources=gatewayconfigs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=aigateway.envoyproxy.io,resources=aiservicebackends,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=aigateway.envoyproxy.io,resources=backendsecuritypolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=aigateway.envoyproxy.io,resources=aigatewayroutes,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.envoyproxy.io,resources=backends,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=backendtlspolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.envoyproxy.io,resources=backendtrafficpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=serving.kserve.io,resources=inferenceservices,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=serving.kserve.io,resources=llminferenceservices,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch;delete

// All are the child kinds, in the order status checks a component's children: a kind whose controller's
// silence explains another's comes first. Envoy Gateway processes a Backend only once a route refers to
// it, and those routes come from Envoy AI Gateway, so the AI Gateway kinds come before Backend: a
// missing AI Gateway controller is named as such, not reported as Envoy Gateway's silence. Prune deletes
// in this order too; Namespace is last, so a namespace the operator made goes once all in it is gone.
var All = []Kind{
	kind(gw.WithKind("GatewayClass"), "gatewayclasses", func() *gwapiv1.GatewayClass { return &gwapiv1.GatewayClass{} }, func() *gwapiv1.GatewayClassList { return &gwapiv1.GatewayClassList{} }).
		inModelClusters().ready(accepted(Conditions, EnvoyGateway)),
	kind(eg.WithKind("EnvoyProxy"), "envoyproxies", func() *egv1a1.EnvoyProxy { return &egv1a1.EnvoyProxy{} }, func() *egv1a1.EnvoyProxyList { return &egv1a1.EnvoyProxyList{} }).
		inModelClusters(),
	kind(gw.WithKind("Gateway"), "gateways", func() *gwapiv1.Gateway { return &gwapiv1.Gateway{} }, func() *gwapiv1.GatewayList { return &gwapiv1.GatewayList{} }).
		inModelClusters().ready(&Readiness{Shape: Conditions, Want: []string{"Accepted", "Programmed"}, Controller: EnvoyGateway}),
	kind(eg.WithKind("ClientTrafficPolicy"), "clienttrafficpolicies", func() *egv1a1.ClientTrafficPolicy { return &egv1a1.ClientTrafficPolicy{} }, func() *egv1a1.ClientTrafficPolicyList { return &egv1a1.ClientTrafficPolicyList{} }).
		ready(policy()),
	kind(eg.WithKind("SecurityPolicy"), "securitypolicies", func() *egv1a1.SecurityPolicy { return &egv1a1.SecurityPolicy{} }, func() *egv1a1.SecurityPolicyList { return &egv1a1.SecurityPolicyList{} }).
		inModelClusters().ready(policy()),
	kind(aig.WithKind("GatewayConfig"), "gatewayconfigs", func() *aigv1b1.GatewayConfig { return &aigv1b1.GatewayConfig{} }, func() *aigv1b1.GatewayConfigList { return &aigv1b1.GatewayConfigList{} }).
		ready(&Readiness{Shape: AIGateway, Want: []string{"Accepted"}, Controller: EnvoyAIGateway, OnlyRefusal: true}),
	kind(aig.WithKind("AIServiceBackend"), "aiservicebackends", func() *aigv1b1.AIServiceBackend { return &aigv1b1.AIServiceBackend{} }, func() *aigv1b1.AIServiceBackendList { return &aigv1b1.AIServiceBackendList{} }).
		ready(accepted(AIGateway, EnvoyAIGateway)),
	// Pruned before the AIServiceBackends, after the routes (PruneFirst says why).
	kind(aig.WithKind("BackendSecurityPolicy"), "backendsecuritypolicies", func() *aigv1b1.BackendSecurityPolicy { return &aigv1b1.BackendSecurityPolicy{} }, func() *aigv1b1.BackendSecurityPolicyList { return &aigv1b1.BackendSecurityPolicyList{} }).
		ready(accepted(AIGateway, EnvoyAIGateway)).pruneFirst(1),
	kind(aig.WithKind("AIGatewayRoute"), "aigatewayroutes", func() *aigv1b1.AIGatewayRoute { return &aigv1b1.AIGatewayRoute{} }, func() *aigv1b1.AIGatewayRouteList { return &aigv1b1.AIGatewayRouteList{} }).
		ready(accepted(AIGateway, EnvoyAIGateway)).pruneFirst(2),
	kind(eg.WithKind("Backend"), "backends", func() *egv1a1.Backend { return &egv1a1.Backend{} }, func() *egv1a1.BackendList { return &egv1a1.BackendList{} }).
		ready(accepted(Conditions, EnvoyGateway)),
	kind(gw.WithKind("BackendTLSPolicy"), "backendtlspolicies", func() *gwapiv1.BackendTLSPolicy { return &gwapiv1.BackendTLSPolicy{} }, func() *gwapiv1.BackendTLSPolicyList { return &gwapiv1.BackendTLSPolicyList{} }).
		ready(policy()),
	kind(eg.WithKind("BackendTrafficPolicy"), "backendtrafficpolicies", func() *egv1a1.BackendTrafficPolicy { return &egv1a1.BackendTrafficPolicy{} }, func() *egv1a1.BackendTrafficPolicyList { return &egv1a1.BackendTrafficPolicyList{} }).
		ready(policy()),
	kind(gw.WithKind("HTTPRoute"), "httproutes", func() *gwapiv1.HTTPRoute { return &gwapiv1.HTTPRoute{} }, func() *gwapiv1.HTTPRouteList { return &gwapiv1.HTTPRouteList{} }).
		inModelClusters().ready(&Readiness{Shape: Parents, Want: []string{"Accepted", "ResolvedRefs"}, Controller: EnvoyGateway}),
	kind(kservev1b1.GroupVersion.WithKind("InferenceService"), "inferenceservices", func() *kservev1b1.InferenceService { return &kservev1b1.InferenceService{} }, func() *kservev1b1.InferenceServiceList { return &kservev1b1.InferenceServiceList{} }).
		inModelClusters().ready(&Readiness{Shape: GenerationInStatus, Want: []string{"Ready"}, Controller: KServe}),
	// KServe's LLM serving (a version with engine LLMInferenceService). Its Ready is not wanted: Ready rolls
	// up RouterReady, whose InferencePoolReady KServe v0.20 sets True only once a Gateway of the service's
	// own routes has accepted the InferencePool (pkg/controller/v1alpha2/llmisvc/router.go
	// EvaluateInferencePoolConditions). The operator gives it no route of KServe's (the Tier Two HTTPRoute
	// is the operator's), so Ready stays False (InferencePoolReady WaitingForGateway) however well it
	// serves; and that route sends traffic only to Ready versions, so waiting for the pool's acceptance
	// would never let a new version in. What is wanted is what the version needs to take traffic: its
	// presets found and merged, its model server available (WorkloadsReady: MainWorkloadReady, and
	// ScalingReady when it autoscales), and its endpoint picker available. Tier Two's own HTTPRoute status
	// (ResolvedRefs) says whether Envoy Gateway resolved the InferencePool.
	kind(kservev1a2.GroupVersion.WithKind("LLMInferenceService"), "llminferenceservices", func() *kservev1a2.LLMInferenceService { return &kservev1a2.LLMInferenceService{} }, func() *kservev1a2.LLMInferenceServiceList { return &kservev1a2.LLMInferenceServiceList{} }).
		inModelClusters().optional().ready(&Readiness{Shape: GenerationInStatus, Controller: KServe, Want: []string{
		kservev1a2.ConditionPresetsCombined, kservev1a2.ConditionWorkloadsReady, kservev1a2.ConditionSchedulerWorkloadReady}}),
	kind(corev1.SchemeGroupVersion.WithKind("Secret"), "secrets", func() *corev1.Secret { return &corev1.Secret{} }, func() *corev1.SecretList { return &corev1.SecretList{} }).
		inModelClusters(),
	kind(corev1.SchemeGroupVersion.WithKind("Namespace"), "namespaces", func() *corev1.Namespace { return &corev1.Namespace{} }, func() *corev1.NamespaceList { return &corev1.NamespaceList{} }).
		inModelClusters(),
}

// Of returns the registry entry of an object's kind, found by its Go type. The second result is false
// for a type that is not a child kind.
func Of(obj client.Object) (Kind, bool) {
	k, ok := byType[typeName(obj)]
	return k, ok
}

// ModelCluster are the kinds render writes into model clusters.
func ModelCluster() []Kind {
	var out []Kind
	for _, k := range All {
		if k.InModelClusters {
			out = append(out, k)
		}
	}
	return out
}

// Name is how a kind is named in conditions: "AIGatewayRoute (aigateway.envoyproxy.io/v1beta1)".
func (k Kind) Name() string { return k.GVK.Kind + " (" + k.GVK.GroupVersion().String() + ")" }

var byType = func() map[string]Kind {
	m := map[string]Kind{}
	for _, k := range All {
		m[typeName(k.New())] = k
	}
	return m
}()

func typeName(obj client.Object) string { return reflect.TypeOf(obj).String() }

// PruneStages are the kinds' PruneFirst values, highest first, ending with 0: the order of deletion.
func PruneStages() []int {
	seen := map[int]bool{0: true}
	for _, k := range All {
		seen[k.PruneFirst] = true
	}
	out := slices.Sorted(maps.Keys(seen))
	slices.Reverse(out)
	return out
}
