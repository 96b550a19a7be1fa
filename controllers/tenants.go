package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
	"github.com/genai-platform/genai-platform-operator/controllers/statuspatch"
)

// +kubebuilder:rbac:groups=platform.genai.dev,resources=genaitenants,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.genai.dev,resources=genaitenants/status,verbs=get;update;patch

// tenantPlatformIndex indexes GenAITenants by the platform they name, "<namespace>/<name>".
const tenantPlatformIndex = "spec.platformRef.name"

func tenantPlatformKey(t *platformv1.GenAITenant) types.NamespacedName {
	return types.NamespacedName{Namespace: t.Namespace, Name: t.Spec.PlatformRef.Name}
}

func indexTenantPlatform(obj client.Object) []string {
	t, ok := obj.(*platformv1.GenAITenant)
	if !ok {
		return nil
	}
	return []string{tenantPlatformKey(t).String()}
}

// platformOfTenant maps a GenAITenant to the platform it names.
func platformOfTenant(_ context.Context, obj client.Object) []reconcile.Request {
	t, ok := obj.(*platformv1.GenAITenant)
	if !ok || t.Spec.PlatformRef.Name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: tenantPlatformKey(t)}}
}

// observedTenant is a GenAITenant that names the platform, and the platform's verdict on it.
type observedTenant struct {
	obj *platformv1.GenAITenant
	// refused is why the platform does not serve it (nil: accepted).
	refused *metav1.Condition
	// rotation is where its generated keys are in their rotation (nil: not rotated, or keys of its own).
	rotation *platformv1.TenantKeyRotation
}

// observeTenants reads the GenAITenants that name the platform, decides which it serves (those whose
// ways of naming requests the platform's client auth supports), and reads or generates each accepted
// tenant's keys into f. due is when a key rotation's grace period ends (zero: none under way).
func (r *GenAIPlatformReconciler) observeTenants(ctx context.Context, p *platformv1.GenAIPlatform, f *facts.Facts) (out []observedTenant, due time.Time, err error) {
	var list platformv1.GenAITenantList
	if err := r.Client.List(ctx, &list, client.InNamespace(p.Namespace), client.MatchingFields{tenantPlatformIndex: client.ObjectKeyFromObject(p).String()}); err != nil {
		return nil, due, fmt.Errorf("listing the GenAITenants of the platform: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return render.TenantBefore(&list.Items[i], &list.Items[j]) })
	ca := p.Spec.Gateway.ClientAuth
	for i := range list.Items {
		t := &list.Items[i]
		if !t.DeletionTimestamp.IsZero() {
			continue
		}
		ot := observedTenant{obj: t}
		switch {
		case t.Spec.APIKeys != nil && (ca == nil || ca.APIKeys == nil):
			ot.refused = refusal(platformv1.ReasonInvalidReference, fmt.Sprintf("spec.apiKeys: platform %s/%s has no spec.gateway.clientAuth.apiKeys: its Tier One reads no API key", p.Namespace, p.Name))
		case t.Spec.JWT != nil && (ca == nil || ca.JWT == nil || ca.JWT.TenantClaim == ""):
			ot.refused = refusal(platformv1.ReasonInvalidReference, fmt.Sprintf("spec.jwt: platform %s/%s has no spec.gateway.clientAuth.jwt.tenantClaim: no JWT claim names tenants", p.Namespace, p.Name))
		case t.Spec.JWT != nil && ca.APIKeys != nil:
			// Envoy Gateway then requires an API key from every client too, and a key of the platform's
			// own clients reaches every model: the claim would restrict nothing.
			ot.refused = refusal(platformv1.ReasonInvalidReference, fmt.Sprintf("spec.jwt: platform %s/%s has spec.gateway.clientAuth.apiKeys as well as jwt, so every client also sends an API key, which decides what it may call: name this tenant by spec.apiKeys", p.Namespace, p.Name))
		}
		if ot.refused == nil && t.Spec.APIKeys != nil {
			tk, rot, tDue, err := r.tenantKeys(ctx, p, t)
			if err != nil {
				return nil, due, err
			}
			if f.Secrets.Tenants == nil {
				f.Secrets.Tenants = map[string]facts.TenantKeys{}
			}
			f.Secrets.Tenants[t.Name] = tk
			ot.rotation = rot
			if !tDue.IsZero() && (due.IsZero() || tDue.Before(due)) {
				due = tDue
			}
		}
		out = append(out, ot)
	}
	return out, due, nil
}

// heldTenantKeys are the generated keys Secrets of the refused tenants: kept, not pruned, so that a tenant
// refused for a while (its platform's API keys switched off and on again) gets its applications' keys
// back rather than new ones.
func heldTenantKeys(p *platformv1.GenAIPlatform, tenants []observedTenant) []client.Object {
	var out []client.Object
	for _, t := range tenants {
		if t.refused != nil && t.obj.Spec.APIKeys != nil && t.obj.Spec.APIKeys.Generate != nil {
			out = append(out, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: render.TenantKeysSecretName(t.obj.Name)}})
		}
	}
	return out
}

