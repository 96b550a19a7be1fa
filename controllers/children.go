package controllers

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
)

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

// available returns the child kinds that are served now (starting their watches), and the missing ones.
func (w *childWatches) available() (served, missing map[schema.GroupVersionKind]bool, err error) {
	served, missing = map[schema.GroupVersionKind]bool{}, map[schema.GroupVersionKind]bool{}
	for _, k := range kinds.All {
		if _, err := w.mapper.RESTMapping(k.GVK.GroupKind(), k.GVK.Version); err != nil {
			if meta.IsNoMatchError(err) {
				missing[k.GVK] = true
				continue
			}
			return nil, nil, err
		}
		served[k.GVK] = true
		if err := w.watch(k); err != nil {
			return nil, nil, err
		}
	}
	return served, missing, nil
}

func (w *childWatches) watch(k kinds.Kind) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watched[k.GVK] {
		return nil
	}
	if err := w.controller.Watch(source.Kind(w.cache, k.New(), handler.EnqueueRequestsFromMapFunc(platformOfChild))); err != nil {
		return fmt.Errorf("watching %s: %w", k.Name(), err)
	}
	w.watched[k.GVK] = true
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
