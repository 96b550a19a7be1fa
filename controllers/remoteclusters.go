package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	"github.com/genai-platform/genai-platform-operator/controllers/clustercache"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// requeueForUnreachable is how often a platform with an unreachable model cluster looks again, on top
// of the health probe that enqueues it as soon as the cluster answers.
const requeueForUnreachable = 15 * time.Second

// kubeconfigKey is the conventional data key of a kubeconfig Secret.
const kubeconfigKey = "kubeconfig"

func accessorKey(p *platformv1.GenAIPlatform, cluster string) clustercache.Key {
	return clustercache.Key{Platform: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, Cluster: cluster}
}

// remoteTarget connects to a model cluster through its kubeconfig Secret. Any problem (Secret missing,
// kubeconfig invalid, API server unreachable, cache not in sync in time) is returned as the cluster's
// problem: the caller treats the cluster as unreachable and carries on with the others.
func (r *GenAIPlatformReconciler) remoteTarget(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) (*clusterTarget, *facts.Problem) {
	field := "spec.modelClusters[" + mc.Name + "].kubeconfigSecretRef"
	kubeconfig, prob := r.readSecretKey(ctx, p, *mc.KubeconfigSecretRef, kubeconfigKey)
	if prob != nil {
		prob.Message = field + ": " + prob.Message
		return nil, prob
	}
	cl, err := r.clusters.Connect(accessorKey(p, mc.Name), kubeconfig)
	if err != nil {
		return nil, &facts.Problem{Reason: status.ReasonKubeconfigInvalid, Stalled: errors.Is(err, clustercache.ErrInvalidKubeconfig),
			Message: fmt.Sprintf("%s: Secret %s/%s: %v", field, p.Namespace, mc.KubeconfigSecretRef.Name, err)}
	}
	tctx, cancel := context.WithTimeout(ctx, r.clusters.RequestTimeout())
	defer cancel()
	cl.WaitProbed(tctx)
	if ok, err := cl.Health(); !ok {
		return nil, &facts.Problem{Reason: status.ReasonClusterUnreachable,
			Message: fmt.Sprintf("the cluster's API server does not answer: %v; Tier One routes nothing to it until it does", err)}
	}
	served, err := cl.Sync(tctx)
	if err != nil {
		return nil, &facts.Problem{Reason: status.ReasonClusterUnreachable,
			Message: fmt.Sprintf("reading the cluster: %v; Tier One routes nothing to it until it answers", err)}
	}
	return &clusterTarget{client: cl.Client, reader: cl.Reader, applier: cl.Applier, served: served, remote: cl}, nil
}

// deadline bounds one step in a remote cluster, so a cluster that accepts connections and never answers
// cannot hold a worker; this cluster's requests need none.
func (t *clusterTarget) deadline(ctx context.Context, r *GenAIPlatformReconciler) (context.Context, context.CancelFunc) {
	if t.remote == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.clusters.RequestTimeout())
}

// rememberAddress keeps the last Tier Two address seen per cluster, so that a cluster that stops
// answering keeps its Tier One link objects (only routing stops) and a blip does not churn them.
func (r *GenAIPlatformReconciler) rememberAddress(p *platformv1.GenAIPlatform, cluster, addr string) {
	r.addrMu.Lock()
	defer r.addrMu.Unlock()
	if r.addresses == nil {
		r.addresses = map[clustercache.Key]string{}
	}
	r.addresses[accessorKey(p, cluster)] = addr
}

func (r *GenAIPlatformReconciler) lastAddress(p *platformv1.GenAIPlatform, cluster string) string {
	r.addrMu.Lock()
	defer r.addrMu.Unlock()
	return r.addresses[accessorKey(p, cluster)]
}

