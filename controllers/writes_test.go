package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

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

// TestLinkMadeInTheReconcileTheAddressCameIn: a Tier Two Gateway's address that comes while the rest of
// the platform is applied (a fast Envoy Gateway) gets Tier One's link to it in that same reconcile: the
// link's Backend is written before the platform's first status, so the platform's status is not written
// once without the link and again with it. And the operator's status writes, each following its own
// previous one faster than its cache shows it, meet no conflict.
func TestLinkMadeInTheReconcileTheAddressCameIn(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	const spec = `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: %s, nodePools: [{name: a}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', placements: [{cluster: east, nodePool: a}]}}]
`
	// The Tier Two Gateway gets its address as soon as the operator has applied it, and the operator's
	// cache shows that address before the operator applies anything else.
	tierTwo := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fast"}}
	// (The hook runs in the operator's request; it reports to the test through hookErr.)
	gwKey := client.ObjectKey{Namespace: mns, Name: render.TierTwoGatewayName(tierTwo)}
	hookErr := make(chan error, 1)
	afterRequest.once("PATCH /apis/gateway.networking.k8s.io/v1/namespaces/"+mns+"/gateways/"+gwKey.Name, func() {
		hookErr <- func() error {
			var gw gwapiv1.Gateway
			if err := k8s.Get(testCtx, gwKey, &gw); err != nil {
				return err
			}
			gw.Status.Addresses = []gwapiv1.GatewayStatusAddress{{Type: ptr.To(gwapiv1.HostnameAddressType), Value: "tier2.east.internal"}}
			if err := k8s.Status().Update(testCtx, &gw); err != nil {
				return err
			}
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if err := testCache.Get(testCtx, gwKey, &gw); err == nil && len(gw.Status.Addresses) > 0 {
					return nil
				}
			}
			return fmt.Errorf("the operator's cache showed no address within 10s")
		}()
	})
	mark, conflictsBefore := writes.mark(), conflicts.mark()
	p := createPlatform(t, ns, "fast", fmt.Sprintf(spec, mns))
	select {
	case err := <-hookErr:
		if err != nil {
			t.Fatalf("giving the Tier Two Gateway its address: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the operator did not apply the Tier Two Gateway within 30s")
	}
	link := render.ClusterBackendName(p, "east")
	eventually(t, 20*time.Second, func() error {
		b := &unstructured.Unstructured{}
		b.SetGroupVersionKind(gvkBackend)
		return k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: link}, b)
	})
	// The platform's status keeps changing as the test plays the children's controllers.
	setStatusConditions(t, gvkGatewayClass, "", render.Name("genai", ns, p.Name), nil, "Accepted")
	acceptTierTwoIn(t, k8s, p, "east", mns)
	setStatusConditions(t, gvkBackend, ns, link, nil, "Accepted")
	waitQuiet(t)

	backendAt, firstStatusAt := -1, -1
	ws := writes.since(mark)
	for i, w := range ws {
		switch {
		case backendAt < 0 && strings.HasSuffix(w, "/namespaces/"+ns+"/backends/"+link):
			backendAt = i
		case firstStatusAt < 0 && strings.HasSuffix(w, "/namespaces/"+ns+"/genaiplatforms/fast/status"):
			firstStatusAt = i
		}
	}
	if backendAt < 0 || firstStatusAt < 0 || backendAt > firstStatusAt {
		t.Errorf("the link's Backend (write %d) comes after the platform's first status write (write %d): %v", backendAt, firstStatusAt, writesFor(mark, ns, ""))
	}
	for _, c := range conflicts.since(conflictsBefore) {
		if strings.Contains(c, "/namespaces/"+ns+"/") {
			t.Errorf("the operator met a conflict: %s", c)
		}
	}
}
