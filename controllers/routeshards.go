package controllers

import (
	"context"
	"maps"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// routeShards remembers, per platform, which Tier One AIGatewayRoute serves each model after the last
// apply that succeeded. Render keeps every model where it is (facts.RouteShards): a model moved to
// another route would be, between its access policy's update and its routes', in a rule the policy does
// not target. The cache alone can be a moment behind the operator's own apply, and a model placed in the
// last reconcile, not yet in the cache, could be placed elsewhere by the next; so the operator's memory
// comes first, and the cache stands in for it after a restart or a failed apply.
type routeShards struct {
	mu     sync.Mutex
	byPlat map[types.NamespacedName]map[string]string
}

func (s *routeShards) get(key types.NamespacedName) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPlat[key]
}

func (s *routeShards) set(key types.NamespacedName, shards map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byPlat == nil {
		s.byPlat = map[types.NamespacedName]map[string]string{}
	}
	s.byPlat[key] = shards
}

func (s *routeShards) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byPlat, key)
}

// observeRouteShards is which AIGatewayRoute serves each of the platform's models now: the live routes
// in the cache, overlaid with what the operator's last successful apply placed.
func (r *GenAIPlatformReconciler) observeRouteShards(ctx context.Context, p *platformv1.GenAIPlatform, served map[schema.GroupVersionKind]bool) map[string]string {
	out := map[string]string{}
	if k, ok := kinds.Of(&aigv1b1.AIGatewayRoute{}); ok && served[k.GVK] {
		var routes aigv1b1.AIGatewayRouteList
		if err := r.Client.List(ctx, &routes, client.InNamespace(p.Namespace), client.MatchingLabels(render.SelectorLabels(p))); err != nil {
			// Not fatal: with no record, render places the models afresh, as for a new platform.
			log.FromContext(ctx).Error(err, "listing the platform's AIGatewayRoutes")
		}
		for i := range routes.Items {
			maps.Copy(out, render.ModelsOfRoute(&routes.Items[i]))
		}
	}
	maps.Copy(out, r.shards.get(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}))
	return out
}
