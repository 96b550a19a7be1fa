package controllers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	kservev1a2 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1alpha2"
	kservev1b1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	"github.com/genai-platform/genai-platform-operator/controllers/clustercache"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// DefaultKeyRotationGrace is how long Tier Two keeps admitting the previous key after Tier One switched
// to the new one. Tier One's key reaches Envoy AI Gateway's external processor through the filter
// configuration Secret the AI Gateway controller writes and the proxy pod mounts; the kubelet refreshes
// a mounted Secret within its sync period plus its Secret cache's time to live (one minute each by
// default: https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod),
// and the processor then reloads the file. Three minutes covers that bound with a minute to spare.
const DefaultKeyRotationGrace = 3 * time.Minute

// clusterTarget is where one model cluster's objects live: this cluster, or a remote one reached
// through its kubeconfig.
type clusterTarget struct {
	client  client.Client // cached reads of the operator's objects, and writes
	reader  client.Reader // uncached reads, for objects the operator may not own
	applier *apply.Applier
	served  map[schema.GroupVersionKind]bool
	remote  *clustercache.Cluster // nil: this cluster
}

// observeModelClusters reads, for each model cluster: whether it answers, its namespace, its Tier Two
// Gateway's address and its key state; and each placement's InferenceService. It returns the clusters
// that answer (a cluster missing there is unreachable, its problem says why, and Tier One routes nothing
// to it). An error is a read that failed where guessing would be destructive (a key Secret, a namespace
// of this cluster): the reconcile stops before render and is retried.
func (r *GenAIPlatformReconciler) observeModelClusters(ctx context.Context, p *platformv1.GenAIPlatform, served map[schema.GroupVersionKind]bool, f *facts.Facts) (map[string]*clusterTarget, error) {
	targets := map[string]*clusterTarget{}
	for i := range p.Spec.ModelClusters {
		mc := &p.Spec.ModelClusters[i]
		t := &clusterTarget{client: r.Client, reader: r.Client, applier: r.applier, served: served}
		if mc.KubeconfigSecretRef == nil {
			prob, err := r.writeScope(ctx, p, mc)
			if err != nil {
				return nil, err
			}
			if prob != nil {
				f.SetCluster(mc.Name, facts.Cluster{Problem: prob, NotAllowed: true})
				continue
			}
		}
		if mc.KubeconfigSecretRef != nil {
			var prob *facts.Problem
			if t, prob = r.remoteTarget(ctx, p, mc); prob != nil {
				if err := r.leaveAlone(ctx, p, mc, f, prob); err != nil {
					return nil, err
				}
				continue
			}
		}
		targets[mc.Name] = t
		var cf facts.Cluster
		if t.remote != nil {
			if missing := missingModelClusterKinds(t.served); len(missing) > 0 {
				cf.Problem = &facts.Problem{Reason: status.ReasonCRDNotInstalled, Stalled: true,
					Message: "the model cluster does not serve " + strings.Join(missing, ", ") + ": install Envoy Gateway and KServe there"}
			}
		}
		tctx, cancel := t.deadline(ctx, r)
		err := r.observeCluster(tctx, p, mc, t, &cf)
		cancel()
		switch {
		case err != nil && t.remote == nil:
			return nil, err
		case err != nil:
			// A remote cluster that answered the probe but not this read: left alone this time, as an
			// unreachable one is (nothing applied or pruned there, its link kept, nothing routed to it).
			delete(targets, mc.Name)
			prob := &facts.Problem{Reason: status.ReasonClusterUnreachable, Message: fmt.Sprintf("reading the cluster: %v; Tier One routes nothing to it until it answers", err)}
			if err := r.leaveAlone(ctx, p, mc, f, prob); err != nil {
				return nil, err
			}
			continue
		}
		f.SetCluster(mc.Name, cf)
	}

	for i := range p.Spec.Models {
		m := &p.Spec.Models[i]
		if m.SelfHosted == nil {
			continue
		}
		for _, pl := range m.SelfHosted.Placements {
			mc, t := p.ModelCluster(pl.Cluster), targets[pl.Cluster]
			if mc == nil || t == nil {
				continue
			}
			ns := render.ModelClusterNamespace(mc)
			for _, v := range render.ModelVersions(m.SelfHosted) {
				id := facts.PlacementID{Model: m.Name, Cluster: pl.Cluster, NodePool: pl.NodePool, Version: v.Name}
				var state facts.Placement
				switch {
				case render.VersionEngine(&v) == platformv1.EngineLLMInferenceService && !t.served[kservev1a2.GroupVersion.WithKind("LLMInferenceService")]:
					state = facts.Placement{Reason: status.ReasonCRDNotInstalled, Message: "the model cluster does not serve LLMInferenceService (" +
						kservev1a2.GroupVersion.String() + "): install KServe's LLMInferenceService controller and its CRDs there (KServe v0.20: config/llmisvc)"}
				case render.VersionEngine(&v) == platformv1.EngineLLMInferenceService:
					tctx, cancel := t.deadline(ctx, r)
					var llm kservev1a2.LLMInferenceService
					err := t.client.Get(tctx, types.NamespacedName{Namespace: ns, Name: render.VersionLLMInferenceServiceName(p, m.Name, pl.NodePool, v.Name)}, &llm)
					cancel()
					state = llmPlacementOf(&llm, err)
					if state.Exists && !state.Ready {
						state = r.withSchedulingReason(ctx, t, state, ns, "LLMInferenceService "+llm.Name, client.MatchingLabels{
							kservev1a2.LabelAppName: llm.Name, kservev1a2.LabelPartOf: kservev1a2.PartOfValue, kservev1a2.LabelComponent: kservev1a2.ComponentWorkload})
					}
				case !t.served[kservev1b1.GroupVersion.WithKind("InferenceService")]:
					continue
				default:
					tctx, cancel := t.deadline(ctx, r)
					var isvc kservev1b1.InferenceService
					err := t.client.Get(tctx, types.NamespacedName{Namespace: ns, Name: render.VersionInferenceServiceName(p, ns, m.Name, pl.NodePool, v.Name)}, &isvc)
					cancel()
					state = placementOf(&isvc, err)
					if state.Exists && !state.Ready {
						state = r.withSchedulingReason(ctx, t, state, ns, "InferenceService "+isvc.Name, client.MatchingLabels{kserveISVCLabel: isvc.Name})
					}
				}
				state.PlacementID = id
				f.Placements = append(f.Placements, state)
			}
		}
	}
	return targets, nil
}

