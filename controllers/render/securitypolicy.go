package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"k8s.io/utils/ptr"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

// tierTwoKeySecret holds the keys Tier Two admits: one data key per admitted key (Envoy
// Gateway's API key auth reads each data key as a client id, its value as that client's key).
func tierTwoKeySecret(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, k facts.ClusterKey) *corev1.Secret {
	data := map[string][]byte{}
	for id, v := range map[string]string{"tier-one": k.Current, "tier-one-next": k.Next, "tier-one-previous": k.Previous} {
		if v != "" {
			data[id] = []byte(TierTwoAdmittedKey(v))
		}
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: tierTwoMeta(p, mc, TierTwoKeySecretName(p), "tier-two"),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// tierTwoSecurityPolicy admits only requests whose Authorization header carries a key Tier One holds:
// model teams' clusters are reachable through Tier One only.
func tierTwoSecurityPolicy(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) *egv1a1.SecurityPolicy {
	return &egv1a1.SecurityPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindSecurityPolicy},
		ObjectMeta: tierTwoMeta(p, mc, tierTwoPolicyName(p), "tier-two"),
		Spec: egv1a1.SecurityPolicySpec{
			PolicyTargetReferences: egv1a1.PolicyTargetReferences{
				TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{
					LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
						Group: gwapiv1.GroupName, Kind: "Gateway", Name: gwapiv1.ObjectName(TierTwoGatewayName(p)),
					},
				}},
			},
			APIKeyAuth: &egv1a1.APIKeyAuth{
				CredentialRefs: []gwapiv1.SecretObjectReference{{Name: gwapiv1.ObjectName(TierTwoKeySecretName(p))}},
				ExtractFrom:    []*egv1a1.ExtractFrom{{Headers: []string{"Authorization"}}},
				// Tier One's key stops at Tier Two: the model servers never see it.
				Sanitize: ptr.To(true),
			},
		},
	}
}

// DefaultClientIDHeader carries the authenticated client's id to backends and to the rate limiter.
const DefaultClientIDHeader = "x-genai-client-id"

// ClientIDHeader is the platform's client-id header.
func ClientIDHeader(p *platformv1.GenAIPlatform) string {
	if ca := p.Spec.Gateway.ClientAuth; ca != nil && ca.ClientIDHeader != "" {
		return ca.ClientIDHeader
	}
	return DefaultClientIDHeader
}

func clientAuthPolicyName(p *platformv1.GenAIPlatform) string { return Name(p.Name, "client-auth") }

// ClientKeysSecretName names the managed copy of the clients' API keys.
func ClientKeysSecretName(p *platformv1.GenAIPlatform) string { return Name(p.Name, "client-keys") }

// clientKeysHeader is where clients send their API key: OpenAI clients send "Authorization: Bearer <key>".
func clientKeysHeader(p *platformv1.GenAIPlatform) string {
	if h := p.Spec.Gateway.ClientAuth.APIKeys.Header; h != "" {
		return h
	}
	return "Authorization"
}

// clientKeysSecret is the managed copy of the clients' keys: each data key a client id, its value that
// client's bare key. Clients send "Authorization: Bearer <key>", as OpenAI SDKs do, and Envoy's
// api_key_auth filter cuts the "Bearer " off before the lookup (see TierTwoAdmittedKey), so the stored
// value never carries it.
func clientKeysSecret(p *platformv1.GenAIPlatform, keys map[string][]byte) *corev1.Secret {
	data := make(map[string][]byte, len(keys))
	for id, v := range keys {
		data[id] = v
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(p, ClientKeysSecretName(p), "client-auth"),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// clientAuthPolicy authenticates clients at Tier One and puts their id in the client-id header (for
// backends and per-client token limits). With both API keys and JWT configured, Envoy Gateway requires
// both; the client id then comes from the API key. It fails closed: with the keys' Secret missing or
// empty, the policy still requires a key, and none is accepted.
func clientAuthPolicy(p *platformv1.GenAIPlatform) *egv1a1.SecurityPolicy {
	ca := p.Spec.Gateway.ClientAuth
	if ca == nil {
		return nil
	}
	spec := egv1a1.SecurityPolicySpec{
		PolicyTargetReferences: egv1a1.PolicyTargetReferences{
			TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{gatewayTargetRef(p)},
		},
	}
	header := ClientIDHeader(p)
	if ca.APIKeys != nil {
		spec.APIKeyAuth = &egv1a1.APIKeyAuth{
			CredentialRefs:        []gwapiv1.SecretObjectReference{{Name: gwapiv1.ObjectName(ClientKeysSecretName(p))}},
			ExtractFrom:           []*egv1a1.ExtractFrom{{Headers: []string{clientKeysHeader(p)}}},
			ForwardClientIDHeader: ptr.To(header),
			// The client's key stops at Tier One: it is never sent to a provider or a model cluster.
			Sanitize: ptr.To(true),
		}
	}
	if ca.JWT != nil {
		provider := egv1a1.JWTProvider{
			Name:       "clients",
			Issuer:     ca.JWT.Issuer,
			Audiences:  ca.JWT.Audiences,
			RemoteJWKS: &egv1a1.RemoteJWKS{URI: ca.JWT.JWKSURI},
		}
		if spec.APIKeyAuth == nil {
			claim := ca.JWT.ClientIDClaim
			if claim == "" {
				claim = "sub"
			}
			provider.ClaimToHeaders = []egv1a1.ClaimToHeader{{Claim: claim, Header: header}}
		}
		if ca.JWT.TenantClaim != "" {
			provider.ClaimToHeaders = append(provider.ClaimToHeaders, egv1a1.ClaimToHeader{Claim: ca.JWT.TenantClaim, Header: TenantClaimHeader})
		}
		spec.JWT = &egv1a1.JWT{Providers: []egv1a1.JWTProvider{provider}}
	}
	return &egv1a1.SecurityPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindSecurityPolicy},
		ObjectMeta: objectMeta(p, clientAuthPolicyName(p), "client-auth"),
		Spec:       spec,
	}
}

