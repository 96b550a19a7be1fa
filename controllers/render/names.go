package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// maxNameLength keeps child names valid as DNS labels (Services and labels derived from them by Envoy
// Gateway and KServe need 63 characters at most).
const maxNameLength = 63

// Name joins parts into a child object name. Names over 63 characters keep a readable prefix and end in a
// hash of the whole, so two long names never collide.
func Name(parts ...string) string {
	n := strings.Join(parts, "-")
	if len(n) <= maxNameLength {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	suffix := hex.EncodeToString(sum[:])[:10]
	return strings.TrimRight(n[:maxNameLength-len(suffix)-1], "-.") + "-" + suffix
}

// SafeName turns any string (a model name such as meta-llama/Llama-3.1-8B-Instruct) into a DNS label
// fragment: lower case, runs of other characters become '-', and a hash of the original is appended
// whenever the mapping lost information, so two different model names never share an object name.
func SafeName(s string) string {
	out := sanitize(s)
	if out == s && out != "" {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	if out == "" {
		return hex.EncodeToString(sum[:])[:10]
	}
	return out + "-" + hex.EncodeToString(sum[:])[:6]
}

// sanitize lower-cases s and turns runs of characters other than letters and digits into '-'.
func sanitize(s string) string {
	var b strings.Builder
	lastDash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			lastDash = false
		} else if !lastDash {
			b.WriteByte('-')
			lastDash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// Labels are put on every child object: the managed-by label scopes the operator's caches (its Secret
// cache sees only these), the platform labels select what to prune.
func Labels(p *platformv1.GenAIPlatform, component string) map[string]string {
	l := SelectorLabels(p)
	l[platformv1.LabelComponent] = component
	return l
}

// SelectorLabels select every child object of one platform, in every cluster.
func SelectorLabels(p *platformv1.GenAIPlatform) map[string]string {
	return map[string]string{
		platformv1.LabelManagedBy:  platformv1.ManagedByValue,
		platformv1.LabelPlatform:   p.Name,
		platformv1.LabelPlatformNS: p.Namespace,
	}
}

// Child object names of one platform. Tier One objects live in the platform's namespace, so the platform
// name is prefix enough; the cluster-scoped GatewayClass also carries the namespace.
func gatewayClassName(p *platformv1.GenAIPlatform) string {
	if p.Spec.Gateway.GatewayClassName != "" {
		return p.Spec.Gateway.GatewayClassName
	}
	return Name("genai", p.Namespace, p.Name)
}

// GatewayName is the Tier One Gateway's name.
func GatewayName(p *platformv1.GenAIPlatform) string { return p.Name }

func envoyProxyName(p *platformv1.GenAIPlatform) string { return Name(p.Name, "proxy") }

func clientTrafficPolicyName(p *platformv1.GenAIPlatform) string { return Name(p.Name, "client") }

// ProviderBackendName names the AIServiceBackend, Backend and BackendSecurityPolicy of a provider.
func ProviderBackendName(p *platformv1.GenAIPlatform, provider string) string {
	return Name(p.Name, "provider", provider)
}

// ProviderSecretName names the managed copy of a provider's credentials.
func ProviderSecretName(p *platformv1.GenAIPlatform, provider string) string {
	return Name(p.Name, "provider", provider, "credentials")
}

func backendTLSPolicyName(p *platformv1.GenAIPlatform, provider string) string {
	return Name(p.Name, "provider", provider, "tls")
}

// RouteName names the i-th AIGatewayRoute shard.
func RouteName(p *platformv1.GenAIPlatform, i int) string {
	return Name(p.Name, "route", strconv.Itoa(i))
}

// NameMax is Name with a shorter length limit, for names other names are derived from. The result starts
// with a letter (DNS-1035, as KServe requires).
func NameMax(limit int, parts ...string) string {
	n := strings.Join(parts, "-")
	if len(n) <= limit {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	suffix := hex.EncodeToString(sum[:])[:10]
	return strings.TrimRight(n[:limit-len(suffix)-1], "-.") + "-" + suffix
}

// shortHash is 6 hex characters of a string's SHA-256: enough to tell platforms apart in a name.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:6]
}
