package apply

import (
	"reflect"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	kservev1beta1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
)

// TestWaves: Namespaces, then Secrets and ConfigMaps, then the SecurityPolicies that authorize (in force
// before the rules they guard), then the rest, which starts with the Gateways, then the routes and
// InferenceServices (the slowest to be answered), each group in the order given.
func TestWaves(t *testing.T) {
	objs := []client.Object{
		&gwapiv1.GatewayClass{},           // 0
		&kservev1beta1.InferenceService{}, // 1
		&corev1.Secret{},                  // 2
		&gwapiv1.HTTPRoute{},              // 3
		&corev1.Namespace{},               // 4
		&gwapiv1.Gateway{},                // 5
		&aigv1b1.AIGatewayRoute{},         // 6
		&corev1.ConfigMap{},               // 7
		&gwapiv1.Gateway{},                // 8
		&egv1a1.SecurityPolicy{Spec: egv1a1.SecurityPolicySpec{Authorization: &egv1a1.Authorization{}}}, // 9
		&egv1a1.SecurityPolicy{}, // 10
	}
	want := [][]int{{4}, {2, 7}, {9}, {5, 8, 3, 6, 1, 0, 10}}
	if got := waves(objs); !reflect.DeepEqual(got, want) {
		t.Errorf("waves %v, want %v", got, want)
	}
}
