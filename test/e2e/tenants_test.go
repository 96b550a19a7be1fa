//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// The tenants' platform: its own Tier One Gateway, so that the samples' platforms and the steps that
// check them are unaffected. Its clients: a platform client key (ops), JWTs whose claim "tenant" names a
// tenant, and the tenants' keys.
const (
	tenantsPlatform = "tenants"
	tenantGen       = "team-gen"      // keys the operator generates
	tenantOwn       = "team-own"      // keys in its own Secret
	tenantJWT       = "research"      // named by a JWT claim: refused here (the platform also reads API keys)
	tenantOwnSecret = "team-own-keys" // the Secret team-own brings
	tenantsClients  = "tenants-client-keys-input"
)

// The platform's and team-own's key values: none may appear in the operator's log, events or statuses.
var tenantUserKeys = map[string]string{
	"ops":    "sk-e2e-tenants-ops-4b0f9c1d2e",
	"ci":     "sk-e2e-team-own-ci-7a61c2f09b",
	"laptop": "sk-e2e-team-own-laptop-19d3e8aa",
}

func tenantsObjects() []*unstructured.Unstructured {
	secret := func(name string, data map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": name, "namespace": platformNS},
			"stringData": data,
		}}
	}
	tenant := func(name string, spec map[string]any) *unstructured.Unstructured {
		spec["platformRef"] = map[string]any{"name": tenantsPlatform}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": platformv1.GroupVersion.String(), "kind": "GenAITenant",
			"metadata": map[string]any{"name": name, "namespace": platformNS},
			"spec":     spec,
		}}
	}
	return []*unstructured.Unstructured{
		secret(tenantsClients, map[string]any{"ops": tenantUserKeys["ops"]}),
		secret(tenantOwnSecret, map[string]any{"ci": tenantUserKeys["ci"], "laptop": tenantUserKeys["laptop"]}),
		// Generated keys; a glob; a budget per tenant, one per tenant and model, a cost budget.
		tenant(tenantGen, map[string]any{
			"apiKeys": map[string]any{"generate": map[string]any{"keys": int64(2)}},
			"models":  []any{"gpt-4o*"},
			"budgets": []any{
				map[string]any{"name": "daily-tokens", "tokens": int64(2000000), "per": "Day"},
				map[string]any{"name": "gpt4o-output", "tokens": int64(200000), "tokenType": "Output", "per": "Hour", "models": []any{"gpt-4o"}},
				map[string]any{"name": "monthly-spend", "cost": "250.50", "per": "Month"},
			},
		}),
		// Its own keys; an exact name and one the platform does not serve; a cost budget on one model.
		tenant(tenantOwn, map[string]any{
			"apiKeys": map[string]any{"secretRef": map[string]any{"name": tenantOwnSecret}},
			"models":  []any{"claude-sonnet", "mistral-large"},
			"budgets": []any{
				map[string]any{"name": "weekly-spend", "cost": "100", "per": "Week", "models": []any{"claude-sonnet"}},
			},
		}),
		// Named by the JWT claim "tenant"; every model.
		tenant(tenantJWT, map[string]any{
			"jwt":     map[string]any{"claimValues": []any{"research", "ml-platform"}},
			"models":  []any{"*"},
			"budgets": []any{map[string]any{"name": "hourly", "tokens": int64(5000000), "per": "Hour"}},
		}),
	}
}

