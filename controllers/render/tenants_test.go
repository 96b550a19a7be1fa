package render_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"github.com/google/cel-go/cel"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// aigwCostEnv is Envoy AI Gateway v1.1's CEL environment of llmRequestCosts (internal/llmcostcel): the
// same variables and types, so that an expression that compiles here compiles there.
func aigwCostEnv(t *testing.T) *cel.Env {
	t.Helper()
	env, err := cel.NewEnv(
		cel.Variable("model", cel.StringType), cel.Variable("backend", cel.StringType), cel.Variable("route_name", cel.StringType),
		cel.Variable("input_tokens", cel.UintType), cel.Variable("cached_input_tokens", cel.UintType),
		cel.Variable("cache_creation_input_tokens", cel.UintType), cel.Variable("output_tokens", cel.UintType),
		cel.Variable("total_tokens", cel.UintType), cel.Variable("reasoning_tokens", cel.UintType),
	)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// costExpr is the CEL cost expression render put on the AIGatewayRoutes (the last one found).
func costExpr(out render.Output) string {
	var expr string
	for _, c := range out.Children {
		if r, ok := c.Object.(*aigv1b1.AIGatewayRoute); ok {
			for _, cost := range r.Spec.LLMRequestCosts {
				if cost.MetadataKey == render.CostMetadataKey {
					expr = *cost.CEL
				}
			}
		}
	}
	return expr
}

// TestCostCEL: the cost expression of the tenants golden compiles in Envoy AI Gateway's environment and
// prices a response per model and backend, in units of 0.0001 of the currency, rounded up.
func TestCostCEL(t *testing.T) {
	in := LoadInput(t, "testdata/tenants.in.yaml")
	prog := costProgram(t, costExpr(render.Render(in)))
	for _, c := range []struct {
		model, backend string
		in, out        uint64
		want           uint64
	}{
		// 1000 input at 2.50/M + 500 output at 10/M = 0.0075 = 75 units.
		{"gpt-4o", "ai/ten-provider-openai/route/ten-route-0/rule/0/ref/0", 1000, 500, 75},
		// Azure's price: 1000 * 2.75/M + 500 * 11/M = 0.00825.
		{"gpt-4o", "ai/ten-provider-azure/route/ten-route-0/rule/0/ref/1", 1000, 500, 83},
		// 10 input tokens of gpt-4o-mini cost 0.0000015: rounded up to one unit.
		{"gpt-4o-mini", "ai/ten-provider-openai/route/ten-route-0/rule/1/ref/0", 10, 0, 1},
		{"gpt-4o-mini", "ai/ten-provider-openai/route/ten-route-0/rule/1/ref/0", 0, 0, 0},
		{"meta-llama/Llama-3.1-8B-Instruct", "ai/ten-provider-compat/route/ten-route-0/rule/2/ref/0", 1_000_000, 1_000_000, 1125},
		// No price: free.
		{"claude-sonnet", "ai/ten-provider-compat/route/ten-route-0/rule/3/ref/0", 1_000_000, 1_000_000, 0},
		// The largest token counts Envoy AI Gateway passes (uint32) do not overflow.
		{"gpt-4o", "ai/ten-provider-azure/route/ten-route-0/rule/0/ref/1", 1<<32 - 1, 1<<32 - 1, 590_558_004},
	} {
		out, _, err := prog.Eval(map[string]any{"model": c.model, "backend": c.backend, "route_name": "ai/ten-route-0",
			"input_tokens": c.in, "output_tokens": c.out, "total_tokens": c.in + c.out,
			"cached_input_tokens": uint64(0), "cache_creation_input_tokens": uint64(0), "reasoning_tokens": uint64(0)})
		if err != nil {
			t.Fatalf("%s on %s: %v", c.model, c.backend, err)
		}
		if got := out.Value().(uint64); got != c.want {
			t.Errorf("%s on %s, %d in + %d out: cost %d units, want %d", c.model, c.backend, c.in, c.out, got, c.want)
		}
	}
}

// TestCostCELModelOverride: where a route sends a model under another name (routes[].model), Envoy AI
// Gateway evaluates the cost with that name as model (internal/extproc/processor_impl.go sets
// x-ai-eg-model to the backend's modelNameOverride first): the model is priced by its rule's backend, and
// an override that is another model's name does not take that model's price.
func TestCostCELModelOverride(t *testing.T) {
	p := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Name: "ov", Namespace: "ai", UID: "u"}}
	p.Spec.Gateway.Listener.Protocol = platformv1.ListenerHTTP
	p.Spec.Gateway.Costs = &platformv1.CostSpec{Currency: "USD", Prices: []platformv1.ModelPrice{
		{Model: "chat", Provider: "a", Input: "1", Output: "2"},
		{Model: "chat", Input: "3", Output: "4"},
		{Model: "upstream-chat", Input: "10", Output: "20"},
	}}
	p.Spec.Providers = []platformv1.ProviderSpec{
		{Name: "a", Type: platformv1.ProviderOpenAICompatible, Hostname: "a.example.com"},
		{Name: "b", Type: platformv1.ProviderOpenAICompatible, Hostname: "b.example.com"},
	}
	p.Spec.Models = []platformv1.ModelSpec{
		{Name: "chat", Routes: []platformv1.ModelRoute{{Provider: "a", Model: "upstream-chat"}, {Provider: "b"}}},
		{Name: "upstream-chat", Routes: []platformv1.ModelRoute{{Provider: "a"}}},
	}
	in := render.Input{Platform: p, Facts: facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{}}}}
	expr := costExpr(render.Render(in))
	prog := costProgram(t, expr)
	for _, c := range []struct {
		model, backend string
		want           uint64
	}{
		// chat at a, as Envoy AI Gateway sees it: model upstream-chat; chat's price at a, 1M in + 1M out = 3.
		{"upstream-chat", "ai/ov-provider-a/route/ov-route-0/rule/0/ref/0", 30000},
		// chat at b (no override): chat's other price.
		{"chat", "ai/ov-provider-b/route/ov-route-0/rule/0/ref/1", 70000},
		// upstream-chat's own rule at a: its own price.
		{"upstream-chat", "ai/ov-provider-a/route/ov-route-0/rule/1/ref/0", 300000},
	} {
		if got := evalCost(t, prog, c.model, c.backend, 1_000_000, 1_000_000); got != c.want {
			t.Errorf("model %s on %s: cost %d units, want %d\n%s", c.model, c.backend, got, c.want, expr)
		}
	}
}

