package controllers_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

const tenantsGolden = "render/testdata/tenants.in.yaml"

// waitTenant waits until the GenAITenant's condition typ has status want and reason (any if "") for its
// current generation, and returns the tenant.
func waitTenant(t *testing.T, ns, name, typ string, want metav1.ConditionStatus, reason string) *platformv1.GenAITenant {
	t.Helper()
	got := &platformv1.GenAITenant{}
	eventually(t, 20*time.Second, func() error {
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: name}, got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, typ)
		if c == nil || c.Status != want || (reason != "" && c.Reason != reason) || c.ObservedGeneration != got.Generation {
			return fmt.Errorf("GenAITenant %s/%s %s: %+v", ns, name, typ, c)
		}
		return nil
	})
	return got
}

// tenantsGoldenInput is the golden input as the operator sees it in namespace ns: the platform read
// back, its accepted tenants and their keys (generated ones with placeholder values: only the set of
// objects is compared).
func tenantsGoldenInput(t *testing.T, p *platformv1.GenAIPlatform) render.Input {
	t.Helper()
	docs, err := preview.ReadFile(tenantsGolden)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range docs.Secrets {
		s.Namespace = p.Namespace
	}
	for _, tn := range docs.Tenants {
		tn.Namespace = p.Namespace
	}
	f, accepted := controllers.ObserveOffline(testCtx, p, preview.TenantsOf(p, docs.Tenants, p.Namespace), docs.Secrets)
	return render.Input{Platform: p, Facts: f, Tenants: accepted}
}

