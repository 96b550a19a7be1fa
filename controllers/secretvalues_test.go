package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// TestUserSecretsReadOncePerVersion: a platform reads a provider's credentials, its clients' keys and a
// tenant's own keys from Secrets that are not in its cache. Three reconciles with nothing changed read
// none of them from the API server again (their metadata informer shows the versions already read); a
// change to the tenant's Secret is read, once, and is in force at Tier One.
func TestUserSecretsReadOncePerVersion(t *testing.T) {
	ns := newNamespace(t)
	createSecret(t, ns, "client-keys", map[string]string{"admin": "admin-key-0123456789abcdef"})
	createSecret(t, ns, "openai", map[string]string{"apiKey": "sk-test"})
	createSecret(t, ns, "team-keys", map[string]string{"laptop": "team-key-0123456789abcdef"})
	p := createPlatform(t, ns, "reads", "gateway: {listener: {protocol: HTTP}, clientAuth: {apiKeys: {secretRef: {name: client-keys}}}}\n"+
		"providers: [{name: openai, type: OpenAI, credentials: {secretRef: {name: openai}}}]\nmodels: [{name: gpt-4o, routes: [{provider: openai}]}]\n")
	tenant := &platformv1.GenAITenant{}
	if err := sigyaml.UnmarshalStrict([]byte(fmt.Sprintf(`{metadata: {name: team, namespace: %s}, spec: {platformRef: {name: reads}, apiKeys: {secretRef: {name: team-keys}}, models: ["*"]}}`, ns)), tenant); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(testCtx, tenant); err != nil {
		t.Fatal(err)
	}
	clientKeys := func() map[string][]byte {
		var s corev1.Secret
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.ClientKeysSecretName(p)}, &s); err != nil {
			return nil
		}
		return s.Data
	}
	eventually(t, 30*time.Second, func() error {
		if string(clientKeys()["team.laptop"]) != "team-key-0123456789abcdef" {
			return fmt.Errorf("the tenant's key is not at Tier One yet")
		}
		return nil
	})
	reads := func(since int) []string {
		var out []string
		for _, r := range secretGets.since(since) {
			if strings.Contains(r, "/namespaces/"+ns+"/") {
				out = append(out, r)
			}
		}
		return out
	}
	// Settled: a second without a read of this namespace's Secrets.
	eventually(t, 30*time.Second, func() error {
		start := secretGets.mark()
		time.Sleep(time.Second)
		if r := reads(start); len(r) > 0 {
			return fmt.Errorf("still reading: %v", r)
		}
		return nil
	})

	start := secretGets.mark()
	for round := range 3 {
		poke(t, p, round)
	}
	if r := reads(start); len(r) > 0 {
		t.Errorf("three reconciles with no Secret changed read %d Secrets from the API server: %v", len(r), r)
	}

	start = secretGets.mark()
	updateSecretData(t, ns, "team-keys", map[string]string{"laptop": "team-key-0123456789abcdef", "ci": "team-ci-0123456789abcdef"})
	eventually(t, 30*time.Second, func() error {
		if string(clientKeys()["team.ci"]) != "team-ci-0123456789abcdef" {
			return fmt.Errorf("the tenant's new key is not at Tier One yet")
		}
		return nil
	})
	got := reads(start)
	if len(got) == 0 {
		t.Fatal("the changed Secret was not read")
	}
	for _, r := range got {
		if !strings.HasSuffix(r, "/secrets/team-keys") {
			t.Errorf("read a Secret that did not change: %s", r)
		}
	}
}
