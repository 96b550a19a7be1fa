package render

import (
	"net"
	"strings"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// LabelModelCluster marks Tier Two objects with the model cluster they belong to.
const LabelModelCluster = "platform.genai.dev/model-cluster"

// TierTwoAdmittedKey is how Tier Two's key Secret stores a key that Tier One sends. Tier One's
// BackendSecurityPolicy sends "Authorization: Bearer <key>", and Envoy's api_key_auth filter cuts a
// leading "Bearer " off the header before it looks the key up (KeySources::Source::getKey in
// source/extensions/filters/http/api_key_auth/api_key_auth.cc; envoyproxy/gateway#7706): the stored
// value is the bare key. A stored "Bearer <key>" would never match, and every request would get 401.
func TierTwoAdmittedKey(key string) string { return key }

// ModelClusterNamespace is the namespace of a model cluster's Tier Two and models.
func ModelClusterNamespace(mc *platformv1.ModelClusterSpec) string {
	if mc.Namespace != "" {
		return mc.Namespace
	}
	return "genai-models"
}

// tierTwoPrefix starts the names of a platform's objects in model clusters. A model namespace may be
// shared by platforms of the same name from different namespaces, so the prefix carries a short hash of
// the platform's namespace and name.
func tierTwoPrefix(p *platformv1.GenAIPlatform) string {
	return p.Name + "-" + shortHash(p.Namespace+"/"+p.Name)
}

// Names of Tier Two objects, in the model cluster's namespace.
func TierTwoGatewayName(p *platformv1.GenAIPlatform) string {
	return Name(tierTwoPrefix(p), "tier-two")
}
func tierTwoProxyName(p *platformv1.GenAIPlatform) string { return Name(tierTwoPrefix(p), "tier-two") }
func tierTwoPolicyName(p *platformv1.GenAIPlatform) string {
	return Name(tierTwoPrefix(p), "tier-one-only")
}

// TierTwoKeySecretName names Tier Two's copy of the keys it admits.
func TierTwoKeySecretName(p *platformv1.GenAIPlatform) string {
	return Name(tierTwoPrefix(p), "tier-one-keys")
}

func tierTwoClassName(p *platformv1.GenAIPlatform, cluster string) string {
	return Name("genai", p.Namespace, p.Name, "t2", cluster)
}

// ClusterBackendName names Tier One's AIServiceBackend, Backend and BackendSecurityPolicy of a cluster.
func ClusterBackendName(p *platformv1.GenAIPlatform, cluster string) string {
	return Name(p.Name, "cluster", cluster)
}

// ClusterKeySecretName names Tier One's key Secret of a cluster (the key state lives there).
func ClusterKeySecretName(p *platformv1.GenAIPlatform, cluster string) string {
	return Name(p.Name, "cluster", cluster, "key")
}

// tierTwoMeta is the metadata of a Tier Two object: no owner reference (it lives in another namespace
// or another cluster, where owner references cannot point), the operator's labels, the cluster's name.
func tierTwoMeta(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, name, component string) metav1.ObjectMeta {
	l := Labels(p, component)
	l[LabelModelCluster] = mc.Name
	return metav1.ObjectMeta{Name: name, Namespace: ModelClusterNamespace(mc), Labels: l}
}

// tierTwoGateway describes a model cluster's Tier Two gateway.
func tierTwoGateway(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) gatewayParams {
	replicas := int32(1)
	if mc.Replicas != nil {
		replicas = *mc.Replicas
	}
	labels := Labels(p, "tier-two")
	labels[LabelModelCluster] = mc.Name
	var exposure platformv1.GatewayExposure
	if mc.Exposure != nil {
		exposure = *mc.Exposure
	}
	// A model cluster that is the platform's own cluster is called by Tier One only, from inside the
	// cluster: no load balancer (and no address outside the cluster) unless asked for.
	if exposure.ServiceType == "" && mc.KubeconfigSecretRef == nil {
		exposure.ServiceType = string(egv1a1.ServiceTypeClusterIP)
	}
	return gatewayParams{
		exposure:     exposure,
		meta:         func(name string) metav1.ObjectMeta { return tierTwoMeta(p, mc, name, "tier-two") },
		labels:       labels,
		className:    tierTwoClassName(p, mc.Name),
		managedClass: true,
		description:  "Tier Two gateway of a GenAIPlatform, managed by its operator",
		name:         TierTwoGatewayName(p),
		proxyName:    tierTwoProxyName(p),
		replicas:     replicas,
		listener:     tierTwoListener(p, mc),
	}
}

// ClusterAddress is how Tier One reaches a cluster's Tier Two: the spec's address, else the Tier Two
// Gateway's status address. Empty when neither is known yet.
func ClusterAddress(mc *platformv1.ModelClusterSpec, observed string) (string, int32) {
	if mc.Address != nil {
		port := mc.Address.Port
		if port == 0 {
			port = tierTwoPort(mc)
		}
		return mc.Address.Hostname, port
	}
	return observed, tierTwoPort(mc)
}

func isIP(s string) bool { return net.ParseIP(strings.Trim(s, "[]")) != nil }
