package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// Tenants at Tier One (docs/governance.md, Tenants), through the real external processor: a tenant's
// request for a model it may not call is refused with the rendered 403, an allowed one reaches the
// backend and is costed by the rendered CEL expression, which the real processor evaluates.
//
// Between Envoy AI Gateway's router-level processor (which reads the model from the body and sets
// x-ai-eg-model, so that Envoy re-matches the route) and its upstream filter, Envoy runs Envoy Gateway's
// filters. No Envoy runs here, so those are emulated (envoyGatewayFilters below): each step does what the
// cited Envoy Gateway v1.9.1 and Envoy source says, on the objects as the API server stored them (the
// rendered SecurityPolicies, clients' keys Secret and BackendTrafficPolicy, and the HTTPRoutes the real AI
// Gateway controller generated), and refuses, rather than guesses, anything it does not emulate.
//
// The filter order is Envoy Gateway's (internal/xds/translator/httpfilters.go, newOrderedHTTPFilter:
// custom_response 0, api_key_auth 7, jwt_authn 10, ext_proc 100+, rbac 301, ratelimit 303, router 310),
// with Envoy AI Gateway's processor inserted by its extension server before the first filter of
// afterExtProcFilterPrefixes (internal/extensionserver/post_translate_modify.go,
// insertAIGatewayExtProcFilter), a list that holds custom_response. With the 403's responseOverride on the
// Gateway and that default order, the processor would be the first filter, ahead of api_key_auth; so the
// Tier One EnvoyProxy's filterOrder moves custom_response to just before rbac, and the processor runs after
// the client's key is checked. Either way the rbac filter runs after it, on the route the processor's
// model header selected.

// tenantTokens is the usage the fake providers report for the tenants' requests: large enough that the
// cost has a fraction of a unit to round up (the conformance cases' 13 and 8 tokens cost under 2 units).
const (
	tenantInputTokens  = 123457
	tenantOutputTokens = 4321
)

// tenantCheck is one client request and what must come of it.
type tenantCheck struct {
	name    string
	client  string // client id: the key sent is the one the clients' keys Secret holds for it
	model   string
	backend string // allowed: the provider the route's backend is, which the test picks among the rule's
	allowed bool
}

