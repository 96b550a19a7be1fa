// Package status rolls the state of a platform's children up into the GenAIPlatform's status. It is pure:
// Compute takes what the reconciler observed and returns the new status, so every rule here is shown by a
// table test.
package status

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// Reasons used in conditions and component entries.
const (
	ReasonReady                  = "Ready"
	ReasonWaitingForGateway      = "WaitingForGatewayController"
	ReasonWaitingForAIGateway    = "WaitingForAIGatewayController"
	ReasonWaitingForKServe       = "WaitingForKServe"
	ReasonNotAccepted            = "NotAccepted"
	ReasonCRDNotInstalled        = "CRDNotInstalled"
	ReasonApplyFailed            = "ApplyFailed"
	ReasonInvalidSpec            = "InvalidSpec"
	ReasonNoUsableBackend        = "NoUsableBackend"
	ReasonProviderNotReady       = "ProviderNotReady"
	ReasonGatewayNotReady        = "GatewayNotReady"
	ReasonReconciling            = "Reconciling"
	ReasonSecretNotFound         = "SecretNotFound"
	ReasonSecretKeyNotFound      = "SecretKeyNotFound"
	ReasonCrossNamespaceSecret   = "CrossNamespaceSecretRefNotAllowed"
	ReasonClusterUnreachable     = "ClusterUnreachable"
	ReasonKubeconfigInvalid      = "KubeconfigInvalid"
	ReasonCleanupBlocked         = "CleanupBlocked"
	ReasonDeletionWaiting        = "DeletionWaitingForRelease"
	ReasonWaitingForAddress      = "WaitingForTierTwoAddress"
	ReasonNoPlacementReady       = "NoPlacementReady"
	ReasonClientKeysNotFound     = "ClientKeysNotFound"
	ReasonClientKeysEmpty        = "ClientKeysEmpty"
	ReasonLinkCertificateInvalid = "LinkCertificateInvalid"
	ReasonNamespaceNotAllowed    = "NamespaceNotAllowed"
	ReasonServedByFallback       = "ServedByFallback"
)

// Input is what Compute needs: the platform, what was observed before rendering, what render wanted,
// and what each desired child's own controller says about it.
type Input struct {
	Platform *platformv1.GenAIPlatform
	Facts    facts.Facts

	// Desired is render's output; Observed[i] is the live state of Desired.Children[i].
	Desired  render.Output
	Observed []kinds.Observed

	// Missing are the child kinds whose CRDs the platform's own cluster does not serve. (A model
	// cluster reached through a kubeconfig that misses some reports it as its cluster problem.)
	Missing map[schema.GroupVersionKind]bool

	// ApplyError is the first error met while applying or pruning, if any.
	ApplyError error

	// APIServerOutage is the operator's last outage of its API server, if any; status keeps the latest
	// one it has seen.
	APIServerOutage *platformv1.APIServerOutage

	// Attached are the models of Platform.Spec.Models that come from GenAIModels (by name). They count
	// in readyModels and totalModels, and each gets its own status, but they are not listed in
	// status.models and do not hold the platform's conditions back: a team's broken model is the team's
	// to fix, not a reason to call the whole platform not ready.
	Attached map[string]bool
}

// Compute returns the platform's new status. It starts from the current one so that conditions keep
// their lastTransitionTime while unchanged.
func Compute(in Input) platformv1.GenAIPlatformStatus {
	st, _ := ComputeAll(in)
	return st
}

// ComputeAll is Compute, and the status of each attached model (Input.Attached), by name.
func ComputeAll(in Input) (platformv1.GenAIPlatformStatus, map[string]platformv1.ModelStatus) {
	p := in.Platform
	st := *p.Status.DeepCopy()
	ch := newChildren(in)
	st.Endpoint = endpoint(p, ch.gatewayAddresses())
	if o := in.APIServerOutage; o != nil && (st.LastAPIServerOutage == nil || st.LastAPIServerOutage.End.Before(&o.End)) {
		st.LastAPIServerOutage = o.DeepCopy()
	}

	if inv := in.Facts.Invalid; inv != nil {
		setAll(&st, p, metav1.ConditionFalse, inv.Reason, inv.Message)
		markStalled(&st, p, inv.Reason, inv.Message)
		return st, nil
	}

	gw := gatewayCondition(in, ch)
	providers, provCond := providerStatuses(in, ch)
	clusters, clustersCond := clusterStatuses(in, ch)
	models, attached, ready, modelsCond := modelStatuses(in, ch, providers, clusters, gw.ok)
	st.ModelsOnFallback = 0
	for _, m := range append(slices.Clone(models), slices.Collect(maps.Values(attached))...) {
		if m.Ready && m.Reason == ReasonServedByFallback {
			st.ModelsOnFallback++
		}
	}
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
		// An API server or admission webhook that refuses an object refuses it again until the spec or
		// the environment changes; a conflict or a timeout passes.
		if PermanentApplyError(in.ApplyError) {
			stalled = true
		}
	}
	set(&st, p, platformv1.ConditionReady, readyCond)
	unauthenticated(&st, p)

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
	return st, attached
}

