package status

import (
	"slices"

	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// TenantState is what a tenant's children say of it.
type TenantState struct {
	Ready   bool
	Reason  string
	Message string
}

// TenantChildren checks the children a tenant's access depends on: its generated keys Secret, and the
// access policy of each model it may call, as their controllers report them (the first refusal, else the
// first one not there yet).
func TenantChildren(in Input, tenant string, models []string) TenantState {
	ch := newChildren(in).where(func(c child) bool {
		if c.Component.Tenant == tenant {
			return true
		}
		return c.kind.GVK.Kind == "SecurityPolicy" && len(c.Component.Models) > 0 &&
			slices.ContainsFunc(c.Component.Models, func(m string) bool { return slices.Contains(models, m) })
	})
	c := ch.firstNotReady(in)
	if c.ok {
		return TenantState{Ready: true, Reason: ReasonReady}
	}
	return TenantState{Reason: c.reason, Message: c.message}
}

// BudgetsRefusedBy is Envoy Gateway's refusal of the Tier One BackendTrafficPolicy that holds every
// budget (empty: not refused, or not reported yet).
func BudgetsRefusedBy(in Input) string {
	name := render.TierOnePolicyName(in.Platform)
	for _, c := range newChildren(in) {
		if c.kind.GVK.Kind != "BackendTrafficPolicy" || c.Cluster != "" || c.Object.GetName() != name {
			continue
		}
		if cc := c.condition(in); cc.refused != "" {
			return cc.message
		}
	}
	return ""
}
