package render

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

// TenantClaimHeader carries the value of the platform's tenant claim (spec.gateway.clientAuth.jwt.
// tenantClaim), copied from the client's JWT by Envoy: the tenants' access rules and budgets read it.
const TenantClaimHeader = "x-genai-tenant-claim"

// LabelTenant names, on a tenant's generated keys Secret, the GenAITenant it belongs to.
const LabelTenant = "platform.genai.dev/tenant"

// TenantResult is what render made of one tenant: status reports it.
type TenantResult struct {
	// Models are the platform's models the tenant may call (spec.models resolved), in platform order.
	Models []string
	// Unknown are the entries of spec.models and spec.budgets[].models that name no model of the platform.
	Unknown []string
	// RefusedBudgets are the budgets render could not put in force, as "<name>: <why>".
	RefusedBudgets []string
	// Budgets are the names of the budgets in force.
	Budgets []string
	// KeysSecret is the name of the Secret holding the tenant's keys (generated or the tenant's own).
	KeysSecret string
	// ClientIDs are the tenant's client ids at Tier One, sorted.
	ClientIDs []string
	// KeysProblem is why some of the tenant's keys are not accepted (a key another client has).
	KeysProblem *facts.Problem
}

// TenantKeysSecretName names the Secret of a tenant's generated keys: "-generated-keys" so that it never
// takes over a Secret the tenant made itself (such as "<tenant>-keys").
func TenantKeysSecretName(tenant string) string { return Name(tenant, "generated-keys") }

// TenantClientID is the client id of a tenant's key at Tier One. Tenant names are DNS labels (no dot),
// so the prefix up to the first dot is always the tenant.
func TenantClientID(tenant, key string) string { return tenant + "." + key }

// tenantKeysSecret holds a tenant's generated keys, for the tenant's applications to read; the operator's
// label puts it in the operator's cache, where the next reconcile reads the keys back.
func tenantKeysSecret(p *platformv1.GenAIPlatform, t *platformv1.GenAITenant, g facts.GeneratedTenantKeys) *corev1.Secret {
	meta := objectMeta(p, TenantKeysSecretName(t.Name), "tenant")
	meta.Labels[LabelTenant] = t.Name
	meta.Annotations = g.SecretAnnotations()
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       corev1.SecretTypeOpaque,
		Data:       g.SecretData(),
	}
}

// TenantBefore orders tenants oldest first, then by name: the older tenant keeps what two contend for (a
// key value both hold, the last of Envoy Gateway's rate limit rules), as in Gateway API, so that a new
// tenant never takes away what an existing one has.
func TenantBefore(a, b *platformv1.GenAITenant) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// tenantPlan is the tenants resolved against the platform: who is accepted with which client ids, and
// which models each may call.
type tenantPlan struct {
	tenants []*platformv1.GenAITenant // oldest first (TenantBefore)
	results map[string]*TenantResult
	// allowed are, by model, the tenants that may call it.
	allowed map[string][]string
	// ownClients are the client ids of the platform's own key Secret that keep access to every model.
	ownClients []string
	// keys is the clients' key Secret's data: the platform's own clients and every tenant's keys.
	keys map[string][]byte
}

// active says whether model access is controlled: as soon as one tenant is accepted, every model is
// reached only by the clients allowed to.
func (tp *tenantPlan) active() bool { return tp != nil && len(tp.tenants) > 0 }

