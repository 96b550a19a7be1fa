package controllers_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
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
			in := render.Input{Platform: p, Facts: facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{}}}}
			for _, pr := range p.Spec.Providers {
				in.Facts.Secrets.Credentials[pr.Name] = nil
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

// TestPerClientLimitWithoutIdentity: per-client budgets keyed on API keys whose Secret is missing, then
// empty, have no client identity to count; the status says which limits are affected, and comes back once
// keys exist.
func TestPerClientLimitWithoutIdentity(t *testing.T) {
	ns := newNamespace(t)
	p := createPlatform(t, ns, "budgets", `
gateway:
  listener: {protocol: HTTP}
  clientAuth: {apiKeys: {secretRef: {name: client-keys}}}
  limits:
  - {name: per-team, tokens: 1000, per: Hour, perClient: true}
  - {name: everyone, tokens: 100000, per: Day}
providers:
- {name: compat, type: OpenAICompatible, hostname: vllm.example.com}
models:
- {name: llama, routes: [{provider: compat}]}
`)
	check := func(reason string) {
		t.Helper()
		got := waitCondition(t, p, platformv1.ConditionGatewayReady, metav1.ConditionFalse, reason)
		c := findCondition(got, platformv1.ConditionGatewayReady)
		if !strings.Contains(c.Message, "spec.gateway.limits per-team are perClient but no client identity exists") || strings.Contains(c.Message, "everyone") {
			t.Errorf("GatewayReady message %q does not name exactly the unkeyed per-client limit", c.Message)
		}
	}
	check(status.ReasonClientKeysNotFound)
	createSecret(t, ns, "client-keys", map[string]string{})
	check(status.ReasonClientKeysEmpty)
	updateSecretData(t, ns, "client-keys", map[string]string{"team-a": "k-123"})
	eventually(t, 20*time.Second, func() error {
		c := findCondition(getPlatform(t, p), platformv1.ConditionGatewayReady)
		if c == nil || strings.Contains(c.Message, "client identity") {
			return fmt.Errorf("GatewayReady still reports missing identity: %+v", c)
		}
		return nil
	})
}