func tenantsPlatformObject() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": platformv1.GroupVersion.String(), "kind": "GenAIPlatform",
		"metadata": map[string]any{"name": tenantsPlatform, "namespace": platformNS},
		"spec": map[string]any{
			"gateway": map[string]any{
				"listener": map[string]any{"protocol": "HTTP", "port": int64(80), "hostname": "llm.tenants.example"},
				"clientAuth": map[string]any{
					"apiKeys": map[string]any{"secretRef": map[string]any{"name": tenantsClients}, "header": "x-api-key"},
					"jwt":     map[string]any{"issuer": "https://idp.example.com", "jwksURI": "https://idp.example.com/jwks", "tenantClaim": "tenant"},
				},
				"costs": map[string]any{"currency": "USD", "prices": []any{
					map[string]any{"model": "gpt-4o", "provider": "openai", "input": "2.50", "output": "10"},
					map[string]any{"model": "gpt-4o-mini", "input": "0.15", "output": "0.6"},
					map[string]any{"model": "claude-*", "input": "3", "output": "15"},
				}},
			},
			// The samples' provider Secrets (secrets.yaml).
			"providers": []any{
				map[string]any{"name": "openai", "type": "OpenAI", "credentials": map[string]any{"secretRef": map[string]any{"name": "openai", "key": "apiKey"}}},
				map[string]any{"name": "anthropic", "type": "Anthropic", "credentials": map[string]any{"secretRef": map[string]any{"name": "anthropic", "key": "key"}}},
			},
			"models": []any{
				map[string]any{"name": "gpt-4o", "routes": []any{map[string]any{"provider": "openai"}}},
				map[string]any{"name": "gpt-4o-mini", "routes": []any{map[string]any{"provider": "openai"}}},
				// A model's own budget.
				map[string]any{"name": "claude-sonnet", "routes": []any{map[string]any{"provider": "anthropic", "model": "claude-sonnet-4-5"}},
					"budget": map[string]any{"tokens": int64(50000000), "per": "Hour"}},
			},
		},
	}}
}