// TestTenants: the tenants golden input on the real API server with the real Envoy Gateway and AI
// Gateway CRDs. Every rendered object is admitted (the access SecurityPolicies with authorization and
// mergeType, the BackendTrafficPolicy with week and month budgets and the 403 responseOverride, the
// AIGatewayRoute with named rules and a CEL llmRequestCost); each tenant reports its keys Secret, its
// unknown models, its refused budgets and key conflicts; the platform counts them; generated keys
// rotate with a grace period; and no key is ever in the operator's logs, its events or any status.
func TestTenants(t *testing.T) {
	ns := newNamespace(t)
	p := getPlatform(t, applyYAMLFile(t, ns, tenantsGolden))
	waitChildren(t, p, expectedChildrenOf(t, tenantsGoldenInput(t, p)))

	a := waitTenant(t, ns, "team-a", platformv1.ConditionReady, metav1.ConditionTrue, "")
	if a.Status.KeysSecretName != "team-a-generated-keys" || a.Status.ClientIDs != 2 || fmt.Sprint(a.Status.Models) != "[gpt-4o gpt-4o-mini]" {
		t.Errorf("team-a status: %+v", a.Status)
	}
	b := waitTenant(t, ns, "team-b", platformv1.ConditionReady, metav1.ConditionFalse, platformv1.ReasonBudgetsRefused)
	if fmt.Sprint(b.Status.UnknownModels) != "[mistral* gemini-*]" || len(b.Status.RefusedBudgets) != 1 || !strings.HasPrefix(b.Status.RefusedBudgets[0], "nothing:") {
		t.Errorf("team-b status: %+v", b.Status)
	}
	c := waitTenant(t, ns, "team-c", platformv1.ConditionReady, metav1.ConditionFalse, platformv1.ReasonKeysConflict)
	if msg := meta.FindStatusCondition(c.Status.Conditions, platformv1.ConditionReady).Message; !strings.Contains(msg, "shared") || c.Status.ClientIDs != 1 {
		t.Errorf("team-c: %s %+v", msg, c.Status)
	}
	// A JWT tenant on a platform that also reads API keys: every client sends a key too, which decides.
	r := waitTenant(t, ns, "research", platformv1.ConditionAccepted, metav1.ConditionFalse, platformv1.ReasonInvalidReference)
	if msg := meta.FindStatusCondition(r.Status.Conditions, platformv1.ConditionAccepted).Message; !strings.Contains(msg, "spec.jwt") || !strings.Contains(msg, "apiKeys") {
		t.Errorf("research: %s", msg)
	}
	waitTenant(t, ns, "elsewhere", platformv1.ConditionAccepted, metav1.ConditionFalse, platformv1.ReasonPlatformNotFound)
	eventually(t, 20*time.Second, func() error {
		st := getPlatform(t, p).Status.Tenants
		if st == nil || st.Accepted != 3 || st.Ready != 1 || st.Refused != 1 || fmt.Sprint(st.NotReady) != "[research: InvalidReference team-b: BudgetsRefused team-c: KeysConflict]" {
			return fmt.Errorf("platform status.tenants: %+v", st)
		}
		return nil
	})

	// The keys Tier One accepts: the generated ones are in the tenant's Secret and in the clients' key
	// Secret under "<tenant>.<key>".
	keysOf := func() (generated, clients map[string][]byte) {
		var g, c corev1.Secret
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "team-a-generated-keys"}, &g); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.ClientKeysSecretName(p)}, &c); err != nil {
			t.Fatal(err)
		}
		return g.Data, c.Data
	}
	gen, cl := keysOf()
	if len(gen["key-1"]) < 32 || string(cl["team-a.key-1"]) != string(gen["key-1"]) || string(cl["team-a.key-2"]) != string(gen["key-2"]) || cl["team-a.legacy"] != nil {
		t.Fatalf("generated keys %v, client keys %v", slices.Collect(func(yield func(string) bool) {
			for k := range gen {
				yield(k)
			}
		}), len(cl))
	}
	old := map[string]string{"key-1": string(gen["key-1"]), "key-2": string(gen["key-2"])}

	// Rotation: new keys at once, the old ones still accepted as "<key>.previous" for the grace period
	// (2 s in these tests), then dropped.
	var tenant platformv1.GenAITenant
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "team-a"}, &tenant); err != nil {
		t.Fatal(err)
	}
	before := tenant.DeepCopy()
	tenant.Annotations = map[string]string{platformv1.AnnotationRotateKeys: "1"}
	if err := k8s.Patch(testCtx, &tenant, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		gen, cl := keysOf()
		if string(gen["key-1"+facts.PreviousKeySuffix]) != old["key-1"] || string(gen["key-1"]) == old["key-1"] ||
			string(cl["team-a.key-1"+facts.PreviousKeySuffix]) != old["key-1"] || string(cl["team-a.key-1"]) != string(gen["key-1"]) {
			return fmt.Errorf("rotation not staged: %d generated keys", len(gen))
		}
		return nil
	})
	if rot := waitTenant(t, ns, "team-a", platformv1.ConditionReady, metav1.ConditionTrue, "").Status.KeyRotation; rot == nil || rot.Token != "1" {
		t.Errorf("team-a status.keyRotation after the rotation: %+v", rot)
	}
	eventually(t, 20*time.Second, func() error {
		gen, cl := keysOf()
		if len(gen) != 2 || cl["team-a.key-1"+facts.PreviousKeySuffix] != nil {
			return fmt.Errorf("previous keys not dropped after the grace period: %d generated keys", len(gen))
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		a := waitTenant(t, ns, "team-a", platformv1.ConditionReady, metav1.ConditionTrue, "")
		if rot := a.Status.KeyRotation; rot == nil || rot.Token != "1" || rot.PreviousKeysUntil != nil || rot.Pending != "" {
			return fmt.Errorf("team-a status.keyRotation once the old keys are dropped: %+v", rot)
		}
		return nil
	})

	// Envoy Gateway refuses the Tier One policy that holds the budgets: each tenant with budgets says
	// which of its budgets are not in force, with Envoy Gateway's message.
	refuseTierOnePolicy(t, p, "enable Ratelimit in the EnvoyGateway config to configure global rateLimit")
	a = waitTenant(t, ns, "team-a", platformv1.ConditionReady, metav1.ConditionFalse, platformv1.ReasonBudgetsRefused)
	if len(a.Status.RefusedBudgets) != 3 || !strings.Contains(a.Status.RefusedBudgets[0], "enable Ratelimit") {
		t.Errorf("team-a refused budgets: %v", a.Status.RefusedBudgets)
	}

	// No key, generated or brought, is in the operator's logs, its events, or any status.
	gen, _ = keysOf()
	values := []string{"key-b-ci", "key-b-laptop", "key-c-own", "key-ops", old["key-1"], old["key-2"]}
	for _, v := range gen {
		values = append(values, string(v))
	}
	var statuses []byte
	var tenants platformv1.GenAITenantList
	if err := k8s.List(testCtx, &tenants, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants.Items {
		j, _ := json.Marshal(tn.Status)
		statuses = append(statuses, j...)
	}
	j, _ := json.Marshal(getPlatform(t, p).Status)
	statuses = append(statuses, j...)
	var events eventsv1.EventList
	if err := k8s.List(testCtx, &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(events.Items)
	logged := logs.String()
	for _, v := range values {
		for _, s := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			switch {
			case strings.Contains(logged, s):
				t.Errorf("a tenant key is in the operator's log")
			case strings.Contains(string(ev), s):
				t.Errorf("a tenant key is in an event")
			case strings.Contains(string(statuses), s):
				t.Errorf("a tenant key is in a status")
			}
		}
	}
}

// refuseTierOnePolicy writes, as Envoy Gateway would, Accepted False on the Tier One
// BackendTrafficPolicy for the platform's Gateway.
func refuseTierOnePolicy(t *testing.T, p *platformv1.GenAIPlatform, message string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(egv1a1.GroupVersion.WithKind(egv1a1.KindBackendTrafficPolicy))
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: p.Namespace, Name: render.TierOnePolicyName(p)}, u); err != nil {
			return err
		}
		u.Object["status"] = map[string]any{"ancestors": []any{map[string]any{
			"ancestorRef":    map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": p.Name, "namespace": p.Namespace},
			"controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
			"conditions": []any{map[string]any{"type": "Accepted", "status": "False", "reason": "Invalid", "message": message,
				"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": u.GetGeneration()}},
		}}}
		return k8s.Status().Update(testCtx, u)
	})
}

