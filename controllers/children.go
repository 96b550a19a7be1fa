package controllers

import (
	"context"
	"fmt"
	"sync"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	kservev1b1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// childKind is a kind of object the operator creates: what to watch, what to list when pruning.
type childKind struct {
	object client.Object
	list   client.ObjectList
	gvk    schema.GroupVersionKind
}

// childKinds lists every kind the operator writes, in the order they are pruned.
func childKinds(scheme *runtime.Scheme) []childKind {
	pairs := []struct {
		o client.Object
		l client.ObjectList
	}{
		{&kservev1b1.InferenceService{}, &kservev1b1.InferenceServiceList{}},
		{&gwapiv1.HTTPRoute{}, &gwapiv1.HTTPRouteList{}},
		{&egv1a1.SecurityPolicy{}, &egv1a1.SecurityPolicyList{}},
		{&egv1a1.BackendTrafficPolicy{}, &egv1a1.BackendTrafficPolicyList{}},
		{&aigv1b1.GatewayConfig{}, &aigv1b1.GatewayConfigList{}},
		{&aigv1b1.AIGatewayRoute{}, &aigv1b1.AIGatewayRouteList{}},
		{&aigv1b1.BackendSecurityPolicy{}, &aigv1b1.BackendSecurityPolicyList{}},
		{&aigv1b1.AIServiceBackend{}, &aigv1b1.AIServiceBackendList{}},
		{&gwapiv1.BackendTLSPolicy{}, &gwapiv1.BackendTLSPolicyList{}},
		{&egv1a1.Backend{}, &egv1a1.BackendList{}},
		{&egv1a1.ClientTrafficPolicy{}, &egv1a1.ClientTrafficPolicyList{}},
		{&gwapiv1.Gateway{}, &gwapiv1.GatewayList{}},
		{&egv1a1.EnvoyProxy{}, &egv1a1.EnvoyProxyList{}},
		{&gwapiv1.GatewayClass{}, &gwapiv1.GatewayClassList{}},
		{&corev1.Secret{}, &corev1.SecretList{}},
		// Last: a namespace the operator created goes once everything in it is gone.
		{&corev1.Namespace{}, &corev1.NamespaceList{}},
	}
	out := make([]childKind, 0, len(pairs))
	for _, p := range pairs {
		gvk, err := apiutil.GVKForObject(p.o, scheme)
		if err != nil {
			panic(fmt.Sprintf("child kind %T not in scheme: %v", p.o, err))
		}
		out = append(out, childKind{object: p.o, list: p.l, gvk: gvk})
	}
	return out
}

// modelClusterKinds are the kinds render writes into a model cluster: the only kinds a remote cluster's
// cache watches, and the only ones its kubeconfig identity needs rights on (config/rbac/model-cluster).
var modelClusterKinds = map[string]bool{
	"Namespace": true, "Secret": true, "GatewayClass": true, "EnvoyProxy": true, "Gateway": true,
	"HTTPRoute": true, "SecurityPolicy": true, "InferenceService": true,
}

// remoteKinds are the child kinds of model clusters.
func remoteKinds(kinds []childKind) []client.Object {
	var out []client.Object
	for _, k := range kinds {
		if modelClusterKinds[k.gvk.Kind] {
			out = append(out, k.object)
		}
	}
	return out
}

// kindName is how a kind is named in conditions: "AIGatewayRoute (aigateway.envoyproxy.io/v1beta1)".
func kindName(gvk schema.GroupVersionKind) string {
	return gvk.Kind + " (" + gvk.GroupVersion().String() + ")"
}

// childWatches starts a watch on each child kind once its CRD is installed. Envoy Gateway, Envoy AI
// Gateway or KServe may be installed after the operator: rather than fail at start-up (or need a
// restart), each reconcile asks which kinds are served and watches the new ones.
type childWatches struct {
	mapper     meta.RESTMapper
	cache      cache.Cache
	controller controller.Controller

	mu      sync.Mutex
	watched map[schema.GroupVersionKind]bool
}

// available returns the kinds that are served now (starting their watches) and names the missing ones.
func (w *childWatches) available(kinds []childKind) (served map[schema.GroupVersionKind]bool, missing []string, err error) {
	served = map[schema.GroupVersionKind]bool{}
	for _, k := range kinds {
		if _, err := w.mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version); err != nil {
			if meta.IsNoMatchError(err) {
				missing = append(missing, kindName(k.gvk))
				continue
			}
			return nil, nil, err
		}
		served[k.gvk] = true
		if err := w.watch(k); err != nil {
			return nil, nil, err
		}
	}
	return served, missing, nil
}

func (w *childWatches) watch(k childKind) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watched[k.gvk] {
		return nil
	}
	if err := w.controller.Watch(source.Kind(w.cache, k.object, handler.EnqueueRequestsFromMapFunc(platformOfChild))); err != nil {
		return fmt.Errorf("watching %s: %w", kindName(k.gvk), err)
	}
	w.watched[k.gvk] = true
	return nil
}

// platformOfChild maps a child object to its platform by the operator's labels; this works for
// cluster-scoped children (GatewayClass) and, later, objects in other clusters, where owner references
// cannot point.
func platformOfChild(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[platformv1.LabelManagedBy] != platformv1.ManagedByValue || l[platformv1.LabelPlatform] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: l[platformv1.LabelPlatformNS], Name: l[platformv1.LabelPlatform]}}}
}
