package render_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml from the current render (make golden)")

// TestGolden renders every testdata/*.in.yaml (a GenAIPlatform and the user Secrets it references) and
// compares the objects with testdata/*.out.yaml. The samples in config/samples are one of the cases.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"samples":            {"../../config/samples/secrets.yaml", "../../config/samples/platform_v1alpha1_genaiplatform.yaml"},
		"samples-selfhosted": {"../../config/samples/secrets.yaml", "../../config/samples/secrets-selfhosted.yaml", "../../config/samples/platform_v1alpha1_genaiplatform_selfhosted.yaml"},
	}
	for _, in := range inputs {
		cases[strings.TrimSuffix(filepath.Base(in), ".in.yaml")] = []string{in}
	}
	// Every input has its golden output and every output its input (or is a sample's): a missing or
	// renamed file fails here rather than silently testing less.
	outputs, err := filepath.Glob("testdata/*.out.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 || (!*update && len(outputs) != len(cases)) {
		t.Fatalf("%d golden inputs (+2 samples) but %d golden outputs in testdata", len(inputs), len(outputs))
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			in := LoadInput(t, files...)
			got := OutputYAML(t, in.Platform, render.Render(in))
			goldenFile := filepath.Join("testdata", name+".out.yaml")
			if *update {
				if err := os.WriteFile(goldenFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenFile)
			if err != nil {
				t.Fatalf("%v (run make golden to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("render of %s differs from %s (run make golden and review the diff):\n%s", name, goldenFile, lineDiff(string(want), string(got)))
			}
		})
	}
}

// OutputYAML prints Tier One's objects, then each model cluster's, in spec order.
func OutputYAML(t testing.TB, p *platformv1.GenAIPlatform, out render.Output) []byte {
	b := RenderYAML(t, out.In(""))
	for _, mc := range p.Spec.ModelClusters {
		b = append(b, []byte("# model cluster "+mc.Name+"\n")...)
		b = append(b, RenderYAML(t, out.In(mc.Name))...)
	}
	return b
}

// LoadInput reads YAML files holding one GenAIPlatform, any number of Secrets and GenAITenants, and optionally a Facts
// document (parsed strictly into facts.Facts), with the preview's reader. The Secrets are resolved by the
// reconciler's own code. Every model cluster gets a fixed key unless the Facts give one: the reconciler
// always has one.
func LoadInput(t testing.TB, files ...string) render.Input {
	t.Helper()
	var docs preview.Documents
	for _, f := range files {
		d, err := preview.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs.Platforms = append(docs.Platforms, d.Platforms...)
		docs.Secrets = append(docs.Secrets, d.Secrets...)
		docs.Tenants = append(docs.Tenants, d.Tenants...)
		if d.Facts != nil {
			docs.Facts = d.Facts
		}
	}
	if len(docs.Platforms) != 1 {
		t.Fatalf("%v: want one GenAIPlatform, have %d", files, len(docs.Platforms))
	}
	p := docs.Platforms[0]
	if p.UID == "" {
		p.UID = "00000000-0000-0000-0000-000000000001"
	}
	f, tenants := controllers.ObserveOffline(context.Background(), p, preview.TenantsOf(p, docs.Tenants, p.Namespace), docs.Secrets)
	if docs.Facts != nil {
		f.Clusters, f.Placements, f.RouteShards = docs.Facts.Clusters, docs.Facts.Placements, docs.Facts.RouteShards
	}
	for _, mc := range p.Spec.ModelClusters {
		cf := f.Cluster(mc.Name)
		if cf.Key == nil {
			cf.Key = &facts.ClusterKey{Current: "key-" + mc.Name}
		}
		// The link's certificates, as the reconciler makes them (their values are redacted in the output).
		if cf.TLS == nil && render.LinkTLSMode(&mc) != platformv1.TierLinkTLSNone && cf.Problem == nil {
			cf.TLS = preview.AssumedLinkTLS(&mc)
		}
		f.SetCluster(mc.Name, cf)
	}
	return render.Input{Platform: p, Facts: f, Tenants: tenants}
}

var scheme = controllers.NewScheme()

// RenderYAML prints objects as the operator applies them, one YAML document each.
func RenderYAML(t testing.TB, objs []client.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, obj := range objs {
		gvk, err := apiutil.GVKForObject(obj, scheme)
		if err != nil {
			t.Fatal(err)
		}
		u, _, err := apply.ToUnstructured(obj, gvk)
		if err != nil {
			t.Fatal(err)
		}
		b, err := sigyaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes()
}

// lineDiff shows the first lines where two texts differ, with a little context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		if i < len(w) && i < len(g) && w[i] == g[i] {
			continue
		}
		var b strings.Builder
		for j := max(0, i-3); j < min(i+8, max(len(w), len(g))); j++ {
			wl, gl := "", ""
			if j < len(w) {
				wl = w[j]
			}
			if j < len(g) {
				gl = g[j]
			}
			mark := " "
			if wl != gl {
				mark = "!"
			}
			b.WriteString(mark + " want: " + wl + "\n" + mark + " got:  " + gl + "\n")
		}
		return b.String()
	}
	return ""
}
