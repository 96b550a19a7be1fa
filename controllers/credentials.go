package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// resolveCredentials reads each provider's Secret directly from the API server (the operator's cache
// holds only Secrets it labels). A provider whose Secret is missing keeps the last good managed copy, if
// there is one, so that a Secret deleted by mistake does not cut traffic; its status still says what is
// wrong. Values never leave this function except into the managed Secret's data.
func (r *GenAIPlatformReconciler) resolveCredentials(ctx context.Context, p *platformv1.GenAIPlatform, out *facts.Secrets) {
	out.Credentials, out.ProviderProblems = map[string]map[string][]byte{}, map[string]facts.Problem{}
	for i := range p.Spec.Providers {
		pr := &p.Spec.Providers[i]
		src := render.ProviderCredentialSource(pr)
		if src.Ref == nil {
			continue
		}
		value, prob := r.readSecretKey(ctx, p, *src.Ref, src.ManagedKey)
		if prob == nil {
			out.Credentials[pr.Name] = map[string][]byte{src.ManagedKey: value}
			continue
		}
		if last := r.lastGoodCredentials(ctx, p, pr.Name, src.ManagedKey); last != nil {
			out.Credentials[pr.Name] = last
			prob.Message += "; the gateway keeps using the last good copy of the credentials"
		}
		out.ProviderProblems[pr.Name] = *prob
	}
}

// readSecretKey returns one value of a referenced Secret, or a problem that names the Secret and key
// (never a value).
func (r *GenAIPlatformReconciler) readSecretKey(ctx context.Context, p *platformv1.GenAIPlatform, ref platformv1.SecretKeyReference, conventionalKey string) ([]byte, *facts.Problem) {
	s, prob := r.readSecret(ctx, p, ref.Name, ref.Namespace)
	if prob != nil {
		return nil, prob
	}
	key, ok := render.PickSecretKey(s.Data, ref.Key, conventionalKey)
	if !ok {
		return nil, &facts.Problem{Reason: status.ReasonSecretKeyNotFound, Stalled: true,
			Message: fmt.Sprintf("Secret %s/%s has no non-empty key %q (it has: %s)", p.Namespace, ref.Name, key, secretKeys(s))}
	}
	return s.Data[key], nil
}

// readSecret reads a referenced Secret in the platform's namespace, or returns a problem that names it.
func (r *GenAIPlatformReconciler) readSecret(ctx context.Context, p *platformv1.GenAIPlatform, name, namespace string) (*corev1.Secret, *facts.Problem) {
	if prob := checkSecretNamespace(p, namespace, name); prob != nil {
		return nil, prob
	}
	var s corev1.Secret
	if err := r.readUserSecret(ctx, types.NamespacedName{Namespace: p.Namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &facts.Problem{Reason: status.ReasonSecretNotFound, Stalled: true,
				Message: fmt.Sprintf("Secret %s/%s not found", p.Namespace, name)}
		}
		return nil, &facts.Problem{Reason: status.ReasonSecretNotFound, Message: fmt.Sprintf("reading Secret %s/%s: %v", p.Namespace, name, err)}
	}
	return &s, nil
}

// secretKeys lists a Secret's keys (never its values) for a message.
func secretKeys(s *corev1.Secret) string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func checkSecretNamespace(p *platformv1.GenAIPlatform, ns, name string) *facts.Problem {
	if ns == "" || ns == p.Namespace {
		return nil
	}
	return &facts.Problem{Reason: status.ReasonCrossNamespaceSecret, Stalled: true,
		Message: fmt.Sprintf("Secret %s/%s is in another namespace: a GenAIPlatform may reference Secrets in its own namespace (%s) only", ns, name, p.Namespace)}
}

// lastGoodCredentials is the managed Secret's current data, read from the operator's (label-filtered)
// cache, or nil.
func (r *GenAIPlatformReconciler) lastGoodCredentials(ctx context.Context, p *platformv1.GenAIPlatform, provider, key string) map[string][]byte {
	var s corev1.Secret
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: render.ProviderSecretName(p, provider)}, &s); err != nil {
		return nil
	}
	if len(s.Data[key]) == 0 {
		return nil
	}
	return map[string][]byte{key: s.Data[key]}
}

