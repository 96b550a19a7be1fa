// Package controllers reconciles GenAIPlatforms. The reconciler is a pipeline:
//
//	observe (Secrets, served CRDs) -> render (pure) -> apply + prune -> observe children -> status (pure)
//
// with the status written once, in a deferred patch, and observedGeneration advanced only when the
// desired state was fully applied.
package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	"github.com/genai-platform/genai-platform-operator/controllers/clustercache"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
	"github.com/genai-platform/genai-platform-operator/controllers/statuspatch"
)

// requeueForMissingCRDs is how often a platform whose child CRDs are missing looks again.
const requeueForMissingCRDs = 30 * time.Second

// GenAIPlatformReconciler reconciles GenAIPlatform objects.
type GenAIPlatformReconciler struct {
	// Client reads from the manager's cache (which holds only Secrets the operator labels) and writes.
	Client client.Client
	// APIReader reads referenced user Secrets directly, so they never enter the cache.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder

	// KeyRotationGrace is how long Tier Two keeps admitting a rotated-out key; zero: DefaultKeyRotationGrace.
	KeyRotationGrace time.Duration
	// ModelNamespaces are the namespaces any platform may write into (Options.ModelNamespaces).
	ModelNamespaces []string

	stalledMu   sync.Mutex
	stalledRuns map[types.NamespacedName]int // stalled reconciles in a row, per platform
	// ApplyWorkers is how many writes to one cluster a reconcile sends at a time; zero: apply.DefaultWorkers.
	ApplyWorkers int
	// SelectorRecheck is how often a platform admitting GenAIModels by namespace selector looks at their
	// namespaces' labels again; zero: DefaultSelectorRecheck.
	SelectorRecheck time.Duration
	// DeletionStallAfter is how long a deletion waits for another controller's finalizer before the
	// platform is Stalled; zero: DefaultDeletionStallAfter.
	DeletionStallAfter time.Duration
	// Outages follows the manager's requests to its API server; nil: outages are not recorded.
	Outages *APIServerOutages
	// Clock is the time source of key rotation; nil: time.Now.
	Clock func() time.Time
	// keyGen makes a tenant's generated key; nil: newKey (random). The offline preview makes
	// recognisable placeholders instead.
	keyGen func(tenant string) string

	applier      *apply.Applier
	written      writtenStatuses    // the last status written, per platform
	shards       routeShards        // the models' Tier One routes after the last successful apply, per platform
	statuses     statuspatch.Memory // the GenAIModels' and GenAITenants' statuses written, until the cache shows them
	secretValues secretValues       // the user Secrets read, by resourceVersion
	watches      *childWatches
	secrets      *secretWatches
	clusters     *clustercache.ClusterCache

	addrMu    sync.Mutex
	addresses map[clustercache.Key]string
}

// +kubebuilder:rbac:groups=platform.genai.dev,resources=genaiplatforms,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.genai.dev,resources=genaiplatforms/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.genai.dev,resources=genaiplatforms/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Child kinds: their RBAC markers sit with their entries in the registry (controllers/kinds).
// +kubebuilder:rbac:groups="",resources=pods,verbs=list
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch

