package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

// The Tier One -> Tier Two link of one model cluster, on the Tier One side: the key Secret (which also
// records the rotation state), and the AIServiceBackend + Backend + BackendSecurityPolicy that send
// requests to the cluster's Tier Two gateway with that key.

// linkMeta is the metadata of a link object: Tier One's, labelled with the model cluster it leads to.
func linkMeta(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, name string) metav1.ObjectMeta {
	m := objectMeta(p, name, "cluster-link")
	m.Labels[LabelModelCluster] = mc.Name
	return m
}

func clusterKeySecret(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, k facts.ClusterKey) *corev1.Secret {
	m := linkMeta(p, mc, ClusterKeySecretName(p, mc.Name))
	m.Annotations = k.SecretAnnotations()
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: m,
		Type:       corev1.SecretTypeOpaque,
		Data:       k.SecretData(),
	}
}

func clusterBackend(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, host string, port int32) *egv1a1.Backend {
	ep := egv1a1.BackendEndpoint{}
	if isIP(host) {
		ep.IP = &egv1a1.IPEndpoint{Address: host, Port: port}
	} else {
		ep.FQDN = &egv1a1.FQDNEndpoint{Hostname: host, Port: port}
	}
	return &egv1a1.Backend{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindBackend},
		ObjectMeta: linkMeta(p, mc, ClusterBackendName(p, mc.Name)),
		Spec:       egv1a1.BackendSpec{Endpoints: []egv1a1.BackendEndpoint{ep}},
	}
}

func clusterAIServiceBackend(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) *aigv1b1.AIServiceBackend {
	return &aigv1b1.AIServiceBackend{
		TypeMeta:   metav1.TypeMeta{APIVersion: aigv1b1.GroupVersion.String(), Kind: "AIServiceBackend"},
		ObjectMeta: linkMeta(p, mc, ClusterBackendName(p, mc.Name)),
		Spec: aigv1b1.AIServiceBackendSpec{
			// Tier Two speaks the OpenAI API (KServe's Hugging Face runtime behind it).
			APISchema: aigv1b1.VersionedAPISchema{Name: aigv1b1.APISchemaOpenAI},
			BackendRef: gwapiv1.BackendObjectReference{
				Group: ptr.To(gwapiv1.Group(egv1a1.GroupName)),
				Kind:  ptr.To(gwapiv1.Kind(egv1a1.KindBackend)),
				Name:  gwapiv1.ObjectName(ClusterBackendName(p, mc.Name)),
			},
		},
	}
}

func clusterBackendSecurityPolicy(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) *aigv1b1.BackendSecurityPolicy {
	return &aigv1b1.BackendSecurityPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: aigv1b1.GroupVersion.String(), Kind: "BackendSecurityPolicy"},
		ObjectMeta: linkMeta(p, mc, ClusterBackendName(p, mc.Name)),
		Spec: aigv1b1.BackendSecurityPolicySpec{
			TargetRefs: []gwapiv1.LocalPolicyTargetReference{{
				Group: aigv1b1.GroupName, Kind: "AIServiceBackend", Name: gwapiv1.ObjectName(ClusterBackendName(p, mc.Name)),
			}},
			Type:   aigv1b1.BackendSecurityPolicyTypeAPIKey,
			APIKey: &aigv1b1.BackendSecurityPolicyAPIKey{SecretRef: &aigv1b1.SecretObjectReference{Name: gwapiv1.ObjectName(ClusterKeySecretName(p, mc.Name))}},
		},
	}
}