// maxPrincipalValues is Envoy Gateway's limit of values in one authorization header match.
const maxPrincipalValues = 256

// AccessPolicyName names the SecurityPolicy that says which tenants may call a model.
func AccessPolicyName(p *platformv1.GenAIPlatform, model string) string {
	return Name(p.Name, "access", SafeName(model))
}

// RuleName is the name of a model's rule in its AIGatewayRoute, which Envoy AI Gateway carries into the
// generated HTTPRoute: the access policy targets it as a section of that route. Envoy AI Gateway names
// the rule it adds for unknown models "route-not-found", and its CRD refuses a rule of that name: a model
// called so gets a hashed name.
func RuleName(model string) string {
	n := SafeName(model)
	if n == reservedRuleName {
		sum := sha256.Sum256([]byte(model))
		n += "-" + hex.EncodeToString(sum[:])[:6]
	}
	return n
}

const reservedRuleName = "route-not-found"

// accessPolicy lets only the clients allowed to call a model reach its rule: the platform's own clients
// (the keys of spec.gateway.clientAuth.apiKeys keep access to every model) and the tenants whose
// spec.models match it, by client id or tenant claim. Everyone else gets 403.
//
// It targets one rule of the HTTPRoute Envoy AI Gateway generates from the model's AIGatewayRoute. The
// Envoy filter chain authenticates (api_key_auth, jwt_authn), then Envoy AI Gateway's external processor
// reads the body's model, sets x-ai-eg-model and clears the route cache, so the model's rule is selected,
// and only then does the rbac filter run, with that rule's configuration (this order needs the Tier One
// EnvoyProxy's filterOrder: see customResponseBeforeRBAC). mergeType keeps the Gateway's
// authentication on the rule: without it a route-level policy replaces the Gateway's, and the client-id
// header would be whatever the client sent. One policy per model: the objects grow with models, and
// each one's size with the number of client ids allowed to call it, never tenants × models.
func accessPolicy(p *platformv1.GenAIPlatform, model, route string, tp *tenantPlan) *egv1a1.SecurityPolicy {
	var rules []egv1a1.AuthorizationRule
	addRules := func(prefix, header string, values []string) {
		for i := 0; len(values) > 0; i++ {
			n := min(len(values), maxPrincipalValues)
			rules = append(rules, egv1a1.AuthorizationRule{
				Name:      ptr.To(fmt.Sprintf("%s-%d", prefix, i)),
				Action:    egv1a1.AuthorizationActionAllow,
				Principal: &egv1a1.Principal{Headers: []egv1a1.AuthorizationHeaderMatch{{Name: header, Values: values[:n]}}},
			})
			values = values[n:]
		}
	}
	addRules("platform-clients", ClientIDHeader(p), tp.ownClients)
	var ids, claims []string
	for _, name := range tp.allowed[model] {
		ids = append(ids, tp.results[name].ClientIDs...)
		if t := tp.tenant(name); t.Spec.JWT != nil && tenantClaim(p) != "" {
			claims = append(claims, t.Spec.JWT.ClaimValues...)
		}
	}
	addRules("tenant-keys", ClientIDHeader(p), ids)
	slices.Sort(claims)
	addRules("tenant-claims", TenantClaimHeader, slices.Compact(claims))
	return &egv1a1.SecurityPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindSecurityPolicy},
		ObjectMeta: objectMeta(p, AccessPolicyName(p, model), "tenants"),
		Spec: egv1a1.SecurityPolicySpec{
			PolicyTargetReferences: egv1a1.PolicyTargetReferences{TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{
				LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{Group: gwapiv1.GroupName, Kind: "HTTPRoute", Name: gwapiv1.ObjectName(route)},
				SectionName:                ptr.To(gwapiv1.SectionName(RuleName(model))),
			}}},
			MergeType: ptr.To(egv1a1.StrategicMerge),
			Authorization: &egv1a1.Authorization{
				Rules:         rules,
				DefaultAction: ptr.To(egv1a1.AuthorizationActionDeny),
			},
		},
	}
}