// Reconcile runs the pipeline for one platform.
func (r *GenAIPlatformReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	p := &platformv1.GenAIPlatform{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			forgetMetrics(req.Namespace, req.Name)
			r.written.forget(req.NamespacedName)
			r.shards.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	served, missing, err := r.watches.available()
	if err != nil {
		return ctrl.Result{}, err
	}
	if !p.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, p, served)
	}
	if !controllerutil.ContainsFinalizer(p, platformv1.FinalizerCleanup) {
		before := p.DeepCopy()
		controllerutil.AddFinalizer(p, platformv1.FinalizerCleanup)
		if err := r.Client.Patch(ctx, p, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, err
		}
	}

	sc := newScope(p, &r.written)
	defer func() {
		if err := sc.close(ctx, r.Client, r.APIReader, r.Recorder); apierrors.IsConflict(err) {
			// The cache is behind the platform: the status is written again from a fresh read.
			if retErr == nil {
				result.RequeueAfter = soonest(result.RequeueAfter, statusConflictRetry)
			}
		} else {
			retErr = errors.Join(retErr, err)
		}
		recordMetrics(p, retErr)
	}()

	// Observe: every fact render and status need, in one value. The platform's Secrets are watched
	// before they are read, so that a change after the read is not missed.
	if err := r.secrets.ensure(ctx, p.Namespace); err != nil {
		return ctrl.Result{}, err
	}
	f := r.observeSecrets(ctx, p)
	in := status.Input{Platform: p, Facts: f, Missing: missing, APIServerOutage: r.Outages.Last()}
	if f.Invalid != nil {
		p.Status = status.Compute(in)
		return ctrl.Result{RequeueAfter: r.recheckStalled(p)}, nil
	}
	// The GenAIModels that teams attach join spec.models: from here on, eff is the platform as render
	// and status see it; p is the object whose status is written.
	attached, err := r.observeAttachedModels(ctx, p, &f)
	if err != nil {
		return ctrl.Result{}, err
	}
	eff, attachedNames := withAttached(p, attached)
	// The GenAITenants of the platform: their keys join the client keys, their model lists and budgets
	// become the access policies and rate-limit rules.
	tenants, tenantsDue, err := r.observeTenants(ctx, p, &f)
	if err != nil {
		return ctrl.Result{}, err
	}
	targets, err := r.observeModelClusters(ctx, eff, served, &f)
	if err != nil {
		return ctrl.Result{}, err
	}
	f.RouteShards = r.observeRouteShards(ctx, p, served)

	// Render, then apply. Every model cluster without a kubeconfig is this cluster: its objects are
	// applied and pruned together with Tier One's, under the same labels. Each remote cluster that
	// answers is deployed on its own, so that one failing cluster never holds back the others; one that
	// does not answer is left as it is until it does.
	desired, pending, applyErr := r.renderAndApply(ctx, p, eff, acceptedTenants(tenants), heldTenantKeys(p, tenants), targets, served, &f)
	// A Tier Two Gateway's address, which Tier One's link to it needs, often comes while the rest is
	// applied: the link is then made now, with one status write, rather than in the next reconcile.
	if applyErr == nil && r.addressesArrived(ctx, eff, targets, &f) {
		desired, pending, applyErr = r.renderAndApply(ctx, p, eff, acceptedTenants(tenants), heldTenantKeys(p, tenants), targets, served, &f)
	}
	if err := r.forgetRemovedClusters(ctx, p); err != nil {
		applyErr = errors.Join(applyErr, err)
	}

	// Status, from every child as its own controller reports it.
	in.Platform, in.Attached = eff, attachedNames
	in.Facts, in.Desired, in.ApplyError = f, desired, applyErr
	in.Observed = r.observeChildren(ctx, desired, targets, served)
	st, attachedStatuses := status.ComputeAll(in)
	p.Status = st
	if p.Status.AttachedModels, err = r.attachedStatus(ctx, p, attached, attachedStatuses); err != nil {
		applyErr = errors.Join(applyErr, err)
	}
	if p.Status.Tenants, err = r.tenantStatus(ctx, p, tenants, in); err != nil {
		applyErr = errors.Join(applyErr, err)
	}
	if applyErr == nil {
		p.Status.ObservedGeneration = p.Generation
	}
	var again time.Duration
	switch {
	case rotating(f):
		again = time.Second
	case len(pending) > 0:
		log.FromContext(ctx).Info("the rest of the prune waits for another controller's finalizer", "objects", pending)
		again = requeueForRelease
	case unreachable(f):
		again = requeueForUnreachable
	case len(missing) > 0:
		again = requeueForMissingCRDs
	default:
		again = r.untilRenewal(f)
	}
	// Namespace labels decide which GenAIModels a Selector platform admits, and the operator does not
	// watch every namespace: it looks at them again on a timer.
	if allowedFrom(p) == platformv1.FromSelector && len(attached) > 0 {
		again = soonest(again, r.selectorRecheck())
	}
	// A tenant's rotated-out keys are dropped when their grace period ends, with no event to say so.
	if !tenantsDue.IsZero() {
		again = soonest(again, max(tenantsDue.Sub(r.now()), time.Second))
	}
	return ctrl.Result{RequeueAfter: soonest(again, r.recheckStalled(p))}, applyErr
}