func checkTenants(t *testing.T, ctx context.Context, cl *cluster, c extprocv3.ExternalProcessorClient, r *rendered, gw gatewayRef, cases []*backendCase) {
	p := r.platform
	st := loadTierOne(t, ctx, cl, gw, r)
	keys := st.clientKeys(t, render.ClientKeysSecretName(p))
	teamA, teamB := onlyClientOf(t, keys, "team-a."), onlyClientOf(t, keys, "team-b.")
	if _, ok := keys[platformClientID]; !ok {
		t.Fatalf("the clients' keys Secret has no %s (the platform's own client): %s", platformClientID, strings.Join(keysOf(keys), ", "))
	}
	filters := &envoyGatewayFilters{st: st, gateway: gw}

	// Every model's rule has its access policy (one: Envoy Gateway takes the oldest of several), on a
	// section that exists in the HTTPRoute the AI Gateway controller generated.
	for _, rr := range st.modelRules() {
		if _, err := st.accessPolicy(rr.route, rr.rule); err != nil {
			t.Errorf("model %s: %v", rr.model, err)
		}
	}
	for _, sp := range st.policies {
		if section := dig(sp.Object, "spec", "targetRefs", 0, "sectionName"); section != nil && st.httpRouteRule(fmt.Sprint(dig(sp.Object, "spec", "targetRefs", 0, "name")), fmt.Sprint(section)) == nil {
			t.Errorf("SecurityPolicy %s targets rule %v of HTTPRoute %v, which the AI Gateway controller did not generate", sp.GetName(), section, dig(sp.Object, "spec", "targetRefs", 0, "name"))
		}
	}

	checks := []tenantCheck{
		{name: "team-a gpt-4o at openai", client: teamA, model: "gpt-4o", backend: "openai", allowed: true},
		{name: "team-a gpt-4o at azure-key", client: teamA, model: "gpt-4o", backend: "azure-key", allowed: true},
		{name: "team-a gpt-4o-mini at azure-entra (a deployment name)", client: teamA, model: "gpt-4o-mini", backend: "azure-entra", allowed: true},
		{name: "team-a claude-sonnet", client: teamA, model: "claude-sonnet"},
		{name: "team-a mixtral-8x7b (team-b's)", client: teamA, model: "mixtral-8x7b"},
		{name: "team-b gpt-4o (team-a's)", client: teamB, model: "gpt-4o"},
		{name: "team-b mixtral-8x7b at together (no price)", client: teamB, model: "mixtral-8x7b", backend: "together", allowed: true},
		{name: "platform client gpt-4o at openai", client: platformClientID, model: "gpt-4o", backend: "openai", allowed: true},
	}
	n := 0
	for _, tc := range checks {
		n++
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var bc *backendCase
			if tc.allowed {
				bc = caseOf(t, cases, tc.model, tc.backend)
			}
			ex, dec, err := tenantRequest(ctx, c, filters, keys[tc.client], tc.model, bc, fmt.Sprintf("tenant-%04d", n))
			if err != nil && !errors.Is(err, errStopAfterFilters) {
				t.Fatal(err)
			}
			if ex.ModelHeader != tc.model {
				t.Fatalf("the router phase set %s %q, want %q", modelHeader, ex.ModelHeader, tc.model)
			}
			if dec.clientID != tc.client {
				t.Fatalf("api_key_auth forwarded client id %q, want %q", dec.clientID, tc.client)
			}
			if !tc.allowed {
				checkRefused(t, p, ex, dec, tc.model)
				return
			}
			if ex.FilterReply != nil {
				t.Fatalf("refused with %d (rule %s/%s): %s", ex.FilterReply.Status, dec.route, dec.rule, ex.ClientBody)
			}
			checkCost(t, p, bc, ex)
		})
	}

	// The platform's own client may call every model; a key nobody holds is refused before any rule.
	t.Run("platform_client_every_model", func(t *testing.T) {
		for _, rr := range st.modelRules() {
			ex, dec, err := tenantRequest(ctx, c, filters, keys[platformClientID], rr.model, nil, "tenant-everywhere")
			switch {
			case err != nil && !errors.Is(err, errStopAfterFilters):
				t.Errorf("model %s: %v", rr.model, err)
			case ex.FilterReply != nil:
				t.Errorf("model %s: the platform's client is refused with %d: %s", rr.model, ex.FilterReply.Status, ex.ClientBody)
			case dec.route != rr.route || dec.rule != rr.rule:
				t.Errorf("model %s: Envoy would select rule %s/%s, want %s/%s", rr.model, dec.route, dec.rule, rr.route, rr.rule)
			}
		}
	})
	t.Run("unknown_key", func(t *testing.T) {
		ex, dec, err := tenantRequest(ctx, c, filters, "not-a-key-of-this-platform", "gpt-4o", nil, "tenant-unknown")
		if err != nil {
			t.Fatal(err)
		}
		if ex.ClientStatus != 401 || dec.clientID != "" {
			t.Errorf("an unknown key gets %d (client id %q), want 401 from api_key_auth", ex.ClientStatus, dec.clientID)
		}
	})
}

// errStopAfterFilters ends a request once the filters let it through, before any backend.
var errStopAfterFilters = errors.New("stopped after the filters")