type cond struct {
	ok              bool
	stalled         bool
	reason, message string
	// refused is the condition type a controller set False, when that is why the part is not ready.
	refused string
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
	types := []string{platformv1.ConditionReady, platformv1.ConditionGatewayReady, platformv1.ConditionProvidersReady, platformv1.ConditionModelsReady}
	if len(p.Spec.ModelClusters) > 0 {
		types = append(types, platformv1.ConditionModelClustersReady)
	}
	for _, t := range types {
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

// gatewayCondition: the Tier One gateway is ready when its own configuration is usable and every one of
// its children is as its controller should report it: GatewayClass accepted, Gateway accepted and
// programmed for the current generation, no policy refused.
func gatewayCondition(in Input, ch children) cond {
	if prob := in.Facts.Secrets.ClientKeysProblem; prob != nil {
		return fromProblem(*prob)
	}
	if c := ch.part(render.PartGateway, "", "").firstNotReady(in); !c.ok {
		return c
	}
	return cond{ok: true, reason: ReasonReady, message: "Gateway " + render.GatewayName(in.Platform) + " is accepted and programmed"}
}

func fromProblem(p facts.Problem) cond {
	return cond{reason: p.Reason, message: p.Message, stalled: p.Stalled}
}

// rollUp computes each part's condition and the part type's overall one: the first part that is not
// ready names it, and any stalled part stalls it. wrap makes the part's status entry.
func rollUp[S, T any](parts []S, nameOf func(S) string, what string, condition func(string) cond, wrap func(platformv1.ComponentStatus) T) ([]T, cond) {
	out := make([]T, 0, len(parts))
	overall := cond{ok: true, reason: ReasonReady, message: fmt.Sprintf("%d %ss ready", len(parts), what)}
	for _, part := range parts {
		name := nameOf(part)
		c := condition(name)
		out = append(out, wrap(component(name, c)))
		if !c.ok && overall.ok {
			overall = cond{reason: c.reason, message: what + " " + name + ": " + c.message}
		}
		overall.stalled = overall.stalled || (!c.ok && c.stalled)
	}
	return out, overall
}

func providerStatuses(in Input, ch children) ([]platformv1.ProviderStatus, cond) {
	nameOf := func(pr platformv1.ProviderSpec) string { return pr.Name }
	wrap := func(c platformv1.ComponentStatus) platformv1.ProviderStatus {
		return platformv1.ProviderStatus{ComponentStatus: c}
	}
	return rollUp(in.Platform.Spec.Providers, nameOf, "provider", func(name string) cond {
		if prob, bad := in.Facts.Secrets.ProviderProblems[name]; bad {
			return fromProblem(prob)
		}
		if c := ch.part(render.PartProvider, name, "").firstNotReady(in); !c.ok {
			return c
		}
		return cond{ok: true, reason: ReasonReady, message: "accepted by Envoy AI Gateway and Envoy Gateway"}
	}, wrap)
}

// clusterStatuses: a model cluster is ready when its Tier Two gateway is accepted and programmed, Tier
// One knows its address, and Tier One's link to it is accepted.
func clusterStatuses(in Input, ch children) ([]platformv1.ModelClusterStatus, cond) {
	nameOf := func(mc platformv1.ModelClusterSpec) string { return mc.Name }
	wrap := func(c platformv1.ComponentStatus) platformv1.ModelClusterStatus {
		return platformv1.ModelClusterStatus{ComponentStatus: c, GatewayAddress: clusterAddress(in, c.Name)}
	}
	return rollUp(in.Platform.Spec.ModelClusters, nameOf, "model cluster", func(name string) cond {
		if prob := in.Facts.Cluster(name).Problem; prob != nil {
			return fromProblem(*prob)
		}
		if c := ch.part(render.PartModelCluster, name, name).firstNotReady(in); !c.ok {
			return c
		}
		if clusterAddress(in, name) == "" {
			return cond{reason: ReasonWaitingForAddress, message: "the Tier Two Gateway has no address yet (set spec.modelClusters[].address to give one)"}
		}
		if c := ch.part(render.PartModelCluster, name, "").firstNotReady(in); !c.ok {
			return c
		}
		return cond{ok: true, reason: ReasonReady, message: "Tier Two gateway programmed; linked from Tier One"}
	}, wrap)
}

// clusterAddress is the host Tier One sends a model cluster's traffic to, as render uses it.
func clusterAddress(in Input, name string) string {
	mc := in.Platform.ModelCluster(name)
	if mc == nil {
		return ""
	}
	host, _ := render.ClusterAddress(mc, in.Facts.Cluster(name).Address)
	return host
}

func modelStatuses(in Input, ch children, providers []platformv1.ProviderStatus, clusters []platformv1.ModelClusterStatus, gatewayReady bool) (own []platformv1.ModelStatus, attached map[string]platformv1.ModelStatus, readyModels int, overall cond) {
	p := in.Platform
	ready := map[render.Target]cond{} // whether each provider and cluster is ready, as status says it
	for _, ps := range providers {
		ready[render.Target{Provider: ps.Name}] = cond{ok: ps.Ready, message: "provider " + ps.Name}
	}
	for _, cs := range clusters {
		ready[render.Target{Cluster: cs.Name}] = cond{ok: cs.Ready, message: "model cluster " + cs.Name}
	}
	own, attached = make([]platformv1.ModelStatus, 0, len(p.Spec.Models)-len(in.Attached)), map[string]platformv1.ModelStatus{}
	overall = cond{ok: true, reason: ReasonReady}
	for i := range p.Spec.Models {
		m := &p.Spec.Models[i]
		routes := in.Desired.Routes[m.Name]
		c := modelCondition(in, ch, m, routes, ready)
		if c.ok && !gatewayReady {
			c = cond{reason: ReasonGatewayNotReady, message: "the Tier One gateway is not ready"}
		}
		// A self-hosted model that only its provider routes serve: say so, and why the GPUs do not.
		if c.ok && m.SelfHosted != nil && !slices.ContainsFunc(routes, func(r render.Target) bool { return r.Cluster != "" }) {
			c = cond{ok: true, reason: ReasonServedByFallback, message: c.message + ", as a fallback: no placement is Ready: " + placementSummary(in, m)}
		}
		shown := make([]string, 0, len(routes))
		for _, r := range routes {
			shown = append(shown, r.String())
		}
		ms := platformv1.ModelStatus{ComponentStatus: component(m.Name, c), Routes: shown, Versions: versionStatuses(in, m)}
		if c.ok {
			readyModels++
		}
		if in.Attached[m.Name] {
			attached[m.Name] = ms
			continue
		}
		if !c.ok && overall.ok {
			overall = cond{reason: c.reason, message: "model " + m.Name + ": " + c.message}
		}
		// A model only a human can fix (its download Secret missing) stalls the platform, as the same
		// problem on a provider does.
		overall.stalled = overall.stalled || (!c.ok && c.stalled)
		own = append(own, ms)
	}
	if overall.ok {
		overall.message = fmt.Sprintf("%d/%d models ready", readyModels, len(p.Spec.Models))
	} else {
		overall.message = fmt.Sprintf("%d/%d models ready; %s", readyModels, len(p.Spec.Models), overall.message)
	}
	return own, attached, readyModels, overall
}

// modelCondition: a model is ready when Tier One's route holding its rule is accepted and at least one
// of its backends is ready: a ready provider, or a ready model cluster whose Tier Two routes for the
// model are accepted.
func modelCondition(in Input, ch children, m *platformv1.ModelSpec, routes []render.Target, ready map[render.Target]cond) cond {
	if prob, bad := in.Facts.Secrets.ModelProblems[m.Name]; bad {
		return fromProblem(prob)
	}
	if len(routes) == 0 {
		if m.SelfHosted != nil {
			for _, c := range ch.where(func(c child) bool { return c.Component.Part == render.PartModel && c.Component.Name == m.Name }) {
				if cc := c.condition(in); cc.reason == ReasonCRDNotInstalled {
					return cc
				}
			}
			return cond{reason: ReasonNoPlacementReady, message: "nothing can serve it: " + placementSummary(in, m)}
		}
		return cond{reason: ReasonNoUsableBackend, message: "no backend can serve it: every provider it routes to is unusable"}
	}
	if c := ch.routesOf(m.Name, "").firstNotReady(in); !c.ok {
		return c
	}
	var notReady []string
	shown := make([]string, 0, len(routes))
	for _, r := range routes {
		shown = append(shown, r.String())
	}
	for _, r := range routes {
		backend := ready[render.Target{Provider: r.Provider, Cluster: r.Cluster}]
		if backend.ok && r.Cluster != "" {
			if c := ch.routesOf(m.Name, r.Cluster).firstNotReadyFor(in, m.Name); !c.ok {
				backend = cond{message: backend.message + " (" + c.message + ")"}
			}
		}
		if backend.ok {
			return cond{ok: true, reason: ReasonReady, message: "served through " + strings.Join(shown, ", ")}
		}
		if !slices.Contains(notReady, backend.message) {
			notReady = append(notReady, backend.message)
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
		if prob := in.Facts.Cluster(pl.Cluster).Problem; prob != nil {
			parts = append(parts, where+": "+prob.Reason)
			continue
		}
		st, ok := in.Facts.Placement(facts.PlacementID{Model: m.Name, Cluster: pl.Cluster, NodePool: pl.NodePool})
		if !ok {
			parts = append(parts, where+": not deployed")
			continue
		}
		parts = append(parts, where+": "+st.Reason+": "+st.Message)
	}
	return strings.Join(parts, "; ")
}

// versionStatuses are a self-hosted model's versions as its placements' InferenceServices report them.
func versionStatuses(in Input, m *platformv1.ModelSpec) []platformv1.VersionStatus {
	if m.SelfHosted == nil || len(m.SelfHosted.Versions) == 0 {
		return nil
	}
	out := make([]platformv1.VersionStatus, 0, len(m.SelfHosted.Versions))
	for _, v := range m.SelfHosted.Versions {
		vs := platformv1.VersionStatus{Name: v.Name, Weight: 1}
		if v.Weight != nil {
			vs.Weight = *v.Weight
		}
		for _, pl := range m.SelfHosted.Placements {
			st, ok := in.Facts.Placement(facts.PlacementID{Model: m.Name, Cluster: pl.Cluster, NodePool: pl.NodePool, Version: v.Name})
			switch {
			case ok && st.Ready:
				vs.Ready = true
			case ok:
				vs.NotReady = append(vs.NotReady, pl.Cluster+"/"+pl.NodePool+": "+st.Reason)
			default:
				vs.NotReady = append(vs.NotReady, pl.Cluster+"/"+pl.NodePool+": not deployed")
			}
		}
		out = append(out, vs)
	}
	return out
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
	if port := render.ListenerPort(p); port != defaultPort {
		return fmt.Sprintf("%s://%s:%d", scheme, host, port)
	}
	return scheme + "://" + host
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

// unauthenticated says, in its own condition, that a platform without client authentication serves
// anyone who reaches it.
func unauthenticated(st *platformv1.GenAIPlatformStatus, p *platformv1.GenAIPlatform) {
	if p.Spec.Gateway.ClientAuth != nil {
		meta.RemoveStatusCondition(&st.Conditions, platformv1.ConditionUnauthenticated)
		return
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: platformv1.ConditionUnauthenticated, Status: metav1.ConditionTrue, ObservedGeneration: p.Generation,
		Reason: "NoClientAuth", Message: "spec.gateway.clientAuth is not set: anyone who reaches " + orNone(st.Endpoint) +
			" can call every model, at the providers' expense; set apiKeys or jwt",
	})
}

// PermanentApplyError says whether an apply or prune error is one the API server or an admission webhook
// will repeat until something changes: the object is invalid, forbidden (RBAC, or a webhook's denial,
// which the API server reports as 403 or 400 unless the webhook sets another code), or malformed.
func PermanentApplyError(err error) bool {
	var walk func(error) bool
	walk = func(err error) bool {
		if err == nil {
			return false
		}
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			return slices.ContainsFunc(multi.Unwrap(), walk)
		}
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) || apierrors.IsMethodNotSupported(err) {
			return true
		}
		return walk(errors.Unwrap(err))
	}
	return walk(err)
}
