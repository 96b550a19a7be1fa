// Package status rolls the state of a platform's children up into the GenAIPlatform's status. It is pure:
// Compute takes what the reconciler observed and returns the new status, so every rule here is shown by a
// table test.
package status

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// Reasons used in conditions and component entries.
const (
	ReasonReady                = "Ready"
	ReasonWaitingForGateway    = "WaitingForGatewayController"
	ReasonWaitingForAIGateway  = "WaitingForAIGatewayController"
	ReasonNotAccepted          = "NotAccepted"
	ReasonCRDNotInstalled      = "CRDNotInstalled"
	ReasonApplyFailed          = "ApplyFailed"
	ReasonInvalidSpec          = "InvalidSpec"
	ReasonNoUsableBackend      = "NoUsableBackend"
	ReasonProviderNotReady     = "ProviderNotReady"
	ReasonGatewayNotReady      = "GatewayNotReady"
	ReasonReconciling          = "Reconciling"
	ReasonSecretNotFound       = "SecretNotFound"
	ReasonSecretKeyNotFound    = "SecretKeyNotFound"
	ReasonCrossNamespaceSecret = "CrossNamespaceSecretRefNotAllowed"
	ReasonClusterUnreachable   = "ClusterUnreachable"
	ReasonKubeconfigInvalid    = "KubeconfigInvalid"
	ReasonCleanupBlocked       = "CleanupBlocked"
	ReasonWaitingForAddress    = "WaitingForTierTwoAddress"
	ReasonNoPlacementReady     = "NoPlacementReady"
	ReasonClientKeysNotFound   = "ClientKeysNotFound"
	ReasonClientKeysEmpty      = "ClientKeysEmpty"
)

// Problem is a reason and a message for a part that is not ready. Messages never hold Secret values.
type Problem struct {
	Reason  string
	Message string
	// Stalled marks problems only a human can fix (a missing Secret, an invalid spec): kstatus' Stalled.
	Stalled bool
}

// Child is the observed state of one child object.
type Child struct {
	// Exists is false when the object is not (yet) in the cluster.
	Exists     bool
	Generation int64
	Conditions []metav1.Condition
}

// Placement is the observed state of one placement's InferenceService.
type Placement struct {
	Exists, Ready   bool
	Reason, Message string
}

// Input is what Compute needs.
type Input struct {
	Platform *platformv1.GenAIPlatform

	// Invalid, when set, is a spec error found after admission (for example a cross-namespace Secret
	// reference): nothing was applied.
	Invalid *Problem

	// ProviderProblems are credential problems, by provider name.
	ProviderProblems map[string]Problem

	// MissingKinds are child kinds whose CRDs are not installed, as "Kind (group/version)".
	MissingKinds []string

	// ApplyError is the first error met while applying or pruning, if any.
	ApplyError error

	// Routes says, by model name, which backends Tier One routes the model to ("provider:<name>").
	Routes map[string][]string

	// Children are the observed children, keyed by ChildKey(kind, name).
	Children map[string]Child

	// GatewayAddresses are the Tier One Gateway's status addresses.
	GatewayAddresses []string

	// Names of the children the status looks at.
	GatewayClassName string // empty when the user brings their own GatewayClass
	GatewayName      string
	ProviderObjects  func(provider string) []string // child keys whose readiness makes the provider ready
	RouteOfModel     map[string]string              // model name -> AIGatewayRoute name

	// Model clusters: problems (unsupported, unreachable), the Tier Two Gateways, the addresses Tier One
	// uses, the Tier One link objects whose acceptance makes the link ready, and each placement's state.
	ClusterProblems map[string]Problem
	TierTwoGateways map[string]Child
	ClusterAddress  func(cluster string) string
	ClusterObjects  func(cluster string) []string
	Placements      map[string]Placement // by render.PlacementKey
	ModelProblems   map[string]Problem

	// GatewayProblem is a problem of the Tier One gateway's own configuration (client keys).
	GatewayProblem *Problem
}

// ChildKey identifies a child in Input.Children.
func ChildKey(kind, name string) string { return kind + "/" + name }

