package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// observeSecrets reads the Secrets a platform references: provider credentials, client keys and model
// download tokens, each with its problem (never a value). A spec error only visible here (a reference to
// another namespace) makes the facts Invalid, and then nothing else is read.
func (r *GenAIPlatformReconciler) observeSecrets(ctx context.Context, p *platformv1.GenAIPlatform) facts.Facts {
	var f facts.Facts
	if prob := specProblem(p); prob != nil {
		f.Invalid = prob
		return f
	}
	r.resolveCredentials(ctx, p, &f.Secrets)
	f.Secrets.ClientKeys, f.Secrets.ClientKeysProblem = r.resolveClientKeys(ctx, p)
	f.Secrets.ModelTokens, f.Secrets.ModelProblems = r.modelTokens(ctx, p)
	return f
}

// ObserveSecretsOffline resolves a platform's Secret facts from Secrets held in memory (read from files),
// with the reconciler's own code, so that `manager render` and the golden tests resolve credentials,
// client keys and model tokens exactly as Reconcile does (key choice, namespace rule, missing Secret or
// key). The in-memory client stands for the platform's cluster; nothing is contacted.
func ObserveSecretsOffline(ctx context.Context, p *platformv1.GenAIPlatform, secrets []*corev1.Secret) facts.Facts {
	objs := make([]*corev1.Secret, 0, len(secrets))
	for _, s := range secrets {
		s = s.DeepCopy()
		if s.Namespace == "" {
			s.Namespace = p.Namespace
		}
		objs = append(objs, s)
	}
	b := fake.NewClientBuilder().WithScheme(NewScheme())
	for _, s := range objs {
		b = b.WithObjects(s)
	}
	c := b.Build()
	r := &GenAIPlatformReconciler{Client: c, APIReader: c}
	return r.observeSecrets(ctx, p)
}

// modelTokens reads each self-hosted model's download token.
func (r *GenAIPlatformReconciler) modelTokens(ctx context.Context, p *platformv1.GenAIPlatform) (map[string][]byte, map[string]facts.Problem) {
	tokens, problems := map[string][]byte{}, map[string]facts.Problem{}
	for i := range p.Spec.Models {
		m := &p.Spec.Models[i]
		if m.SelfHosted == nil || m.SelfHosted.CredentialsSecretRef == nil {
			continue
		}
		if v, prob := r.readSecretKey(ctx, p, *m.SelfHosted.CredentialsSecretRef, render.KeyHFToken); prob != nil {
			problems[m.Name] = *prob
		} else {
			tokens[m.Name] = v
		}
	}
	return tokens, problems
}
