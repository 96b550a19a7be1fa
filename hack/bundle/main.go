// Command bundle writes the operator's OLM bundle (bundle/manifests, bundle/metadata, bundle.Dockerfile)
// from the project's own sources, reproducibly (same inputs, same bytes), without operator-sdk:
//
//   - config/manifests/bases/genai-platform-operator.clusterserviceversion.yaml: the hand-written CSV
//     (description, descriptors, install modes, version, operator image);
//   - config/manifests/icon.svg: the icon;
//   - config/samples: the GenAIPlatform examples (alm-examples);
//   - scorecard.yaml (embedded): operator-sdk's standard scorecard tests (basic and olm suites), written to
//     bundle/tests/scorecard/config.yaml;
//   - the operator's installation, `kustomize build config/default` on stdin (or -install): the CRD,
//     the manager Deployment, and the RBAC bound to its ServiceAccount, which become the CSV's install
//     strategy; the other Services and ClusterRoles ride along as extra bundle manifests.
//
// The upgrade graph comes from the CSV base too: spec.replaces names the CSV this one replaces, the
// olm.skipRange annotation the versions it may replace directly; -replaces and -skip-range override
// them. createdAt is the base's (`make release` sets it when the version changes), so that the bundle is
// the same bytes whenever it is regenerated.
//
// Usage: kustomize build config/default | go run ./hack/bundle [-version 0.2.0] [-image IMG]
//
//	[-replaces genai-platform-operator.v0.1.0] [-skip-range '>=0.1.0 <0.2.0']
package main

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

const (
	packageName = "genai-platform-operator"
	// channel: OLM's naming convention (candidate, fast, stable); a v1alpha1 API is a candidate.
	channel = "candidate"
	// managerContainer is the container of the manager Deployment whose image the bundle pins.
	managerContainer = "manager"
	// skipRangeAnnotation is OLM's annotation for the versions a CSV may replace directly.
	skipRangeAnnotation = "olm.skipRange"
	// scorecardDir is where the bundle carries its scorecard configuration (operator-sdk's layout).
	scorecardDir = "tests/scorecard/"
)

// scorecardConfig is operator-sdk's default scorecard configuration (`operator-sdk init` scaffolds it in
// config/scorecard): the basic suite and the olm suite, run by `operator-sdk scorecard <bundle>`.
//
//go:embed scorecard.yaml
var scorecardConfig []byte

// Options are the generator's inputs, relative to the repository root.
type Options struct {
	Root    string   // repository root
	Install []byte   // `kustomize build config/default`
	Version string   // CSV version; empty: the base's spec.version
	Image   string   // operator image; empty: the base's containerImage annotation
	Samples []string // files holding the GenAIPlatform examples
	// Replaces is the CSV this one replaces (spec.replaces); empty: the base's.
	Replaces string
	// SkipRange is the olm.skipRange annotation, a semver range of versions this one replaces directly;
	// empty: the base's.
	SkipRange string
}

// DefaultSamples are the examples shown in OperatorHub (alm-examples).
var DefaultSamples = []string{
	"config/samples/platform_v1alpha1_genaiplatform.yaml",
	"config/samples/platform_v1alpha1_genaiplatform_selfhosted.yaml",
	"config/samples/platform_v1alpha1_genaimodel.yaml",
	"config/samples/platform_v1alpha1_genaitenant.yaml",
}