// leaveAlone records a model cluster that cannot be worked on now: its problem, nothing routed to it, and
// its link kept as it is (its key unchanged, its last address) so that a blip churns nothing.
func (r *GenAIPlatformReconciler) leaveAlone(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, f *facts.Facts, prob *facts.Problem) error {
	key, _, err := r.tierOneKey(ctx, p, mc)
	if err != nil {
		return err
	}
	cf := facts.Cluster{Problem: prob, Unreachable: true, Key: &key, Address: r.lastAddress(p, mc.Name)}
	// Tier One's side of the link stays as it is, with its trust bundle (renewed even now: the CA's state
	// lives in Tier One).
	if err := r.observeLinkTLS(ctx, p, mc, &cf); err != nil {
		return err
	}
	f.SetCluster(mc.Name, cf)
	return nil
}

// missingModelClusterKinds names the model-cluster kinds a remote cluster does not serve (an optional
// kind is reported by the placements that need it, not here).
func missingModelClusterKinds(served map[schema.GroupVersionKind]bool) []string {
	var out []string
	for _, k := range kinds.ModelCluster() {
		if !served[k.GVK] && !k.Optional {
			out = append(out, k.Name())
		}
	}
	return out
}

// observeCluster reads one reachable model cluster: whether the operator owns its namespace, its Tier
// Two Gateway's address, and its key state. Whether the namespace is the operator's must be known: a
// guess either way would label a user's namespace or prune the operator's, with everything in it.
func (r *GenAIPlatformReconciler) observeCluster(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, t *clusterTarget, cf *facts.Cluster) error {
	// A namespace a user made is not in the cache (it holds only the operator's own): here it is read
	// from the API server, there through the remote cluster's direct reader.
	nsReader := t.reader
	if t.remote == nil {
		nsReader = r.APIReader
	}
	var nsObj corev1.Namespace
	switch err := nsReader.Get(ctx, types.NamespacedName{Name: render.ModelClusterNamespace(mc)}, &nsObj); {
	case apierrors.IsNotFound(err):
	case err == nil:
		cf.ForeignNamespace = nsObj.Labels[platformv1.LabelPlatform] != p.Name || nsObj.Labels[platformv1.LabelPlatformNS] != p.Namespace
	default:
		return fmt.Errorf("reading namespace %s: %w", render.ModelClusterNamespace(mc), err)
	}

	if addr := tierTwoAddress(ctx, p, mc, t); addr != "" {
		cf.Address = addr
		r.rememberAddress(p, mc.Name, addr)
	}

	key, rotating, due, err := r.clusterKey(ctx, p, mc, t.client)
	if err != nil {
		return err
	}
	cf.Key, cf.Rotating, cf.KeyRotationDue = &key, rotating, due
	return r.observeLinkTLS(ctx, p, mc, cf)
}