// TestRefusedTenantKeepsItsGeneratedKeys: a tenant refused for a while (its platform's API keys switched
// off, then on again) keeps its generated keys Secret meanwhile, and gets the same keys back, so that its
// applications are not locked out by new ones.
func TestRefusedTenantKeepsItsGeneratedKeys(t *testing.T) {
	ns := newNamespace(t)
	createSecret(t, ns, "client-keys", map[string]string{"ops": "ops-key-value-1234567890"})
	createSecret(t, ns, "openai", map[string]string{"apiKey": "sk-openai-value"})
	p := createPlatform(t, ns, "keep", `
gateway: {listener: {protocol: HTTP}, clientAuth: {apiKeys: {secretRef: {name: client-keys}}}}
providers: [{name: openai, type: OpenAI, credentials: {secretRef: {name: openai}}}]
models: [{name: gpt-4o, routes: [{provider: openai}]}]
`)
	tenant := &platformv1.GenAITenant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
		Spec: platformv1.GenAITenantSpec{PlatformRef: platformv1.LocalPlatformReference{Name: p.Name},
			APIKeys: &platformv1.TenantAPIKeys{Generate: &platformv1.GeneratedKeys{Keys: 1}}, Models: []string{"*"}}}
	if err := k8s.Create(testCtx, tenant); err != nil {
		t.Fatal(err)
	}
	waitTenant(t, ns, "team", platformv1.ConditionReady, metav1.ConditionTrue, "")
	keyOf := func() string {
		var s corev1.Secret
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.TenantKeysSecretName("team")}, &s); err != nil {
			t.Fatal(err)
		}
		return string(s.Data["key-1"])
	}
	key := keyOf()

	updatePlatform(t, p, func(p *platformv1.GenAIPlatform) { p.Spec.Gateway.ClientAuth = nil })
	waitTenant(t, ns, "team", platformv1.ConditionAccepted, metav1.ConditionFalse, platformv1.ReasonInvalidReference)
	waitQuiet(t)
	if got := keyOf(); got != key {
		t.Fatal("the refused tenant's generated key changed")
	}

	updatePlatform(t, p, func(p *platformv1.GenAIPlatform) {
		p.Spec.Gateway.ClientAuth = &platformv1.ClientAuthSpec{APIKeys: &platformv1.APIKeyAuth{SecretRef: platformv1.SecretReference{Name: "client-keys"}}}
	})
	waitTenant(t, ns, "team", platformv1.ConditionReady, metav1.ConditionTrue, "")
	eventually(t, 20*time.Second, func() error {
		var c corev1.Secret
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.ClientKeysSecretName(p)}, &c); err != nil {
			return err
		}
		if string(c.Data["team.key-1"]) != key || keyOf() != key {
			return fmt.Errorf("the tenant's key at Tier One is not the one it had before it was refused")
		}
		return nil
	})
}

