package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// TestOneWritePerChild: a platform converges with one write per child, and its children's own
// controllers writing their status (as Envoy Gateway and Envoy AI Gateway do on every change they see)
// cost no write: the operator compares the fields it owns, not resourceVersions. (TestHandEditsAreRepaired
// shows that an edit of an owned field is still repaired.)
func TestOneWritePerChild(t *testing.T) {
	ns := newNamespace(t)
	createSecret(t, ns, "openai-key", map[string]string{"whatever-name": "sk-openai-secret-value-1"})
	createSecret(t, ns, "anthropic-key", map[string]string{"token": "sk-anthropic-secret-value-1"})
	mark := writes.mark()
	p := createPlatform(t, ns, "acme", twoProviders)
	want := expectedChildren(t, getPlatform(t, p), map[string]map[string][]byte{"openai": nil, "anthropic": nil})
	waitChildren(t, p, want)
	waitQuiet(t)
	gatewayClass := render.Name("genai", ns, p.Name)
	if got := childWrites(writesFor(mark, ns, gatewayClass)); len(got) != len(want) {
		t.Errorf("%d writes for %d children during convergence, want one each: %v", len(got), len(want), got)
	}

	// The children's controllers report, twice: the first time their conditions appear, the second time
	// only their lastTransitionTime and message change.
	for round := range 2 {
		mark := writes.mark()
		reported := playControllers(t, p, fmt.Sprintf("round %d", round))
		waitQuiet(t)
		got := writesFor(mark, ns, gatewayClass)
		if cw := childWrites(got); len(cw) != 0 {
			t.Errorf("round %d: %d children's status writes cost %d child writes: %v", round, reported, len(cw), cw)
		}
		if round == 1 && len(got) != 0 {
			t.Errorf("round %d: status rewrites that change nothing the platform reports cost %d writes: %v", round, len(got), got)
		}
		t.Logf("round %d: %d children's status written by their controllers; the operator wrote %v", round, reported, got)
	}
}

// playControllers writes, into every child whose readiness sits in status.conditions (Gateways,
// GatewayClasses, Envoy AI Gateway's kinds), the conditions its controller writes, True, with message
// msg; it returns how many children it wrote.
func playControllers(t *testing.T, p *platformv1.GenAIPlatform, msg string) int {
	t.Helper()
	n := 0
	for _, k := range kinds.All {
		if k.Readiness == nil || (k.Readiness.Shape != kinds.Conditions && k.Readiness.Shape != kinds.AIGateway) {
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.GVK.GroupVersion().WithKind(k.GVK.Kind + "List"))
		if err := k8s.List(testCtx, list, client.MatchingLabels(render.SelectorLabels(p))); err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			var extra map[string]any
			if k.GVK.Kind == "Gateway" {
				extra = map[string]any{"addresses": []any{map[string]any{"type": "IPAddress", "value": "10.0.0.7"}}}
			}
			setStatusConditionsMessage(t, k.GVK, item.GetNamespace(), item.GetName(), extra, msg, k.Readiness.Want...)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no child reports in status.conditions: the check would be vacuous")
	}
	return n
}

// childWrites are the writes among ws to the platform's children: not its own status, not events.
func childWrites(ws []string) []string {
	var out []string
	for _, w := range ws {
		if !strings.Contains(w, "/genaiplatforms/") && !strings.Contains(w, "/events") {
			out = append(out, w)
		}
	}
	return out
}

// waitQuiet waits until the operator has sent no write for a second (its informers have caught up).
func waitQuiet(t *testing.T) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		start := writes.mark()
		time.Sleep(time.Second)
		if w := writes.since(start); len(w) > 0 {
			return fmt.Errorf("still writing: %v", w)
		}
		return nil
	})
}