// renderAndApply renders the platform from its facts and applies the result to every cluster that
// answers: Tier One and the local model clusters together, each remote cluster on its own. A remote
// cluster's failure is recorded in its facts. keep are objects of Tier One's cluster that are neither
// written nor pruned.
func (r *GenAIPlatformReconciler) renderAndApply(ctx context.Context, p, eff *platformv1.GenAIPlatform, tenants []*platformv1.GenAITenant, keep []client.Object, targets map[string]*clusterTarget, served map[schema.GroupVersionKind]bool, f *facts.Facts) (render.Output, []string, error) {
	desired := render.Render(render.Input{Platform: eff, Facts: *f, Tenants: tenants})
	local, held := desired.In(""), keep
	for _, mc := range p.Spec.ModelClusters {
		switch {
		case mc.KubeconfigSecretRef != nil:
		case f.Cluster(mc.Name).NotAllowed:
			// Not written, and not pruned either: what was made there while it was allowed stays.
			held = append(held, desired.In(mc.Name)...)
		default:
			local = append(local, desired.In(mc.Name)...)
		}
	}
	pending, applyErr := r.deploy(ctx, eff, r.applier, served, local, held)
	if key := (types.NamespacedName{Namespace: p.Namespace, Name: p.Name}); applyErr == nil {
		r.shards.set(key, render.RouteShardsOf(desired))
	} else {
		r.shards.forget(key)
	}
	for _, mc := range p.Spec.ModelClusters {
		if t := targets[mc.Name]; t != nil && t.remote != nil {
			if _, err := r.deployRemote(ctx, eff, t, desired.In(mc.Name)); err != nil {
				cf := f.Cluster(mc.Name)
				cf.Problem = &facts.Problem{Reason: status.ReasonApplyFailed, Message: err.Error()}
				f.SetCluster(mc.Name, cf)
				applyErr = errors.Join(applyErr, fmt.Errorf("model cluster %s: %w", mc.Name, err))
			}
		}
	}
	return desired, pending, applyErr
}

// DefaultSelectorRecheck is how often a platform that admits GenAIModels by a namespace selector reads
// the labels of their namespaces again.
const DefaultSelectorRecheck = time.Minute

func (r *GenAIPlatformReconciler) selectorRecheck() time.Duration {
	if r.SelectorRecheck > 0 {
		return r.SelectorRecheck
	}
	return DefaultSelectorRecheck
}

// Stalled platforms are looked at again, less and less often, so that a fix nobody told the operator
// about (an upstream controller's configuration, a webhook removed) is still seen, and an alert on
// Stalled resolves when the problem does.
const (
	stalledRecheckFirst = 10 * time.Second
	stalledRecheckMax   = 10 * time.Minute
)

// recheckStalled is when to look at a Stalled platform again: 10 s, doubling per stalled reconcile in a
// row, up to 10 minutes; zero when the platform is not Stalled (which resets the backoff).
func (r *GenAIPlatformReconciler) recheckStalled(p *platformv1.GenAIPlatform) time.Duration {
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	r.stalledMu.Lock()
	defer r.stalledMu.Unlock()
	if !meta.IsStatusConditionTrue(p.Status.Conditions, platformv1.ConditionStalled) {
		delete(r.stalledRuns, key)
		return 0
	}
	if r.stalledRuns == nil {
		r.stalledRuns = map[types.NamespacedName]int{}
	}
	n := r.stalledRuns[key]
	r.stalledRuns[key] = n + 1
	return min(stalledRecheckFirst<<min(n, 10), stalledRecheckMax)
}

// soonest is the earlier of two requeue delays (zero: none).
func soonest(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// untilRenewal is how long until a scheduled step is due: a link certificate or CA step, or a scheduled
// key rotation (zero: none is).
func (r *GenAIPlatformReconciler) untilRenewal(f facts.Facts) time.Duration {
	var next time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, c := range f.Clusters {
		if c.TLS != nil {
			earliest(c.TLS.RenewAt)
		}
		earliest(c.KeyRotationDue)
	}
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(r.now()), time.Second)
}

// rotating says whether a key rotation step is under way in some model cluster.
func rotating(f facts.Facts) bool {
	for _, c := range f.Clusters {
		if c.Rotating {
			return true
		}
	}
	return false
}

// unreachable says whether some model cluster does not answer.
func unreachable(f facts.Facts) bool {
	for _, c := range f.Clusters {
		if c.Unreachable {
			return true
		}
	}
	return false
}