// acceptedTenants are the tenants render serves.
func acceptedTenants(tenants []observedTenant) []*platformv1.GenAITenant {
	var out []*platformv1.GenAITenant
	for _, t := range tenants {
		if t.refused == nil {
			out = append(out, t.obj)
		}
	}
	return out
}

// tenantKeys reads a tenant's keys: its own Secret's (readUserSecret: not in the manager's cache), or the
// generated ones, advanced by at most one rotation step. Values never leave the result except into the
// Secrets render writes; problems name Secrets and key names only.
func (r *GenAIPlatformReconciler) tenantKeys(ctx context.Context, p *platformv1.GenAIPlatform, t *platformv1.GenAITenant) (facts.TenantKeys, *platformv1.TenantKeyRotation, time.Time, error) {
	if ref := t.Spec.APIKeys.SecretRef; ref != nil {
		var s corev1.Secret
		if err := r.readUserSecret(ctx, types.NamespacedName{Namespace: t.Namespace, Name: ref.Name}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return facts.TenantKeys{Problem: &facts.Problem{Reason: platformv1.ReasonKeysNotFound, Stalled: true,
					Message: fmt.Sprintf("spec.apiKeys.secretRef: Secret %s/%s not found: the tenant has no key", t.Namespace, ref.Name)}}, nil, time.Time{}, nil
			}
			return facts.TenantKeys{}, nil, time.Time{}, fmt.Errorf("reading Secret %s/%s of GenAITenant %s: %w", t.Namespace, ref.Name, t.Name, err)
		}
		keys := map[string][]byte{}
		for k, v := range s.Data {
			if len(v) > 0 {
				keys[k] = v
			}
		}
		if len(keys) == 0 {
			return facts.TenantKeys{Problem: &facts.Problem{Reason: platformv1.ReasonKeysNotFound, Stalled: true,
				Message: fmt.Sprintf("spec.apiKeys.secretRef: Secret %s/%s holds no key", t.Namespace, ref.Name)}}, nil, time.Time{}, nil
		}
		return facts.TenantKeys{Keys: keys}, nil, time.Time{}, nil
	}
	g, rot, due, err := r.generatedTenantKeys(ctx, p, t)
	if err != nil {
		return facts.TenantKeys{}, nil, time.Time{}, err
	}
	keys := map[string][]byte{}
	for k, v := range g.Current {
		keys[k] = v
	}
	for k, v := range g.Previous {
		keys[k+facts.PreviousKeySuffix] = v
	}
	return facts.TenantKeys{Keys: keys, Generated: &g}, rot, due, nil
}

// generatedTenantKeys is the state of a tenant's generated keys for this reconcile, as the cluster-key
// rotation does it (modelclusters.go), with one tier to update instead of two: on a new value of the
// rotate-keys annotation, new keys replace the current ones, which stay accepted (as "<name>.previous")
// until the key rotation grace period has passed, time for the applications to read the new ones
// (tenantKeysStep). The count follows spec.apiKeys.generate.keys: missing keys are made, extra ones
// dropped.
func (r *GenAIPlatformReconciler) generatedTenantKeys(ctx context.Context, p *platformv1.GenAIPlatform, t *platformv1.GenAITenant) (facts.GeneratedTenantKeys, *platformv1.TenantKeyRotation, time.Time, error) {
	var s corev1.Secret
	name := types.NamespacedName{Namespace: p.Namespace, Name: render.TenantKeysSecretName(t.Name)}
	requested := t.Annotations[platformv1.AnnotationRotateKeys]
	stored := true
	if err := r.Client.Get(ctx, name, &s); err != nil {
		// The cache may not have seen the last write yet: ask the API server before making new keys, or
		// the tenant's keys would change under its applications' feet.
		switch err := r.APIReader.Get(ctx, name, &s); {
		case apierrors.IsNotFound(err):
			stored = false
		case err != nil:
			return facts.GeneratedTenantKeys{}, nil, time.Time{}, fmt.Errorf("reading the generated keys of GenAITenant %s: %w", t.Name, err)
		}
	}
	g := facts.GeneratedTenantKeys{Current: map[string][]byte{}, Token: requested}
	if stored {
		g = facts.GeneratedTenantKeysFromSecret(s.Data, s.Annotations)
	}
	g, rot, due := tenantKeysStep(g, stored, requested, int(t.Spec.APIKeys.Generate.Keys), r.now(), r.keyRotationGrace(), func() string { return r.newTenantKey(t.Name) })
	return g, rot, due, nil
}