// testTenants: a platform with API key and JWT clients and three GenAITenants (generated keys, brought
// keys, a JWT claim), with model allow lists, token and cost budgets and a model's own budget. Every
// object the operator makes for them is accepted by the real controllers; each key tenant's status and
// the platform's summary say so, and the JWT tenant is refused (with API keys too, every client sends a
// key, which decides); the generated keys are in their Secret and nowhere else.
func testTenants(t *testing.T) {
	needAIGateway(t)
	ctx := context.Background()
	objs := tenantsObjects()
	pl := tenantsPlatformObject()
	t.Cleanup(func() {
		// Leave nothing of it for the steps after (the deletion step checks that everything went).
		for _, name := range []string{tenantGen, tenantOwn, tenantJWT} {
			_ = client.IgnoreNotFound(c.Delete(ctx, &platformv1.GenAITenant{ObjectMeta: metav1.ObjectMeta{Namespace: platformNS, Name: name}}))
		}
		_ = client.IgnoreNotFound(c.Delete(ctx, &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Namespace: platformNS, Name: tenantsPlatform}}))
		for _, name := range []string{tenantsClients, tenantOwnSecret} {
			_ = client.IgnoreNotFound(c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: platformNS, Name: name}}))
		}
	})
	// The tenants first, then their platform: its first render already serves them.
	apply(t, objs...)
	apply(t, pl)

	// Each tenant's status, as the platform's reconcile writes it.
	type want struct {
		keys      string
		clientIDs int32
		models    []string
		unknown   []string
	}
	wants := map[string]want{
		tenantGen: {keys: render.TenantKeysSecretName(tenantGen), clientIDs: 2, models: []string{"gpt-4o", "gpt-4o-mini"}},
		tenantOwn: {keys: tenantOwnSecret, clientIDs: 2, models: []string{"claude-sonnet"}, unknown: []string{"mistral-large"}},
	}
	eventually(t, waitForControl, func() error {
		for name, w := range wants {
			var tn platformv1.GenAITenant
			if err := c.Get(ctx, client.ObjectKey{Namespace: platformNS, Name: name}, &tn); err != nil {
				return err
			}
			st := tn.Status
			if st.ObservedGeneration != tn.Generation {
				return fmt.Errorf("GenAITenant %s: observedGeneration %d, generation %d", name, st.ObservedGeneration, tn.Generation)
			}
			for _, typ := range []string{platformv1.ConditionAccepted, platformv1.ConditionReady} {
				if cond := meta.FindStatusCondition(st.Conditions, typ); cond == nil || cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != tn.Generation {
					return fmt.Errorf("GenAITenant %s: %s is %+v", name, typ, cond)
				}
			}
			if st.KeysSecretName != w.keys || st.ClientIDs != w.clientIDs || !slices.Equal(st.Models, w.models) ||
				!slices.Equal(st.UnknownModels, w.unknown) || len(st.RefusedBudgets) > 0 {
				return fmt.Errorf("GenAITenant %s: keysSecretName %q clientIDs %d models %v unknownModels %v refusedBudgets %v; want %q %d %v %v none",
					name, st.KeysSecretName, st.ClientIDs, st.Models, st.UnknownModels, st.RefusedBudgets, w.keys, w.clientIDs, w.models, w.unknown)
			}
		}
		p := platform(t, tenantsPlatform)
		if p.Status.ObservedGeneration != p.Generation {
			return fmt.Errorf("platform %s: observedGeneration %d, generation %d", p.Name, p.Status.ObservedGeneration, p.Generation)
		}
		// The JWT tenant is refused: this platform also reads API keys, so every client sends one, and the
		// key decides what it may call.
		var jwt platformv1.GenAITenant
		if err := c.Get(ctx, client.ObjectKey{Namespace: platformNS, Name: tenantJWT}, &jwt); err != nil {
			return err
		}
		if cond := meta.FindStatusCondition(jwt.Status.Conditions, platformv1.ConditionAccepted); cond == nil || cond.Status != metav1.ConditionFalse ||
			cond.Reason != platformv1.ReasonInvalidReference || !strings.Contains(cond.Message, "apiKeys") || cond.ObservedGeneration != jwt.Generation {
			return fmt.Errorf("GenAITenant %s: Accepted is %+v; want False InvalidReference naming apiKeys", tenantJWT, cond)
		}
		if ts := p.Status.Tenants; ts == nil || ts.Accepted != 2 || ts.Ready != 2 || ts.Refused != 1 || fmt.Sprint(ts.NotReady) != "[research: InvalidReference]" {
			return fmt.Errorf("platform %s: tenants %+v; want 2 accepted and ready, research refused", p.Name, ts)
		}
		return nil
	})
	for _, name := range []string{tenantGen, tenantOwn, tenantJWT} {
		var tn platformv1.GenAITenant
		if err := c.Get(ctx, client.ObjectKey{Namespace: platformNS, Name: name}, &tn); err != nil {
			t.Fatal(err)
		}
		t.Logf("GenAITenant %s: keysSecretName %q, clientIDs %d, models %v, unknownModels %v", name, tn.Status.KeysSecretName, tn.Status.ClientIDs, tn.Status.Models, tn.Status.UnknownModels)
		for _, cond := range tn.Status.Conditions {
			t.Logf("  %s=%s %s: %s", cond.Type, cond.Status, cond.Reason, cond.Message)
		}
	}
	t.Logf("platform %s: tenants %+v", tenantsPlatform, *platform(t, tenantsPlatform).Status.Tenants)

	// The real controllers' verdicts on what the operator made for the platform and its tenants.
	var verdicts []string
	eventually(t, waitForControl, func() (err error) { verdicts, err = tenantsAccepted(t); return err })
	for _, v := range verdicts {
		t.Log(v)
	}
	// And so the platform is Ready, every model too.
	eventually(t, waitForControl, func() error { return platformReady(t, tenantsPlatform, "3/3") })
	logPlatform(t, platform(t, tenantsPlatform))

	// The generated keys: in the Secret the operator owns, with its labels, and nowhere else.
	var gen corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: platformNS, Name: render.TenantKeysSecretName(tenantGen)}, &gen); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		platformv1.LabelManagedBy: platformv1.ManagedByValue, platformv1.LabelPlatform: tenantsPlatform,
		render.LabelTenant: tenantGen,
	} {
		if gen.Labels[k] != v {
			t.Errorf("Secret %s: label %s=%q, want %q (labels %v)", gen.Name, k, gen.Labels[k], v, gen.Labels)
		}
	}
	if owner := metav1.GetControllerOf(&gen); owner == nil || owner.Kind != "GenAIPlatform" || owner.Name != tenantsPlatform {
		t.Errorf("Secret %s: controller %+v, want GenAIPlatform %s", gen.Name, owner, tenantsPlatform)
	}
	secrets := map[string]string{}
	for _, k := range []string{"key-1", "key-2"} {
		if len(gen.Data[k]) < 32 {
			t.Fatalf("Secret %s: key %s has %d bytes", gen.Name, k, len(gen.Data[k]))
		}
		secrets[gen.Name+"/"+k] = string(gen.Data[k])
	}
	for k, v := range tenantUserKeys {
		secrets[k] = v
	}
	checked := noKeyValues(t, secrets)
	t.Logf("Secret %s/%s: keys key-1, key-2, labels %v; no key value (generated or brought) in %s",
		platformNS, gen.Name, gen.Labels, strings.Join(checked, ", "))
}