// deploy applies, with one cluster's applier, every desired object whose kind that cluster serves, then
// prunes the platform's labelled objects there that are no longer desired. One failing object does not
// stop the others. pending names the objects whose deletion the rest of the prune waits for.
func (r *GenAIPlatformReconciler) deploy(ctx context.Context, p *platformv1.GenAIPlatform, a *apply.Applier, served map[schema.GroupVersionKind]bool, desired, held []client.Object) (pending []string, err error) {
	var errs []error
	keep := map[string]bool{}
	for _, obj := range held {
		gvk, err := apiutil.GVKForObject(obj, r.Scheme)
		if err != nil {
			return nil, err
		}
		keep[apply.Key(gvk, obj.GetNamespace(), obj.GetName())] = true
	}
	var toApply []client.Object
	for _, obj := range desired {
		gvk, err := apiutil.GVKForObject(obj, r.Scheme)
		if err != nil {
			return nil, err
		}
		keep[apply.Key(gvk, obj.GetNamespace(), obj.GetName())] = true
		if served[gvk] {
			toApply = append(toApply, obj)
		}
	}
	for i, err := range a.ApplyAll(ctx, toApply) {
		if err == nil {
			continue
		}
		// A server-side apply creates what is missing: NotFound means the kind itself is gone.
		if gvk, _ := apiutil.GVKForObject(toApply[i], r.Scheme); apierrors.IsNotFound(err) && a == r.applier && r.watches != nil {
			r.watches.suspectGone(gvk)
		}
		errs = append(errs, err)
	}
	pending, err = r.pruneIn(ctx, p, a, served, keep)
	return pending, errors.Join(append(errs, err)...)
}

// finalize deletes every object of the platform, in every model cluster first, then here (the
// cluster-scoped ones included: owner references cannot reach them), then lets the platform go. A remote
// cluster that cannot be reached holds the deletion, with a condition that says how to give up on it.
func (r *GenAIPlatformReconciler) finalize(ctx context.Context, p *platformv1.GenAIPlatform, served map[schema.GroupVersionKind]bool) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p, platformv1.FinalizerCleanup) {
		return ctrl.Result{}, nil
	}
	r.shards.forget(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
	if blocked := r.finalizeRemote(ctx, p); len(blocked) > 0 {
		return ctrl.Result{RequeueAfter: requeueForUnreachable}, r.blockedDeletion(ctx, p, blocked)
	}
	pending, err := r.pruneIn(ctx, p, r.applier, served, nil)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(pending) > 0 {
		return ctrl.Result{RequeueAfter: requeueForRelease}, r.waitingDeletion(ctx, p, pending)
	}
	return ctrl.Result{}, r.removeFinalizer(ctx, p)
}

// requeueForRelease is how often a platform looks again while another controller's finalizer holds a
// child that must be gone first (kinds.Kind.PruneFirst); the child's deletion event also enqueues it.
const requeueForRelease = 2 * time.Second

// statusConflictRetry is how soon a status write refused for a stale cache is tried again: the cache
// catches up within milliseconds.
const statusConflictRetry = 200 * time.Millisecond

// waitingDeletion says on the platform which children its deletion waits for, and what a human can do if
// their controller is gone for good.
func (r *GenAIPlatformReconciler) waitingDeletion(ctx context.Context, p *platformv1.GenAIPlatform, pending []string) error {
	before := p.DeepCopy()
	msg := fmt.Sprintf("deletion waits for their controller to release %s, before the objects they use are deleted; if that controller (Envoy AI Gateway) is uninstalled for good, remove those finalizers by hand",
		strings.Join(pending, "; "))
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: platformv1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: status.ReasonDeletionWaiting, Message: msg, ObservedGeneration: p.Generation})
	// Envoy AI Gateway lets its objects go within seconds. Minutes mean it is gone, or it met its known
	// defect: a finalizer removal refused on a conflict is not tried again (envoyproxy/ai-gateway#2565),
	// and nothing brings it back to the object. Either way only a human can end the wait: Stalled.
	if waited := r.now().Sub(p.DeletionTimestamp.Time); waited >= r.deletionStallAfter() {
		meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: platformv1.ConditionStalled, Status: metav1.ConditionTrue,
			Reason: status.ReasonDeletionWaiting, ObservedGeneration: p.Generation,
			Message: fmt.Sprintf("deletion has waited %s for another controller to release %s; if Envoy AI Gateway runs, restart its controller (v1.1.0 does not retry a finalizer removal refused on a conflict, envoyproxy/ai-gateway#2565); if it is uninstalled for good, remove those finalizers by hand",
				waited.Round(time.Second), strings.Join(pending, "; "))})
	}
	return patchStatus(ctx, r.Client, &r.written, before, p)
}

