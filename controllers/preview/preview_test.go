package preview_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

var samples = filepath.Join(testenv.ProjectRoot(), "config", "samples")

// run is `manager render args...`.
func run(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := preview.Main(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// Group is one cluster's objects in the output.
type Group struct {
	Title   string
	Objects []*unstructured.Unstructured
}

// parse reads the output back: the groups, in order, each with its objects.
func parse(t testing.TB, out string) []Group {
	t.Helper()
	var groups []Group
	var doc strings.Builder
	flush := func() {
		if len(groups) == 0 {
			doc.Reset()
			return
		}
		objs, err := testenv.DecodeObjects([]byte(doc.String()))
		if err != nil {
			t.Fatalf("the output is not YAML: %v\n%s", err, doc.String())
		}
		groups[len(groups)-1].Objects = append(groups[len(groups)-1].Objects, objs...)
		doc.Reset()
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, preview.GroupMarker):
			flush()
			groups = append(groups, Group{Title: strings.TrimPrefix(line, preview.GroupMarker)})
		case line == "---":
			flush()
		default:
			doc.WriteString(line + "\n")
		}
	}
	flush()
	return groups
}

// sampleSecretValues are the values of the samples' Secrets, as written and as base64.
func sampleSecretValues(t testing.TB) []string {
	var out []string
	for _, f := range []string{"secrets.yaml", "secrets-selfhosted.yaml"} {
		b, err := os.ReadFile(filepath.Join(samples, f))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var u map[string]any
			if err := dec.Decode(&u); err != nil {
				break
			}
			sd, _ := u["stringData"].(map[string]any)
			for _, v := range sd {
				s := v.(string)
				out = append(out, s, base64.StdEncoding.EncodeToString([]byte(s)))
			}
		}
	}
	if len(out) < 8 {
		t.Fatalf("found only %d sample secret values", len(out)/2)
	}
	return out
}

func TestSecretValuesNeverPrinted(t *testing.T) {
	out, errOut, code := run(t, "-f", samples, "--secrets-from", samples)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, v := range sampleSecretValues(t) {
		if strings.Contains(out, v) || strings.Contains(errOut, v) {
			t.Errorf("a Secret value is printed: %q", v)
		}
	}
	secrets := 0
	for _, g := range parse(t, out) {
		for _, o := range g.Objects {
			if o.GetKind() != "Secret" {
				continue
			}
			secrets++
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			if len(data) == 0 {
				t.Errorf("Secret %s shows no keys", o.GetName())
			}
			for k, v := range data {
				if v != preview.Redacted {
					t.Errorf("Secret %s key %s is not redacted", o.GetName(), k)
				}
			}
		}
	}
	// Provider copies (3 + 1), the Tier One and Tier Two keys, the model download token.
	if secrets < 7 {
		t.Errorf("only %d managed Secrets in the output", secrets)
	}
}

func TestGroupsPerCluster(t *testing.T) {
	out, errOut, code := run(t, "-f", filepath.Join(samples, "platform_v1alpha1_genaiplatform_selfhosted.yaml"), "--secrets-from", samples)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	groups := parse(t, out)
	if len(groups) != 2 || !strings.HasPrefix(groups[0].Title, "Tier One") || !strings.HasPrefix(groups[1].Title, "model cluster gpu-east") {
		t.Fatalf("groups: %+v", groups)
	}
	for _, o := range groups[0].Objects {
		if ns := o.GetNamespace(); ns != "" && ns != "ai-platform" {
			t.Errorf("Tier One group holds %s %s/%s", o.GetKind(), ns, o.GetName())
		}
		if o.GetKind() == "InferenceService" || o.GetKind() == "HTTPRoute" {
			t.Errorf("Tier One group holds %s %s", o.GetKind(), o.GetName())
		}
	}
	kinds := map[string]int{}
	for _, o := range groups[1].Objects {
		kinds[o.GetKind()]++
		if o.GetLabels()["platform.genai.dev/model-cluster"] != "gpu-east" {
			t.Errorf("model cluster group holds %s %s, not labelled for gpu-east", o.GetKind(), o.GetName())
		}
		if ns := o.GetNamespace(); ns != "" && ns != "genai-models" {
			t.Errorf("model cluster group holds %s %s/%s", o.GetKind(), ns, o.GetName())
		}
	}
	if kinds["InferenceService"] != 3 || kinds["Namespace"] != 1 || kinds["Gateway"] != 1 || kinds["HTTPRoute"] != 1 {
		t.Errorf("model cluster gpu-east: %v", kinds)
	}
	// Optimistic facts: Tier One links the cluster at the placeholder address, and routes to every placement.
	if !strings.Contains(out, "hostname: "+preview.TierTwoAddress("gpu-east")) {
		t.Error("no Tier One Backend for the model cluster at the assumed address")
	}
	if !strings.Contains(out, "# - qwen2.5-72b: cluster:gpu-east/h100") {
		t.Errorf("the header does not route qwen2.5-72b to its placement:\n%s", out[:min(len(out), 2500)])
	}
}

