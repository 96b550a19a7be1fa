package status

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// child is one desired child with its registry entry and its observed state.
type child struct {
	render.Child
	kind     kinds.Kind
	observed kinds.Observed
	order    int // the kind's place in kinds.All: the order a component's children are checked in
}

// children are a platform's desired children, ready to be selected by component.
type children []child

func newChildren(in Input) children {
	order := map[string]int{}
	for i, k := range kinds.All {
		order[k.GVK.Kind] = i
	}
	out := make(children, 0, len(in.Desired.Children))
	for i, c := range in.Desired.Children {
		k, _ := kinds.Of(c.Object)
		var obs kinds.Observed
		if i < len(in.Observed) {
			obs = in.Observed[i]
		}
		out = append(out, child{Child: c, kind: k, observed: obs, order: order[k.GVK.Kind]})
	}
	// Stable: objects of one kind keep render's order.
	slices.SortStableFunc(out, func(a, b child) int { return a.order - b.order })
	return out
}

// where selects the children that pass keep.
func (cs children) where(keep func(child) bool) children {
	var out children
	for _, c := range cs {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// part selects the children of one part of the platform (name: provider, model cluster or model), in
// one cluster ("" is the platform's own).
func (cs children) part(p render.Part, name, cluster string) children {
	return cs.where(func(c child) bool {
		return c.Component.Part == p && c.Component.Name == name && c.Cluster == cluster
	})
}

// routesOf selects the route shards that hold a model's rules, in one cluster.
func (cs children) routesOf(model, cluster string) children {
	return cs.where(func(c child) bool {
		return c.Component.Part == render.PartRoutes && c.Cluster == cluster && slices.Contains(c.Component.Models, model)
	})
}

// gatewayAddresses are the Tier One Gateway's status addresses.
func (cs children) gatewayAddresses() []string {
	for _, c := range cs.part(render.PartGateway, "", "") {
		if c.kind.GVK.Kind == "Gateway" {
			return c.observed.Addresses
		}
	}
	return nil
}

// firstNotReady checks children in order and returns the first that only a human can fix (stalled),
// else the first that is not ready; ok when all are. A child merely waiting for its controller must not
// hide one that will never be ready on its own.
func (cs children) firstNotReady(in Input) cond {
	first := cond{ok: true}
	for _, c := range cs {
		cc := c.condition(in)
		switch {
		case cc.ok:
		case cc.stalled:
			return cc
		case first.ok:
			first = cc
		}
	}
	return first
}

// firstNotReadyFor is firstNotReady for one model's view of route shards: a shard's unresolved
// reference (ResolvedRefs False, reported per route) counts against the model only when the controller's
// message names one of the model's backends, or names none of the shard's (then it cannot be told whose
// it is). The other models of the shard are still served.
func (cs children) firstNotReadyFor(in Input, model string) cond {
	first := cond{ok: true}
	for _, c := range cs {
		cc := c.condition(in)
		switch {
		case cc.ok || (cc.refused == "ResolvedRefs" && !blames(cc.message, c.Component.Backends, model)):
		case cc.stalled:
			return cc
		case first.ok:
			first = cc
		}
	}
	return first
}

// blames says whether a refusal's message is about a model's backends.
func blames(message string, backends map[string][]string, model string) bool {
	namesAny := false
	for m, names := range backends {
		for _, n := range names {
			if strings.Contains(message, n) {
				if m == model {
					return true
				}
				namesAny = true
			}
		}
	}
	return !namesAny
}

// waitingReason is the reason given while a controller has not reported.
func waitingReason(c kinds.Controller) string {
	switch c {
	case kinds.EnvoyAIGateway:
		return ReasonWaitingForAIGateway
	case kinds.KServe:
		return ReasonWaitingForKServe
	}
	return ReasonWaitingForGateway
}

// describe names a child in messages: Tier Two objects say so, and where they live.
func (c child) describe() string {
	if c.Cluster != "" {
		name := c.Object.GetName()
		if ns := c.Object.GetNamespace(); ns != "" {
			name = ns + "/" + name
		}
		return "Tier Two " + c.kind.GVK.Kind + " " + name + " (model cluster " + c.Cluster + ")"
	}
	return c.kind.GVK.Kind + " " + c.Object.GetName()
}

// condition applies the kind's readiness rule to what was observed. A refusal is reported with the
// controller's own reason and message; a missing or stale status is waiting for the controller, which
// is named.
func (c child) condition(in Input) cond {
	if c.Cluster == "" || isLocal(in, c.Cluster) {
		if in.Missing[c.kind.GVK] {
			return cond{reason: ReasonCRDNotInstalled, stalled: true, message: "the CRD of " + c.kind.Name() + " is not installed"}
		}
	}
	if !c.observed.Exists {
		return cond{reason: ReasonReconciling, message: c.describe() + " does not exist yet"}
	}
	r := c.kind.Readiness
	if r == nil {
		return cond{ok: true}
	}
	for _, cc := range c.observed.Conditions {
		refused := cc.Status == metav1.ConditionFalse && (slices.Contains(r.Want, cc.Type) || cc.Type == conditionNotAccepted)
		if refused && !stale(r, c.observed, cc) {
			what := "is not " + strings.ToLower(strings.TrimPrefix(cc.Type, "Not"))
			if !slices.Contains([]string{"Accepted", conditionNotAccepted, "Programmed", "Ready"}, cc.Type) {
				what = "has " + cc.Type + " False, as said"
			}
			// A controller that does not accept the current spec will not change its mind until the spec or
			// the environment changes: a human must act (Stalled). Programmed, Ready or ResolvedRefs False may
			// still pass (an address being assigned, a model loading, a referenced object being created).
			accepted := cc.Type == "Accepted" || cc.Type == conditionNotAccepted
			return cond{reason: ReasonNotAccepted, refused: cc.Type, stalled: accepted, message: fmt.Sprintf("%s %s by %s: %s: %s", c.describe(), what, r.Controller, cc.Reason, cc.Message)}
		}
	}
	if r.OnlyRefusal {
		return cond{ok: true}
	}
	waiting := waitingReason(r.Controller)
	for _, t := range r.Want {
		cc := meta.FindStatusCondition(c.observed.Conditions, t)
		switch {
		case cc == nil || cc.Status == metav1.ConditionUnknown:
			return cond{reason: waiting, message: fmt.Sprintf("%s has no %s status yet: waiting for the %s controller", c.describe(), t, r.Controller)}
		case cc.Status != metav1.ConditionTrue:
			// False but stale: the controller has not looked at the current spec yet.
			return cond{reason: waiting, message: fmt.Sprintf("%s: the %s controller has not yet processed its current spec", c.describe(), r.Controller)}
		case stale(r, c.observed, *cc):
			return cond{reason: waiting, message: fmt.Sprintf("%s: the %s controller has not yet processed its current spec (generation %d)", c.describe(), r.Controller, c.observed.Generation)}
		}
	}
	return cond{ok: true}
}

// clockSkew is how far behind the API server's clock another controller's clock may run before its
// conditions without observedGeneration look older than the change they answer.
const clockSkew = 5 * time.Second

// conditionNotAccepted is the condition type Envoy AI Gateway sets (with status False) on an object it
// could not reconcile.
const conditionNotAccepted = "NotAccepted"

// stale says whether a condition was computed for an earlier spec than the object's current one.
//
// Most controllers say which generation they saw (observedGeneration). Envoy AI Gateway does not: it
// rewrites its one condition, with lastTransitionTime set to now, each time it reconciles the object,
// and it reconciles on every generation change (GenerationChangedPredicate), nothing else. So a
// condition whose lastTransitionTime is before the operator's last change of the object, as the API
// server dated it in managedFields, was written for an earlier spec. The two times come from two clocks
// (the API server's, the AI Gateway pod's) with one second of resolution, so a condition up to
// clockSkew older than the change is trusted: otherwise a controller whose clock runs a little behind
// would look stale for good, since it reconciles again only on the next change. So is any condition
// when the change time is unknown (the object was made by another field manager).
func stale(r *kinds.Readiness, o kinds.Observed, c metav1.Condition) bool {
	if r.Shape == kinds.AIGateway {
		return !o.SpecChangedAt.IsZero() && c.LastTransitionTime.Add(clockSkew).Before(o.SpecChangedAt.Time)
	}
	return c.ObservedGeneration != 0 && o.Generation != 0 && c.ObservedGeneration < o.Generation
}

// isLocal says whether a model cluster is the platform's own cluster (no kubeconfig).
func isLocal(in Input, cluster string) bool {
	mc := in.Platform.ModelCluster(cluster)
	return mc != nil && mc.KubeconfigSecretRef == nil
}