// DefaultDeletionStallAfter is how long a deletion waits for another controller's finalizer before the
// platform is Stalled.
const DefaultDeletionStallAfter = 2 * time.Minute

func (r *GenAIPlatformReconciler) deletionStallAfter() time.Duration {
	if r.DeletionStallAfter > 0 {
		return r.DeletionStallAfter
	}
	return DefaultDeletionStallAfter
}

// observeChildren reads every desired child back, in the cluster it went to, from that cluster's cache:
// what its own controller says about it, as its kind's readiness rule reads it. A child in a cluster
// that does not answer, or of a kind that cluster does not serve, is observed as absent.
func (r *GenAIPlatformReconciler) observeChildren(ctx context.Context, desired render.Output, targets map[string]*clusterTarget, served map[schema.GroupVersionKind]bool) []kinds.Observed {
	out := make([]kinds.Observed, len(desired.Children))
	for i, c := range desired.Children {
		k, ok := kinds.Of(c.Object)
		if !ok {
			continue
		}
		reader, applier, servedThere, cctx, cancel := client.Reader(r.Client), r.applier, served, ctx, context.CancelFunc(func() {})
		if c.Cluster != "" {
			t := targets[c.Cluster]
			if t == nil {
				continue
			}
			reader, applier, servedThere = t.client, t.applier, t.served
			cctx, cancel = t.deadline(ctx, r)
		}
		live := k.New()
		if servedThere[k.GVK] && reader.Get(cctx, client.ObjectKeyFromObject(c.Object), live) == nil {
			out[i] = kinds.Observe(live, apply.FieldOwner)
			// Just applied and not yet in the cache: its status there is the previous spec's.
			if g, ok := applier.AppliedGeneration(k.GVK, live.GetNamespace(), live.GetName()); ok && g > live.GetGeneration() {
				out[i].Generation, out[i].Conditions = g, nil
			}
		}
		cancel()
	}
	return out
}

// scope holds one reconcile's platform and its state before, so the status is written once, at the end,
// and only when it changed.
type scope struct {
	platform *platformv1.GenAIPlatform
	before   *platformv1.GenAIPlatform
	written  *writtenStatuses
}

func newScope(p *platformv1.GenAIPlatform, written *writtenStatuses) *scope {
	return &scope{platform: p, before: p.DeepCopy(), written: written}
}

// close writes the status when it changed. The platform read from the cache may not show the operator's
// own last status write yet. A patch computed against that stale status would miss fields, and one sent
// with its resourceVersion would fail with a conflict. So when the cache does not show the last status
// written yet, the patch is computed against that status and locked to the resourceVersion its write
// gave the platform: it succeeds unless someone else wrote the platform since. On a conflict, the patch
// is made again against the platform read from the API server.
func (s *scope) close(ctx context.Context, c client.Client, reader client.Reader, rec events.EventRecorder) error {
	key := client.ObjectKeyFromObject(s.platform)
	base := s.before
	if last, ok := s.written.get(key); ok && statuspatch.CacheOlder(s.before.ResourceVersion, last.resourceVersion) && !last.same(s.before.Status) {
		if last.same(s.platform.Status) {
			return nil // written already; the cache will show it
		}
		base = s.before.DeepCopy()
		base.Status = platformv1.GenAIPlatformStatus{}
		if err := json.Unmarshal(last.status, &base.Status); err == nil {
			base.ResourceVersion = last.resourceVersion
		} else {
			base = s.before
		}
	}
	if equality.Semantic.DeepEqual(base.Status, s.platform.Status) {
		return nil
	}
	s.recordTransitions(rec, base)
	s.recordOutage(rec, base)
	err := c.Status().Patch(ctx, s.platform, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		// Someone else wrote the platform since: the patch is made again against the platform as the
		// API server has it now, read directly, so that the status is not left waiting for the next
		// reconcile.
		fresh := &platformv1.GenAIPlatform{}
		if err := reader.Get(ctx, key, fresh); err != nil {
			return client.IgnoreNotFound(err)
		}
		if equality.Semantic.DeepEqual(fresh.Status, s.platform.Status) {
			s.written.set(key, fresh.ResourceVersion, fresh.Status)
			return nil
		}
		desired := fresh.DeepCopy()
		desired.Status = s.platform.Status
		if err = c.Status().Patch(ctx, desired, client.MergeFromWithOptions(fresh, client.MergeFromWithOptimisticLock{})); err == nil {
			s.platform.ResourceVersion = desired.ResourceVersion
		}
	}
	if err != nil {
		return client.IgnoreNotFound(err)
	}
	s.written.set(key, s.platform.ResourceVersion, s.platform.Status)
	return nil
}