func costProgram(t *testing.T, expr string) cel.Program {
	t.Helper()
	if expr == "" {
		t.Fatal("no cost expression rendered")
	}
	env := aigwCostEnv(t)
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("%s: %v", expr, iss.Err())
	}
	prog, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

func evalCost(t *testing.T, prog cel.Program, model, backend string, in, out uint64) uint64 {
	t.Helper()
	v, _, err := prog.Eval(map[string]any{"model": model, "backend": backend, "route_name": "ai/route",
		"input_tokens": in, "output_tokens": out, "total_tokens": in + out,
		"cached_input_tokens": uint64(0), "cache_creation_input_tokens": uint64(0), "reasoning_tokens": uint64(0)})
	if err != nil {
		t.Fatalf("%s on %s: %v", model, backend, err)
	}
	return v.Value().(uint64)
}

// TestTenantsGolden: what render made of each tenant of the golden input, as status reports it.
func TestTenantsGolden(t *testing.T) {
	in := LoadInput(t, "testdata/tenants.in.yaml")
	out := render.Render(in)
	a, b, c := out.Tenants["team-a"], out.Tenants["team-b"], out.Tenants["team-c"]
	if fmt.Sprint(a.Models) != "[gpt-4o gpt-4o-mini]" || fmt.Sprint(a.ClientIDs) != "[team-a.key-1 team-a.key-2]" || len(a.RefusedBudgets) != 0 || a.KeysSecret != "team-a-generated-keys" {
		t.Errorf("team-a: %+v", a)
	}
	if fmt.Sprint(b.Unknown) != "[mistral* gemini-*]" || len(b.RefusedBudgets) != 1 || !strings.HasPrefix(b.RefusedBudgets[0], "nothing: spec.budgets[].models match no model") {
		t.Errorf("team-b: %+v", b)
	}
	// team-c's key "shared" is the ops client's: refused, and the message never holds the value.
	if c.KeysProblem == nil || c.KeysProblem.Reason != platformv1.ReasonKeysConflict || strings.Contains(c.KeysProblem.Message, "key-ops") ||
		!strings.Contains(c.KeysProblem.Message, "shared") || fmt.Sprint(c.ClientIDs) != "[team-c.own]" {
		t.Errorf("team-c: %+v %+v", c, c.KeysProblem)
	}
	if _, ok := out.Tenants["elsewhere"]; ok {
		t.Error("a tenant of another platform was rendered")
	}
}

