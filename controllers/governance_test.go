package controllers_test

import (
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// TestGovernanceAccepted: each governance golden input (API keys, JWT, both; per-client, shared and
// per-model limits; fallback routes; tracing and access logs) is applied to the real API server with the
// real CRDs, and the operator's children, exactly the rendered set, are all accepted.
func TestGovernanceAccepted(t *testing.T) {
	inputs, err := filepath.Glob("render/testdata/governance-*.in.yaml")
	if err != nil || len(inputs) < 3 {
		t.Fatalf("governance inputs: %v %v", inputs, err)
	}
	for _, file := range inputs {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ns := newNamespace(t)
			p := applyYAMLFile(t, ns, file)
			p = getPlatform(t, p)
			in := render.Input{Platform: p, Credentials: map[string]map[string][]byte{}}
			for _, pr := range p.Spec.Providers {
				in.Credentials[pr.Name] = nil
			}
			waitChildren(t, p, expectedChildrenOf(t, in))
			got := waitCondition(t, p, platformv1.ConditionGatewayReady, metav1.ConditionFalse, "")
			c := findCondition(got, platformv1.ConditionGatewayReady)
			if strings.Contains(file, "both") {
				// Its keys' Secret does not exist: said in status, and client auth fails closed.
				if c.Reason != status.ReasonClientKeysNotFound || !strings.Contains(c.Message, "not-there") {
					t.Errorf("GatewayReady: %s %s", c.Reason, c.Message)
				}
			} else if c.Reason != status.ReasonWaitingForGateway {
				t.Errorf("GatewayReady: %s %s", c.Reason, c.Message)
			}
		})
	}
}
