package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// SecretInputs is what render needs from the Secrets a platform references, and what is wrong with them
// (as the platform's status would say it).
type SecretInputs struct {
	// Invalid is a spec error the API server cannot see (a reference to another namespace's Secret): the
	// reconciler then renders nothing.
	Invalid *status.Problem

	Credentials       map[string]map[string][]byte // render.Input.Credentials
	ProviderProblems  map[string]status.Problem
	ClientKeys        map[string][]byte // render.Input.ClientKeys
	ClientKeysProblem *status.Problem
	ModelTokens       map[string][]byte // render.Input.ModelTokens
	ModelProblems     map[string]status.Problem
}

// ResolveSecretInputs reads a platform's Secret-derived render inputs through c, which stands for the
// platform's cluster, with the reconciler's own code: `manager render` calls it with an in-memory client
// holding Secrets read from files, so that its preview resolves credentials, client keys and model tokens
// exactly as Reconcile does (key choice, namespace rule, missing Secret or key).
func ResolveSecretInputs(ctx context.Context, c client.Client, p *platformv1.GenAIPlatform) SecretInputs {
	r := &GenAIPlatformReconciler{Client: c, APIReader: c}
	if prob := specProblem(p); prob != nil {
		return SecretInputs{Invalid: prob}
	}
	creds := r.resolveCredentials(ctx, p)
	in := SecretInputs{Credentials: creds.byProvider, ProviderProblems: creds.problems}
	in.ClientKeys, in.ClientKeysProblem = r.resolveClientKeys(ctx, p)
	in.ModelTokens, in.ModelProblems = r.modelTokens(ctx, p)
	return in
}

// modelTokens reads each self-hosted model's download token, as observeModelClusters does.
func (r *GenAIPlatformReconciler) modelTokens(ctx context.Context, p *platformv1.GenAIPlatform) (map[string][]byte, map[string]status.Problem) {
	tokens, problems := map[string][]byte{}, map[string]status.Problem{}
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