// planTenants resolves the accepted tenants: their allowed models (globs against the platform's models),
// their client ids, and the clients' key Secret that holds the platform's keys and theirs. A key whose
// value another client already has is left out (Envoy Gateway refuses the whole policy on a duplicated
// key, which would lock every client out) and its tenant says so.
func planTenants(p *platformv1.GenAIPlatform, tenants []*platformv1.GenAITenant, secrets facts.Secrets) *tenantPlan {
	tp := &tenantPlan{results: map[string]*TenantResult{}, allowed: map[string][]string{}, keys: map[string][]byte{}}
	tp.tenants = slices.Clone(tenants)
	sort.Slice(tp.tenants, func(i, j int) bool { return TenantBefore(tp.tenants[i], tp.tenants[j]) })
	names := make([]string, 0, len(p.Spec.Models))
	for _, m := range p.Spec.Models {
		names = append(names, m.Name)
	}
	isTenant := map[string]bool{}
	for _, t := range tp.tenants {
		isTenant[t.Name] = true
	}
	// The platform's own clients, except ids of the form "<tenant>.<...>": those are the tenants'.
	seen := map[string]string{}
	for id, v := range secrets.ClientKeys {
		if prefix, _, ok := strings.Cut(id, "."); ok && isTenant[prefix] {
			continue
		}
		tp.keys[id] = v
		seen[string(v)] = id
		tp.ownClients = append(tp.ownClients, id)
	}
	sort.Strings(tp.ownClients)
	for _, t := range tp.tenants {
		res := &TenantResult{}
		tp.results[t.Name] = res
		for _, pattern := range t.Spec.Models {
			matched := MatchModels(pattern, names)
			if len(matched) == 0 {
				res.Unknown = append(res.Unknown, pattern)
			}
		}
		for _, n := range names {
			if slices.ContainsFunc(t.Spec.Models, func(pattern string) bool { return globMatch(pattern, n) }) {
				res.Models = append(res.Models, n)
				tp.allowed[n] = append(tp.allowed[n], t.Name)
			}
		}
		if ak := t.Spec.APIKeys; ak != nil {
			res.KeysSecret = TenantKeysSecretName(t.Name)
			if ak.SecretRef != nil {
				res.KeysSecret = ak.SecretRef.Name
			}
		}
		tk := secrets.Tenants[t.Name]
		keyNames := make([]string, 0, len(tk.Keys))
		for k := range tk.Keys {
			keyNames = append(keyNames, k)
		}
		sort.Strings(keyNames)
		var dup []string
		for _, k := range keyNames {
			v := tk.Keys[k]
			if other, taken := seen[string(v)]; taken {
				// Never the value: only which key names collide.
				dup = append(dup, fmt.Sprintf("%s (the key of client %s)", k, other))
				continue
			}
			id := TenantClientID(t.Name, k)
			seen[string(v)] = id
			tp.keys[id] = v
			res.ClientIDs = append(res.ClientIDs, id)
		}
		if len(dup) > 0 {
			res.KeysProblem = &facts.Problem{Reason: platformv1.ReasonKeysConflict, Stalled: true,
				Message: fmt.Sprintf("keys %s of Secret %s are already another client's key: they are not accepted (make new ones)", strings.Join(dup, ", "), res.KeysSecret)}
		}
	}
	return tp
}

// MatchModels returns the names a model pattern (a name, or a glob with *) matches, in order.
func MatchModels(pattern string, names []string) []string {
	var out []string
	for _, n := range names {
		if globMatch(pattern, n) {
			out = append(out, n)
		}
	}
	return out
}

// globMatch matches a model name against a pattern where * is any run of characters, '/' included
// ("meta-llama/*" matches every model of that organisation, "*" every model).
func globMatch(pattern, name string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	parts := strings.Split(pattern, "*")
	for i, part := range parts {
		parts[i] = regexp.QuoteMeta(part)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(name)
}

func (tp *tenantPlan) tenant(name string) *platformv1.GenAITenant {
	i := slices.IndexFunc(tp.tenants, func(t *platformv1.GenAITenant) bool { return t.Name == name })
	return tp.tenants[i]
}

// tenantSelector is the rate-limit header match that picks a tenant's requests: its client ids when it
// has API keys (every request then carries one), else its tenant claim values. Nil: nothing names it.
func (tp *tenantPlan) tenantSelector(p *platformv1.GenAIPlatform, t *platformv1.GenAITenant) *headerRegex {
	if len(tp.results[t.Name].ClientIDs) > 0 {
		// A prefix, not the list of ids: a key rotation or a new key does not rewrite the budgets.
		return &headerRegex{name: ClientIDHeader(p), regex: "^" + regexp.QuoteMeta(t.Name+".")}
	}
	if t.Spec.JWT != nil && tenantClaim(p) != "" {
		return &headerRegex{name: TenantClaimHeader, regex: anyOf(t.Spec.JWT.ClaimValues)}
	}
	return nil
}

type headerRegex struct{ name, regex string }

// anyOf is a regular expression that matches exactly one of the values.
func anyOf(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = regexp.QuoteMeta(v)
	}
	return "^(" + strings.Join(quoted, "|") + ")$"
}

// tenantClaim is the platform's tenant claim ("" when JWT clients are not attributed to tenants).
func tenantClaim(p *platformv1.GenAIPlatform) string {
	if ca := p.Spec.Gateway.ClientAuth; ca != nil && ca.JWT != nil {
		return ca.JWT.TenantClaim
	}
	return ""
}

// tenantsWithGeneratedKeys are the tenants whose keys the operator generates, by name.
func (tp *tenantPlan) tenantsWithGeneratedKeys(secrets facts.Secrets) []*platformv1.GenAITenant {
	if !tp.active() {
		return nil
	}
	var out []*platformv1.GenAITenant
	for _, t := range tp.tenants {
		if tk, ok := secrets.Tenants[t.Name]; ok && tk.Generated != nil {
			out = append(out, t)
		}
	}
	return out
}