// TestInvalidTenantsAreRefused: admission refuses a tenant with a clear message naming the field.
func TestInvalidTenantsAreRefused(t *testing.T) {
	ns := newNamespace(t)
	for _, c := range []struct{ name, spec, field string }{
		{"no identity", "{platformRef: {name: p}, models: ['*']}", "spec needs apiKeys or jwt"},
		{"no models", "{platformRef: {name: p}, apiKeys: {generate: {keys: 1}}}", "spec.models"},
		{"both key sources", "{platformRef: {name: p}, models: ['*'], apiKeys: {generate: {keys: 1}, secretRef: {name: s}}}", "exactly one of generate and secretRef"},
		{"too many keys", "{platformRef: {name: p}, models: ['*'], apiKeys: {generate: {keys: 17}}}", "spec.apiKeys.generate.keys"},
		{"bad glob", "{platformRef: {name: p}, models: ['a b'], apiKeys: {generate: {keys: 1}}}", "spec.models[0]"},
		{"tokens and cost", "{platformRef: {name: p}, models: ['*'], apiKeys: {generate: {keys: 1}}, budgets: [{name: b, tokens: 1, cost: '1', per: Day}]}", "set exactly one of tokens and cost"},
		{"neither tokens nor cost", "{platformRef: {name: p}, models: ['*'], apiKeys: {generate: {keys: 1}}, budgets: [{name: b, per: Day}]}", "set exactly one of tokens and cost"},
		{"cost too large", "{platformRef: {name: p}, models: ['*'], apiKeys: {generate: {keys: 1}}, budgets: [{name: b, cost: '500000', per: Month}]}", "spec.budgets[].cost must be more than 0 and at most 429496"},
		{"cost with 5 decimals", "{platformRef: {name: p}, models: ['*'], apiKeys: {generate: {keys: 1}}, budgets: [{name: b, cost: '1.00001', per: Month}]}", "spec.budgets[0].cost"},
		{"per second", "{platformRef: {name: p}, models: ['*'], apiKeys: {generate: {keys: 1}}, budgets: [{name: b, tokens: 1, per: Second}]}", "spec.budgets[].per must be Minute"},
		{"token type on cost", "{platformRef: {name: p}, models: ['*'], apiKeys: {generate: {keys: 1}}, budgets: [{name: b, cost: '1', tokenType: Output, per: Day}]}", "tokenType applies to token budgets only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(platformv1.GroupVersion.String())
			u.SetKind("GenAITenant")
			u.SetNamespace(ns)
			u.SetName("t-" + strings.ReplaceAll(c.name, " ", "-"))
			var spec map[string]any
			if err := sigyaml.Unmarshal([]byte(c.spec), &spec); err != nil {
				t.Fatal(err)
			}
			u.Object["spec"] = spec
			err := k8s.Create(testCtx, u)
			if err == nil || !strings.Contains(err.Error(), c.field) {
				t.Errorf("want an error naming %q, got %v", c.field, err)
			}
		})
	}
	// A name with a dot would make client ids ambiguous.
	u := &platformv1.GenAITenant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team.a"}, Spec: platformv1.GenAITenantSpec{
		PlatformRef: platformv1.LocalPlatformReference{Name: "p"}, Models: []string{"*"},
		APIKeys: &platformv1.TenantAPIKeys{Generate: &platformv1.GeneratedKeys{Keys: 1}}}}
	if err := k8s.Create(testCtx, u); err == nil || !strings.Contains(err.Error(), "metadata.name must be a DNS label") {
		t.Errorf("a dotted tenant name: %v", err)
	}
	// The platform's price table.
	pl := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prices"}}
	if err := sigyaml.UnmarshalStrict([]byte(`
gateway:
  listener: {protocol: HTTP}
  costs: {currency: USD, prices: [{model: m, input: "1000", output: "1"}]}
`), &pl.Spec); err != nil {
		t.Fatal(err)
	}
	err := k8s.Create(testCtx, pl)
	if err == nil || !strings.Contains(err.Error(), "spec.gateway.costs.prices[0].input") {
		t.Errorf("a price of 1000 per million tokens: %v", err)
	}
}