// Without Secrets, every referenced Secret is assumed: since values are redacted, the objects are those
// the real Secrets give, and only the header's Secrets line differs, and the client ids of the clients'
// key Secret (its data keys, which nobody knows offline: one PlaceholderClientID stands for them), also
// where the tenants' access policies list the platform's own clients.
func TestPlaceholderSecrets(t *testing.T) {
	withSecrets, _, code := run(t, "-f", samples, "--secrets-from", samples)
	if code != 0 {
		t.Fatal(code)
	}
	without, errOut, code := run(t, "-f", samples)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	a, b := strings.Split(withSecrets, "\n"), strings.Split(without, "\n")
	if len(a) != len(b) {
		t.Fatalf("%d lines with Secrets, %d without", len(a), len(b))
	}
	for i := range a {
		clientID := strings.TrimSpace(b[i]) == preview.PlaceholderClientID+": "+preview.Redacted && strings.HasSuffix(a[i], ": "+preview.Redacted) ||
			strings.TrimSpace(b[i]) == "- "+preview.PlaceholderClientID && strings.HasPrefix(strings.TrimSpace(a[i]), "- ")
		if a[i] != b[i] && !clientID && !(strings.HasPrefix(a[i], "# Secrets: read from") && strings.HasPrefix(b[i], "# Secrets: not given")) {
			t.Errorf("line %d differs:\n  with Secrets:    %s\n  without Secrets: %s", i+1, a[i], b[i])
		}
	}
}

// A referenced Secret missing from --secrets-from is what the reconciler makes of a missing Secret: the
// provider is left out, and the header says why, as the status would.
func TestMissingSecret(t *testing.T) {
	out, errOut, code := run(t, "-f", filepath.Join(samples, "platform_v1alpha1_genaiplatform.yaml"), "--secrets-from", filepath.Join(samples, "secrets-selfhosted.yaml"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# - provider openai (SecretNotFound): Secret ai-platform/openai not found; its objects are left out",
		"# - gpt-4o: none (no usable backend)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the header", want)
		}
	}
	if strings.Contains(out, "kind: AIServiceBackend") {
		t.Error("providers without credentials are rendered")
	}
}

func TestClientKeysAndInvalid(t *testing.T) {
	dir := t.TempDir()
	platform := `apiVersion: platform.genai.dev/v1alpha1
kind: GenAIPlatform
metadata: {name: keyed}
spec:
  gateway:
    listener: {protocol: HTTP, port: 80, hostname: llm.example}
    clientAuth:
      apiKeys: {secretRef: {name: client-keys}}
  providers:
  - {name: openai, type: OpenAI, credentials: {secretRef: {name: openai}}}
  models:
  - {name: gpt-4o, routes: [{provider: openai}]}
`
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte(platform), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "-f", file, "-n", "team-a")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "GenAIPlatform team-a/keyed") || !strings.Contains(out, preview.PlaceholderClientID+": "+preview.Redacted) {
		t.Errorf("no placeholder client in the client keys Secret, or the namespace is not team-a:\n%s", out)
	}

	// A reference to another namespace's Secret: the operator creates nothing, and says why.
	cross := strings.Replace(platform, "{name: client-keys}", "{name: client-keys, namespace: elsewhere}", 1)
	if err := os.WriteFile(file, []byte(cross), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run(t, "-f", file)
	if code != 1 || !strings.Contains(out, "The operator creates nothing for this platform") || !strings.Contains(errOut, "another namespace") {
		t.Errorf("exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
	if strings.Contains(out, "\nkind:") {
		t.Error("objects printed for an invalid platform")
	}
}

func TestUsage(t *testing.T) {
	if _, _, code := run(t); code != 2 {
		t.Errorf("no -f: exit %d, want 2", code)
	}
	if _, errOut, code := run(t, "-f", filepath.Join(samples, "secrets.yaml")); code != 1 || !strings.Contains(errOut, "no GenAIPlatform") {
		t.Errorf("a file without platforms: exit %d, %s", code, errOut)
	}
}

// TestTenantKeysNeverPrinted: `manager render` of a platform with GenAITenants shows their generated
// keys Secret and the clients' key Secret with every tenant's client id, and no key: neither the keys
// the operator would generate nor those of the tenants' own Secrets.
func TestTenantKeysNeverPrinted(t *testing.T) {
	in := filepath.Join("..", "render", "testdata", "tenants.in.yaml")
	out, errOut, code := run(t, "-f", in, "--secrets-from", in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, v := range []string{"generated-team-a-1", "key-b-ci", "key-b-laptop", "key-c-own", "key-ops"} {
		for _, s := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(out, s) || strings.Contains(errOut, s) {
				t.Errorf("a tenant key is printed: %q", s)
			}
		}
	}
	for _, want := range []string{"name: team-a-generated-keys", "key-1: " + preview.Redacted, "team-a.key-2: " + preview.Redacted, "team-b.ci: " + preview.Redacted, "name: ten-access-gpt-4o"} {
		if !strings.Contains(out, want) {
			t.Errorf("the preview lacks %q", want)
		}
	}
}