// tenantRequest sends a chat completion with the client's key through the real router-level processor,
// the emulated filters and, when they let it through and bc is given, the real upstream filter and a
// fake OpenAI-compatible answer with the tenant token usage.
func tenantRequest(ctx context.Context, c extprocv3.ExternalProcessorClient, filters *envoyGatewayFilters, key, model string, bc *backendCase, requestID string) (*exchangeResult, *filterDecision, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	col := column{Endpoint: epChat}
	req := clientRequest{Path: string(epChat), Headers: map[string]string{"authorization": "Bearer " + key}, Body: clientBody(col, model)}
	dec := &filterDecision{}
	through := func(headers map[string]string) (target, *providerReply, error) {
		d, err := filters.decide(string(epChat), headers)
		*dec = d
		if err != nil || d.reply != nil {
			return target{}, d.reply, err
		}
		if bc == nil {
			return target{}, nil, errStopAfterFilters
		}
		// Envoy picks one of the rule's backends by weight; the test picks the case's, which must be one
		// of the rule Envoy selected.
		if !strings.HasPrefix(bc.Target.BackendName, fmt.Sprintf("%s/%s/route/%s/rule/%d/", platformNamespace, backendOf(bc), d.route, d.ruleIndex)) {
			return target{}, nil, fmt.Errorf("backend %s is not one of rule %s/%s (index %d), which Envoy selects for %s", bc.Target.BackendName, d.route, d.rule, d.ruleIndex, model)
		}
		return bc.Target, nil, nil
	}
	reply := func(up upstreamRequest) (providerReply, error) {
		if up.Host != bc.Target.Authority {
			return providerReply{}, fmt.Errorf("upstream host %s, want %s", up.Host, bc.Target.Authority)
		}
		var body map[string]any
		if err := json.Unmarshal(up.Body, &body); err != nil {
			return providerReply{}, fmt.Errorf("upstream body: %v", err)
		}
		if bc.Provider.Type != platformv1.ProviderAzureOpenAI && body["model"] != bc.UpstreamModel {
			return providerReply{}, fmt.Errorf("upstream model %v, want %s", body["model"], bc.UpstreamModel)
		}
		return jsonReply(map[string]any{
			"id": "chatcmpl-tenant", "object": "chat.completion", "created": 1750000000, "model": bc.UpstreamModel,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": fullReplyText}}},
			"usage":   map[string]any{"prompt_tokens": tenantInputTokens, "completion_tokens": tenantOutputTokens, "total_tokens": tenantInputTokens + tenantOutputTokens},
		}), nil
	}
	ex, err := exchangeThrough(ctx, c, req, requestID, through, reply)
	if ex == nil {
		ex = &exchangeResult{}
	}
	return ex, dec, err
}

func backendOf(bc *backendCase) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(bc.Target.BackendName, platformNamespace+"/"), "/")
	return name
}

// checkRefused: 403, with the rendered OpenAI-shaped error naming the model, as the client gets it; the
// processor leaves Envoy's reply as it is.
func checkRefused(t *testing.T, p *platformv1.GenAIPlatform, ex *exchangeResult, dec *filterDecision, model string) {
	t.Helper()
	if ex.FilterReply == nil {
		t.Fatalf("allowed (rule %s/%s), want 403", dec.route, dec.rule)
	}
	if ex.ClientStatus != 403 || !strings.HasPrefix(ex.ClientHeaders["content-type"], "application/json") {
		t.Fatalf("the client gets %d %q, want 403 application/json", ex.ClientStatus, ex.ClientHeaders["content-type"])
	}
	if string(ex.ClientBody) != string(bytesOf(ex.FilterReply)) {
		t.Errorf("the processor changed Envoy's 403 body %s into %s", bytesOf(ex.FilterReply), ex.ClientBody)
	}
	var body struct {
		Error struct {
			Message, Type, Param, Code string
		} `json:"error"`
	}
	if err := json.Unmarshal(ex.ClientBody, &body); err != nil {
		t.Fatalf("the 403 body is not JSON: %v: %s", err, ex.ClientBody)
	}
	want := fmt.Sprintf("This client may not call model '%s': its GenAITenant's spec.models does not allow it.", model)
	if body.Error.Message != want || body.Error.Type != "permission_denied" || body.Error.Param != "model" ||
		body.Error.Code != dec.details || !strings.HasPrefix(body.Error.Code, "rbac_access_denied") {
		t.Errorf("the 403 body is %s, want the message %q, type permission_denied, param model and code %s", ex.ClientBody, want, dec.details)
	}
	t.Logf("403 (rule %s/%s of %s): %s", dec.route, dec.rule, p.GetName(), ex.ClientBody)
}

func bytesOf(r *providerReply) []byte {
	var b []byte
	for _, ch := range r.Chunks {
		b = append(b, ch...)
	}
	return b
}

