package render_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/config/crd"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
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
	if len(cases) < 2 {
		t.Fatal("no golden inputs found")
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

// Facts is a test-only document (kind: Facts) in golden inputs: what the reconciler would have observed.
type Facts struct {
	TierTwoAddresses map[string]string `json:"tierTwoAddresses"`
	ReadyPlacements  []string          `json:"readyPlacements"` // "model|cluster|pool"
	Keys             map[string]struct {
		Current, Next, Previous string
	} `json:"keys"`
	ForeignNamespaces []string `json:"foreignNamespaces"` // clusters whose namespace the user made
	Unreachable       []string `json:"unreachable"`       // model clusters whose API server does not answer
}

// OutputYAML prints Tier One's objects, then each model cluster's, in spec order.
func OutputYAML(t testing.TB, p *platformv1.GenAIPlatform, out render.Output) []byte {
	b := RenderYAML(t, out.TierOne)
	for _, mc := range p.Spec.ModelClusters {
		b = append(b, []byte("# model cluster "+mc.Name+"\n")...)
		b = append(b, RenderYAML(t, out.ModelClusters[mc.Name])...)
	}
	return b
}

// LoadInput reads YAML files holding one GenAIPlatform, any number of Secrets and optionally Facts, and
// resolves the platform's credentials from those Secrets as the controller does from the cluster. Model
// clusters get a fixed key and an operator-created namespace unless Facts say otherwise.
func LoadInput(t testing.TB, files ...string) render.Input {
	t.Helper()
	var p *platformv1.GenAIPlatform
	var facts Facts
	secrets := map[string]*corev1.Secret{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var raw map[string]any
			if err := dec.Decode(&raw); err != nil {
				break
			}
			doc, _ := sigyaml.Marshal(raw)
			switch raw["kind"] {
			case "GenAIPlatform":
				// The API server's schema defaults, so render sees what it sees in a cluster.
				if err := crd.Default(raw); err != nil {
					t.Fatal(err)
				}
				doc, _ = sigyaml.Marshal(raw)
				p = &platformv1.GenAIPlatform{}
				if err := sigyaml.UnmarshalStrict(doc, p); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			case "Facts":
				if err := sigyaml.Unmarshal(doc, &facts); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			case "Secret":
				s := &corev1.Secret{}
				if err := sigyaml.Unmarshal(doc, s); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				for k, v := range s.StringData {
					if s.Data == nil {
						s.Data = map[string][]byte{}
					}
					s.Data[k] = []byte(v)
				}
				secrets[s.Name] = s
			}
		}
	}
	if p == nil {
		t.Fatalf("%v: no GenAIPlatform", files)
	}
	if p.UID == "" {
		p.UID = "00000000-0000-0000-0000-000000000001"
	}
	creds := map[string]map[string][]byte{}
	for i := range p.Spec.Providers {
		pr := &p.Spec.Providers[i]
		src := render.ProviderCredentialSource(pr)
		if src.Ref == nil || (src.Ref.Namespace != "" && src.Ref.Namespace != p.Namespace) {
			continue
		}
		if s, ok := secrets[src.Ref.Name]; ok {
			if key, ok := render.PickSecretKey(s.Data, src.Ref.Key, src.ManagedKey); ok {
				creds[pr.Name] = map[string][]byte{src.ManagedKey: s.Data[key]}
			}
		}
	}
	in := render.Input{Platform: p, Credentials: creds, ModelTokens: map[string][]byte{}, ClusterKeys: map[string]render.ClusterKey{},
		TierTwoAddresses: facts.TierTwoAddresses, PlacementReady: map[string]bool{}, OwnNamespaces: map[string]bool{}}
	for _, m := range p.Spec.Models {
		if m.SelfHosted == nil || m.SelfHosted.CredentialsSecretRef == nil {
			continue
		}
		ref := m.SelfHosted.CredentialsSecretRef
		if s, ok := secrets[ref.Name]; ok {
			if key, ok := render.PickSecretKey(s.Data, ref.Key, render.KeyHFToken); ok {
				in.ModelTokens[m.Name] = s.Data[key]
			}
		}
	}
	for _, mc := range p.Spec.ModelClusters {
		in.ClusterKeys[mc.Name] = render.ClusterKey{Current: "key-" + mc.Name}
		if k, ok := facts.Keys[mc.Name]; ok {
			in.ClusterKeys[mc.Name] = render.ClusterKey{Current: k.Current, Next: k.Next, Previous: k.Previous}
		}
		in.OwnNamespaces[mc.Name] = !contains(facts.ForeignNamespaces, mc.Name)
	}
	if ca := p.Spec.Gateway.ClientAuth; ca != nil && ca.APIKeys != nil {
		if s, ok := secrets[ca.APIKeys.SecretRef.Name]; ok {
			in.ClientKeys = s.Data
		}
	}
	for _, k := range facts.ReadyPlacements {
		in.PlacementReady[k] = true
	}
	if len(facts.Unreachable) > 0 {
		in.Unreachable = map[string]bool{}
		for _, c := range facts.Unreachable {
			in.Unreachable[c] = true
		}
	}
	return in
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
