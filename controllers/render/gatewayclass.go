package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// EnvoyGatewayControllerName is the controllerName of Envoy Gateway's GatewayClasses.
const EnvoyGatewayControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// gatewayClass is the operator-managed GatewayClass. It is cluster-scoped, so it cannot carry an owner
// reference to the namespaced platform: the platform's finalizer deletes it, found by its labels.
func gatewayClass(p *platformv1.GenAIPlatform) *gwapiv1.GatewayClass {
	return &gwapiv1.GatewayClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "GatewayClass"},
		ObjectMeta: metav1.ObjectMeta{Name: gatewayClassName(p), Labels: Labels(p, "tier-one")},
		Spec: gwapiv1.GatewayClassSpec{
			ControllerName: EnvoyGatewayControllerName,
			// The description is limited to 64 characters: the platform is named by the labels.
			Description: strPtr("Tier One gateway of a GenAIPlatform, managed by its operator"),
		},
	}
}

func strPtr(s string) *string { return &s }