// checkCost: the processor reports the provider's usage, and llm_cost is the price of the model at that
// provider, computed here from the spec's price table as docs/governance.md states it: price per million
// tokens × tokens, in units of 0.0001 of the currency, rounded up.
func checkCost(t *testing.T, p *platformv1.GenAIPlatform, bc *backendCase, ex *exchangeResult) {
	t.Helper()
	if ex.ClientStatus != 200 {
		t.Fatalf("the client gets %d: %s", ex.ClientStatus, ex.ClientBody)
	}
	for k, want := range map[string]int{"llm_input_token": tenantInputTokens, "llm_output_token": tenantOutputTokens, "llm_total_token": tenantInputTokens + tenantOutputTokens} {
		if got, ok := ex.Metadata[k].(float64); !ok || int(got) != want {
			t.Errorf("%s/%s = %v, want %d", aigwMetadataNamespace, k, ex.Metadata[k], want)
		}
	}
	want, price, err := expectedCost(p, bc.Model, bc.Backend, tenantInputTokens, tenantOutputTokens)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := ex.Metadata[render.CostMetadataKey].(float64)
	if !ok || got != float64(want) {
		t.Errorf("%s/%s = %v, want %d (%s; model %s reaches %s as %q)", aigwMetadataNamespace, render.CostMetadataKey, ex.Metadata[render.CostMetadataKey], want, price, bc.Model, bc.Backend, bc.UpstreamModel)
		return
	}
	t.Logf("%s at %s: %s/%s = %v (%s), tokens %v/%v/%v", bc.Model, bc.Backend, aigwMetadataNamespace, render.CostMetadataKey, got, price,
		ex.Metadata["llm_input_token"], ex.Metadata["llm_output_token"], ex.Metadata["llm_total_token"])
}

// expectedCost prices tokens with the first entry of spec.gateway.costs.prices for the model (exact
// names only: the test's table has no globs) and the provider; a model without a price costs nothing.
func expectedCost(p *platformv1.GenAIPlatform, model, provider string, in, out int64) (int64, string, error) {
	if p.Spec.Gateway.Costs == nil {
		return 0, "", errors.New("the test platform has no spec.gateway.costs")
	}
	for _, pr := range p.Spec.Gateway.Costs.Prices {
		if strings.Contains(pr.Model, "*") {
			return 0, "", fmt.Errorf("price %s: the test computes exact model names only", pr.Model)
		}
		if pr.Model != model || (pr.Provider != "" && pr.Provider != provider) || pr.ModelCluster != "" {
			continue
		}
		pin, ok1 := new(big.Rat).SetString(pr.Input)
		pout, ok2 := new(big.Rat).SetString(pr.Output)
		if !ok1 || !ok2 {
			return 0, "", fmt.Errorf("price of %s: %q, %q are not decimals", model, pr.Input, pr.Output)
		}
		// (in × input + out × output) / 10^6 tokens, in units of 10^-4: × 10^4 / 10^6.
		cost := new(big.Rat).Add(new(big.Rat).Mul(big.NewRat(in, 1), pin), new(big.Rat).Mul(big.NewRat(out, 1), pout))
		cost.Mul(cost, big.NewRat(1, 100))
		units := new(big.Int).Quo(cost.Num(), cost.Denom()) // floor: the cost is positive
		if !cost.IsInt() {
			units.Add(units, big.NewInt(1))
		}
		return units.Int64(), fmt.Sprintf("%s %s/%s per million tokens: %s units of 0.0001 %s, rounded up", model, pr.Input, pr.Output,
			cost.FloatString(4), p.Spec.Gateway.Costs.Currency), nil
	}
	return 0, model + " has no price at " + provider, nil
}

// caseOf is the conformance case of a model at a provider.
func caseOf(t *testing.T, cases []*backendCase, model, provider string) *backendCase {
	t.Helper()
	for _, bc := range cases {
		if bc.Model == model && bc.Backend == provider {
			return bc
		}
	}
	t.Fatalf("the platform routes no %s to %s", model, provider)
	return nil
}

// onlyClientOf is the one client id of a tenant (prefix "<tenant>.").
func onlyClientOf(t *testing.T, keys map[string]string, prefix string) string {
	t.Helper()
	var ids []string
	for id := range keys {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("the clients' keys Secret has %d client ids %s*, want 1 (keys: %s)", len(ids), prefix, strings.Join(keysOf(keys), ", "))
	}
	return ids[0]
}

// tierOne is Tier One's objects as the API server holds them.
type tierOne struct {
	httpRoutes []*unstructured.Unstructured // as the AI Gateway controller generated them
	aiRoutes   []*unstructured.Unstructured
	policies   []*unstructured.Unstructured // SecurityPolicies
	traffic    []*unstructured.Unstructured // BackendTrafficPolicies
	secrets    map[string]*corev1.Secret
}

