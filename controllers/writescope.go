package controllers

import (
	"context"
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// writeScope says whether a platform may write into the namespace of a model cluster in the operator's own
// cluster. The operator's rights reach every namespace, and whoever may edit a GenAIPlatform (the edit role
// of its namespace) could otherwise make it create Gateways, Secrets and GPU InferenceServices anywhere,
// kube-system included, past that namespace's quotas. So a platform writes into its own namespace, a
// namespace labelled for it by someone who may label namespaces, or one the operator's admin allowed with
// --model-namespaces. A remote cluster is bounded by the identity of its kubeconfig instead.
func (r *GenAIPlatformReconciler) writeScope(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) (*facts.Problem, error) {
	ns := render.ModelClusterNamespace(mc)
	if ns == p.Namespace {
		return nil, nil
	}
	for _, pattern := range r.ModelNamespaces {
		if ok, _ := path.Match(pattern, ns); ok {
			return nil, nil
		}
	}
	var nsObj corev1.Namespace
	// Read from the API server: the cache holds only the operator's own namespaces.
	switch err := r.APIReader.Get(ctx, types.NamespacedName{Name: ns}, &nsObj); {
	case err == nil && nsObj.Labels[platformv1.LabelAllowedPlatformNamespace] == p.Namespace:
		return nil, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	return &facts.Problem{Reason: status.ReasonNamespaceNotAllowed, Stalled: true, Message: fmt.Sprintf(
		"spec.modelClusters[%s].namespace: platforms of namespace %s may not write into namespace %s: "+
			"someone who may label namespaces allows it with `kubectl label namespace %s %s=%s` "+
			"(create the namespace first if need be), or the operator's admin with --model-namespaces; nothing is written there until then",
		mc.Name, p.Namespace, ns, ns, platformv1.LabelAllowedPlatformNamespace, p.Namespace)}, nil
}

// platformsUsingNamespace maps a namespace change (a label that allows platforms, or its creation) to the
// platforms with a model cluster in it, so that an allowed platform proceeds at once.
func (r *GenAIPlatformReconciler) platformsUsingNamespace(ctx context.Context, ns *metav1.PartialObjectMetadata) []reconcile.Request {
	var list platformv1.GenAIPlatformList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		p := &list.Items[i]
		for j := range p.Spec.ModelClusters {
			mc := &p.Spec.ModelClusters[j]
			if mc.KubeconfigSecretRef == nil && render.ModelClusterNamespace(mc) == ns.Name {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
				break
			}
		}
	}
	return out
}
