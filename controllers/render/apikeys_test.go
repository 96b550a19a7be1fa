package render_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// envoyAPIKeyAuth stands in for Envoy's api_key_auth filter (the filter behind an Envoy Gateway
// SecurityPolicy's apiKeyAuth), as its source reads (source/extensions/filters/http/api_key_auth/
// api_key_auth.cc): KeySources::Source::getKey takes the first value of the header and cuts a leading
// "Bearer "; the filter then looks the rest up among the credentials, which Envoy Gateway builds from
// the Secret's data (client id -> key). It returns the client id, or the 401 Envoy would answer.
func envoyAPIKeyAuth(keys *corev1.Secret, headerValue string) (string, error) {
	key := strings.TrimPrefix(headerValue, "Bearer ")
	if key == "" {
		return "", fmt.Errorf("401 missing_api_key")
	}
	for id, v := range keys.Data {
		if string(v) == key {
			return id, nil
		}
	}
	return "", fmt.Errorf("401 unkonwn_api_key") // sic: Envoy's response code detail
}

func secretNamed(t *testing.T, objs []client.Object, name string) *corev1.Secret {
	t.Helper()
	for _, o := range objs {
		if s, ok := o.(*corev1.Secret); ok && s.Name == name {
			return s
		}
	}
	t.Fatalf("no Secret %s rendered", name)
	return nil
}

// TestKeysAreWhatEnvoyLooksUp: a client that sends its key as OpenAI SDKs do ("Authorization: Bearer
// <key>") is admitted at Tier One as its client id, and Tier One's request to Tier Two (AIGW's
// BackendSecurityPolicy APIKey sends "Authorization: Bearer <key>", internal/backendauth/api_key.go) is
// admitted at Tier Two, for the current key and the one staged by a rotation. Stored "Bearer <key>"
// values (as before this test) are refused by Envoy with 401: envoyproxy/gateway#7706.
func TestKeysAreWhatEnvoyLooksUp(t *testing.T) {
	in := LoadInput(t, "testdata/governance-apikeys.in.yaml")
	out := render.Render(in)
	p := in.Platform
	clientKeys := secretNamed(t, out.In(""), render.ClientKeysSecretName(p))
	if len(in.Facts.Secrets.ClientKeys) == 0 {
		t.Fatal("the case has no client keys")
	}
	for id, key := range in.Facts.Secrets.ClientKeys {
		got, err := envoyAPIKeyAuth(clientKeys, "Bearer "+string(key))
		if err != nil || got != id {
			t.Errorf("client %s sending Authorization: Bearer <its key>: got client %q, %v", id, got, err)
		}
	}
	if _, err := envoyAPIKeyAuth(clientKeys, "Bearer not-a-key"); err == nil {
		t.Error("an unknown key was admitted")
	}

	in = LoadInput(t, "testdata/link-tls.in.yaml")
	out = render.Render(in)
	p = in.Platform
	checked := 0
	for _, mc := range p.Spec.ModelClusters {
		k := in.Facts.Cluster(mc.Name).Key
		if k == nil {
			continue
		}
		tierTwo := secretNamed(t, out.In(mc.Name), render.TierTwoKeySecretName(p))
		tierOne := secretNamed(t, out.In(""), render.ClusterKeySecretName(p, mc.Name))
		sent := string(tierOne.Data[facts.KeyCurrent]) // what AIGW's BackendSecurityPolicy reads and sends
		for _, key := range []string{sent, k.Next} {
			if key == "" {
				continue
			}
			if _, err := envoyAPIKeyAuth(tierTwo, "Bearer "+key); err != nil {
				t.Errorf("model cluster %s: Tier Two refuses Tier One's key: %v", mc.Name, err)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("the case has no model cluster key")
	}
}