// Compute returns the platform's new status. It starts from the current one so that conditions keep
// their lastTransitionTime while unchanged.
func Compute(in Input) platformv1.GenAIPlatformStatus {
	p := in.Platform
	st := *p.Status.DeepCopy()
	st.Endpoint = endpoint(p, in.GatewayAddresses)

	if in.Invalid != nil {
		setAll(&st, p, metav1.ConditionFalse, in.Invalid.Reason, in.Invalid.Message)
		markStalled(&st, p, in.Invalid.Reason, in.Invalid.Message)
		return st
	}

	gw := gatewayCondition(in)
	providers, provCond := providerStatuses(in)
	clusters, clustersCond := clusterStatuses(in)
	models, ready, modelsCond := modelStatuses(in, providers, clusters, gw.ok)
	st.ModelClusters = clusters

	st.Providers = providers
	st.Models = models
	st.ReadyModels = int32(ready)
	st.TotalModels = int32(len(p.Spec.Models))
	st.ModelsSummary = fmt.Sprintf("%d/%d", ready, len(p.Spec.Models))
	parts := []struct {
		typ string
		c   cond
	}{
		{platformv1.ConditionGatewayReady, gw},
		{platformv1.ConditionProvidersReady, provCond},
		{platformv1.ConditionModelClustersReady, clustersCond},
		{platformv1.ConditionModelsReady, modelsCond},
	}
	// ModelClustersReady is there only when the spec has model clusters.
	if len(p.Spec.ModelClusters) == 0 {
		meta.RemoveStatusCondition(&st.Conditions, platformv1.ConditionModelClustersReady)
		parts = append(parts[:2], parts[3])
	}
	readyCond := cond{ok: true, reason: ReasonReady, message: "The platform serves " + st.ModelsSummary + " models at " + orNone(st.Endpoint)}
	// Ready names the first part that holds it back, preferring one only a human can fix (stalled) over
	// one that is merely waiting for a controller.
	stalled := false
	for _, part := range parts {
		set(&st, p, part.typ, part.c)
		switch {
		case part.c.stalled && !stalled:
			readyCond = cond{reason: part.c.reason, message: part.typ + ": " + part.c.message}
			stalled = true
		case !part.c.ok && readyCond.ok:
			readyCond = cond{reason: part.c.reason, message: part.typ + ": " + part.c.message}
		}
	}
	if in.ApplyError != nil {
		readyCond = cond{reason: ReasonApplyFailed, message: in.ApplyError.Error()}
	}
	set(&st, p, platformv1.ConditionReady, readyCond)

	switch {
	case readyCond.ok:
		meta.RemoveStatusCondition(&st.Conditions, platformv1.ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, platformv1.ConditionStalled)
	case stalled:
		markStalled(&st, p, readyCond.reason, readyCond.message)
	default:
		meta.RemoveStatusCondition(&st.Conditions, platformv1.ConditionStalled)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: platformv1.ConditionReconciling, Status: metav1.ConditionTrue, ObservedGeneration: p.Generation,
			Reason: readyCond.reason, Message: readyCond.message,
		})
	}
	return st
}

type cond struct {
	ok              bool
	stalled         bool
	reason, message string
}

func set(st *platformv1.GenAIPlatformStatus, p *platformv1.GenAIPlatform, typ string, c cond) {
	s := metav1.ConditionFalse
	if c.ok {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: typ, Status: s, ObservedGeneration: p.Generation, Reason: c.reason, Message: truncate(c.message),
	})
}

func setAll(st *platformv1.GenAIPlatformStatus, p *platformv1.GenAIPlatform, s metav1.ConditionStatus, reason, msg string) {
	for _, t := range []string{platformv1.ConditionReady, platformv1.ConditionGatewayReady, platformv1.ConditionProvidersReady, platformv1.ConditionModelsReady} {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, ObservedGeneration: p.Generation, Reason: reason, Message: truncate(msg)})
	}
}

func markStalled(st *platformv1.GenAIPlatformStatus, p *platformv1.GenAIPlatform, reason, msg string) {
	meta.RemoveStatusCondition(&st.Conditions, platformv1.ConditionReconciling)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: platformv1.ConditionStalled, Status: metav1.ConditionTrue, ObservedGeneration: p.Generation,
		Reason: reason, Message: truncate(msg),
	})
}

// gatewayCondition: the Tier One Gateway is ready when Envoy Gateway has accepted and programmed it (and
// its GatewayClass, when the operator manages it) for the current generation.
func gatewayCondition(in Input) cond {
	if prob := in.GatewayProblem; prob != nil {
		return cond{reason: prob.Reason, message: prob.Message, stalled: prob.Stalled}
	}
	if c, bad := missing(in, "GatewayClass", "Gateway", "EnvoyProxy", "ClientTrafficPolicy"); bad {
		return c
	}
	if in.GatewayClassName != "" {
		if c := accepted(in, "GatewayClass", in.GatewayClassName, []string{"Accepted"}, ReasonWaitingForGateway, "Envoy Gateway"); !c.ok {
			return c
		}
	}
	if c := accepted(in, "Gateway", in.GatewayName, []string{"Accepted", "Programmed"}, ReasonWaitingForGateway, "Envoy Gateway"); !c.ok {
		return c
	}
	if c, bad := refusedPolicy(in); bad {
		return c
	}
	return cond{ok: true, reason: ReasonReady, message: "Gateway " + in.GatewayName + " is accepted and programmed"}
}