// specProblem finds spec errors that admission cannot see because they depend on the platform's own
// namespace: a reference to a Secret in another namespace where nothing per-provider can contain it.
func specProblem(p *platformv1.GenAIPlatform) *facts.Problem {
	if ref := p.Spec.Gateway.Listener.TLSSecretRef; ref != nil {
		if prob := checkSecretNamespace(p, ref.Namespace, ref.Name); prob != nil {
			prob.Message = "spec.gateway.listener.tlsSecretRef: " + prob.Message
			prob.Reason = status.ReasonInvalidSpec
			return prob
		}
	}
	if ca := p.Spec.Gateway.ClientAuth; ca != nil && ca.APIKeys != nil {
		if prob := checkSecretNamespace(p, ca.APIKeys.SecretRef.Namespace, ca.APIKeys.SecretRef.Name); prob != nil {
			prob.Message = "spec.gateway.clientAuth.apiKeys.secretRef: " + prob.Message
			prob.Reason = status.ReasonInvalidSpec
			return prob
		}
	}
	return nil
}

// referencedSecrets are the names of the Secrets a platform reads, in its namespace: a change to any of
// them triggers a reconcile.
func referencedSecrets(p *platformv1.GenAIPlatform) map[string]bool {
	out := map[string]bool{}
	add := func(name, ns string) {
		if ns == "" || ns == p.Namespace {
			out[name] = true
		}
	}
	for i := range p.Spec.Providers {
		if ref := render.ProviderCredentialSource(&p.Spec.Providers[i]).Ref; ref != nil {
			add(ref.Name, ref.Namespace)
		}
	}
	if ref := p.Spec.Gateway.Listener.TLSSecretRef; ref != nil {
		add(ref.Name, ref.Namespace)
	}
	if ca := p.Spec.Gateway.ClientAuth; ca != nil && ca.APIKeys != nil {
		add(ca.APIKeys.SecretRef.Name, ca.APIKeys.SecretRef.Namespace)
	}
	for _, mc := range p.Spec.ModelClusters {
		if mc.KubeconfigSecretRef != nil {
			add(mc.KubeconfigSecretRef.Name, mc.KubeconfigSecretRef.Namespace)
		}
		if mc.TLS != nil && mc.TLS.SecretRef != nil {
			add(mc.TLS.SecretRef.Name, mc.TLS.SecretRef.Namespace)
		}
	}
	for _, m := range p.Spec.Models {
		if src := render.ModelStorageSource(m.SelfHosted); src != nil {
			add(src.Ref.Name, src.Ref.Namespace)
		}
		if m.SelfHosted != nil {
			for _, ref := range m.SelfHosted.ImagePullSecrets {
				add(ref.Name, ref.Namespace)
			}
		}
	}
	return out
}

// resolveClientKeys reads the clients' API keys. Client authentication fails closed: a missing or empty
// Secret leaves the managed copy empty (no key is accepted) and the status says so.
func (r *GenAIPlatformReconciler) resolveClientKeys(ctx context.Context, p *platformv1.GenAIPlatform) (map[string][]byte, *facts.Problem) {
	ca := p.Spec.Gateway.ClientAuth
	if ca == nil || ca.APIKeys == nil {
		return nil, nil
	}
	ref := ca.APIKeys.SecretRef
	var s corev1.Secret
	if err := r.readUserSecret(ctx, types.NamespacedName{Namespace: p.Namespace, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &facts.Problem{Reason: status.ReasonClientKeysNotFound, Stalled: true,
				Message: fmt.Sprintf("spec.gateway.clientAuth.apiKeys: Secret %s/%s not found: no client can authenticate with an API key", p.Namespace, ref.Name) + unkeyedLimits(p)}
		}
		return nil, &facts.Problem{Reason: status.ReasonClientKeysNotFound, Message: fmt.Sprintf("reading Secret %s/%s: %v", p.Namespace, ref.Name, err)}
	}
	keys := map[string][]byte{}
	for id, v := range s.Data {
		if len(v) > 0 {
			keys[id] = v
		}
	}
	if len(keys) == 0 {
		return keys, &facts.Problem{Reason: status.ReasonClientKeysEmpty, Stalled: true,
			Message: fmt.Sprintf("spec.gateway.clientAuth.apiKeys: Secret %s/%s holds no key: no client can authenticate with an API key", p.Namespace, ref.Name) + unkeyedLimits(p)}
	}
	return keys, nil
}

// unkeyedLimits names the per-client token limits that have no client identity to be keyed on when the
// API keys are unusable and no JWT names clients either (admission already refuses perClient without any
// clientAuth; this is the run-time half of the same rule).
func unkeyedLimits(p *platformv1.GenAIPlatform) string {
	if ca := p.Spec.Gateway.ClientAuth; ca != nil && ca.JWT != nil {
		return ""
	}
	var names []string
	for _, l := range p.Spec.Gateway.Limits {
		if l.PerClient {
			names = append(names, l.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("; spec.gateway.limits %s are perClient but no client identity exists to key them", strings.Join(names, ", "))
}
