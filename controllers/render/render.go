// Package render turns a GenAIPlatform and the facts observed about its world into the objects that
// should exist. It does no I/O: every input is in Input, every output in Output, which is what lets the
// golden tests (testdata/*.in.yaml -> *.out.yaml) pin down the operator's behaviour object by object.
package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

// Input is everything render needs: the platform and what was observed about its world.
type Input struct {
	Platform *platformv1.GenAIPlatform
	Facts    facts.Facts
	// Tenants are the GenAITenants the platform accepted; their keys are in Facts.Secrets.Tenants.
	Tenants []*platformv1.GenAITenant
}

// Part is the part of a platform a child object serves: status rolls children up by part.
type Part string

// The parts of a platform.
const (
	// PartGateway: the Tier One gateway (its class, proxy, Gateway, client policies, client keys).
	PartGateway Part = "gateway"
	// PartProvider: one outside provider's backend, credentials and TLS (Component.Name).
	PartProvider Part = "provider"
	// PartModelCluster: one model cluster's Tier Two gateway and Tier One's link to it (Component.Name).
	PartModelCluster Part = "model cluster"
	// PartRoutes: a route shard, at Tier One or Tier Two, holding the rules of Component.Models.
	PartRoutes Part = "routes"
	// PartModel: one self-hosted model's objects in a model cluster: a placement's InferenceService
	// (Component.Placement) or the model's download Secret.
	PartModel Part = "model"
)

// Component says which part of the platform a child serves.
type Component struct {
	Part Part
	// Name is the provider, model cluster or model name.
	Name string
	// Models are the models whose rules a route shard holds.
	Models []string
	// Backends are, for a Tier Two route shard, each model's backends (KServe predictor Services):
	// Envoy Gateway reports unresolved references per route, naming the backend, so that one model's
	// missing predictor is not held against the others of the shard.
	Backends map[string][]string
	// Placement is the placement an InferenceService serves.
	Placement *facts.PlacementID
	// Tenant is the GenAITenant a child is made for (its generated keys).
	Tenant string
}

// Child is one desired object, where it goes, and what it serves.
type Child struct {
	Object client.Object
	// Cluster is the model cluster the object goes to; empty for the platform's own cluster.
	Cluster   string
	Component Component
}

// Target is one backend Tier One routes a model to: a provider, or a placement in a model cluster.
type Target struct {
	Provider          string
	Cluster, NodePool string
}

// String is how status shows a target: "provider:openai", "cluster:gpu/h100".
func (t Target) String() string {
	if t.Provider != "" {
		return "provider:" + t.Provider
	}
	return "cluster:" + t.Cluster + "/" + t.NodePool
}

// Output is the desired state.
type Output struct {
	// Children are every desired object, Tier One's first, then each model cluster's, in apply order.
	Children []Child

	// Routes are, by model name, the backends Tier One routes the model to. A model missing here has no
	// usable backend.
	Routes map[string][]Target

	// Tenants are, by name, what render made of each accepted tenant.
	Tenants map[string]*TenantResult
}

// In returns the objects that go to one cluster, in apply order: the platform's own cluster for "",
// else the named model cluster.
func (o Output) In(cluster string) []client.Object {
	var out []client.Object
	for _, c := range o.Children {
		if c.Cluster == cluster {
			out = append(out, c.Object)
		}
	}
	return out
}

// builder collects the children of one render.
type builder struct {
	out *Output
}

func (b builder) add(cluster string, c Component, objs ...client.Object) {
	for _, obj := range objs {
		b.out.Children = append(b.out.Children, Child{Object: obj, Cluster: cluster, Component: c})
	}
}