// writtenStatuses remembers, per platform, the last status the operator wrote and the resourceVersion
// the write gave the platform.
type writtenStatuses struct {
	mu   sync.Mutex
	byNN map[types.NamespacedName]writtenStatus
}

type writtenStatus struct {
	resourceVersion string
	// status is the status as JSON, the form the API server keeps: compared so, an empty list and an
	// absent one, or a time and the same time to the second, are the same status.
	status []byte
}

func (w writtenStatus) same(st platformv1.GenAIPlatformStatus) bool {
	b, err := json.Marshal(st)
	return err == nil && string(b) == string(w.status)
}

func (w *writtenStatuses) get(key types.NamespacedName) (writtenStatus, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws, ok := w.byNN[key]
	return ws, ok
}

func (w *writtenStatuses) set(key types.NamespacedName, rv string, st platformv1.GenAIPlatformStatus) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byNN == nil {
		w.byNN = map[types.NamespacedName]writtenStatus{}
	}
	b, _ := json.Marshal(st)
	w.byNN[key] = writtenStatus{resourceVersion: rv, status: b}
}

func (w *writtenStatuses) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byNN, key)
}

// patchStatus writes p's status when it differs from before's, and only then: an empty patch is a
// request, and a platform that waits (an unreachable cluster, a finalizer) must cost nothing meanwhile.
func patchStatus(ctx context.Context, c client.Client, written *writtenStatuses, before, p *platformv1.GenAIPlatform) error {
	if equality.Semantic.DeepEqual(before.Status, p.Status) {
		return nil
	}
	if err := c.Status().Patch(ctx, p, client.MergeFrom(before)); err != nil {
		return client.IgnoreNotFound(err)
	}
	written.set(client.ObjectKeyFromObject(p), p.ResourceVersion, p.Status)
	return nil
}

// recordTransitions emits an event when the platform becomes ready or stops being ready since the status
// before (the last written): the changes a human wants to see in `kubectl describe`.
func (s *scope) recordTransitions(rec events.EventRecorder, before *platformv1.GenAIPlatform) {
	if rec == nil {
		return
	}
	was := meta.FindStatusCondition(before.Status.Conditions, platformv1.ConditionReady)
	now := meta.FindStatusCondition(s.platform.Status.Conditions, platformv1.ConditionReady)
	if now == nil || (was != nil && was.Status == now.Status && was.Reason == now.Reason) {
		return
	}
	kind := corev1.EventTypeNormal
	if now.Status != metav1.ConditionTrue {
		kind = corev1.EventTypeWarning
	}
	rec.Eventf(s.platform, nil, kind, now.Reason, "Reconcile", "%s", now.Message)
}

// recordOutage emits an event when the platform records an API server outage it had not recorded yet.
func (s *scope) recordOutage(rec events.EventRecorder, before *platformv1.GenAIPlatform) {
	o := s.platform.Status.LastAPIServerOutage
	if rec == nil || o == nil || equality.Semantic.DeepEqual(o, before.Status.LastAPIServerOutage) {
		return
	}
	rec.Eventf(s.platform, nil, corev1.EventTypeWarning, "APIServerOutage", "Reconcile",
		"The operator could not reach the API server for %s (%d requests failed, the last with: %s); changes made meanwhile took effect after it",
		o.End.Sub(o.Start.Time).Round(time.Second), o.FailedRequests, o.Message)
}