// gatewayPolicyKinds are the Envoy Gateway policies at Tier One (client traffic, client auth, token
// limits, retries). They report per ancestor and only once Envoy Gateway processed them, so a missing
// status does not hold readiness back; but a policy Envoy Gateway refuses breaks the gateway: a refused
// rate-limit policy (no Redis backend configured) makes Envoy answer 500 on every route it targets.
var gatewayPolicyKinds = []string{"ClientTrafficPolicy", "SecurityPolicy", "BackendTrafficPolicy"}

// refusedPolicy finds a Tier One policy whose Accepted condition is False for its current generation.
func refusedPolicy(in Input) (cond, bool) {
	keys := make([]string, 0, len(in.Children))
	for k := range in.Children {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kind, name, _ := strings.Cut(k, "/")
		if !slices.Contains(gatewayPolicyKinds, kind) {
			continue
		}
		ch := in.Children[k]
		for _, c := range ch.Conditions {
			stale := c.ObservedGeneration != 0 && ch.Generation != 0 && c.ObservedGeneration < ch.Generation
			if c.Type == "Accepted" && c.Status == metav1.ConditionFalse && !stale {
				return cond{reason: ReasonNotAccepted, message: fmt.Sprintf("%s %s is not accepted by Envoy Gateway: %s: %s", kind, name, c.Reason, c.Message)}, true
			}
		}
	}
	return cond{}, false
}

// accepted checks that a child reports each wanted condition True for its current generation. A child
// with no such condition is waiting for its controller, which is said by name.
func accepted(in Input, kind, name string, want []string, waitingReason, controller string) cond {
	ch, ok := in.Children[ChildKey(kind, name)]
	if !ok || !ch.Exists {
		return cond{reason: ReasonReconciling, message: kind + " " + name + " does not exist yet"}
	}
	for _, t := range want {
		c := meta.FindStatusCondition(ch.Conditions, t)
		switch {
		case c == nil || c.Status == metav1.ConditionUnknown:
			return cond{reason: waitingReason, message: fmt.Sprintf("%s %s has no %s status yet: waiting for the %s controller", kind, name, t, controller)}
		case c.Status == metav1.ConditionFalse:
			return cond{reason: ReasonNotAccepted, message: fmt.Sprintf("%s %s is not %s: %s: %s", kind, name, t, c.Reason, c.Message)}
		case c.ObservedGeneration != 0 && ch.Generation != 0 && c.ObservedGeneration < ch.Generation:
			return cond{reason: waitingReason, message: fmt.Sprintf("%s %s: the %s controller has not yet processed generation %d", kind, name, controller, ch.Generation)}
		}
	}
	return cond{ok: true}
}

func missing(in Input, kinds ...string) (cond, bool) {
	for _, mk := range in.MissingKinds {
		for _, k := range kinds {
			if strings.HasPrefix(mk, k+" ") {
				return cond{reason: ReasonCRDNotInstalled, stalled: true, message: "the CRD of " + mk + " is not installed"}, true
			}
		}
	}
	return cond{}, false
}

func providerStatuses(in Input) ([]platformv1.ProviderStatus, cond) {
	p := in.Platform
	out := make([]platformv1.ProviderStatus, 0, len(p.Spec.Providers))
	overall := cond{ok: true, reason: ReasonReady, message: fmt.Sprintf("%d providers ready", len(p.Spec.Providers))}
	for _, pr := range p.Spec.Providers {
		c := providerCondition(in, pr.Name)
		out = append(out, platformv1.ProviderStatus{ComponentStatus: component(pr.Name, c)})
		if !c.ok && overall.ok {
			overall = cond{reason: c.reason, message: "provider " + pr.Name + ": " + c.message, stalled: c.stalled}
		}
		overall.stalled = overall.stalled || c.stalled
	}
	return out, overall
}