func main() {
	var opts Options
	var install, out string
	flag.StringVar(&opts.Root, "root", ".", "repository root")
	flag.StringVar(&install, "install", "-", "`kustomize build config/default` output, - for stdin")
	flag.StringVar(&opts.Version, "version", "", "bundle version (default: spec.version of the CSV base)")
	flag.StringVar(&opts.Image, "image", "", "operator image (default: the containerImage annotation of the CSV base)")
	flag.StringVar(&opts.Replaces, "replaces", "", "the CSV this one replaces, "+packageName+".vX.Y.Z (default: spec.replaces of the CSV base)")
	flag.StringVar(&opts.SkipRange, "skip-range", "", "olm.skipRange, the versions this one replaces directly, e.g. '>=0.1.0 <0.2.0' (default: the CSV base's)")
	flag.StringVar(&out, "out", "", "directory the bundle/ directory and bundle.Dockerfile are written to (default: -root)")
	flag.Parse()
	opts.Samples = DefaultSamples
	var err error
	if install == "-" {
		opts.Install, err = io.ReadAll(os.Stdin)
	} else {
		opts.Install, err = os.ReadFile(install)
	}
	if err == nil && len(bytes.TrimSpace(opts.Install)) == 0 {
		err = errors.New("no installation manifests: pipe `kustomize build config/default` in")
	}
	if err == nil {
		var files map[string][]byte
		if files, err = Generate(opts); err == nil {
			if out == "" {
				out = opts.Root
			}
			err = Write(out, files)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

// Write replaces out/bundle with files (paths relative to out) and writes bundle.Dockerfile.
func Write(out string, files map[string][]byte) error {
	if err := os.RemoveAll(filepath.Join(out, "bundle")); err != nil {
		return err
	}
	for name, b := range files {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Generate returns the bundle's files by path: bundle/manifests/*, bundle/metadata/annotations.yaml,
// bundle.Dockerfile and bundle.Dockerfile.dockerignore.
func Generate(opts Options) (map[string][]byte, error) {
	csv, err := readBase(filepath.Join(opts.Root, "config/manifests/bases", packageName+".clusterserviceversion.yaml"))
	if err != nil {
		return nil, err
	}
	if opts.Version != "" {
		v, err := semver.Parse(opts.Version)
		if err != nil {
			return nil, fmt.Errorf("version %q: %w", opts.Version, err)
		}
		csv.Spec.Version = version.OperatorVersion{Version: v}
	}
	if csv.Spec.Version.String() == "0.0.0" {
		return nil, errors.New("no version: set spec.version in the CSV base or pass -version")
	}
	csv.Name = packageName + ".v" + csv.Spec.Version.String()
	if opts.Image != "" {
		csv.Annotations["containerImage"] = opts.Image
	}
	image := csv.Annotations["containerImage"]
	if image == "" {
		return nil, errors.New("no operator image: set the containerImage annotation of the CSV base or pass -image")
	}
	if opts.Replaces != "" {
		csv.Spec.Replaces = opts.Replaces
	}
	if opts.SkipRange != "" {
		csv.Annotations[skipRangeAnnotation] = opts.SkipRange
	}
	if err := checkUpgradeGraph(csv); err != nil {
		return nil, err
	}
	if _, err := time.Parse(time.RFC3339, csv.Annotations["createdAt"]); err != nil {
		return nil, fmt.Errorf("the CSV base's createdAt annotation %q is not an RFC 3339 time (make release sets it): %w", csv.Annotations["createdAt"], err)
	}

	icon, err := os.ReadFile(filepath.Join(opts.Root, "config/manifests/icon.svg"))
	if err != nil {
		return nil, err
	}
	csv.Spec.Icon = []operatorsv1alpha1.Icon{{Data: base64.StdEncoding.EncodeToString(icon), MediaType: "image/svg+xml"}}

	examples, err := readExamples(opts.Root, opts.Samples)
	if err != nil {
		return nil, err
	}
	csv.Annotations["alm-examples"] = examples

	objs, err := testenv.DecodeObjects(opts.Install)
	if err != nil {
		return nil, fmt.Errorf("installation manifests: %w", err)
	}
	files := map[string][]byte{}
	extra, err := installStrategy(csv, objs, image)
	if err != nil {
		return nil, err
	}
	for _, u := range extra {
		name, b, err := manifestFile(u)
		if err != nil {
			return nil, err
		}
		files["bundle/manifests/"+name] = b
	}
	csvYAML, err := marshalCSV(csv)
	if err != nil {
		return nil, err
	}
	files["bundle/manifests/"+packageName+".clusterserviceversion.yaml"] = csvYAML

	annotations := bundleAnnotations()
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ann, labels strings.Builder
	ann.WriteString("annotations:\n")
	for _, k := range keys {
		fmt.Fprintf(&ann, "  %s: %s\n", k, annotations[k])
		fmt.Fprintf(&labels, "LABEL %s=%s\n", k, annotations[k])
	}
	files["bundle/metadata/annotations.yaml"] = []byte(ann.String())
	files["bundle/"+scorecardDir+"config.yaml"] = scorecardConfig
	files["bundle.Dockerfile"] = []byte("# The operator's OLM bundle image. Generated by `make bundle` (hack/bundle): do not edit.\n" +
		"# Build: make bundle-build BUNDLE_IMG=...\nFROM scratch\n\n" + labels.String() +
		"\nCOPY bundle/manifests /manifests/\nCOPY bundle/metadata /metadata/\nCOPY bundle/" + scorecardDir + " /" + scorecardDir + "\n")
	// The repository's .dockerignore admits only the manager's sources; BuildKit reads this one instead
	// for bundle.Dockerfile.
	files["bundle.Dockerfile.dockerignore"] = []byte("# Generated by `make bundle` (hack/bundle): the bundle image holds bundle/ only.\n*\n!bundle/\n")
	return files, nil
}

func bundleAnnotations() map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         packageName,
		"operators.operatorframework.io.bundle.channels.v1":        channel,
		"operators.operatorframework.io.bundle.channel.default.v1": channel,
		// Where `operator-sdk scorecard` finds its configuration in the bundle.
		"operators.operatorframework.io.test.mediatype.v1": "scorecard+v1",
		"operators.operatorframework.io.test.config.v1":    scorecardDir,
	}
}

// checkUpgradeGraph: spec.replaces names an older CSV of this package, and olm.skipRange is a semver
// range that does not hold this version (OLM would otherwise offer the bundle as an upgrade of itself).
func checkUpgradeGraph(csv *operatorsv1alpha1.ClusterServiceVersion) error {
	v := csv.Spec.Version.Version
	if r := csv.Spec.Replaces; r != "" {
		old, ok := strings.CutPrefix(r, packageName+".v")
		if !ok {
			return fmt.Errorf("replaces %q: want %s.vX.Y.Z", r, packageName)
		}
		ov, err := semver.Parse(old)
		if err != nil {
			return fmt.Errorf("replaces %q: %w", r, err)
		}
		if !ov.LT(v) {
			return fmt.Errorf("replaces %q: not older than %s", r, v)
		}
	}
	if s, ok := csv.Annotations[skipRangeAnnotation]; ok {
		inRange, err := semver.ParseRange(s)
		if err != nil {
			return fmt.Errorf("%s %q: %w", skipRangeAnnotation, s, err)
		}
		if inRange(v) {
			return fmt.Errorf("%s %q holds the bundle's own version %s", skipRangeAnnotation, s, v)
		}
	}
	return nil
}

func readBase(path string) (*operatorsv1alpha1.ClusterServiceVersion, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := yaml.UnmarshalStrict(b, csv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if csv.Annotations == nil {
		csv.Annotations = map[string]string{}
	}
	return csv, nil
}

// readExamples returns the GenAIPlatforms of the sample files as a JSON array, without namespaces (the
// console creates them in the namespace the user is in).
func readExamples(root string, files []string) (string, error) {
	var examples []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", err
		}
		objs, err := testenv.DecodeObjects(b)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		for _, u := range objs {
			if u.GetKind() != "GenAIPlatform" {
				continue
			}
			unstructured.RemoveNestedField(u.Object, "metadata", "namespace")
			examples = append(examples, u.Object)
		}
	}
	if len(examples) == 0 {
		return "", errors.New("no GenAIPlatform in the samples")
	}
	b, err := json.MarshalIndent(examples, "", "  ")
	return string(b), err
}

// installStrategy fills the CSV's deployment install strategy and owned CRD check from the installation
// and returns the objects that travel as extra bundle manifests (the CRD, Services, ClusterRoles not bound
// to the manager). OLM creates the namespace, the ServiceAccount and the bindings itself.
func installStrategy(csv *operatorsv1alpha1.ClusterServiceVersion, objs []*unstructured.Unstructured, image string) ([]*unstructured.Unstructured, error) {
	var deployments []appsv1.Deployment
	clusterRoles := map[string]*unstructured.Unstructured{}
	roles := map[string]*unstructured.Unstructured{}
	type binding struct {
		subjects []rbacv1.Subject
		roleRef  rbacv1.RoleRef
		cluster  bool
	}
	var allBindings []binding
	var extra []*unstructured.Unstructured
	for _, u := range objs {
		switch u.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
				return nil, err
			}
			deployments = append(deployments, d)
		case "ClusterRole":
			clusterRoles[u.GetName()] = u
		case "Role":
			roles[u.GetName()] = u
		case "ClusterRoleBinding", "RoleBinding":
			var b rbacv1.RoleBinding // same fields as a ClusterRoleBinding
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
				return nil, err
			}
			allBindings = append(allBindings, binding{subjects: b.Subjects, roleRef: b.RoleRef, cluster: u.GetKind() == "ClusterRoleBinding"})
		case "CustomResourceDefinition", "Service":
			extra = append(extra, u)
		case "Namespace", "ServiceAccount":
		default:
			return nil, fmt.Errorf("%s %s: no place for this kind in the bundle", u.GetKind(), u.GetName())
		}
	}
	if len(deployments) != 1 {
		return nil, fmt.Errorf("want the manager Deployment only, found %d Deployments", len(deployments))
	}
	d := deployments[0]
	sa := d.Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		return nil, fmt.Errorf("the Deployment %s has no serviceAccountName", d.Name)
	}
	found := false
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == managerContainer {
			d.Spec.Template.Spec.Containers[i].Image = image
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("the Deployment %s has no container %q", d.Name, managerContainer)
	}

	// The rules of every role bound to the manager's ServiceAccount, in the order of the role names.
	var clusterRules, nsRules []rbacv1.PolicyRule
	bound := map[string]bool{}
	sort.Slice(allBindings, func(i, j int) bool { return allBindings[i].roleRef.Name < allBindings[j].roleRef.Name })
	for _, b := range allBindings {
		if !bindsServiceAccount(b.subjects, sa) {
			continue
		}
		var role *unstructured.Unstructured
		if b.roleRef.Kind == "ClusterRole" {
			role = clusterRoles[b.roleRef.Name]
		} else {
			role = roles[b.roleRef.Name]
		}
		if role == nil {
			return nil, fmt.Errorf("a binding of %s refers to the missing %s %s", sa, b.roleRef.Kind, b.roleRef.Name)
		}
		rules, err := policyRules(role)
		if err != nil {
			return nil, err
		}
		bound[b.roleRef.Kind+"/"+b.roleRef.Name] = true
		if b.cluster {
			clusterRules = append(clusterRules, rules...)
		} else {
			nsRules = append(nsRules, rules...)
		}
	}
	if len(clusterRules) == 0 {
		return nil, fmt.Errorf("no ClusterRole is bound to the ServiceAccount %s", sa)
	}
	for name := range roles {
		if !bound["Role/"+name] {
			return nil, fmt.Errorf("the Role %s is not bound to the manager's ServiceAccount: OLM would not create it", name)
		}
	}
	names := make([]string, 0, len(clusterRoles))
	for name := range clusterRoles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !bound["ClusterRole/"+name] {
			extra = append(extra, clusterRoles[name])
		}
	}

	strategy := operatorsv1alpha1.StrategyDetailsDeployment{
		DeploymentSpecs:    []operatorsv1alpha1.StrategyDeploymentSpec{{Name: d.Name, Label: d.Labels, Spec: d.Spec}},
		ClusterPermissions: []operatorsv1alpha1.StrategyDeploymentPermissions{{ServiceAccountName: sa, Rules: clusterRules}},
	}
	if len(nsRules) > 0 {
		strategy.Permissions = []operatorsv1alpha1.StrategyDeploymentPermissions{{ServiceAccountName: sa, Rules: nsRules}}
	}
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment, StrategySpec: strategy}
	csv.Spec.RelatedImages = []operatorsv1alpha1.RelatedImage{{Name: managerContainer, Image: image}}

	for _, u := range extra {
		// OLM places namespaced extras in the operator's namespace.
		u.SetNamespace("")
	}
	return extra, nil
}