// deployRemote deploys one remote model cluster's objects within the cluster's deadline.
func (r *GenAIPlatformReconciler) deployRemote(ctx context.Context, p *platformv1.GenAIPlatform, t *clusterTarget, desired []client.Object) ([]string, error) {
	ctx, cancel := t.deadline(ctx, r)
	defer cancel()
	return r.deploy(ctx, p, t.applier, t.served, desired, nil)
}

// pruneIn deletes, in one cluster, the platform's labelled objects of every served kind not in keep.
//
// Kinds are pruned in the order of kinds.Kind.PruneFirst, highest first; while an object of a stage is
// still terminating, the later stages are left for a later reconcile and pending names what is waited
// for.
func (r *GenAIPlatformReconciler) pruneIn(ctx context.Context, p *platformv1.GenAIPlatform, a *apply.Applier, served map[schema.GroupVersionKind]bool, keep map[string]bool) (pending []string, err error) {
	var errs []error
	selector := client.MatchingLabels(render.SelectorLabels(p))
	if served[corev1.SchemeGroupVersion.WithKind("Namespace")] {
		keep, err = keepSharedNamespaces(ctx, a, p, selector, keep)
		if err != nil {
			return nil, err
		}
	}
	for _, stage := range kinds.PruneStages() {
		for _, k := range kinds.All {
			if !served[k.GVK] || k.PruneFirst != stage {
				continue
			}
			deleted, err := a.Prune(ctx, k.NewList(), selector, keep)
			errs = append(errs, err)
			if stage > 0 {
				// The cache has not seen a deletion made just now: wait for the next reconcile either way.
				if deleted > 0 {
					pending = append(pending, fmt.Sprintf("%d %s just deleted", deleted, k.GVK.Kind))
				}
				terminating, err := terminatingOf(ctx, a, k, selector, keep)
				pending, errs = append(pending, terminating...), append(errs, err)
			}
		}
		if len(pending) > 0 {
			return pending, errors.Join(errs...)
		}
	}
	if served[schema.GroupVersion{Group: gwapiv1.GroupName, Version: "v1"}.WithKind("HTTPRoute")] {
		errs = append(errs, removeKServeRoutes(ctx, a, p))
	}
	return nil, errors.Join(errs...)
}

// keepSharedNamespaces adds to keep the namespaces the platform made that other platforms use too: a model
// namespace is shared on purpose (Tier Two names carry a hash of their platform), and deleting it would
// delete the other platforms' gateways and models with it. It is left in place, with its labels.
func keepSharedNamespaces(ctx context.Context, a *apply.Applier, p *platformv1.GenAIPlatform, selector client.MatchingLabels, keep map[string]bool) (map[string]bool, error) {
	var namespaces corev1.NamespaceList
	if err := a.Client.List(ctx, &namespaces, selector); err != nil {
		return nil, err
	}
	out := maps.Clone(keep)
	if out == nil {
		out = map[string]bool{}
	}
	for _, ns := range namespaces.Items {
		key := apply.Key(corev1.SchemeGroupVersion.WithKind("Namespace"), "", ns.Name)
		if out[key] {
			continue
		}
		// Every platform with objects in a model namespace has its Tier Two key Secret there.
		var secrets corev1.SecretList
		if err := a.Client.List(ctx, &secrets, client.InNamespace(ns.Name), client.MatchingLabels{platformv1.LabelManagedBy: platformv1.ManagedByValue}); err != nil {
			return nil, err
		}
		for _, s := range secrets.Items {
			if s.Labels[platformv1.LabelPlatform] != p.Name || s.Labels[platformv1.LabelPlatformNS] != p.Namespace {
				out[key] = true
				break
			}
		}
	}
	return out, nil
}