var (
	gvkHTTPRoute      = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}
	gvkAIGatewayRoute = schema.GroupVersionKind{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "AIGatewayRoute"}
	gvkSecurityPolicy = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "SecurityPolicy"}
	gvkTrafficPolicy  = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "BackendTrafficPolicy"}
)

// loadTierOne reads Tier One's objects, once the AI Gateway controller generated an HTTPRoute for each
// AIGatewayRoute with its rules (and its route-not-found rule).
func loadTierOne(t *testing.T, ctx context.Context, cl *cluster, gw gatewayRef, r *rendered) *tierOne {
	list := func(gvk schema.GroupVersionKind) []*unstructured.Unstructured {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := cl.client.List(ctx, l, client.InNamespace(gw.namespace)); err != nil {
			t.Fatalf("listing %s: %v", gvk.Kind, err)
		}
		out := make([]*unstructured.Unstructured, 0, len(l.Items))
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
		return out
	}
	st := &tierOne{secrets: map[string]*corev1.Secret{}}
	deadline := time.Now().Add(time.Minute)
	for {
		st.aiRoutes, st.httpRoutes = list(gvkAIGatewayRoute), list(gvkHTTPRoute)
		missing := ""
		for _, ar := range st.aiRoutes {
			rules, _, _ := unstructured.NestedSlice(ar.Object, "spec", "rules")
			hr := find(st.httpRoutes, "HTTPRoute", ar.GetName())
			if hr == nil {
				missing = ar.GetName()
				break
			}
			if hrRules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules"); len(hrRules) != len(rules)+1 {
				missing = ar.GetName() + " (its rules)"
				break
			}
		}
		if missing == "" && len(st.aiRoutes) == len(ofKind(r.tierOne, "AIGatewayRoute")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the AI Gateway controller generated no HTTPRoute for AIGatewayRoute %s", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st.policies, st.traffic = list(gvkSecurityPolicy), list(gvkTrafficPolicy)
	sl := &corev1.SecretList{}
	if err := cl.client.List(ctx, sl, client.InNamespace(gw.namespace)); err != nil {
		t.Fatal(err)
	}
	for i := range sl.Items {
		st.secrets[sl.Items[i].Name] = &sl.Items[i]
	}
	return st
}

// clientKeys is the clients' keys Secret: client id -> key.
func (st *tierOne) clientKeys(t *testing.T, name string) map[string]string {
	s := st.secrets[name]
	if s == nil {
		t.Fatalf("no Secret %s", name)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	return out
}

func (st *tierOne) httpRouteRule(route, section string) map[string]any {
	hr := find(st.httpRoutes, "HTTPRoute", route)
	if hr == nil {
		return nil
	}
	rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
	for _, rule := range rules {
		if m, _ := rule.(map[string]any); m != nil && m["name"] == section {
			return m
		}
	}
	return nil
}

// modelRule is one model's rule: its HTTPRoute, the rule's name, its index in the AIGatewayRoute.
type modelRule struct {
	model, route, rule string
	index              int
}

func (st *tierOne) modelRules() []modelRule {
	var out []modelRule
	for _, ar := range st.aiRoutes {
		rules, _, _ := unstructured.NestedSlice(ar.Object, "spec", "rules")
		for i, rule := range rules {
			out = append(out, modelRule{
				model: fmt.Sprint(dig(rule, "matches", 0, "headers", 0, "value")), route: ar.GetName(),
				rule: fmt.Sprint(dig(rule, "name")), index: i,
			})
		}
	}
	return out
}

// accessPolicy is the one SecurityPolicy that targets a rule of an HTTPRoute by its section name.
func (st *tierOne) accessPolicy(route, rule string) (*unstructured.Unstructured, error) {
	var found []*unstructured.Unstructured
	for _, sp := range st.policies {
		refs, _, _ := unstructured.NestedSlice(sp.Object, "spec", "targetRefs")
		for _, ref := range refs {
			if dig(ref, "kind") == "HTTPRoute" && dig(ref, "name") == route && dig(ref, "sectionName") == rule {
				found = append(found, sp)
			}
		}
	}
	if len(found) != 1 {
		names := make([]string, 0, len(found))
		for _, sp := range found {
			names = append(names, sp.GetName())
		}
		return nil, fmt.Errorf("%d SecurityPolicies target rule %s of HTTPRoute %s (%s), want 1", len(found), rule, route, strings.Join(names, ", "))
	}
	return found[0], nil
}