// tenantKeysStep advances a tenant's generated keys by at most one step at now: the previous keys are
// dropped once the grace period after the switch has passed; a new rotation request (requested differs
// from the token acted upon) makes new keys and keeps the current ones as previous, unless previous keys
// are still within their grace period: the rotation then waits for its end (Pending), so that the
// applications still on the oldest keys are never cut off early. The count follows keys: missing keys
// are made, extra ones dropped. due is when the grace period ends (zero: no previous keys).
func tenantKeysStep(g facts.GeneratedTenantKeys, stored bool, requested string, keys int, now time.Time, grace time.Duration, newKey func() string) (facts.GeneratedTenantKeys, *platformv1.TenantKeyRotation, time.Time) {
	switched, _ := time.Parse(time.RFC3339, g.SwitchedAt)
	if len(g.Previous) > 0 && (switched.IsZero() || now.Sub(switched) >= grace) {
		g.Previous, g.SwitchedAt = nil, ""
	}
	pending := ""
	if stored && requested != "" && requested != g.Token && len(g.Current) > 0 {
		if len(g.Previous) > 0 {
			pending = requested
		} else {
			g.Previous, g.Current = g.Current, map[string][]byte{}
			g.Token, g.SwitchedAt = requested, now.UTC().Format(time.RFC3339Nano)
		}
	}
	want := map[string]bool{}
	for i := 1; i <= keys; i++ {
		k := fmt.Sprintf("key-%d", i)
		want[k] = true
		if len(g.Current[k]) == 0 {
			g.Current[k] = []byte(newKey())
		}
	}
	for k := range g.Current {
		if !want[k] {
			delete(g.Current, k)
		}
	}
	var due time.Time
	if len(g.Previous) > 0 {
		switched, _ := time.Parse(time.RFC3339, g.SwitchedAt)
		due = switched.Add(grace)
	}
	if g.Token == "" && due.IsZero() && pending == "" {
		return g, nil, due
	}
	rot := &platformv1.TenantKeyRotation{Token: g.Token, Pending: pending}
	if !due.IsZero() {
		rot.PreviousKeysUntil = &metav1.Time{Time: due}
	}
	return g, rot, due
}

func (r *GenAIPlatformReconciler) newTenantKey(tenant string) string {
	if r.keyGen != nil {
		return r.keyGen(tenant)
	}
	return newKey()
}

// tenantStatus writes each GenAITenant's status (only those that changed) and returns the platform's
// summary of them; nil when no GenAITenant names the platform.
func (r *GenAIPlatformReconciler) tenantStatus(ctx context.Context, p *platformv1.GenAIPlatform, tenants []observedTenant, in status.Input) (*platformv1.TenantsStatus, error) {
	if len(tenants) == 0 {
		return nil, nil
	}
	sum := &platformv1.TenantsStatus{}
	var notReady []string
	var errs []error
	for _, ot := range tenants {
		t := ot.obj
		before := t.DeepCopy()
		st := computeTenantStatus(p, ot, in)
		st.Conditions = t.Status.Conditions
		for _, c := range tenantConditions(p, ot, in) {
			c.ObservedGeneration = t.Generation
			meta.SetStatusCondition(&st.Conditions, c)
		}
		t.Status = st
		switch {
		case ot.refused != nil:
			sum.Refused++
			notReady = append(notReady, t.Name+": "+ot.refused.Reason)
		default:
			sum.Accepted++
			if meta.IsStatusConditionTrue(st.Conditions, platformv1.ConditionReady) {
				sum.Ready++
			} else {
				notReady = append(notReady, t.Name+": "+meta.FindStatusCondition(st.Conditions, platformv1.ConditionReady).Reason)
			}
		}
		if _, err := statuspatch.Write(ctx, r.Client, &r.statuses, before, t, func(t *platformv1.GenAITenant) any { return &t.Status }); err != nil {
			errs = append(errs, fmt.Errorf("writing the status of GenAITenant %s/%s: %w", t.Namespace, t.Name, err))
		}
	}
	sort.Strings(notReady)
	sum.NotReady = notReady[:min(len(notReady), 10)]
	return sum, errors.Join(errs...)
}