// tierTwoAddress is the first address in the status of a model cluster's Tier Two Gateway, as the
// cluster's cache shows it ("" when there is none yet).
func tierTwoAddress(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, t *clusterTarget) string {
	if !t.served[schema.GroupVersion{Group: gwapiv1.GroupName, Version: "v1"}.WithKind("Gateway")] {
		return ""
	}
	var gw gwapiv1.Gateway
	if err := t.client.Get(ctx, types.NamespacedName{Namespace: render.ModelClusterNamespace(mc), Name: render.TierTwoGatewayName(p)}, &gw); err != nil {
		return ""
	}
	for _, a := range gw.Status.Addresses {
		if a.Value != "" {
			return a.Value
		}
	}
	return ""
}

// addressesArrived records in f the Tier Two addresses that appeared since the clusters were observed,
// and says whether any did.
func (r *GenAIPlatformReconciler) addressesArrived(ctx context.Context, p *platformv1.GenAIPlatform, targets map[string]*clusterTarget, f *facts.Facts) bool {
	arrived := false
	for i := range p.Spec.ModelClusters {
		mc := &p.Spec.ModelClusters[i]
		t, cf := targets[mc.Name], f.Cluster(mc.Name)
		if t == nil || cf.Address != "" || cf.Unreachable || cf.NotAllowed || cf.Problem != nil {
			continue
		}
		if addr := tierTwoAddress(ctx, p, mc, t); addr != "" {
			cf.Address = addr
			f.SetCluster(mc.Name, cf)
			r.rememberAddress(p, mc.Name, addr)
			arrived = true
		}
	}
	return arrived
}

// observeLinkTLS adds the link's TLS material to a cluster's facts, or the problem that keeps the link
// from being made.
func (r *GenAIPlatformReconciler) observeLinkTLS(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, cf *facts.Cluster) error {
	t, prob, err := r.linkTLS(ctx, p, mc)
	if err != nil {
		return err
	}
	cf.TLS = t
	if prob != nil && cf.Problem == nil {
		cf.Problem = prob
	}
	return nil
}

// withSchedulingReason adds the scheduler's word to a placement that is not Ready: KServe does not pass
// on why its model server pods are Pending ("Insufficient nvidia.com/gpu", an untolerated taint), which
// is what a platform engineer needs to see. Pods (those pods selects, of the object what names) are read
// uncached, in the model namespace only.
func (r *GenAIPlatformReconciler) withSchedulingReason(ctx context.Context, t *clusterTarget, pl facts.Placement, namespace, what string, pods client.MatchingLabels) facts.Placement {
	reader := t.reader
	if t.remote == nil {
		reader = r.APIReader
	}
	ctx, cancel := t.deadline(ctx, r)
	defer cancel()
	var list corev1.PodList
	if err := reader.List(ctx, &list, client.InNamespace(namespace), pods); err != nil {
		return pl
	}
	for _, pod := range list.Items {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				pl.Reason = nonEmpty(c.Reason, "Unschedulable")
				pl.Message = what + ": pod " + pod.Name + " cannot be scheduled: " + c.Message
				return pl
			}
		}
	}
	return pl
}

// kserveISVCLabel is the label KServe puts on an InferenceService's pods.
const kserveISVCLabel = "serving.kserve.io/inferenceservice"

