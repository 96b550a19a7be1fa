package render

import (
	"cmp"
	"slices"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

// modelClusters renders each model cluster's objects: its namespace (when the operator owns it), the
// Tier Two gateway and the key it admits, the routes to the models, the models' InferenceServices (or
// LLMInferenceServices, per version engine) and their download Secrets. Nothing here depends on whether the cluster is this one or another: the
// reconciler applies the list with that cluster's client.
func modelClusters(in Input, b builder) {
	p := in.Platform
	for i := range p.Spec.ModelClusters {
		mc := &p.Spec.ModelClusters[i]
		cf := in.Facts.Cluster(mc.Name)
		tierTwo := Component{Part: PartModelCluster, Name: mc.Name}
		if !cf.ForeignNamespace {
			b.add(mc.Name, tierTwo, modelNamespace(p, mc))
		}
		t2 := tierTwoGateway(p, mc)
		b.add(mc.Name, tierTwo, gatewayClass(t2), envoyProxy(t2), gateway(t2))
		if cf.Key != nil {
			b.add(mc.Name, tierTwo, tierTwoKeySecret(p, mc, *cf.Key), tierTwoSecurityPolicy(p, mc))
		}
		if cf.TLS != nil {
			b.add(mc.Name, tierTwo, tierTwoTLSSecret(p, mc, cf.TLS))
		}

		var rules []tierTwoModelRule
		for j := range p.Spec.Models {
			m := &p.Spec.Models[j]
			if m.SelfHosted == nil {
				continue
			}
			var ready, all []weightedService
			dl := in.Facts.Secrets.ModelDownloads[m.Name]
			model := Component{Part: PartModel, Name: m.Name}
			placed := false
			serving := servingPools(in, m, mc.Name)
			for k := range m.SelfHosted.Placements {
				pl := &m.SelfHosted.Placements[k]
				pool := nodePool(mc, pl.NodePool)
				if pl.Cluster != mc.Name || pool == nil {
					continue
				}
				placed = true
				// Each version shares the placement's weight by its own; a version not Ready gets none
				// while another of the placement is Ready.
				for _, v := range ModelVersions(m.SelfHosted) {
					id := facts.PlacementID{Model: m.Name, Cluster: mc.Name, NodePool: pl.NodePool, Version: v.Name}
					// Gateway API caps a backend's weight at 1,000,000.
					ws := weightedService{weight: min(*weightOf(pl.Weight)*versionWeight(&v), 1_000_000)}
					if VersionEngine(&v) == platformv1.EngineLLMInferenceService {
						llm := llmInferenceService(p, mc, pool, m, pl, &v, dl)
						b.add(mc.Name, Component{Part: PartModel, Name: m.Name, Placement: &id}, llm)
						ws.name, ws.llm = llm.Name, true
					} else {
						isvc := inferenceService(p, mc, pool, m, pl, &v, dl)
						b.add(mc.Name, Component{Part: PartModel, Name: m.Name, Placement: &id}, isvc)
						ws.name = isvc.Name
					}
					all = append(all, ws)
					if serving[pl.NodePool] && (v.Name == "" || in.Facts.PlacementReady(id)) {
						ready = append(ready, ws)
					}
				}
			}
			if !placed {
				continue
			}
			if dl.Storage != nil {
				b.add(mc.Name, model, modelSecret(p, mc, m, dl.Storage))
			}
			for _, ps := range dl.PullSecrets {
				b.add(mc.Name, model, pullSecret(p, mc, m.Name, ps))
			}
			if len(ready) == 0 {
				ready = all
			}
			rules = append(rules, tierTwoModelRule{model: m.Name, rule: tierTwoRule(m.Name, ready)})
		}
		for _, r := range tierTwoRoutes(p, mc, rules) {
			b.add(mc.Name, Component{Part: PartRoutes, Models: r.models, Backends: r.backends}, r.route)
		}
	}
}

// versionWeight is a version's share of its placement's weight (1 for a model without versions).
func versionWeight(v *platformv1.ModelVersion) int32 {
	if v.Weight == nil {
		return 1
	}
	return *v.Weight
}

func nodePool(mc *platformv1.ModelClusterSpec, name string) *platformv1.NodePoolSpec {
	for i := range mc.NodePools {
		if mc.NodePools[i].Name == name {
			return &mc.NodePools[i]
		}
	}
	return nil
}

// servingPools are the node pools of a model's placements in one cluster that take its traffic: the Ready
// ones of the best priority among the Ready ones. A placement of a lower priority is a fallback: it takes
// traffic only while no better one in the cluster is Ready. Tier One and Tier Two both route by it.
func servingPools(in Input, m *platformv1.ModelSpec, cluster string) map[string]bool {
	var ready []platformv1.Placement
	for _, pl := range m.SelfHosted.Placements {
		if pl.Cluster == cluster && in.Facts.PlacementReady(facts.PlacementID{Model: m.Name, Cluster: cluster, NodePool: pl.NodePool}) {
			ready = append(ready, pl)
		}
	}
	out := map[string]bool{}
	if len(ready) == 0 {
		return out
	}
	best := slices.MinFunc(ready, func(a, b platformv1.Placement) int {
		return cmp.Compare(*priorityOf(a.Priority), *priorityOf(b.Priority))
	})
	for _, pl := range ready {
		if *priorityOf(pl.Priority) == *priorityOf(best.Priority) {
			out[pl.NodePool] = true
		}
	}
	return out
}