// terminatingOf names the platform's objects of one kind that are being deleted, with their finalizers;
// those still desired (in keep: deleted by someone else, to be made again) are not waited for.
func terminatingOf(ctx context.Context, a *apply.Applier, k kinds.Kind, selector client.MatchingLabels, keep map[string]bool) ([]string, error) {
	list := k.NewList()
	if err := a.Client.List(ctx, list, selector); err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, item := range items {
		if obj, ok := item.(client.Object); ok && obj.GetDeletionTimestamp() != nil && !keep[apply.Key(k.GVK, obj.GetNamespace(), obj.GetName())] {
			out = append(out, fmt.Sprintf("%s %s (finalizers %s)", k.GVK.Kind, obj.GetName(), strings.Join(obj.GetFinalizers(), ", ")))
		}
	}
	return out, nil
}

// removeKServeRoutes deletes the HTTPRoutes KServe made for the platform's InferenceServices before they
// were cluster-local: KServe stops making them once the visibility label is there, but never deletes
// the ones it made (RawHTTPRouteReconciler), and they would let clients reach a model past Tier Two's
// key. They carry the platform's labels, copied from the InferenceService when KServe made them.
func removeKServeRoutes(ctx context.Context, a *apply.Applier, p *platformv1.GenAIPlatform) error {
	var routes gwapiv1.HTTPRouteList
	if err := a.Client.List(ctx, &routes, client.MatchingLabels(render.SelectorLabels(p))); err != nil {
		return err
	}
	for i := range routes.Items {
		r := &routes.Items[i]
		owner := metav1.GetControllerOf(r)
		if owner == nil || owner.Kind != "InferenceService" || !strings.HasPrefix(owner.APIVersion, "serving.kserve.io/") {
			continue
		}
		if err := a.Delete(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// remoteClusters names the platform's model clusters reached through a kubeconfig, in spec order.
func remoteClusters(p *platformv1.GenAIPlatform) map[string]*platformv1.ModelClusterSpec {
	out := map[string]*platformv1.ModelClusterSpec{}
	for i := range p.Spec.ModelClusters {
		if mc := &p.Spec.ModelClusters[i]; mc.KubeconfigSecretRef != nil {
			out[mc.Name] = mc
		}
	}
	return out
}

// forgetRemovedClusters cleans every remote cluster the platform no longer names (removed from the spec,
// or now this cluster) with the accessor kept from when it was named, then stops that accessor: its
// informers, watches and probe. A cluster that cannot be cleaned now is tried again later.
func (r *GenAIPlatformReconciler) forgetRemovedClusters(ctx context.Context, p *platformv1.GenAIPlatform) error {
	named := remoteClusters(p)
	var errs []error
	for _, key := range r.clusters.ClustersOf(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}) {
		if named[key.Cluster] != nil {
			continue
		}
		if err := r.cleanRemote(ctx, p, r.clusters.Get(key)); err != nil {
			errs = append(errs, fmt.Errorf("cleaning removed model cluster %s: %w", key.Cluster, err))
			continue
		}
		r.clusters.Disconnect(key)
	}
	return errors.Join(errs...)
}

// cleanRemote deletes every labelled object of the platform from one remote cluster.
func (r *GenAIPlatformReconciler) cleanRemote(ctx context.Context, p *platformv1.GenAIPlatform, cl *clustercache.Cluster) error {
	if cl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.clusters.RequestTimeout())
	defer cancel()
	if ok, err := cl.Health(); !ok {
		return fmt.Errorf("its API server does not answer: %w", err)
	}
	served, err := cl.Sync(ctx)
	if err != nil {
		return err
	}
	pending, err := r.pruneIn(ctx, p, cl.Applier, served, nil)
	if err == nil && len(pending) > 0 {
		err = fmt.Errorf("waiting for %s", strings.Join(pending, "; "))
	}
	return err
}

// finalizeRemote cleans every remote cluster of a platform being deleted. A cluster that cannot be
// reached blocks deletion (its objects would be orphaned) unless the platform's
// AnnotationAbandonClusters names it; what blocks is returned for the status.
func (r *GenAIPlatformReconciler) finalizeRemote(ctx context.Context, p *platformv1.GenAIPlatform) (blocked []string) {
	abandon := abandonedClusters(p)
	pending := map[string]bool{}
	for name := range remoteClusters(p) {
		pending[name] = true
	}
	for _, key := range r.clusters.ClustersOf(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}) {
		pending[key.Cluster] = true
	}
	names := make([]string, 0, len(pending))
	for name := range pending {
		names = append(names, name)
	}
	sort.Strings(names)
	var done []clustercache.Key
	for _, name := range names {
		key := accessorKey(p, name)
		err := r.cleanRemoteCluster(ctx, p, name)
		switch {
		case err == nil:
			done = append(done, key)
		case abandon["*"] || abandon[name]:
			r.event(p, "Warning", "ModelClusterAbandoned", "Delete",
				"model cluster %s: its objects were left in place (annotation %s): %v", name, platformv1.AnnotationAbandonClusters, err)
			done = append(done, key)
		default:
			blocked = append(blocked, fmt.Sprintf("%s (%v)", name, err))
		}
	}
	// Accessors are kept until every cluster is clean: reconnecting on each retry would churn them.
	if len(blocked) == 0 {
		for _, key := range done {
			r.clusters.Disconnect(key)
		}
	}
	return blocked
}

