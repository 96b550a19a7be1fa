package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	scorecardv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/api/pkg/validation"
	validator "github.com/operator-framework/api/pkg/validation/interfaces"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

const (
	root      = "../.."
	bundleDir = root + "/bundle"
	csvFile   = bundleDir + "/manifests/" + packageName + ".clusterserviceversion.yaml"
	// k8sVersion is the Kubernetes version the project tests on (envtest), for the removed-APIs check.
	k8sVersion = "1.37.2"
)

// validators are what OperatorHub's pipeline and `operator-sdk bundle validate --select-optional
// suite=operatorframework` run.
var validators = validator.Validators{
	validation.ClusterServiceVersionValidator,
	validation.CustomResourceDefinitionValidator,
	validation.BundleValidator,
	validation.OperatorHubV2Validator,
	validation.StandardCapabilitiesValidator,
	validation.StandardCategoriesValidator,
	validation.GoodPracticesValidator,
	validation.ObjectValidator,
	validation.AlphaDeprecatedAPIsValidator,
}

// validate loads a bundle directory and returns the error-level and warning-level results.
func validate(t *testing.T, dir string) (errs, warns []string) {
	t.Helper()
	b, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		t.Fatalf("loading the bundle: %v", err)
	}
	if b.CSV == nil || len(b.V1CRDs) != 3 {
		t.Fatalf("the bundle should hold a CSV and the GenAIPlatform, GenAIModel and GenAITenant CRDs: %d CRDs", len(b.V1CRDs))
	}
	// Every validator gets every object (the CSV and CRD validators look at those, not at the bundle),
	// as operator-sdk bundle validate does, and the optional values.
	objs := append(b.ObjectsToValidate(), map[string]string{"k8s-version": k8sVersion})
	for _, r := range validators.Validate(objs...) {
		for _, e := range r.Errors {
			errs = append(errs, e.Error())
		}
		for _, w := range r.Warnings {
			warns = append(warns, w.Error())
		}
	}
	return errs, warns
}

// TestBundleValidates: the committed bundle passes the operator-framework validators with no error;
// warnings are logged.
func TestBundleValidates(t *testing.T) {
	errs, warns := validate(t, bundleDir)
	for _, w := range warns {
		t.Logf("warning: %s", w)
	}
	for _, e := range errs {
		t.Errorf("%s", e)
	}
	t.Logf("%d errors, %d warnings", len(errs), len(warns))
}

// TestValidationCanFail: the same validators on a damaged copy of the bundle report errors, so the tests
// above would catch such damage.
func TestValidationCanFail(t *testing.T) {
	for name, damage := range map[string]func(*operatorsv1alpha1.ClusterServiceVersion){
		"no provider":        func(c *operatorsv1alpha1.ClusterServiceVersion) { c.Spec.Provider.Name = "" },
		"unknown capability": func(c *operatorsv1alpha1.ClusterServiceVersion) { c.Annotations["capabilities"] = "Somewhat Automatic" },
		"no install mode":    func(c *operatorsv1alpha1.ClusterServiceVersion) { c.Spec.InstallModes = nil },
		"example of no API": func(c *operatorsv1alpha1.ClusterServiceVersion) {
			c.Annotations["alm-examples"] = `[{"apiVersion":"x.example/v1","kind":"Other"}]`
		},
		"CRD not owned":       func(c *operatorsv1alpha1.ClusterServiceVersion) { c.Spec.CustomResourceDefinitions.Owned = nil },
		"bad maintainer mail": func(c *operatorsv1alpha1.ClusterServiceVersion) { c.Spec.Maintainers[0].Email = "nobody" },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, bundleDir, dir)
			csv := readCSV(t, filepath.Join(dir, "manifests", packageName+".clusterserviceversion.yaml"))
			damage(csv)
			b, err := marshalCSV(csv)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "manifests", packageName+".clusterserviceversion.yaml"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if errs, _ := validate(t, dir); len(errs) == 0 {
				t.Errorf("no validation error for a bundle with %s", name)
			}
		})
	}
}

// TestValidationWarns: a bundle without an icon or a minKubeVersion gets warnings, so TestBundleValidates
// would log them (it has none today).
func TestValidationWarns(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, bundleDir, dir)
	path := filepath.Join(dir, "manifests", packageName+".clusterserviceversion.yaml")
	csv := readCSV(t, path)
	csv.Spec.Icon, csv.Spec.MinKubeVersion = nil, ""
	b, err := marshalCSV(csv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	errs, warns := validate(t, dir)
	if len(errs) != 0 || !containsText(warns, "Icon not specified") || !containsText(warns, "minKubeVersion") {
		t.Errorf("want warnings about the icon and minKubeVersion, got errors %v, warnings %v", errs, warns)
	}
}

