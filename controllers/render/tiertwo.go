package render

import (
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// modelClusters renders each model cluster's objects: its namespace (when the operator owns it), the
// Tier Two gateway and the key it admits, the routes to the models, the models' InferenceServices and
// their download Secrets. Nothing here depends on whether the cluster is this one or another: the
// reconciler applies the list with that cluster's client.
func modelClusters(in Input) map[string][]client.Object {
	p := in.Platform
	out := map[string][]client.Object{}
	for i := range p.Spec.ModelClusters {
		mc := &p.Spec.ModelClusters[i]
		var objs []client.Object
		if in.OwnNamespaces[mc.Name] {
			objs = append(objs, modelNamespace(p, mc))
		}
		t2 := tierTwoGateway(p, mc)
		objs = append(objs, gatewayClass(t2), envoyProxy(t2), gateway(t2))
		if key, ok := in.ClusterKeys[mc.Name]; ok {
			objs = append(objs, tierTwoKeySecret(p, mc, key), tierTwoSecurityPolicy(p, mc))
		}

		var rules []gwapiv1.HTTPRouteRule
		for j := range p.Spec.Models {
			m := &p.Spec.Models[j]
			if m.SelfHosted == nil {
				continue
			}
			var ready, all []weightedService
			token, hasToken := in.ModelTokens[m.Name]
			placed := false
			for k := range m.SelfHosted.Placements {
				pl := &m.SelfHosted.Placements[k]
				pool := nodePool(mc, pl.NodePool)
				if pl.Cluster != mc.Name || pool == nil {
					continue
				}
				placed = true
				isvc := inferenceService(p, mc, pool, m, pl, hasToken)
				objs = append(objs, isvc)
				ws := weightedService{name: isvc.Name, weight: *weightOf(pl.Weight)}
				all = append(all, ws)
				if in.PlacementReady[PlacementKey(m.Name, mc.Name, pl.NodePool)] {
					ready = append(ready, ws)
				}
			}
			if !placed {
				continue
			}
			if hasToken {
				objs = append(objs, modelSecret(p, mc, m.Name, token))
			}
			if len(ready) == 0 {
				ready = all
			}
			rules = append(rules, tierTwoRule(m.Name, ready))
		}
		for _, r := range tierTwoRoutes(p, mc, rules) {
			objs = append(objs, r)
		}
		out[mc.Name] = objs
	}
	return out
}

func nodePool(mc *platformv1.ModelClusterSpec, name string) *platformv1.NodePoolSpec {
	for i := range mc.NodePools {
		if mc.NodePools[i].Name == name {
			return &mc.NodePools[i]
		}
	}
	return nil
}