func bindsServiceAccount(subjects []rbacv1.Subject, sa string) bool {
	for _, s := range subjects {
		if s.Kind == "ServiceAccount" && s.Name == sa {
			return true
		}
	}
	return false
}

func policyRules(role *unstructured.Unstructured) ([]rbacv1.PolicyRule, error) {
	var r rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &r); err != nil {
		return nil, err
	}
	if r.AggregationRule != nil {
		return nil, fmt.Errorf("%s %s aggregates other roles: OLM cannot install that as a permission", role.GetKind(), role.GetName())
	}
	return r.Rules, nil
}

// manifestFile names an extra manifest as operator-sdk does: <name>_<group>_<version>_<kind>.yaml, the
// CRD as <group>_<plural>.yaml.
func manifestFile(u *unstructured.Unstructured) (string, []byte, error) {
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		return "", nil, err
	}
	gvk := u.GroupVersionKind()
	if gvk.Kind == "CustomResourceDefinition" {
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
		return group + "_" + plural + ".yaml", b, nil
	}
	parts := []string{u.GetName()}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	parts = append(parts, gvk.Version, strings.ToLower(gvk.Kind))
	return strings.Join(parts, "_") + ".yaml", b, nil
}

// marshalCSV writes the CSV without the empty status and creationTimestamp a typed object carries.
func marshalCSV(csv *operatorsv1alpha1.ClusterServiceVersion) ([]byte, error) {
	csv.APIVersion = operatorsv1alpha1.SchemeGroupVersion.String()
	csv.Kind = operatorsv1alpha1.ClusterServiceVersionKind
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(csv)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	removeNulls(m)
	return yaml.Marshal(m)
}

// removeNulls drops null values (creationTimestamp: null in the deployment's pod template, and such).
func removeNulls(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil {
				delete(v, k)
				continue
			}
			removeNulls(x)
		}
	case []any:
		for _, x := range v {
			removeNulls(x)
		}
	}
}