func containsText(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// TestBundleIsUpToDate: the committed bundle is exactly what `make bundle` writes from config/ today
// (config/default built by kustomize's Go API, the pinned binary's version).
func TestBundleIsUpToDate(t *testing.T) {
	install := kustomizeBuild(t)
	want, err := Generate(Options{Root: root, Install: install, Samples: DefaultSamples})
	if err != nil {
		t.Fatal(err)
	}
	stale := false
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || string(got) != string(b) {
			t.Errorf("%s is not what the generator writes (%v)", name, err)
			stale = true
		}
	}
	err = filepath.Walk(bundleDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if _, ok := want[filepath.ToSlash(rel)]; !ok {
			t.Errorf("%s is not written by the generator", rel)
			stale = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		t.Log("run make bundle and commit bundle/ and bundle.Dockerfile")
	}
}

// TestBundleMatchesConfig: the bundle's parts that follow config/ match it, each checked on its own (a
// narrower message than TestBundleIsUpToDate's): the CRD, the manager's RBAC (config/rbac/role.yaml is
// regenerated by make manifests), the manager container, and the examples.
func TestBundleMatchesConfig(t *testing.T) {
	csv := readCSV(t, csvFile)

	// The CRD's spec is config/crd/bases' (kustomize adds labels only).
	var bundled, source apiextensionsv1.CustomResourceDefinition
	readYAML(t, bundleDir+"/manifests/platform.genai.dev_genaiplatforms.yaml", &bundled)
	readYAML(t, root+"/config/crd/bases/platform.genai.dev_genaiplatforms.yaml", &source)
	if !equality.Semantic.DeepEqual(bundled.Spec, source.Spec) {
		t.Errorf("the bundle's CRD differs from config/crd/bases: run make bundle")
	}

	// Every rule of the manager's ClusterRole, and nothing else but the metrics auth rules.
	var managerRole, metricsAuth rbacv1.ClusterRole
	readYAML(t, root+"/config/rbac/role.yaml", &managerRole)
	readYAML(t, root+"/config/rbac/metrics_auth_role.yaml", &metricsAuth)
	strategy := csv.Spec.InstallStrategy.StrategySpec
	if len(strategy.ClusterPermissions) != 1 {
		t.Fatalf("clusterPermissions: %+v", strategy.ClusterPermissions)
	}
	if missing, extra := setDiff(ruleSet(strategy.ClusterPermissions[0].Rules), ruleSet(append(managerRole.Rules, metricsAuth.Rules...))); len(missing)+len(extra) > 0 {
		t.Errorf("clusterPermissions differ from config/rbac (run make manifests bundle): missing %v, not in config/rbac %v", missing, extra)
	}
	var leaderElection rbacv1.Role
	readYAML(t, root+"/config/rbac/leader_election_role.yaml", &leaderElection)
	if len(strategy.Permissions) != 1 || !equality.Semantic.DeepEqual(ruleSet(strategy.Permissions[0].Rules), ruleSet(leaderElection.Rules)) {
		t.Errorf("permissions differ from config/rbac/leader_election_role.yaml: %+v", strategy.Permissions)
	}

	// The manager container is config/manager's, with the released image.
	var deployment appsv1.Deployment
	readYAMLDoc(t, root+"/config/manager/manager.yaml", "Deployment", &deployment)
	if len(strategy.DeploymentSpecs) != 1 {
		t.Fatalf("deployments: %d", len(strategy.DeploymentSpecs))
	}
	got := strategy.DeploymentSpecs[0].Spec.Template.Spec.Containers[0]
	want := deployment.Spec.Template.Spec.Containers[0]
	want.Image = csv.Annotations["containerImage"]
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("the manager container differs from config/manager/manager.yaml: run make bundle")
	}
	if got.Image != csv.Spec.RelatedImages[0].Image || !strings.HasSuffix(got.Image, ":v"+csv.Spec.Version.String()) {
		t.Errorf("image %s: want the containerImage annotation, tagged v%s, and listed in relatedImages", got.Image, csv.Spec.Version)
	}

	// alm-examples are the samples.
	examples, err := readExamples(root, DefaultSamples)
	if err != nil {
		t.Fatal(err)
	}
	if csv.Annotations["alm-examples"] != examples {
		t.Errorf("alm-examples differ from config/samples: run make bundle")
	}
}

