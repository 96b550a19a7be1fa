// Package render turns a GenAIPlatform and the facts observed about its world into the objects that
// should exist. It does no I/O: every input is in Input, every output in Output, which is what lets the
// golden tests (testdata/*.in.yaml -> *.out.yaml) pin down the operator's behaviour object by object.
package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// Input is everything render needs.
type Input struct {
	Platform *platformv1.GenAIPlatform

	// Credentials are the managed credential Secrets' data, by provider name, already in the key layout
	// BackendSecurityPolicy expects. A provider that needs a Secret and has no entry here is left out (its
	// status says why), so that one broken Secret never breaks the routes of the others.
	Credentials map[string]map[string][]byte

	// ModelTokens are self-hosted models' download credentials, by model name.
	ModelTokens map[string][]byte

	// ClusterKeys are the Tier One -> Tier Two keys, by model cluster. A cluster without one gets no
	// link (the reconciler always provides one).
	ClusterKeys map[string]ClusterKey

	// TierTwoAddresses are the Tier Two Gateways' status addresses, by model cluster.
	TierTwoAddresses map[string]string

	// PlacementReady says which placements' InferenceServices are Ready, by PlacementKey.
	PlacementReady map[string]bool

	// OwnNamespaces says, by model cluster, whether the operator creates (and so owns) its namespace.
	OwnNamespaces map[string]bool

	// ClientKeys are the clients' API keys (client id -> key) from spec.gateway.clientAuth.apiKeys.
	ClientKeys map[string][]byte

	// Unreachable names the model clusters whose API server cannot be reached now. Tier One keeps its
	// link objects (so a blip does not churn them) but routes nothing there: their models fall back to
	// their other placements and routes.
	Unreachable map[string]bool
}

// PlacementKey identifies a placement in Input.PlacementReady.
func PlacementKey(model, cluster, nodePool string) string {
	return model + "|" + cluster + "|" + nodePool
}

// Output is the desired state.
type Output struct {
	// TierOne are the objects in the platform's own cluster, in apply order.
	TierOne []client.Object

	// ModelClusters are each model cluster's objects (Tier Two and models), by cluster name.
	ModelClusters map[string][]client.Object

	// Providers lists the providers that were rendered (their credentials resolved).
	Providers map[string]bool

	// Routes says, by model name, which backends Tier One routes the model to ("provider:<name>").
	// A model missing here has no usable backend.
	Routes map[string][]string

	// RouteOfModel names the AIGatewayRoute shard that holds each routed model's rule.
	RouteOfModel map[string]string

	// GatewayClassName is the operator-managed GatewayClass, empty when the user brings their own.
	GatewayClassName string

	providerBackend map[string]string
}

// ClusterObjects names Tier One's link objects of a model cluster whose acceptance makes the link ready.
func (o Output) ClusterObjects(cluster string) []string {
	return o.readinessKeys(func(obj client.Object) bool { return obj.GetLabels()[LabelModelCluster] == cluster })
}

// ProviderObjects names the children whose acceptance makes a provider ready, as status.ChildKey does.
func (o Output) ProviderObjects(provider string) []string {
	return o.readinessKeys(func(obj client.Object) bool {
		return obj.GetLabels()[platformv1.LabelComponent] == "provider" && obj.GetName() == o.providerBackend[provider]
	})
}

// readinessKeys lists the AIServiceBackend, BackendSecurityPolicy and Backend among the selected Tier One
// objects, in the order status checks them: Envoy Gateway only processes a Backend once a route refers
// to it, and those routes come from Envoy AI Gateway, so a missing AI Gateway controller must be named
// first, not reported as Envoy Gateway's silence about the Backend.
func (o Output) readinessKeys(selected func(client.Object) bool) []string {
	var aiGateway, backends []string
	for _, obj := range o.TierOne {
		if !selected(obj) {
			continue
		}
		switch obj.(type) {
		case *aigv1b1.AIServiceBackend:
			aiGateway = append(aiGateway, "AIServiceBackend/"+obj.GetName())
		case *aigv1b1.BackendSecurityPolicy:
			aiGateway = append(aiGateway, "BackendSecurityPolicy/"+obj.GetName())
		case *egv1a1.Backend:
			backends = append(backends, "Backend/"+obj.GetName())
		}
	}
	return append(aiGateway, backends...)
}

// Render computes the desired state.
func Render(in Input) Output {
	p := in.Platform
	out := Output{Providers: map[string]bool{}, Routes: map[string][]string{}, RouteOfModel: map[string]string{},
		providerBackend: map[string]string{}, ModelClusters: map[string][]client.Object{}}

	t1 := tierOneGateway(p)
	if t1.managedClass {
		out.GatewayClassName = t1.className
		out.TierOne = append(out.TierOne, gatewayClass(t1))
	}
	out.TierOne = append(out.TierOne, envoyProxy(t1), gateway(t1), clientTrafficPolicy(p))
	if gc := gatewayConfig(p); gc != nil {
		out.TierOne = append(out.TierOne, gc)
	}
	if ca := p.Spec.Gateway.ClientAuth; ca != nil {
		if ca.APIKeys != nil {
			out.TierOne = append(out.TierOne, clientKeysSecret(p, in.ClientKeys))
		}
		out.TierOne = append(out.TierOne, clientAuthPolicy(p))
	}
	if btp := tokenLimitPolicy(p); btp != nil {
		out.TierOne = append(out.TierOne, btp)
	}

	for i := range p.Spec.Providers {
		pr := &p.Spec.Providers[i]
		src := ProviderCredentialSource(pr)
		data, haveData := in.Credentials[pr.Name]
		if src.Ref != nil && !haveData {
			continue
		}
		out.Providers[pr.Name] = true
		out.providerBackend[pr.Name] = ProviderBackendName(p, pr.Name)
		if src.Ref != nil {
			out.TierOne = append(out.TierOne, providerSecret(p, pr, data))
		}
		out.TierOne = append(out.TierOne,
			providerBackend(p, pr),
			providerBackendTLSPolicy(p, pr),
			providerAIServiceBackend(p, pr))
		if bsp := providerBackendSecurityPolicy(p, pr, src.Ref != nil); bsp != nil {
			out.TierOne = append(out.TierOne, bsp)
		}
	}

	linked := map[string]bool{} // clusters Tier One can route to
	for i := range p.Spec.ModelClusters {
		mc := &p.Spec.ModelClusters[i]
		key, ok := in.ClusterKeys[mc.Name]
		if !ok {
			continue
		}
		out.TierOne = append(out.TierOne, clusterKeySecret(p, mc, key))
		if host, port := clusterAddress(mc, in.TierTwoAddresses[mc.Name]); host != "" {
			linked[mc.Name] = !in.Unreachable[mc.Name]
			out.TierOne = append(out.TierOne, clusterBackend(p, mc, host, port), clusterAIServiceBackend(p, mc), clusterBackendSecurityPolicy(p, mc))
		}
	}
	out.ModelClusters = modelClusters(in)

	rules := modelRules(in, out.Providers, linked, out.Routes)
	routes, withFallback := aiGatewayRoutes(p, rules, out.RouteOfModel)
	for _, route := range routes {
		out.TierOne = append(out.TierOne, route)
	}
	if btp := fallbackPolicy(p, withFallback); btp != nil {
		out.TierOne = append(out.TierOne, btp)
	}
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
