package render_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	sigyaml "sigs.k8s.io/yaml"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// admission is the GenAIPlatform CRD's own checks, run offline as the API server runs them on create:
// structural defaulting, the OpenAPI schema, list-map uniqueness and the CEL rules. A fuzzed spec that
// fails them would be refused, so render never sees it.
type admission struct {
	structural *schema.Structural
	schema     validation.SchemaCreateValidator
	cel        *cel.Validator
}

var (
	admissionOnce sync.Once
	admissionErr  error
	crdAdmission  admission
)

func loadAdmission(t testing.TB) admission {
	admissionOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "platform.genai.dev_genaiplatforms.yaml"))
		if err != nil {
			admissionErr = err
			return
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := sigyaml.UnmarshalStrict(b, &crd); err != nil {
			admissionErr = err
			return
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			admissionErr = err
			return
		}
		s, err := schema.NewStructural(&internal)
		if err != nil {
			admissionErr = err
			return
		}
		sv, _, err := validation.NewSchemaValidator(&internal)
		if err != nil {
			admissionErr = err
			return
		}
		crdAdmission = admission{structural: s, schema: sv, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}
	})
	if admissionErr != nil {
		t.Fatal(admissionErr)
	}
	return crdAdmission
}

// admit defaults obj and returns what the API server would refuse it for (nil: admitted).
func (a admission) admit(obj map[string]any) field.ErrorList {
	structuraldefaulting.Default(obj, a.structural)
	errs := validation.ValidateCustomResource(nil, obj, a.schema)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, a.structural, obj)...)
	celErrs, _ := a.cel.Validate(context.Background(), nil, a.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// seeds are the platforms of the samples and the golden inputs: the fuzz corpus starts from them.
func seeds(t testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/*.in.yaml")
	files = append(files, "../../config/samples/platform_v1alpha1_genaiplatform.yaml", "../../config/samples/platform_v1alpha1_genaiplatform_selfhosted.yaml")
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			if strings.Contains(doc, "kind: GenAIPlatform") {
				out = append(out, []byte(doc))
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d seed platforms", len(out))
	}
	return out
}

// fuzzFacts makes the facts of a world from choice bytes: which Secrets resolve, which clusters have a
// key, TLS, an address or are unreachable, which placements are Ready.
func fuzzFacts(p *platformv1.GenAIPlatform, choices []byte) facts.Facts {
	next := func() byte {
		if len(choices) == 0 {
			return 0
		}
		c := choices[0]
		choices = choices[1:]
		return c
	}
	f := facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{}, ModelDownloads: map[string]facts.ModelDownload{}, ClientKeys: map[string][]byte{"c": []byte("k")}}}
	for _, pr := range p.Spec.Providers {
		if src := render.ProviderCredentialSource(&pr); src.Ref == nil || next()%4 != 0 {
			f.Secrets.Credentials[pr.Name] = map[string][]byte{src.ManagedKey: []byte("v")}
		}
	}
	for _, m := range p.Spec.Models {
		if m.SelfHosted == nil {
			continue
		}
		var dl facts.ModelDownload
		if render.ModelStorageSource(m.SelfHosted) != nil {
			dl.Storage = map[string][]byte{"k": []byte("v")}
		}
		for _, ref := range m.SelfHosted.ImagePullSecrets {
			dl.PullSecrets = append(dl.PullSecrets, facts.PullSecret{Name: ref.Name, Type: "kubernetes.io/dockerconfigjson", Data: map[string][]byte{".dockerconfigjson": []byte("{}")}})
		}
		f.Secrets.ModelDownloads[m.Name] = dl
		for _, pl := range m.SelfHosted.Placements {
			f.Placements = append(f.Placements, facts.Placement{PlacementID: facts.PlacementID{Model: m.Name, Cluster: pl.Cluster, NodePool: pl.NodePool}, Exists: true, Ready: next()%2 == 0})
		}
	}
	// Where the models are served now: some in one of the first routes, some in none.
	for _, m := range p.Spec.Models {
		if c := next(); c%3 != 0 {
			if f.RouteShards == nil {
				f.RouteShards = map[string]string{}
			}
			f.RouteShards[m.Name] = render.RouteName(p, int(c%5))
		}
	}
	for _, mc := range p.Spec.ModelClusters {
		c := next()
		cf := facts.Cluster{Unreachable: c&1 != 0, ForeignNamespace: c&2 != 0}
		if c&4 == 0 {
			cf.Key = &facts.ClusterKey{Current: "k", Next: map[bool]string{true: "n"}[c&8 != 0]}
		}
		if c&16 == 0 {
			cf.Address = fmt.Sprintf("10.0.0.%d", c)
		}
		if c&32 == 0 && render.LinkTLSMode(&mc) != platformv1.TierLinkTLSNone {
			cf.TLS = &facts.LinkTLS{Hostname: render.LinkTLSHostname(&mc), State: map[string][]byte{"ca.crt": []byte("c")}, ServingCert: []byte("c"), ServingKey: []byte("k"), TrustBundle: []byte("c")}
		}
		f.SetCluster(mc.Name, cf)
	}
	return f
}

// FuzzRender renders arbitrary GenAIPlatforms that the CRD admits, in arbitrary worlds: render never
// panics, is deterministic, names every object validly (and within its kind's limits), labels it with
// valid values, never makes two children of one name, and puts each model in one AIGatewayRoute of at
// most 15 rules, wherever the models are served now.
func FuzzRender(f *testing.F) {
	for i, s := range seeds(f) {
		f.Add(s, []byte{byte(i), 0, 1, 2, 3, 5, 8, 13, 21, 34, 55})
	}
	adm := loadAdmission(f)
	f.Fuzz(func(t *testing.T, platformYAML, choices []byte) {
		j, err := sigyaml.YAMLToJSON(platformYAML)
		if err != nil {
			return
		}
		var obj map[string]any
		// Integers as int64, as the API server decodes them (CEL rules compare them as ints).
		if err := utiljson.Unmarshal(j, &obj); err != nil || obj == nil {
			return
		}
		// The API server checks metadata apart from the CRD's schema: keep a valid name and namespace only.
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		namespace, _ := meta["namespace"].(string)
		if len(k8svalidation.IsDNS1123Subdomain(name)) > 0 || len(k8svalidation.IsDNS1123Label(namespace)) > 0 {
			return
		}
		obj["metadata"] = map[string]any{"name": name, "namespace": namespace}
		if errs := adm.admit(obj); len(errs) > 0 {
			return
		}
		admitted, _ := json.Marshal(obj)
		p := &platformv1.GenAIPlatform{}
		dec := json.NewDecoder(bytes.NewReader(admitted))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p); err != nil {
			t.Fatalf("the CRD admits what the Go type cannot hold: %v\n%s", err, admitted)
		}
		p.UID = "00000000-0000-0000-0000-000000000001"
		in := render.Input{Platform: p, Facts: fuzzFacts(p, choices)}

		out := render.Render(in)
		again := render.Render(render.Input{Platform: p.DeepCopy(), Facts: fuzzFacts(p, choices)})
		if a, b := OutputYAML(t, p, out), OutputYAML(t, p, again); !bytes.Equal(a, b) {
			t.Fatalf("render is not deterministic:\n%s", lineDiff(string(a), string(b)))
		}
		seen, routed := map[string]bool{}, map[string]string{}
		for _, c := range out.Children {
			obj := c.Object
			if r, ok := obj.(*aigv1b1.AIGatewayRoute); ok {
				if len(r.Spec.Rules) > render.MaxRulesPerRoute {
					t.Fatalf("%s holds %d rules", r.Name, len(r.Spec.Rules))
				}
				for m := range render.ModelsOfRoute(r) {
					if routed[m] != "" {
						t.Fatalf("model %s in %s and %s", m, routed[m], r.Name)
					}
					routed[m] = r.Name
				}
			}
			gvk, err := apiutil.GVKForObject(obj, scheme)
			if err != nil {
				t.Fatal(err)
			}
			key := c.Cluster + "/" + gvk.Kind + "/" + obj.GetNamespace() + "/" + obj.GetName()
			if seen[key] {
				t.Fatalf("two children %s", key)
			}
			seen[key] = true
			if errs := nameErrors(gvk.Kind, obj.GetName()); len(errs) > 0 {
				t.Fatalf("%s name %q: %v", gvk.Kind, obj.GetName(), errs)
			}
			if ns := obj.GetNamespace(); ns != "" && len(k8svalidation.IsDNS1123Label(ns)) > 0 {
				t.Fatalf("%s %s: namespace %q", gvk.Kind, obj.GetName(), ns)
			}
			for k, v := range obj.GetLabels() {
				if errs := append(k8svalidation.IsQualifiedName(k), k8svalidation.IsValidLabelValue(v)...); len(errs) > 0 {
					t.Fatalf("%s %s: label %s=%s: %v", gvk.Kind, obj.GetName(), k, v, errs)
				}
			}
		}
	})
}

// nameErrors checks an object name against its kind's rule: InferenceServices are DNS-1035 labels
// (KServe's webhook), LLMInferenceServices too and short enough that the names KServe derives from them
// (the InferencePool and workload Service Tier Two routes to) are not hashed, Namespaces DNS-1123
// labels, everything else DNS-1123 subdomains.
func nameErrors(kind, name string) []string {
	switch kind {
	case "InferenceService":
		return k8svalidation.IsDNS1035Label(name)
	case "LLMInferenceService":
		return append(k8svalidation.IsDNS1035Label(render.LLMWorkloadServiceName(name)), k8svalidation.IsDNS1035Label(render.InferencePoolName(name))...)
	case "Namespace":
		return k8svalidation.IsDNS1123Label(name)
	}
	return k8svalidation.IsDNS1123Subdomain(name)
}

// TestFuzzSeedsAreAdmitted: every seed passes the offline admission, so the fuzzer starts from platforms
// render really sees; and a spec the API server refuses is refused offline too (the filter can say no).
func TestFuzzSeedsAreAdmitted(t *testing.T) {
	adm := loadAdmission(t)
	for i, s := range seeds(t) {
		j, err := sigyaml.YAMLToJSON(s)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(j, &obj); err != nil {
			t.Fatal(err)
		}
		if errs := adm.admit(obj); len(errs) > 0 {
			t.Errorf("seed %d refused: %v", i, errs)
		}
	}
	bad := map[string]any{"apiVersion": "platform.genai.dev/v1alpha1", "kind": "GenAIPlatform",
		"metadata": map[string]any{"name": "x", "namespace": "y"},
		"spec": map[string]any{"gateway": map[string]any{"listener": map[string]any{"protocol": "HTTP"}},
			"modelClusters": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}}}
	if errs := adm.admit(bad); len(errs) == 0 {
		t.Error("two local model clusters in one namespace were admitted offline; the API server refuses them")
	}
}