// computeTenantStatus is a tenant's status fields other than its conditions.
func computeTenantStatus(p *platformv1.GenAIPlatform, ot observedTenant, in status.Input) platformv1.GenAITenantStatus {
	t := ot.obj
	st := platformv1.GenAITenantStatus{ObservedGeneration: t.Generation}
	res := in.Desired.Tenants[t.Name]
	if ot.refused != nil || res == nil {
		return st
	}
	st.KeysSecretName = res.KeysSecret
	st.ClientIDs = int32(len(res.ClientIDs))
	st.Models = res.Models[:min(len(res.Models), 64)]
	st.UnknownModels = res.Unknown[:min(len(res.Unknown), 80)]
	st.RefusedBudgets = res.RefusedBudgets
	if why := status.BudgetsRefusedBy(in); why != "" {
		for _, b := range res.Budgets {
			st.RefusedBudgets = append(st.RefusedBudgets, b+": "+why)
		}
	}
	st.RefusedBudgets = st.RefusedBudgets[:min(len(st.RefusedBudgets), 16)]
	st.KeyRotation = ot.rotation
	return st
}

// tenantConditions are a tenant's Accepted and Ready conditions. Ready is False while its keys are
// missing or taken, a budget is refused, or Envoy Gateway refuses the access rules of one of its models
// (then that model is not restricted at all: the platform's GatewayReady says so too).
func tenantConditions(p *platformv1.GenAIPlatform, ot observedTenant, in status.Input) []metav1.Condition {
	t := ot.obj
	if ot.refused != nil {
		return []metav1.Condition{*ot.refused,
			{Type: platformv1.ConditionReady, Status: metav1.ConditionFalse, Reason: ot.refused.Reason, Message: ot.refused.Message}}
	}
	accepted := metav1.Condition{Type: platformv1.ConditionAccepted, Status: metav1.ConditionTrue, Reason: platformv1.ReasonTenantAccepted,
		Message: fmt.Sprintf("served by platform %s/%s", p.Namespace, p.Name)}
	ready := metav1.Condition{Type: platformv1.ConditionReady, Status: metav1.ConditionFalse}
	res := in.Desired.Tenants[t.Name]
	tk := in.Facts.Secrets.Tenants[t.Name]
	refusedBudgets := computeTenantStatus(p, ot, in).RefusedBudgets
	switch {
	case res == nil:
		ready.Reason, ready.Message = status.ReasonReconciling, "not rendered yet"
	case tk.Problem != nil:
		ready.Reason, ready.Message = tk.Problem.Reason, tk.Problem.Message
	case res.KeysProblem != nil:
		ready.Reason, ready.Message = res.KeysProblem.Reason, res.KeysProblem.Message
	case len(refusedBudgets) > 0:
		ready.Reason, ready.Message = platformv1.ReasonBudgetsRefused, "spec.budgets: "+strings.Join(refusedBudgets, "; ")
	default:
		c := status.TenantChildren(in, t.Name, res.Models)
		ready.Reason, ready.Message = c.Reason, c.Message
		if c.Ready {
			ready.Status = metav1.ConditionTrue
			var who []string
			if len(res.ClientIDs) > 0 {
				who = append(who, fmt.Sprintf("%d client ids", len(res.ClientIDs)))
			}
			if t.Spec.JWT != nil {
				who = append(who, fmt.Sprintf("tokens with %d tenant claim values", len(t.Spec.JWT.ClaimValues)))
			}
			if len(who) == 0 {
				who = []string{"no client"}
			}
			ready.Message = fmt.Sprintf("%s may call %d models", strings.Join(who, " and "), len(res.Models))
			if len(res.Unknown) > 0 {
				ready.Message += "; spec.models entries that name no model of the platform: " + strings.Join(res.Unknown, ", ")
			}
		}
	}
	return []metav1.Condition{accepted, ready}
}
