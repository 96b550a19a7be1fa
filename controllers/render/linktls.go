package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

// TLS of the Tier One -> Tier Two link: Tier Two's listener is HTTPS with a serving certificate, and a
// BackendTLSPolicy on Tier One's Backend of the cluster verifies it against the link's CA bundle (Envoy
// Gateway v1.9 accepts a policy on a Backend with a CA Secret: KSERVE-ENVOYGATEWAY-FACTS.md section 4).

// Ports Tier Two listens on inside its cluster.
const (
	tierTwoHTTPSPort = 443
	tierTwoHTTPPort  = 80
)

// KeyCACert is the trust bundle's key (the key Envoy Gateway reads a CA from).
const KeyCACert = "ca.crt"

// LinkTLSMode is a model cluster's link TLS mode (OperatorCA when unset).
func LinkTLSMode(mc *platformv1.ModelClusterSpec) platformv1.TierLinkTLSMode {
	if mc.TLS == nil || mc.TLS.Mode == "" {
		return platformv1.TierLinkTLSOperatorCA
	}
	return mc.TLS.Mode
}

// LinkTLSHostname is the name the operator's CA certifies Tier Two as, and Tier One verifies.
func LinkTLSHostname(mc *platformv1.ModelClusterSpec) string {
	if mc.TLS != nil && mc.TLS.Hostname != "" {
		return mc.TLS.Hostname
	}
	return mc.Name + ".tier-two.genai.internal"
}

// tierTwoPort is where a model cluster's Tier Two listens.
func tierTwoPort(mc *platformv1.ModelClusterSpec) int32 {
	if LinkTLSMode(mc) == platformv1.TierLinkTLSNone {
		return tierTwoHTTPPort
	}
	return tierTwoHTTPSPort
}

// tierTwoListener is Tier Two's one listener: HTTPS with the link's serving certificate, unless the link's
// TLS is off. It has no hostname: Tier One forwards the client's Host, which a listener hostname would
// refuse.
func tierTwoListener(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) gwapiv1.Listener {
	l := gwapiv1.Listener{Name: ListenerName, Protocol: gwapiv1.HTTPProtocolType, Port: gwapiv1.PortNumber(tierTwoPort(mc))}
	if LinkTLSMode(mc) != platformv1.TierLinkTLSNone {
		mode := gwapiv1.TLSModeTerminate
		l.Protocol = gwapiv1.HTTPSProtocolType
		l.TLS = &gwapiv1.ListenerTLSConfig{Mode: &mode, CertificateRefs: []gwapiv1.SecretObjectReference{{Name: gwapiv1.ObjectName(TierTwoTLSSecretName(p))}}}
	}
	return l
}

// ClusterTLSStateSecretName names Tier One's Secret holding a cluster's operator CA and serving pair.
func ClusterTLSStateSecretName(p *platformv1.GenAIPlatform, cluster string) string {
	return Name(p.Name, "cluster", cluster, "tls")
}

// ClusterCASecretName names Tier One's trust bundle of a cluster's Tier Two (certificates only).
func ClusterCASecretName(p *platformv1.GenAIPlatform, cluster string) string {
	return Name(p.Name, "cluster", cluster, "ca")
}

// TierTwoTLSSecretName names Tier Two's serving certificate Secret.
func TierTwoTLSSecretName(p *platformv1.GenAIPlatform) string {
	return Name(tierTwoPrefix(p), "tier-two-tls")
}

// clusterTLSStateSecret keeps the operator CA's key where only the operator reads it: it is referenced by
// nothing, so no other controller is given the CA's key.
func clusterTLSStateSecret(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, t *facts.LinkTLS) *corev1.Secret {
	m := linkMeta(p, mc, ClusterTLSStateSecretName(p, mc.Name))
	m.Annotations = t.StateAnnotations
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: m,
		Type:       corev1.SecretTypeOpaque,
		Data:       t.State,
	}
}

// clusterCASecret is the trust bundle Tier One's BackendTLSPolicy verifies Tier Two with.
func clusterCASecret(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, t *facts.LinkTLS) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: linkMeta(p, mc, ClusterCASecretName(p, mc.Name)),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{KeyCACert: t.TrustBundle},
	}
}

// clusterBackendTLSPolicy makes Tier One speak TLS to the cluster's Tier Two and verify its certificate
// for the link's hostname against the link's CA bundle.
func clusterBackendTLSPolicy(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, t *facts.LinkTLS) *gwapiv1.BackendTLSPolicy {
	return backendTLSPolicy(linkMeta(p, mc, ClusterBackendName(p, mc.Name)), ClusterBackendName(p, mc.Name), gwapiv1.BackendTLSPolicyValidation{
		Hostname:          gwapiv1.PreciseHostname(t.Hostname),
		CACertificateRefs: []gwapiv1.LocalObjectReference{{Group: "", Kind: "Secret", Name: gwapiv1.ObjectName(ClusterCASecretName(p, mc.Name))}},
	})
}

// tierTwoTLSSecret is the serving certificate Tier Two's listener presents.
func tierTwoTLSSecret(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, t *facts.LinkTLS) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: tierTwoMeta(p, mc, TierTwoTLSSecretName(p), "tier-two"),
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: t.ServingCert, corev1.TLSPrivateKeyKey: t.ServingKey},
	}
}
