package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/api/pkg/validation"
	validator "github.com/operator-framework/api/pkg/validation/interfaces"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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
	if b.CSV == nil || len(b.V1CRDs) != 2 {
		t.Fatalf("the bundle should hold a CSV and the GenAIPlatform and GenAIModel CRDs: %d CRDs", len(b.V1CRDs))
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

// TestBundleIsUpToDate: the committed bundle is exactly what `make bundle` writes from config/ today.
// It needs kustomize (make bundle installs it in bin/); without it, TestBundleMatchesConfig still checks
// the parts that go stale.
func TestBundleIsUpToDate(t *testing.T) {
	kustomize := os.Getenv("KUSTOMIZE")
	if kustomize == "" {
		kustomize = filepath.Join(root, "bin", "kustomize")
	}
	if _, err := os.Stat(kustomize); err != nil {
		if kustomize, err = exec.LookPath("kustomize"); err != nil {
			t.Skip("kustomize not found (make bundle installs it in bin/): TestBundleMatchesConfig checks what it can without it")
		}
	}
	install, err := exec.Command(kustomize, "build", filepath.Join(root, "config/default")).Output()
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
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

// TestBundleMatchesConfig: without kustomize, the bundle's parts that follow config/ still match it:
// the CRD, the manager's RBAC (config/rbac/role.yaml is regenerated by make manifests), the manager
// container, and the examples.
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
	if len(owned) != 2 {
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
