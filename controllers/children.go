package controllers

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
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
//
// A CRD removed while the operator runs stays in the REST mapper's memory. A write of that kind then
// fails with NotFound: the kind is marked suspect, and until the API server's discovery lists it again it
// counts as missing (CRDNotInstalled), not as a write that keeps failing.
type childWatches struct {
	mapper     meta.RESTMapper
	discovery  discovery.DiscoveryInterface
	cache      cache.Cache
	controller controller.Controller

	mu      sync.Mutex
	watched map[schema.GroupVersionKind]bool
	suspect map[schema.GroupVersionKind]bool
}

// suspectGone records that a write of the kind found no such resource.
func (w *childWatches) suspectGone(gvk schema.GroupVersionKind) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.suspect == nil {
		w.suspect = map[schema.GroupVersionKind]bool{}
	}
	w.suspect[gvk] = true
}

// servedNow asks the API server's discovery whether a suspect kind is served; a kind served again is no
// longer suspect.
func (w *childWatches) servedNow(k kinds.Kind) (bool, error) {
	w.mu.Lock()
	suspect := w.suspect[k.GVK]
	w.mu.Unlock()
	if !suspect || w.discovery == nil {
		return true, nil
	}
	list, err := w.discovery.ServerResourcesForGroupVersion(k.GVK.GroupVersion().String())
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Name == k.Resource {
			w.mu.Lock()
			delete(w.suspect, k.GVK)
			w.mu.Unlock()
			return true, nil
		}
	}
	return false, nil
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
		if ok, err := w.servedNow(k); err != nil {
			return nil, nil, err
		} else if !ok {
			missing[k.GVK] = true
			continue
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