func providerCondition(in Input, name string) cond {
	if prob, bad := in.ProviderProblems[name]; bad {
		return cond{reason: prob.Reason, message: prob.Message, stalled: prob.Stalled}
	}
	if c, bad := missing(in, "AIServiceBackend", "BackendSecurityPolicy", "Backend", "BackendTLSPolicy"); bad {
		return c
	}
	for _, key := range in.ProviderObjects(name) {
		kind, obj, _ := strings.Cut(key, "/")
		controller, reason := "Envoy AI Gateway", ReasonWaitingForAIGateway
		if kind == "Backend" {
			controller, reason = "Envoy Gateway", ReasonWaitingForGateway
		}
		if c := accepted(in, kind, obj, []string{"Accepted"}, reason, controller); !c.ok {
			return c
		}
	}
	return cond{ok: true, reason: ReasonReady, message: "accepted by Envoy AI Gateway and Envoy Gateway"}
}

func modelStatuses(in Input, providers []platformv1.ProviderStatus, clusters []platformv1.ModelClusterStatus, gatewayReady bool) ([]platformv1.ModelStatus, int, cond) {
	p := in.Platform
	providerReady := map[string]bool{}
	for _, ps := range providers {
		providerReady[ps.Name] = ps.Ready
	}
	clusterReady := map[string]bool{}
	for _, cs := range clusters {
		clusterReady[cs.Name] = cs.Ready
	}
	out := make([]platformv1.ModelStatus, 0, len(p.Spec.Models))
	ready := 0
	overall := cond{ok: true, reason: ReasonReady}
	for _, m := range p.Spec.Models {
		routes := in.Routes[m.Name]
		c := modelCondition(in, &m, routes, providerReady, clusterReady)
		if c.ok && !gatewayReady {
			c = cond{reason: ReasonGatewayNotReady, message: "the Tier One gateway is not ready"}
		}
		if c.ok {
			ready++
		} else if overall.ok {
			overall = cond{reason: c.reason, message: "model " + m.Name + ": " + c.message, stalled: c.stalled}
		}
		// A model only a human can fix (its download Secret missing) stalls the platform, as the same
		// problem on a provider does.
		overall.stalled = overall.stalled || (!c.ok && c.stalled)
		out = append(out, platformv1.ModelStatus{ComponentStatus: component(m.Name, c), Routes: routes})
	}
	if overall.ok {
		overall.message = fmt.Sprintf("%d/%d models ready", ready, len(p.Spec.Models))
	} else {
		overall.message = fmt.Sprintf("%d/%d models ready; %s", ready, len(p.Spec.Models), overall.message)
	}
	return out, ready, overall
}

func modelCondition(in Input, m *platformv1.ModelSpec, routes []string, providerReady, clusterReady map[string]bool) cond {
	if prob, bad := in.ModelProblems[m.Name]; bad {
		return cond{reason: prob.Reason, message: prob.Message, stalled: prob.Stalled}
	}
	if len(routes) == 0 {
		if m.SelfHosted != nil {
			if c, bad := missing(in, "InferenceService"); bad {
				return c
			}
			return cond{reason: ReasonNoPlacementReady, message: "nothing can serve it: " + placementSummary(in, m)}
		}
		return cond{reason: ReasonNoUsableBackend, message: "no backend can serve it: every provider it routes to is unusable"}
	}
	if c, bad := missing(in, "AIGatewayRoute"); bad {
		return c
	}
	if c := accepted(in, "AIGatewayRoute", in.RouteOfModel[m.Name], []string{"Accepted"}, ReasonWaitingForAIGateway, "Envoy AI Gateway"); !c.ok {
		return c
	}
	var notReady []string
	for _, r := range routes {
		if name, ok := strings.CutPrefix(r, "provider:"); ok {
			if providerReady[name] {
				return cond{ok: true, reason: ReasonReady, message: "served through " + strings.Join(routes, ", ")}
			}
			notReady = append(notReady, "provider "+name)
		}
		if target, ok := strings.CutPrefix(r, "cluster:"); ok {
			cluster, _, _ := strings.Cut(target, "/")
			if clusterReady[cluster] {
				return cond{ok: true, reason: ReasonReady, message: "served through " + strings.Join(routes, ", ")}
			}
			notReady = append(notReady, "model cluster "+cluster)
		}
	}
	sort.Strings(notReady)
	msg := "none of its backends is ready: " + strings.Join(notReady, ", ")
	if m.SelfHosted != nil {
		msg += "; placements: " + placementSummary(in, m)
	}
	return cond{reason: ReasonProviderNotReady, message: msg}
}