// TestBundleDeclaresNoDependencies: the Envoy Gateway, AI Gateway and KServe CRDs are detected at run
// time, not required from OLM; the operator runs in every namespace; its CSV says what it creates.
func TestBundleDeclaresNoDependencies(t *testing.T) {
	csv := readCSV(t, csvFile)
	if n := len(csv.Spec.CustomResourceDefinitions.Required); n != 0 {
		t.Errorf("required CRDs: %v", csv.Spec.CustomResourceDefinitions.Required)
	}
	if _, err := os.Stat(bundleDir + "/metadata/dependencies.yaml"); err == nil {
		t.Errorf("bundle/metadata/dependencies.yaml declares dependencies")
	}
	modes := map[operatorsv1alpha1.InstallModeType]bool{}
	for _, m := range csv.Spec.InstallModes {
		modes[m.Type] = m.Supported
	}
	if !modes[operatorsv1alpha1.InstallModeTypeAllNamespaces] || modes[operatorsv1alpha1.InstallModeTypeOwnNamespace] {
		t.Errorf("install modes: %v", modes)
	}
	owned := csv.Spec.CustomResourceDefinitions.Owned
	if len(owned) != 3 {
		t.Fatalf("owned CRDs: %+v", owned)
	}
	for _, o := range owned {
		if o.DisplayName == "" || o.Description == "" || len(o.SpecDescriptors) == 0 || len(o.StatusDescriptors) == 0 || len(o.Resources) == 0 {
			t.Errorf("owned CRD description: %+v", o)
		}
		// Descriptors name fields of the CRD's schema.
		var crd apiextensionsv1.CustomResourceDefinition
		readYAML(t, root+"/config/crd/bases/platform.genai.dev_"+strings.Split(o.Name, ".")[0]+".yaml", &crd)
		schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
		for _, d := range o.SpecDescriptors {
			if !hasPath(schema.Properties["spec"], d.Path) {
				t.Errorf("%s: spec descriptor %s names no field of the CRD", o.Kind, d.Path)
			}
		}
		for _, d := range o.StatusDescriptors {
			if !hasPath(schema.Properties["status"], d.Path) {
				t.Errorf("%s: status descriptor %s names no field of the CRD", o.Kind, d.Path)
			}
		}
	}
	if csv.Annotations["capabilities"] != "Basic Install" {
		t.Errorf("capabilities: %q", csv.Annotations["capabilities"])
	}
}

func hasPath(s apiextensionsv1.JSONSchemaProps, path string) bool {
	for _, part := range strings.Split(path, ".") {
		if s.Type == "array" && s.Items != nil && s.Items.Schema != nil {
			s = *s.Items.Schema
		}
		next, ok := s.Properties[part]
		if !ok {
			return false
		}
		s = next
	}
	return true
}

// setDiff returns what want has and got lacks, and what got has and want lacks (both sorted).
func setDiff(got, want []string) (missing, extra []string) {
	in := func(list []string, s string) bool {
		i := sort.SearchStrings(list, s)
		return i < len(list) && list[i] == s
	}
	for _, w := range want {
		if !in(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !in(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

func ruleSet(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, g+"/"+res+":"+v)
				}
			}
		}
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				out = append(out, u+":"+v)
			}
		}
	}
	sort.Strings(out)
	return out
}