// placementOf reads an InferenceService's readiness, with KServe's own reason when it is not Ready.
func placementOf(isvc *kservev1b1.InferenceService, getErr error) facts.Placement {
	if getErr != nil {
		return facts.Placement{Reason: "InferenceServiceNotFound", Message: "the InferenceService does not exist yet"}
	}
	pl := facts.Placement{Exists: true, Reason: status.ReasonWaitingForKServe, Message: "KServe has not reported the InferenceService Ready yet"}
	stale := isvc.Status.ObservedGeneration != 0 && isvc.Status.ObservedGeneration < isvc.Generation
	for _, c := range isvc.Status.Conditions {
		if c.Type != "Ready" {
			continue
		}
		switch {
		case c.Status == corev1.ConditionTrue && !stale:
			return facts.Placement{Exists: true, Ready: true, Reason: "Ready", Message: "InferenceService " + isvc.Name + " is Ready"}
		case c.Status == corev1.ConditionFalse:
			pl.Reason, pl.Message = nonEmpty(c.Reason, "NotReady"), c.Message
		}
	}
	if fi := isvc.Status.ModelStatus; fi != nil && fi.LastFailureInfo != nil {
		pl.Reason = nonEmpty(fi.LastFailureInfo.Reason, pl.Reason)
		pl.Message = nonEmpty(fi.LastFailureInfo.Message, pl.Message)
	}
	pl.Message = "InferenceService " + isvc.Name + ": " + pl.Message
	return pl
}

