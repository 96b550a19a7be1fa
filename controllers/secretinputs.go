package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
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
	f.Secrets.ModelDownloads, f.Secrets.ModelProblems = r.modelDownloads(ctx, p)
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

// ObserveOffline is ObserveSecretsOffline with the platform's GenAITenants too: which the platform
// accepts, and their keys, by the reconciler's own code. Generated keys are "generated-<tenant>-<n>"
// (never a real key: `manager render` redacts Secret values anyway, and golden files stay stable), and a
// tenant's own Secret is read from secrets.
func ObserveOffline(ctx context.Context, p *platformv1.GenAIPlatform, tenants []*platformv1.GenAITenant, secrets []*corev1.Secret) (facts.Facts, []*platformv1.GenAITenant) {
	f := ObserveSecretsOffline(ctx, p, secrets)
	if f.Invalid != nil || len(tenants) == 0 {
		return f, nil
	}
	b := fake.NewClientBuilder().WithScheme(NewScheme()).WithIndex(&platformv1.GenAITenant{}, tenantPlatformIndex, indexTenantPlatform)
	for _, s := range secrets {
		s = s.DeepCopy()
		if s.Namespace == "" {
			s.Namespace = p.Namespace
		}
		b = b.WithObjects(s)
	}
	for _, t := range tenants {
		t = t.DeepCopy()
		if t.Namespace == "" {
			t.Namespace = p.Namespace
		}
		b = b.WithObjects(t)
	}
	c := b.Build()
	n := 0
	r := &GenAIPlatformReconciler{Client: c, APIReader: c, keyGen: func(tenant string) string {
		n++
		return fmt.Sprintf("generated-%s-%d", tenant, n)
	}}
	observed, _, err := r.observeTenants(ctx, p, &f)
	if err != nil {
		return f, nil
	}
	return f, acceptedTenants(observed)
}

// modelDownloads reads each self-hosted model's download credentials and image pull Secrets.
func (r *GenAIPlatformReconciler) modelDownloads(ctx context.Context, p *platformv1.GenAIPlatform) (map[string]facts.ModelDownload, map[string]facts.Problem) {
	downloads, problems := map[string]facts.ModelDownload{}, map[string]facts.Problem{}
	for i := range p.Spec.Models {
		m := &p.Spec.Models[i]
		if m.SelfHosted == nil {
			continue
		}
		if dl, prob := r.modelDownload(ctx, p, m); prob != nil {
			problems[m.Name] = *prob
		} else {
			downloads[m.Name] = dl
		}
	}
	return downloads, problems
}

// modelDownload reads one self-hosted model's Secrets in owner's namespace: the platform's for its own
// models, a team's for the GenAIModels it owns.
func (r *GenAIPlatformReconciler) modelDownload(ctx context.Context, owner *platformv1.GenAIPlatform, m *platformv1.ModelSpec) (facts.ModelDownload, *facts.Problem) {
	var dl facts.ModelDownload
	var prob *facts.Problem
	if src := render.ModelStorageSource(m.SelfHosted); src != nil {
		dl.Storage, prob = r.storageCredentials(ctx, owner, src)
	}
	for j, ref := range m.SelfHosted.ImagePullSecrets {
		if prob != nil {
			break
		}
		var ps *facts.PullSecret
		if ps, prob = r.pullSecret(ctx, owner, ref); prob != nil {
			prob.Message = fmt.Sprintf("selfHosted.imagePullSecrets[%d]: %s", j, prob.Message)
		} else {
			dl.PullSecrets = append(dl.PullSecrets, *ps)
		}
	}
	return dl, prob
}

// storageCredentials reads a model's storage Secret into the layout KServe's storage initializer reads.
func (r *GenAIPlatformReconciler) storageCredentials(ctx context.Context, p *platformv1.GenAIPlatform, src *render.StorageSource) (map[string][]byte, *facts.Problem) {
	if src.ManagedKey != "" {
		v, prob := r.readSecretKey(ctx, p, src.Ref, src.ManagedKey)
		if prob != nil {
			prob.Message = src.Field + ": " + prob.Message
			return nil, prob
		}
		return map[string][]byte{src.ManagedKey: v}, nil
	}
	s, prob := r.readSecret(ctx, p, src.Ref.Name, src.Ref.Namespace)
	if prob != nil {
		prob.Message = src.Field + ": " + prob.Message
		return nil, prob
	}
	complete := slices.ContainsFunc(src.Required, func(keys []string) bool {
		return !slices.ContainsFunc(keys, func(k string) bool { return len(s.Data[k]) == 0 })
	})
	if !complete {
		var want []string
		for _, keys := range src.Required {
			want = append(want, strings.Join(keys, " + "))
		}
		return nil, &facts.Problem{Reason: status.ReasonSecretKeyNotFound, Stalled: true,
			Message: fmt.Sprintf("%s: Secret %s/%s needs the keys %s (it has: %s)", src.Field, p.Namespace, s.Name, strings.Join(want, ", or "), secretKeys(s))}
	}
	data := map[string][]byte{}
	for _, k := range src.Copy {
		if len(s.Data[k]) > 0 {
			data[k] = s.Data[k]
		}
	}
	return data, nil
}

// pullSecret reads one image pull Secret; only registry credential types can be pull Secrets.
func (r *GenAIPlatformReconciler) pullSecret(ctx context.Context, p *platformv1.GenAIPlatform, ref platformv1.SecretReference) (*facts.PullSecret, *facts.Problem) {
	s, prob := r.readSecret(ctx, p, ref.Name, ref.Namespace)
	if prob != nil {
		return nil, prob
	}
	key := map[corev1.SecretType]string{corev1.SecretTypeDockerConfigJson: corev1.DockerConfigJsonKey, corev1.SecretTypeDockercfg: corev1.DockerConfigKey}[s.Type]
	if key == "" || len(s.Data[key]) == 0 {
		return nil, &facts.Problem{Reason: status.ReasonSecretKeyNotFound, Stalled: true,
			Message: fmt.Sprintf("Secret %s/%s is not an image pull Secret: it needs type %s with key %s (it is %q with keys: %s)",
				p.Namespace, s.Name, corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, s.Type, secretKeys(s))}
	}
	return &facts.PullSecret{Name: s.Name, Type: string(s.Type), Data: map[string][]byte{key: s.Data[key]}}, nil
}