// TestHundredsOfTenants: 600 tenants with two keys each, half allowed every model, on 40 models: the
// access policies are one per model (not tenants x models), each well under etcd's 1.5 MiB object limit,
// and budgets beyond Envoy Gateway's 256 rules per policy are refused per tenant, not the whole policy.
func TestHundredsOfTenants(t *testing.T) {
	p := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "ai", UID: "u"}}
	p.Spec.Gateway.Listener.Protocol = platformv1.ListenerHTTP
	p.Spec.Gateway.ClientAuth = &platformv1.ClientAuthSpec{APIKeys: &platformv1.APIKeyAuth{SecretRef: platformv1.SecretReference{Name: "keys"}}}
	p.Spec.Providers = []platformv1.ProviderSpec{{Name: "compat", Type: platformv1.ProviderOpenAICompatible, Hostname: "vllm.example.com"}}
	for i := range 40 {
		p.Spec.Models = append(p.Spec.Models, platformv1.ModelSpec{Name: fmt.Sprintf("org/model-%02d", i), Routes: []platformv1.ModelRoute{{Provider: "compat"}}})
	}
	in := render.Input{Platform: p, Facts: facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{}, Tenants: map[string]facts.TenantKeys{}}}}
	const tenants = 600
	for i := range tenants {
		name := fmt.Sprintf("tenant-%03d", i)
		models := []string{"*"}
		if i%2 == 1 {
			models = []string{fmt.Sprintf("org/model-%02d", i%40)}
		}
		tokens := int64(1000)
		in.Tenants = append(in.Tenants, &platformv1.GenAITenant{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ai"}, Spec: platformv1.GenAITenantSpec{
			PlatformRef: platformv1.LocalPlatformReference{Name: "big"}, Models: models,
			APIKeys: &platformv1.TenantAPIKeys{Generate: &platformv1.GeneratedKeys{Keys: 2}},
			Budgets: []platformv1.TenantBudget{{Name: "daily", Tokens: &tokens, Per: "Day"}},
		}})
		in.Facts.Secrets.Tenants[name] = facts.TenantKeys{Keys: map[string][]byte{
			"key-1": []byte(name + "-secret-1"), "key-2": []byte(name + "-secret-2"),
		}}
	}
	out := render.Render(in)
	policies, rules, largest := 0, 0, 0
	for _, c := range out.Children {
		b, err := json.Marshal(c.Object)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(b))
		switch o := c.Object.(type) {
		case *egv1a1.SecurityPolicy:
			if strings.Contains(o.Name, "-access-") {
				policies++
			}
		case *egv1a1.BackendTrafficPolicy:
			if o.Spec.RateLimit != nil {
				rules = len(o.Spec.RateLimit.Global.Rules)
			}
		}
	}
	if policies != len(p.Spec.Models) {
		t.Errorf("%d access policies for %d models and %d tenants: want one per model", policies, len(p.Spec.Models), tenants)
	}
	// The largest object is the clients' key Secret (1200 keys); each policy holds ~300 client ids.
	if largest > 256<<10 {
		t.Errorf("largest object is %d bytes: too close to etcd's limit", largest)
	}
	if rules != render.MaxRateLimitRules {
		t.Errorf("%d rate-limit rules, want the cap %d", rules, render.MaxRateLimitRules)
	}
	refused := 0
	for _, res := range out.Tenants {
		refused += len(res.RefusedBudgets)
	}
	if refused != tenants-render.MaxRateLimitRules {
		t.Errorf("%d budgets refused, want %d", refused, tenants-render.MaxRateLimitRules)
	}
	t.Logf("%d tenants, %d models: %d access policies, largest object %d bytes", tenants, len(p.Spec.Models), policies, largest)
}

// TestRuleNameAvoidsTheReservedName: a model named like the rule Envoy AI Gateway reserves for unknown
// models gets another rule name (the AIGatewayRoute CRD refuses "route-not-found"); others keep theirs.
func TestRuleNameAvoidsTheReservedName(t *testing.T) {
	if got := render.RuleName("route-not-found"); got == "route-not-found" || !strings.HasPrefix(got, "route-not-found-") {
		t.Errorf("RuleName(route-not-found) = %q", got)
	}
	if got := render.RuleName("gpt-4o"); got != "gpt-4o" {
		t.Errorf("RuleName(gpt-4o) = %q", got)
	}
}
