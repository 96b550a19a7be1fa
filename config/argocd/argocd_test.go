package argocd

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite argocd-cm.yaml from the health check")

const checkDir = "resource_customizations/platform.genai.dev/GenAIPlatform"

// dirOf is a kind's health check directory.
func dirOf(kind string) string { return "resource_customizations/platform.genai.dev/" + kind }

// readObject reads a YAML manifest the way Argo CD holds a live object: JSON-decoded unstructured
// content, integers as int64.
func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := k8syaml.ToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return u.Object
}

// TestHealthCheck runs each kind's health check on every fixture listed in its health_test.yaml (Argo
// CD's format) and compares status and message exactly.
func TestHealthCheck(t *testing.T) {
	for _, check := range Checks {
		t.Run(check.Kind, func(t *testing.T) { testHealthCheck(t, dirOf(check.Kind), check.Script) })
	}
}

func testHealthCheck(t *testing.T, dir, script string) {
	var suite struct {
		Tests []struct {
			HealthStatus HealthStatus `json:"healthStatus"`
			InputPath    string       `json:"inputPath"`
		} `json:"tests"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &suite); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	listed := map[string]bool{}
	for _, tc := range suite.Tests {
		listed[filepath.Clean(tc.InputPath)] = true
		t.Run(strings.TrimSuffix(filepath.Base(tc.InputPath), ".yaml"), func(t *testing.T) {
			got, err := Health(script, readObject(t, filepath.Join(dir, tc.InputPath)))
			if err != nil {
				t.Fatal(err)
			}
			seen[got.Status] = true
			if got != tc.HealthStatus {
				t.Errorf("health:\n got  %+v\n want %+v", got, tc.HealthStatus)
			}
		})
	}
	// Every state the script can give is exercised, and no fixture sits unused.
	for _, s := range []string{"Healthy", "Progressing", "Degraded"} {
		if !seen[s] {
			t.Errorf("no fixture gives %s", s)
		}
	}
	fixtures, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.yaml"))
	for _, f := range fixtures {
		rel, _ := filepath.Rel(dir, f)
		if !listed[rel] {
			t.Errorf("fixture %s is not listed in health_test.yaml", rel)
		}
	}
}

// TestHealthCheckTracksGenerations: the same Ready=True status is Healthy only while it describes the
// current generation: bumping metadata.generation alone turns it Progressing.
func TestHealthCheckTracksGenerations(t *testing.T) {
	obj := readObject(t, filepath.Join(checkDir, "testdata/healthy.yaml"))
	got, err := Health(HealthScript, obj)
	if err != nil || got.Status != "Healthy" {
		t.Fatalf("healthy fixture: %+v, %v", got, err)
	}
	if err := unstructured.SetNestedField(obj, int64(4), "metadata", "generation"); err != nil {
		t.Fatal(err)
	}
	got, err = Health(HealthScript, obj)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "Progressing" || !strings.Contains(got.Message, "generation 4") {
		t.Errorf("after a spec change: %+v", got)
	}
}

// TestHealthRunnerRejectsBadScripts: the runner is strict where Argo CD is (the assertions above cannot
// pass on a script that does not return a valid status), and like Argo CD it offers no string library.
func TestHealthRunnerRejectsBadScripts(t *testing.T) {
	obj := readObject(t, filepath.Join(checkDir, "testdata/healthy.yaml"))
	for name, script := range map[string]string{
		"no table":       `return "Healthy"`,
		"invalid status": `return {status = "Fine"}`,
		"string library": `return {status = "Healthy", message = string.format("%d", 1)}`,
		"syntax error":   `return {`,
	} {
		if got, err := Health(script, obj); err == nil {
			t.Errorf("%s: want an error, got %+v", name, got)
		}
	}
	if got, err := Health(`return {status = "Degraded", message = obj.metadata.name .. "/" .. obj.metadata.generation}`, obj); err != nil || got != (HealthStatus{"Degraded", "acme/3"}) {
		t.Errorf("obj is visible to the script: %+v, %v", got, err)
	}
}

// TestConfigMapShipsTheScript: argocd-cm.yaml carries health.lua byte for byte under Argo CD's key.
// Run with -update to rewrite it after editing health.lua.
func TestConfigMapShipsTheScript(t *testing.T) {
	want := configMap()
	if *update {
		if err := os.WriteFile("argocd-cm.yaml", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("argocd-cm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Kind     string                `json:"kind"`
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
	}
	if err := yaml.Unmarshal(got, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Metadata.Name != "argocd-cm" {
		t.Errorf("argocd-cm.yaml is a %s named %q", cm.Kind, cm.Metadata.Name)
	}
	for _, check := range Checks {
		if cm.Data[check.Key] != check.Script {
			t.Errorf("argocd-cm.yaml's %s differs from %s/health.lua: run go test ./config/argocd -run TestConfigMapShipsTheScript -update", check.Key, check.Kind)
		}
	}
	if string(got) != string(want) {
		t.Errorf("argocd-cm.yaml is not what the generator writes: run with -update")
	}
}

func configMap() []byte {
	var b strings.Builder
	b.WriteString(`# Ships the GenAIPlatform, GenAIModel and GenAITenant health checks to Argo CD. Generated from
# resource_customizations/platform.genai.dev/<kind>/health.lua by
# go test ./config/argocd -run TestConfigMapShipsTheScript -update
# Merge it into Argo CD's argocd-cm:
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file config/argocd/argocd-cm.yaml
# or list it under "patches" of the kustomization that installs Argo CD.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
`)
	for _, check := range Checks {
		b.WriteString("  " + check.Key + ": |\n")
		for _, line := range strings.SplitAfter(check.Script, "\n") {
			if line == "" {
				continue
			}
			if line != "\n" {
				b.WriteString("    ")
			}
			b.WriteString(line)
		}
	}
	return []byte(b.String())
}

// TestApplicationExample: two Applications, both synced server-side with server-side diff. The
// operator's comes from config/default with the released image; the platform's syncs the samples but never
// a Secret (their placeholders would overwrite the real keys on every self-heal).
func TestApplicationExample(t *testing.T) {
	b, err := os.ReadFile("application.yaml")
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string]map[string]any{}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		j, err := k8syaml.ToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatal(err)
		}
		if u.GetKind() != "Application" || u.GetAPIVersion() != "argoproj.io/v1alpha1" {
			t.Fatalf("not an Argo CD Application: %s %s", u.GetAPIVersion(), u.GetKind())
		}
		apps[u.GetName()] = u.Object
	}
	for name, app := range apps {
		opts, _, _ := unstructured.NestedStringSlice(app, "spec", "syncPolicy", "syncOptions")
		if !contains(opts, "ServerSideApply=true") {
			t.Errorf("%s: syncOptions %v: want ServerSideApply=true", name, opts)
		}
		cmp, _, _ := unstructured.NestedString(app, "metadata", "annotations", "argocd.argoproj.io/compare-options")
		if !strings.Contains(cmp, "ServerSideDiff=true") {
			t.Errorf("%s: compare-options %q: want ServerSideDiff=true", name, cmp)
		}
	}

	operator := apps["genai-platform-operator"]
	if path, _, _ := unstructured.NestedString(operator, "spec", "source", "path"); path != "config/default" {
		t.Errorf("the operator's Application syncs %q, want config/default", path)
	}
	images, _, _ := unstructured.NestedStringSlice(operator, "spec", "source", "kustomize", "images")
	if len(images) != 1 || !strings.HasPrefix(images[0], "genai-platform-operator=ghcr.io/genai-platform/genai-platform-operator:v") {
		t.Errorf("the operator's Application overrides the image with %v", images)
	}

	platform := apps["genai-platform"]
	path, _, _ := unstructured.NestedString(platform, "spec", "source", "path")
	include, _, _ := unstructured.NestedString(platform, "spec", "source", "directory", "include")
	if path != "config/samples" || include == "" {
		t.Fatalf("the platform's Application: path %q, directory.include %q", path, include)
	}
	// Argo CD's include is a glob with {a,b} alternatives.
	patterns := strings.Split(strings.Trim(include, "{}"), ",")
	files, _ := filepath.Glob(filepath.Join("..", "..", path, "*.yaml"))
	synced := map[string]bool{}
	for _, f := range files {
		for _, pat := range patterns {
			if ok, _ := filepath.Match(pat, filepath.Base(f)); ok {
				for _, doc := range strings.Split(string(must(os.ReadFile(f))), "\n---\n") {
					var obj struct{ Kind string }
					if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
						t.Fatal(err)
					}
					synced[obj.Kind] = true
				}
			}
		}
	}
	if synced["Secret"] || !synced["GenAIPlatform"] || !synced["GenAIModel"] {
		t.Errorf("the platform's Application syncs the kinds %v: want the GenAIPlatforms and the GenAIModel, and no Secret", synced)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