// tenantsAccepted: the Envoy Gateway and Envoy AI Gateway verdicts on the tenants' platform's objects,
// as their controllers write them. It returns them, one line each.
func tenantsAccepted(t *testing.T) ([]string, error) {
	t.Helper()
	mine := func(k string) []unstructured.Unstructured {
		var out []unstructured.Unstructured
		for _, o := range listManaged(t, gvkOf(k)) {
			if o.GetLabels()[platformv1.LabelPlatform] == tenantsPlatform && o.GetNamespace() == platformNS {
				out = append(out, o)
			}
		}
		return out
	}
	var lines []string
	// Envoy AI Gateway: the routes (named rules, the cost CEL) and their backends.
	rules := map[string][]string{} // route: rule names
	for _, kind := range []string{"AIGatewayRoute", "AIServiceBackend", "BackendSecurityPolicy"} {
		objs := mine(kind)
		if len(objs) == 0 {
			return nil, fmt.Errorf("no %s of platform %s", kind, tenantsPlatform)
		}
		for _, o := range objs {
			if err := aigwAccepted(o); err != nil {
				return nil, err
			}
			lines = append(lines, fmt.Sprintf("Envoy AI Gateway: %s %s/%s %s", kind, o.GetNamespace(), o.GetName(), conditionsText(o.Object, "status", "conditions")))
			if kind != "AIGatewayRoute" {
				continue
			}
			costs, _, _ := unstructured.NestedSlice(o.Object, "spec", "llmRequestCosts")
			if !slices.ContainsFunc(costs, func(x any) bool {
				m := x.(map[string]any)
				return m["type"] == "CEL" && m["metadataKey"] == "llm_cost" && m["cel"] != ""
			}) {
				return nil, fmt.Errorf("AIGatewayRoute %s: no llmRequestCosts CEL llm_cost in %v", o.GetName(), costs)
			}
			rs, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
			for _, r := range rs {
				rules[o.GetName()] = append(rules[o.GetName()], fmt.Sprint(r.(map[string]any)["name"]))
			}
			// The HTTPRoute it generates, as Envoy Gateway judges it, keeps the rules' names.
			if err := generatedRouteAccepted(t, o); err != nil {
				return nil, err
			}
			hr := get(t, gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"), o.GetNamespace(), o.GetName())
			hrRules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
			var names []string
			for _, r := range hrRules {
				n, _ := r.(map[string]any)["name"].(string)
				names = append(names, n)
			}
			for _, n := range rules[o.GetName()] {
				if !slices.Contains(names, n) {
					return nil, fmt.Errorf("HTTPRoute %s generated by Envoy AI Gateway: no rule named %q (rules %v)", hr.GetName(), n, names)
				}
			}
			parents, _, _ := unstructured.NestedSlice(hr.Object, "status", "parents")
			for _, x := range parents {
				p := x.(map[string]any)
				lines = append(lines, fmt.Sprintf("Envoy Gateway: HTTPRoute %s/%s (generated; rules %v) parent %v controller %v: %s",
					hr.GetNamespace(), hr.GetName(), names, p["parentRef"], p["controllerName"], conditionsText(p, "conditions")))
			}
		}
	}
	// Envoy Gateway: the Backends, the client auth and the access policies, the budgets, the client
	// traffic policy.
	for _, b := range mine("Backend") {
		if err := conditionsTrue(b, "Accepted"); err != nil {
			return nil, err
		}
	}
	sps := mine("SecurityPolicy")
	access := 0
	for _, sp := range sps {
		mergeType, _, _ := unstructured.NestedString(sp.Object, "spec", "mergeType")
		var want []string
		if mergeType != "" {
			want = append(want, "Merged")
		}
		if err := ancestorsAcceptedBy(sp, render.EnvoyGatewayControllerName, want...); err != nil {
			return nil, err
		}
		refs, _, _ := unstructured.NestedSlice(sp.Object, "spec", "targetRefs")
		target := ""
		for _, r := range refs {
			ref := r.(map[string]any)
			target = fmt.Sprintf("%s %v", ref["kind"], ref["name"])
			if section, ok := ref["sectionName"].(string); ok {
				target += " sectionName " + section
				if ref["kind"] != "HTTPRoute" || !slices.Contains(rules[ref["name"].(string)], section) {
					return nil, fmt.Errorf("SecurityPolicy %s targets %s: not a rule of an AIGatewayRoute of the platform (%v)", sp.GetName(), target, rules)
				}
				if mergeType == "" {
					return nil, fmt.Errorf("SecurityPolicy %s targets a route rule without mergeType", sp.GetName())
				}
				access++
			}
		}
		lines = append(lines, fmt.Sprintf("Envoy Gateway: SecurityPolicy %s/%s (%s, mergeType %q) %s", sp.GetNamespace(), sp.GetName(), target, mergeType, ancestorsText(sp)))
	}
	if access != 3 || len(sps) != 4 {
		return nil, fmt.Errorf("%d SecurityPolicies, %d of them per model rule; want the client auth one and one per model (3)", len(sps), access)
	}
	btp := get(t, gvkOf("BackendTrafficPolicy"), platformNS, render.TierOnePolicyName(platform(t, tenantsPlatform)))
	if btp == nil {
		return nil, fmt.Errorf("no BackendTrafficPolicy %s", render.TierOnePolicyName(platform(t, tenantsPlatform)))
	}
	if err := ancestorsAcceptedBy(*btp, render.EnvoyGatewayControllerName); err != nil {
		return nil, err
	}
	// The model's own budget (1), team-gen's three, team-own's one (research is refused); the cost budgets
	// charge the CEL's llm_cost; the 403 of a model not allowed has its own body.
	brules, _, _ := unstructured.NestedSlice(btp.Object, "spec", "rateLimit", "global", "rules")
	costRules := 0
	for _, r := range brules {
		if key, _, _ := unstructured.NestedString(r.(map[string]any), "cost", "response", "metadata", "key"); key == "llm_cost" {
			costRules++
		}
	}
	overrides, _, _ := unstructured.NestedSlice(btp.Object, "spec", "responseOverride")
	if len(brules) != 5 || costRules != 2 || len(overrides) != 1 || !strings.Contains(fmt.Sprint(overrides[0]), "403") {
		return nil, fmt.Errorf("BackendTrafficPolicy %s: %d rate limit rules (%d charging llm_cost), responseOverride %v; want 5 (2), a 403 override", btp.GetName(), len(brules), costRules, overrides)
	}
	lines = append(lines, fmt.Sprintf("Envoy Gateway: BackendTrafficPolicy %s/%s (%d global rate limit rules, %d on llm_cost, responseOverride 403) %s",
		btp.GetNamespace(), btp.GetName(), len(brules), costRules, ancestorsText(*btp)))
	ctps := mine("ClientTrafficPolicy")
	if len(ctps) != 1 {
		return nil, fmt.Errorf("%d ClientTrafficPolicies, want 1", len(ctps))
	}
	if err := ancestorsAcceptedBy(ctps[0], render.EnvoyGatewayControllerName); err != nil {
		return nil, err
	}
	lines = append(lines, fmt.Sprintf("Envoy Gateway: ClientTrafficPolicy %s/%s %s", ctps[0].GetNamespace(), ctps[0].GetName(), ancestorsText(ctps[0])))
	// The Tier One EnvoyProxy moves custom_response before rbac (so that Envoy AI Gateway's processor
	// runs after authentication): Envoy Gateway reads it as the Gateway's parameters, and would say
	// Accepted=False (InvalidParameters) on the Gateway if it refused it.
	proxies := mine("EnvoyProxy")
	if len(proxies) != 1 {
		return nil, fmt.Errorf("%d EnvoyProxies, want 1", len(proxies))
	}
	order, _, _ := unstructured.NestedSlice(proxies[0].Object, "spec", "filterOrder")
	if fmt.Sprint(order) != "[map[before:envoy.filters.http.rbac name:envoy.filters.http.custom_response]]" {
		return nil, fmt.Errorf("EnvoyProxy %s: filterOrder %v, want custom_response before rbac", proxies[0].GetName(), order)
	}
	var gws []unstructured.Unstructured
	for _, o := range listManaged(t, gvk("gateway.networking.k8s.io", "v1", "Gateway")) {
		if o.GetLabels()[platformv1.LabelPlatform] == tenantsPlatform && o.GetNamespace() == platformNS {
			gws = append(gws, o)
		}
	}
	if len(gws) != 1 {
		return nil, fmt.Errorf("%d Tier One Gateways, want 1", len(gws))
	}
	for _, typ := range []string{"Accepted", "Programmed"} {
		if c := findConditionIn(gws[0].Object, typ); c == nil || c["status"] != "True" || c["observedGeneration"] != gws[0].GetGeneration() {
			return nil, fmt.Errorf("Gateway %s with EnvoyProxy %s (filterOrder %v): %s %v", gws[0].GetName(), proxies[0].GetName(), order, typ, c)
		}
	}
	lines = append(lines, fmt.Sprintf("Envoy Gateway: Gateway %s/%s with EnvoyProxy %s (filterOrder %v): %s", gws[0].GetNamespace(), gws[0].GetName(), proxies[0].GetName(), order, conditionsText(gws[0].Object, "status", "conditions")))
	return lines, nil
}

// findConditionIn is a condition of obj's status.conditions, by type (nil: absent).
func findConditionIn(obj map[string]any, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

func gvkOf(kind string) schema.GroupVersionKind {
	switch kind {
	case "AIGatewayRoute", "AIServiceBackend", "BackendSecurityPolicy":
		return gvk("aigateway.envoyproxy.io", "v1beta1", kind)
	}
	return gvk("gateway.envoyproxy.io", "v1alpha1", kind)
}

// ancestorsAcceptedBy: a policy's status, written by the controller for the policy's current
// generation, says Accepted=True for at least one ancestor and nothing False for any (Accepted, Merged,
// ResolvedRefs); with want, an ancestor also says that condition True. Envoy Gateway v1.9 writes a
// policy merged into the Gateway's (mergeType) as two ancestors: the Gateway, Accepted, and its
// listener, Merged.
func ancestorsAcceptedBy(u unstructured.Unstructured, controller string, want ...string) error {
	anc, _, _ := unstructured.NestedSlice(u.Object, "status", "ancestors")
	what := fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
	if len(anc) == 0 {
		return fmt.Errorf("%s has no ancestor status yet", what)
	}
	found := map[string]bool{}
	for _, a := range anc {
		m := a.(map[string]any)
		if m["controllerName"] != controller {
			return fmt.Errorf("%s: ancestor %v status by %v, want %s", what, m["ancestorRef"], m["controllerName"], controller)
		}
		conds, _ := m["conditions"].([]any)
		for _, x := range conds {
			cm := x.(map[string]any)
			typ, _ := cm["type"].(string)
			if og, ok := cm["observedGeneration"].(int64); ok && og < u.GetGeneration() {
				return fmt.Errorf("%s: condition %s observed generation %d < %d", what, typ, og, u.GetGeneration())
			}
			switch {
			case cm["status"] == "True":
				found[typ] = true
			case cm["status"] == "False" && slices.Contains([]string{"Accepted", "Merged", "ResolvedRefs"}, typ):
				return fmt.Errorf("%s: %s=False %v: %v (status: %s)", what, typ, cm["reason"], cm["message"], ancestorsText(u))
			}
		}
	}
	for _, typ := range append([]string{"Accepted"}, want...) {
		if !found[typ] {
			return fmt.Errorf("%s: no ancestor says %s=True yet (status: %s)", what, typ, ancestorsText(u))
		}
	}
	return nil
}

// ancestorsText is a policy's status, each ancestor with its controller and conditions.
func ancestorsText(u unstructured.Unstructured) string {
	anc, _, _ := unstructured.NestedSlice(u.Object, "status", "ancestors")
	var parts []string
	for _, a := range anc {
		m := a.(map[string]any)
		ref, _ := m["ancestorRef"].(map[string]any)
		target := fmt.Sprintf("%v %v/%v", ref["kind"], ref["namespace"], ref["name"])
		if s, ok := ref["sectionName"]; ok {
			target += " section " + fmt.Sprint(s)
		}
		parts = append(parts, fmt.Sprintf("ancestor %s, controller %v: %s", target, m["controllerName"], conditionsText(m, "conditions")))
	}
	return strings.Join(parts, "; ")
}

// conditionsText renders the conditions at path as "Type=Status Reason: Message".
func conditionsText(obj map[string]any, path ...string) string {
	raw, _, _ := unstructured.NestedSlice(obj, path...)
	var parts []string
	for _, x := range raw {
		m := x.(map[string]any)
		parts = append(parts, fmt.Sprintf("%v=%v %v: %v", m["type"], m["status"], m["reason"], m["message"]))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// noKeyValues checks that no key value (nor its base64) appears in the operator's log, the events of the
// platform's namespace, or the statuses of the platforms and tenants there. It returns what it read.
func noKeyValues(t *testing.T, keys map[string]string) []string {
	t.Helper()
	ctx := context.Background()
	texts := map[string]string{}
	logPath := filepath.Join(cluster.StateDir, "logs", "operator.log")
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatalf("the operator's log %s is empty", logPath)
	}
	texts["the operator's log ("+filepath.Base(logPath)+fmt.Sprintf(", %d KiB)", len(b)>>10)] = string(b)
	var events corev1.EventList
	if err := c.List(ctx, &events, client.InNamespace(platformNS)); err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(events.Items)
	texts[fmt.Sprintf("the %d events of namespace %s", len(events.Items), platformNS)] = string(ev)
	var tenants platformv1.GenAITenantList
	if err := c.List(ctx, &tenants, client.InNamespace(platformNS)); err != nil {
		t.Fatal(err)
	}
	var platforms platformv1.GenAIPlatformList
	if err := c.List(ctx, &platforms, client.InNamespace(platformNS)); err != nil {
		t.Fatal(err)
	}
	var statuses []any
	for _, x := range tenants.Items {
		statuses = append(statuses, x.Status)
	}
	for _, x := range platforms.Items {
		statuses = append(statuses, x.Status)
	}
	st, _ := json.Marshal(statuses)
	texts["the statuses of the platforms and tenants"] = string(st)
	var read []string
	for what, text := range texts {
		read = append(read, what)
		for name, v := range keys {
			if strings.Contains(text, v) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(v))) {
				t.Errorf("the value of key %s appears in %s", name, what)
			}
		}
	}
	slices.Sort(read)
	return read
}
