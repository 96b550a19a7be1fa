package render

import (
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// EnvoyGatewayControllerName is the controllerName of Envoy Gateway's GatewayClasses.
const EnvoyGatewayControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// gatewayParams describes one Envoy Gateway the operator runs: the Tier One gateway in the platform's
// namespace, or a Tier Two gateway in a model cluster. One set of functions renders both.
type gatewayParams struct {
	// meta returns a namespaced child's metadata (namespace, labels, owner references where allowed).
	meta         func(name string) metav1.ObjectMeta
	labels       map[string]string // for the cluster-scoped GatewayClass
	className    string
	managedClass bool // whether the operator creates the GatewayClass
	description  string
	name         string // the Gateway
	proxyName    string // its EnvoyProxy
	replicas     int32
	listener     gwapiv1.Listener
	telemetry    *egv1a1.ProxyTelemetry
	annotations  map[string]string // on the Gateway
	exposure     platformv1.GatewayExposure
	filterOrder  []egv1a1.FilterPosition // changes to Envoy Gateway's order of the proxy's HTTP filters
}

// gatewayClass is an operator-managed GatewayClass. It is cluster-scoped, so it cannot carry an owner
// reference to the namespaced platform: the platform's finalizer deletes it, found by its labels.
func gatewayClass(g gatewayParams) *gwapiv1.GatewayClass {
	return &gwapiv1.GatewayClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "GatewayClass"},
		ObjectMeta: metav1.ObjectMeta{Name: g.className, Labels: g.labels},
		Spec: gwapiv1.GatewayClassSpec{
			ControllerName: EnvoyGatewayControllerName,
			// At most 64 characters: the platform is named by the labels.
			Description: ptr.To(g.description),
		},
	}
}