// SetupWithManager registers the controller. Child kinds are watched as their CRDs appear (see
// childWatches); user Secrets and namespaces that allow platforms through a metadata-only cache (no
// values cached).
func (r *GenAIPlatformReconciler) SetupWithManager(mgr ctrl.Manager, metadata cache.Cache) error {
	r.applier = apply.New(r.Client, r.Scheme, r.ApplyWorkers)
	r.applier.Reader = mgr.GetAPIReader()
	r.secrets = &secretWatches{config: mgr.GetConfig(), scheme: mgr.GetScheme(), mapper: mgr.GetRESTMapper(),
		handler: handler.TypedEnqueueRequestsFromMapFunc(r.platformsReferencingSecret), watched: map[string]watchedSecrets{}}
	if err := mgr.Add(r.secrets); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &platformv1.GenAIModel{}, platformRefIndex, indexPlatformRef); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &platformv1.GenAITenant{}, tenantPlatformIndex, indexTenantPlatform); err != nil {
		return err
	}
	c, err := ctrl.NewControllerManagedBy(mgr).
		For(&platformv1.GenAIPlatform{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}, deletionPredicate()))).
		Named("genaiplatform").
		// Teams' models: a change of what they declare (not their status, which the operator writes).
		Watches(&platformv1.GenAIModel{}, handler.EnqueueRequestsFromMapFunc(platformOfModel), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Tenants: a change of their spec, or of their rotate-keys annotation (not their status).
		Watches(&platformv1.GenAITenant{}, handler.EnqueueRequestsFromMapFunc(platformOfTenant),
			builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// Remote model clusters' objects and health changes, mapped to their platform by its labels.
		WatchesRawSource(source.Channel(r.clusters.Events(), handler.EnqueueRequestsFromMapFunc(platformOfChild))).
		// Namespaces labelled to allow platforms, that a platform's local model clusters name: the label
		// (set, changed or removed) lets the platform proceed or stops it at once.
		WatchesRawSource(source.Kind(metadata, partialMetadata(corev1.SchemeGroupVersion.WithKind("Namespace")), handler.TypedEnqueueRequestsFromMapFunc(r.platformsUsingNamespace))).
		Build(r)
	if err != nil {
		return err
	}
	r.secrets.controller = c
	if r.Outages != nil {
		if err := c.Watch(r.Outages.reconcileAllAfterRecovery(mgr.GetCache())); err != nil {
			return err
		}
	}
	dc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	r.watches = &childWatches{mapper: mgr.GetRESTMapper(), discovery: dc, cache: mgr.GetCache(), controller: c, watched: map[schema.GroupVersionKind]bool{}}
	return nil
}

func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew.GetDeletionTimestamp() != nil
	}}
}

// platformsReferencingSecret maps a Secret change to the platforms in its namespace that read it, and
// to the platforms of the GenAITenants and GenAIModels in its namespace that read it.
func (r *GenAIPlatformReconciler) platformsReferencingSecret(ctx context.Context, s *metav1.PartialObjectMetadata) []reconcile.Request {
	var list platformv1.GenAIPlatformList
	if err := r.Client.List(ctx, &list, client.InNamespace(s.Namespace)); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if referencedSecrets(&list.Items[i])[s.Name] {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: list.Items[i].Name}})
		}
	}
	var tenants platformv1.GenAITenantList
	if err := r.Client.List(ctx, &tenants, client.InNamespace(s.Namespace)); err == nil {
		for i := range tenants.Items {
			t := &tenants.Items[i]
			if ak := t.Spec.APIKeys; ak != nil && ak.SecretRef != nil && ak.SecretRef.Name == s.Name {
				out = append(out, reconcile.Request{NamespacedName: tenantPlatformKey(t)})
			}
		}
	}
	var models platformv1.GenAIModelList
	if err := r.Client.List(ctx, &models, client.InNamespace(s.Namespace)); err != nil {
		return out
	}
	for i := range models.Items {
		m := &models.Items[i]
		owner := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace}}
		owner.Spec.Models = []platformv1.ModelSpec{{Name: m.Spec.Name, SelfHosted: m.Spec.SelfHosted}}
		if referencedSecrets(owner)[s.Name] {
			out = append(out, reconcile.Request{NamespacedName: platformKeyOf(m)})
		}
	}
	return out
}