// llmPlacementOf reads an LLMInferenceService's readiness as its kind's readiness rule says (the
// conditions of kinds' Want, in KServe v0.20's knative shape), with KServe's own reason when it is not
// ready: the first wanted condition KServe set False for the current generation, else the first it has
// not reported yet.
func llmPlacementOf(llm *kservev1a2.LLMInferenceService, getErr error) facts.Placement {
	if getErr != nil {
		return facts.Placement{Reason: "LLMInferenceServiceNotFound", Message: "the LLMInferenceService does not exist yet"}
	}
	what := "LLMInferenceService " + llm.Name + ": "
	k, _ := kinds.Of(llm)
	stale := llm.Status.ObservedGeneration != 0 && llm.Status.ObservedGeneration < llm.Generation
	find := func(t string) *kservev1a2.Condition {
		for i := range llm.Status.Conditions {
			if llm.Status.Conditions[i].Type == t {
				return &llm.Status.Conditions[i]
			}
		}
		return nil
	}
	if !stale {
		for _, t := range k.Readiness.Want {
			if c := find(t); c != nil && c.Status == corev1.ConditionFalse {
				return facts.Placement{Exists: true, Reason: nonEmpty(c.Reason, "NotReady"), Message: what + t + " False: " + c.Message}
			}
		}
	}
	for _, t := range k.Readiness.Want {
		if c := find(t); stale || c == nil || c.Status != corev1.ConditionTrue {
			return facts.Placement{Exists: true, Reason: status.ReasonWaitingForKServe, Message: what + "KServe has not reported " + t + " for its current spec yet"}
		}
	}
	return facts.Placement{Exists: true, Ready: true, Reason: "Ready", Message: what + "its model server and endpoint picker are available"}
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// clusterKey returns the cluster's key state for this reconcile, advanced by at most one rotation step,
// whether a rotation is under way (so the reconciler comes back soon), and when the next scheduled rotation
// is due (zero: none).
//
// The rotation never leaves a moment when Tier Two refuses what Tier One sends, as long as each tier's
// proxies pick up a changed Secret within the grace period:
//  1. stage: a new key becomes Next; Tier Two admits Current and Next; Tier One still sends Current.
//  2. switch, once Tier Two's live key Secret admits Next and the grace period has passed since it was
//     staged (time for Tier Two's proxies to load it): Tier One sends Next (now Current); Tier Two still
//     admits the old key (now Previous).
//  3. retire, once the grace period has passed since Tier One's Secret switched (time for Tier One's
//     proxies, which read it from a mounted Secret, to load it): Tier Two admits only Current.
//
// A rotation starts on demand (a new value of the rotate-cluster-keys annotation) or on the cluster's
// keyRotationPeriod, counted from when the current key was made.
func (r *GenAIPlatformReconciler) clusterKey(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, modelCluster client.Reader) (k facts.ClusterKey, rotating bool, due time.Time, err error) {
	k, rotating, due, err = r.advanceClusterKey(ctx, p, mc, modelCluster)
	if mc.KeyRotationPeriod == nil {
		// Without a schedule the key's age is not recorded: a schedule set later counts from then.
		k.CreatedAt = ""
	}
	return k, rotating, due, err
}

func (r *GenAIPlatformReconciler) advanceClusterKey(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, modelCluster client.Reader) (k facts.ClusterKey, rotating bool, due time.Time, err error) {
	k, stored, err := r.tierOneKey(ctx, p, mc)
	if err != nil || !stored {
		return k, false, time.Time{}, err
	}
	admitted := map[string]bool{}
	var tierTwo corev1.Secret
	if err := modelCluster.Get(ctx, types.NamespacedName{Namespace: render.ModelClusterNamespace(mc), Name: render.TierTwoKeySecretName(p)}, &tierTwo); err == nil {
		for _, v := range tierTwo.Data {
			admitted[string(v)] = true
		}
	}
	requested := p.Annotations[platformv1.AnnotationRotateClusterKeys]
	now := r.now()
	// Sub-second stamps: a stamp cut to the second would end a grace period up to a second early.
	stamp := now.UTC().Format(time.RFC3339Nano)
	grace := r.keyRotationGrace()
	elapsed := func(since string) bool {
		t, _ := time.Parse(time.RFC3339, since)
		return now.Sub(t) >= grace
	}
	switch {
	case k.Next != "":
		if admitted[render.TierTwoAdmittedKey(k.Next)] && elapsed(k.StagedAt) {
			k.Previous, k.Current, k.Next = k.Current, k.Next, ""
			k.SwitchedAt, k.CreatedAt, k.StagedAt = stamp, stamp, ""
		}
		return k, true, time.Time{}, nil
	case k.Previous != "":
		if elapsed(k.SwitchedAt) {
			k.Previous, k.SwitchedAt = "", ""
			return k, false, rotationDue(mc, k), nil
		}
		return k, true, time.Time{}, nil
	case requested != "" && requested != k.Token:
		k.Next, k.Token, k.StagedAt = newKey(), requested, stamp
		return k, true, time.Time{}, nil
	case k.CreatedAt == "":
		// A key made before its cluster had a schedule: the schedule starts now.
		k.CreatedAt = stamp
	}
	due = rotationDue(mc, k)
	if !due.IsZero() && !now.Before(due) {
		k.Next, k.StagedAt = newKey(), stamp
		return k, true, time.Time{}, nil
	}
	return k, false, due, nil
}

// rotationDue is when a cluster's current key is due for its scheduled rotation (zero: no schedule).
func rotationDue(mc *platformv1.ModelClusterSpec, k facts.ClusterKey) time.Time {
	created, err := time.Parse(time.RFC3339, k.CreatedAt)
	if mc.KeyRotationPeriod == nil || mc.KeyRotationPeriod.Duration <= 0 || err != nil {
		return time.Time{}
	}
	return created.Add(mc.KeyRotationPeriod.Duration)
}

// tierOneKey is the key state Tier One holds for a model cluster, unchanged (a new key when it has none).
// An unreachable cluster keeps it as it is: no rotation step can be checked against its Tier Two. A new
// key is made only when the API server says there is none: on any other error a new key would replace
// the one Tier Two admits at once, and refuse Tier One's traffic until its proxies reload.
func (r *GenAIPlatformReconciler) tierOneKey(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) (k facts.ClusterKey, stored bool, err error) {
	var tierOne corev1.Secret
	name := types.NamespacedName{Namespace: p.Namespace, Name: render.ClusterKeySecretName(p, mc.Name)}
	if err := r.Client.Get(ctx, name, &tierOne); err != nil {
		// The cache may not have seen the Secret written by the last reconcile yet: ask the API server
		// before making a new key, or the link's key would change under Tier Two's feet.
		switch err := r.APIReader.Get(ctx, name, &tierOne); {
		case apierrors.IsNotFound(err):
			return facts.ClusterKey{Current: newKey(), Token: p.Annotations[platformv1.AnnotationRotateClusterKeys]}, false, nil
		case err != nil:
			return k, false, fmt.Errorf("reading the key Secret of model cluster %s: %w", mc.Name, err)
		}
	}
	k = facts.ClusterKeyFromSecret(tierOne.Data, tierOne.Annotations)
	if k.Current == "" {
		k.Current = newKey()
		return k, false, nil
	}
	return k, true, nil
}

func (r *GenAIPlatformReconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

func (r *GenAIPlatformReconciler) keyRotationGrace() time.Duration {
	if r.KeyRotationGrace > 0 {
		return r.KeyRotationGrace
	}
	return DefaultKeyRotationGrace
}

// newKey is a random 256-bit key.
func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux (it panics if the kernel cannot provide)
	return base64.RawURLEncoding.EncodeToString(b)
}