// Render computes the desired state.
func Render(in Input) Output {
	p := in.Platform
	out := Output{Routes: map[string][]Target{}}
	b := builder{out: &out}
	secrets := in.Facts.Secrets
	var tp *tenantPlan
	if len(in.Tenants) > 0 {
		tp = planTenants(p, in.Tenants, secrets)
		out.Tenants = tp.results
	}

	gateway1 := Component{Part: PartGateway}
	t1 := tierOneGateway(p)
	if tp.active() {
		// The 403 of tenants' access rules is rewritten by custom_response: see customResponseBeforeRBAC.
		t1.filterOrder = customResponseBeforeRBAC
	}
	if t1.managedClass {
		b.add("", gateway1, gatewayClass(t1))
	}
	b.add("", gateway1, envoyProxy(t1), gateway(t1), clientTrafficPolicy(p, tp))
	if gc := gatewayConfig(p); gc != nil {
		b.add("", gateway1, gc)
	}
	if ca := p.Spec.Gateway.ClientAuth; ca != nil {
		if ca.APIKeys != nil {
			keys := secrets.ClientKeys
			if tp.active() {
				keys = tp.keys
			}
			b.add("", gateway1, clientKeysSecret(p, keys))
		}
		b.add("", gateway1, clientAuthPolicy(p))
	}
	if btp := tokenLimitPolicy(p, tp); btp != nil {
		b.add("", gateway1, btp)
	}
	for _, t := range tp.tenantsWithGeneratedKeys(secrets) {
		b.add("", Component{Part: PartGateway, Tenant: t.Name}, tenantKeysSecret(p, t, *secrets.Tenants[t.Name].Generated))
	}

	providers := map[string]bool{} // providers rendered: their credentials resolved
	for i := range p.Spec.Providers {
		pr := &p.Spec.Providers[i]
		src := ProviderCredentialSource(pr)
		data, haveData := secrets.Credentials[pr.Name]
		if src.Ref != nil && !haveData {
			continue
		}
		providers[pr.Name] = true
		c := Component{Part: PartProvider, Name: pr.Name}
		if src.Ref != nil {
			b.add("", c, providerSecret(p, pr, data))
		}
		b.add("", c, providerBackend(p, pr), providerBackendTLSPolicy(p, pr), providerAIServiceBackend(p, pr))
		if bsp := providerBackendSecurityPolicy(p, pr, src.Ref != nil); bsp != nil {
			b.add("", c, bsp)
		}
	}

	// linked: clusters Tier One can route to (their Backend exists), true when reachable. pending: clusters
	// whose link is made except for the Backend, which waits for the Tier Two Gateway's address.
	linked, pending := map[string]bool{}, map[string]bool{}
	for i := range p.Spec.ModelClusters {
		mc := &p.Spec.ModelClusters[i]
		cf := in.Facts.Cluster(mc.Name)
		if cf.Key == nil {
			continue
		}
		c := Component{Part: PartModelCluster, Name: mc.Name}
		b.add("", c, clusterKeySecret(p, mc, *cf.Key))
		if t := cf.TLS; t != nil {
			if t.State != nil {
				b.add("", c, clusterTLSStateSecret(p, mc, t))
			}
			b.add("", c, clusterCASecret(p, mc, t))
		}
		// A link that should be encrypted and has no certificate to verify is not made: never plain text.
		secured := cf.TLS != nil || LinkTLSMode(mc) == platformv1.TierLinkTLSNone
		if !secured {
			continue
		}
		// The AIServiceBackend and its key do not depend on the address, so they are made at once, and a
		// new platform's routes can name the cluster from their first write: Envoy AI Gateway accepts a
		// route whose AIServiceBackend's Backend does not exist yet (Envoy Gateway answers 500 for it). If
		// the routes waited for the address instead, every rule after the first self-hosted one would
		// move between AIGatewayRoutes when the address came, and every route would be written twice.
		host, port := ClusterAddress(mc, cf.Address)
		if host == "" {
			pending[mc.Name] = true
			b.add("", c, clusterAIServiceBackend(p, mc), clusterBackendSecurityPolicy(p, mc))
			continue
		}
		linked[mc.Name] = !cf.Unreachable
		b.add("", c, clusterBackend(p, mc, host, port), clusterAIServiceBackend(p, mc), clusterBackendSecurityPolicy(p, mc))
		if cf.TLS != nil {
			b.add("", c, clusterBackendTLSPolicy(p, mc, cf.TLS))
		}
	}

	rules := modelRules(in, providers, linked, pending, out.Routes)
	routes, withFallback := aiGatewayRoutes(p, placeRules(p, rules, in.Facts.RouteShards), tp.active(), out.Routes)
	for _, r := range routes {
		b.add("", Component{Part: PartRoutes, Models: r.models}, r.route)
	}
	if tp.active() {
		for _, r := range routes {
			for _, m := range r.models {
				b.add("", Component{Part: PartGateway, Models: []string{m}}, accessPolicy(p, m, r.route.GetName(), tp))
			}
		}
	}
	if btp := fallbackPolicy(p, withFallback); btp != nil {
		b.add("", gateway1, btp)
	}
	modelClusters(in, b)
	return out
}

// objectMeta is the metadata of a namespaced Tier One child: the platform's namespace, the operator's
// labels and a controller owner reference, so that Kubernetes' garbage collector backs up the
// operator's own cleanup.
func objectMeta(p *platformv1.GenAIPlatform, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       p.Namespace,
		Labels:          Labels(p, component),
		OwnerReferences: []metav1.OwnerReference{ownerRef(p)},
	}
}

func ownerRef(p *platformv1.GenAIPlatform) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         platformv1.GroupVersion.String(),
		Kind:               "GenAIPlatform",
		Name:               p.Name,
		UID:                p.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}