// cleanRemoteCluster connects (through the kubeconfig Secret, or the accessor already held when the
// Secret is gone, as when a whole namespace is deleted) and cleans one remote cluster.
func (r *GenAIPlatformReconciler) cleanRemoteCluster(ctx context.Context, p *platformv1.GenAIPlatform, name string) error {
	key := accessorKey(p, name)
	if mc := remoteClusters(p)[name]; mc != nil {
		if kubeconfig, prob := r.readSecretKey(ctx, p, *mc.KubeconfigSecretRef, kubeconfigKey); prob == nil {
			if _, err := r.clusters.Connect(key, kubeconfig); err != nil {
				return err
			}
		}
	}
	cl := r.clusters.Get(key)
	if cl == nil {
		return fmt.Errorf("no usable kubeconfig for it")
	}
	wctx, cancel := context.WithTimeout(ctx, r.clusters.RequestTimeout())
	cl.WaitProbed(wctx)
	cancel()
	return r.cleanRemote(ctx, p, cl)
}

func abandonedClusters(p *platformv1.GenAIPlatform) map[string]bool {
	out := map[string]bool{}
	for _, n := range strings.Split(p.Annotations[platformv1.AnnotationAbandonClusters], ",") {
		if n = strings.TrimSpace(n); n != "" {
			out[n] = true
		}
	}
	return out
}

// blockedDeletion records on the platform why its deletion waits, with the way out.
func (r *GenAIPlatformReconciler) blockedDeletion(ctx context.Context, p *platformv1.GenAIPlatform, blocked []string) error {
	before := p.DeepCopy()
	msg := fmt.Sprintf("deletion waits to clean model clusters that cannot be reached: %s; to leave their objects behind, annotate the platform %s=<cluster names, comma-separated, or *>",
		strings.Join(blocked, "; "), platformv1.AnnotationAbandonClusters)
	for _, typ := range []string{platformv1.ConditionReady, platformv1.ConditionModelClustersReady} {
		meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionFalse,
			Reason: status.ReasonCleanupBlocked, Message: msg, ObservedGeneration: p.Generation})
	}
	return patchStatus(ctx, r.Client, &r.written, before, p)
}

// removeFinalizer lets the platform go.
func (r *GenAIPlatformReconciler) removeFinalizer(ctx context.Context, p *platformv1.GenAIPlatform) error {
	before := p.DeepCopy()
	controllerutil.RemoveFinalizer(p, platformv1.FinalizerCleanup)
	return client.IgnoreNotFound(r.Client.Patch(ctx, p, client.MergeFrom(before)))
}

// event records an event on the platform when a recorder is set.
func (r *GenAIPlatformReconciler) event(p *platformv1.GenAIPlatform, kind, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(p, nil, kind, reason, action, note, args...)
	}
}