func readCSV(t *testing.T, path string) *operatorsv1alpha1.ClusterServiceVersion {
	t.Helper()
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	readYAML(t, path, csv)
	return csv
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readYAMLDoc reads the first document of the given kind from a multi-document file.
func readYAMLDoc(t *testing.T, path, kind string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := testenv.DecodeObjects(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range objs {
		if u.GetKind() == kind {
			j, _ := json.Marshal(u.Object)
			if err := json.Unmarshal(j, into); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %s in %s", kind, path)
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// kustomizeBuild is `kustomize build config/default` through kustomize's Go API (the pinned binary's
// version, and its legacy order), so that no binary is needed.
func kustomizeBuild(t *testing.T) []byte {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", "default"))
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
	b, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUpgradeGraph: -replaces and -skip-range land in the CSV (spec.replaces, olm.skipRange), the bundle
// they make passes the validators, and the generator refuses a replaces that is not an older version of
// the package and a skipRange that holds the bundle's own version.
func TestUpgradeGraph(t *testing.T) {
	install := kustomizeBuild(t)
	files, err := Generate(Options{Root: root, Install: install, Samples: DefaultSamples, Version: "0.2.0",
		Image: "ghcr.io/genai-platform/genai-platform-operator:v0.2.0", Replaces: packageName + ".v0.1.0", SkipRange: ">=0.1.0 <0.2.0"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	csv := readCSV(t, filepath.Join(dir, "bundle", "manifests", packageName+".clusterserviceversion.yaml"))
	if csv.Name != packageName+".v0.2.0" || csv.Spec.Replaces != packageName+".v0.1.0" || csv.Annotations[skipRangeAnnotation] != ">=0.1.0 <0.2.0" {
		t.Errorf("name %s, replaces %q, skipRange %q", csv.Name, csv.Spec.Replaces, csv.Annotations[skipRangeAnnotation])
	}
	if errs, _ := validate(t, filepath.Join(dir, "bundle")); len(errs) > 0 {
		t.Errorf("the 0.2.0 bundle does not validate: %v", errs)
	}
	for name, opts := range map[string]Options{
		"replaces a newer version":      {Version: "0.2.0", Replaces: packageName + ".v0.3.0"},
		"replaces itself":               {Version: "0.2.0", Replaces: packageName + ".v0.2.0"},
		"replaces another package":      {Version: "0.2.0", Replaces: "other-operator.v0.1.0"},
		"replaces no version":           {Version: "0.2.0", Replaces: packageName + ".vnext"},
		"skipRange holds the version":   {Version: "0.2.0", SkipRange: "<=0.2.0"},
		"skipRange that does not parse": {Version: "0.2.0", SkipRange: "from 0.1.0"},
	} {
		opts.Root, opts.Install, opts.Samples = root, install, DefaultSamples
		if _, err := Generate(opts); err == nil || !strings.Contains(err.Error(), "replaces") && !strings.Contains(err.Error(), skipRangeAnnotation) {
			t.Errorf("%s: want an error about the upgrade graph, got %v", name, err)
		}
	}
}

// TestCreatedAtAndScorecard: the CSV carries the base's createdAt (a fixed time, so that regenerating gives
// the same bytes), and the bundle carries operator-sdk's scorecard configuration where its annotations
// say: the basic and olm suites, each test an entrypoint of the scorecard-test image.
func TestCreatedAtAndScorecard(t *testing.T) {
	csv := readCSV(t, csvFile)
	base := readCSV(t, root+"/config/manifests/bases/"+packageName+".clusterserviceversion.yaml")
	if _, err := time.Parse(time.RFC3339, csv.Annotations["createdAt"]); err != nil || csv.Annotations["createdAt"] != base.Annotations["createdAt"] {
		t.Errorf("createdAt %q: want the CSV base's RFC 3339 time %q (%v)", csv.Annotations["createdAt"], base.Annotations["createdAt"], err)
	}

	var ann struct {
		Annotations map[string]string `json:"annotations"`
	}
	readYAML(t, bundleDir+"/metadata/annotations.yaml", &ann)
	if ann.Annotations["operators.operatorframework.io.test.mediatype.v1"] != "scorecard+v1" {
		t.Errorf("annotations: %v", ann.Annotations)
	}
	b, err := os.ReadFile(filepath.Join(bundleDir, ann.Annotations["operators.operatorframework.io.test.config.v1"], "config.yaml"))
	if err != nil {
		t.Fatalf("the scorecard configuration the annotations name: %v", err)
	}
	var cfg scorecardv1alpha3.Configuration
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.APIVersion != scorecardv1alpha3.GroupVersion.String() || cfg.Kind != scorecardv1alpha3.ConfigurationKind || len(cfg.Stages) != 1 {
		t.Fatalf("scorecard configuration: %+v", cfg)
	}
	var got []string
	for _, test := range cfg.Stages[0].Tests {
		if len(test.Entrypoint) != 2 || test.Entrypoint[0] != "scorecard-test" || test.Image != "quay.io/operator-framework/scorecard-test:v1.42.2" ||
			test.Labels["test"] != test.Entrypoint[1]+"-test" {
			t.Errorf("scorecard test %+v", test)
			continue
		}
		got = append(got, test.Labels["suite"]+"/"+test.Entrypoint[1])
	}
	want := []string{"basic/basic-check-spec", "olm/olm-bundle-validation", "olm/olm-crds-have-validation", "olm/olm-crds-have-resources",
		"olm/olm-spec-descriptors", "olm/olm-status-descriptors"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("scorecard tests %v, want operator-sdk's default %v", got, want)
	}
	dockerfile, err := os.ReadFile(root + "/bundle.Dockerfile")
	if err != nil || !strings.Contains(string(dockerfile), "COPY bundle/tests/scorecard/ /tests/scorecard/") {
		t.Errorf("bundle.Dockerfile does not copy the scorecard configuration: %v", err)
	}
}