// placementSummary says why each placement of a model is not serving, in KServe's words.
func placementSummary(in Input, m *platformv1.ModelSpec) string {
	var parts []string
	for _, pl := range m.SelfHosted.Placements {
		where := pl.Cluster + "/" + pl.NodePool
		if prob, bad := in.ClusterProblems[pl.Cluster]; bad {
			parts = append(parts, where+": "+prob.Reason)
			continue
		}
		st, ok := in.Placements[render.PlacementKey(m.Name, pl.Cluster, pl.NodePool)]
		if !ok {
			parts = append(parts, where+": not deployed")
			continue
		}
		parts = append(parts, where+": "+st.Reason+": "+st.Message)
	}
	return strings.Join(parts, "; ")
}

// clusterStatuses: a model cluster is ready when its Tier Two Gateway is accepted and programmed, Tier
// One knows its address, and Tier One's link to it is accepted.
func clusterStatuses(in Input) ([]platformv1.ModelClusterStatus, cond) {
	p := in.Platform
	out := make([]platformv1.ModelClusterStatus, 0, len(p.Spec.ModelClusters))
	overall := cond{ok: true, reason: ReasonReady, message: fmt.Sprintf("%d model clusters ready", len(p.Spec.ModelClusters))}
	for _, mc := range p.Spec.ModelClusters {
		c := clusterCondition(in, mc.Name)
		addr := ""
		if in.ClusterAddress != nil {
			addr = in.ClusterAddress(mc.Name)
		}
		out = append(out, platformv1.ModelClusterStatus{ComponentStatus: component(mc.Name, c), GatewayAddress: addr})
		if !c.ok && overall.ok {
			overall = cond{reason: c.reason, message: "model cluster " + mc.Name + ": " + c.message, stalled: c.stalled}
		}
		overall.stalled = overall.stalled || c.stalled
	}
	return out, overall
}

func clusterCondition(in Input, name string) cond {
	if prob, bad := in.ClusterProblems[name]; bad {
		return cond{reason: prob.Reason, message: prob.Message, stalled: prob.Stalled}
	}
	gw := in.TierTwoGateways[name]
	key := ChildKey("TierTwoGateway", name)
	sub := Input{Children: map[string]Child{key: gw}}
	if c := accepted(sub, "TierTwoGateway", name, []string{"Accepted", "Programmed"}, ReasonWaitingForGateway, "Envoy Gateway"); !c.ok {
		c.message = strings.Replace(c.message, "TierTwoGateway "+name, "the Tier Two Gateway", 1)
		return c
	}
	if in.ClusterAddress == nil || in.ClusterAddress(name) == "" {
		return cond{reason: ReasonWaitingForAddress, message: "the Tier Two Gateway has no address yet (set spec.modelClusters[].address to give one)"}
	}
	if in.ClusterObjects != nil {
		for _, k := range in.ClusterObjects(name) {
			kind, obj, _ := strings.Cut(k, "/")
			controller, reason := "Envoy AI Gateway", ReasonWaitingForAIGateway
			if kind == "Backend" {
				controller, reason = "Envoy Gateway", ReasonWaitingForGateway
			}
			if c := accepted(in, kind, obj, []string{"Accepted"}, reason, controller); !c.ok {
				return c
			}
		}
	}
	return cond{ok: true, reason: ReasonReady, message: "Tier Two gateway programmed; linked from Tier One"}
}

func component(name string, c cond) platformv1.ComponentStatus {
	return platformv1.ComponentStatus{Name: name, Ready: c.ok, Reason: c.reason, Message: truncate(c.message)}
}

// endpoint is where clients send requests: the listener's host name, else the Gateway's first address.
func endpoint(p *platformv1.GenAIPlatform, addresses []string) string {
	l := p.Spec.Gateway.Listener
	scheme, defaultPort := "https", int32(443)
	if l.Protocol == platformv1.ListenerHTTP {
		scheme, defaultPort = "http", 80
	}
	host := l.Hostname
	if host == "" || strings.HasPrefix(host, "*") {
		if len(addresses) == 0 {
			return ""
		}
		host = addresses[0]
	}
	port := defaultPort
	if l.Port != nil {
		port = *l.Port
	}
	if port == defaultPort {
		return scheme + "://" + host
	}
	return fmt.Sprintf("%s://%s:%d", scheme, host, port)
}

func orNone(s string) string {
	if s == "" {
		return "(no address yet)"
	}
	return s
}

// truncate keeps condition messages within the API's 32768-byte limit.
func truncate(s string) string {
	const max = 4096
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}
