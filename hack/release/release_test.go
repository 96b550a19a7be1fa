package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/genai-platform/genai-platform-operator/controllers/manager"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

const root = "../.."

// stale is how each test says what to run when a committed artifact is not what the generators write.
const stale = "run make release (it regenerates every artifact of the current version) and commit dist/, bundle/ and bundle.Dockerfile"

// installYAML is what `make build-installer IMG=<image>` writes: config/default through an overlay that
// sets the manager's image, built by kustomize's Go API (the same version as the pinned binary), so that
// the test needs no binary.
func installYAML(t *testing.T, image string) []byte {
	t.Helper()
	dir := t.TempDir()
	configDefault, err := filepath.Abs(filepath.Join(root, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, configDefault)
	if err != nil {
		t.Fatal(err)
	}
	name, tag, _ := strings.Cut(image, ":")
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + rel +
		"\nimages:\n- name: genai-platform-operator\n  newName: " + name + "\n  newTag: " + tag + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	// The kustomize command's default order (legacy: namespaces and CRDs first); the Go API's is none.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	b, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInstallYAMLIsUpToDate: dist/install.yaml, which `kubectl apply --server-side -f <raw URL>` and an Argo
// CD Application read from the repository, is exactly config/default with the release image.
func TestInstallYAMLIsUpToDate(t *testing.T) {
	base, err := ReadBase(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "dist", "install.yaml"))
	if err != nil {
		t.Fatalf("%v: %s", err, stale)
	}
	if want := installYAML(t, base.Image); string(got) != string(want) {
		t.Errorf("dist/install.yaml is not config/default with the image %s: %s", base.Image, stale)
	}
}

// TestReleaseNotesAreUpToDate: dist/RELEASE-NOTES.md is what `release notes` writes from CHANGELOG.md and
// the CSV base.
func TestReleaseNotesAreUpToDate(t *testing.T) {
	want, err := Notes(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, notesFile))
	if err != nil || string(got) != string(want) {
		t.Errorf("%s is not what hack/release writes (%v): %s", notesFile, err, stale)
	}
	base, _ := ReadBase(root)
	log, err := os.ReadFile(filepath.Join(root, changelog))
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := Section(log, base.Version.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"# genai-platform-operator v" + base.Version.String(), base.Image, "/v" + base.Version.String() + "/dist/install.yaml", "## Changes\n\n" + body + "\n"} {
		if !strings.Contains(string(want), s) {
			t.Errorf("the release notes do not say %q", s)
		}
	}
}

// TestArtifactsAreOneVersion: every committed artifact names the CSV base's version and image: the
// binary's version, dist/install.yaml, the bundle, the chart, the catalog and the community-operators copy.
func TestArtifactsAreOneVersion(t *testing.T) {
	base, err := ReadBase(root)
	if err != nil {
		t.Fatal(err)
	}
	v := base.Version.String()
	if base.Image != "ghcr.io/genai-platform/genai-platform-operator:v"+v {
		t.Errorf("the CSV base's image is %s, want the release image ghcr.io/genai-platform/genai-platform-operator:v%s", base.Image, v)
	}
	if manager.Version != v {
		t.Errorf("manager.Version %s, the CSV base's version %s", manager.Version, v)
	}

	objs, err := testenv.ReadObjects(filepath.Join(root, "dist", "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	images := 0
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			images++
			if c.Image != base.Image {
				t.Errorf("dist/install.yaml: container %s runs %s, want %s", c.Name, c.Image, base.Image)
			}
		}
	}
	if images != 1 {
		t.Errorf("dist/install.yaml has %d containers, want the manager's", images)
	}

	for _, csvPath := range []string{
		"bundle/manifests/" + packageName + ".clusterserviceversion.yaml",
		"dist/community-operators/" + packageName + "/" + v + "/manifests/" + packageName + ".clusterserviceversion.yaml",
	} {
		var csv operatorsv1alpha1.ClusterServiceVersion
		readYAML(t, filepath.Join(root, csvPath), &csv)
		if csv.Spec.Version.String() != v || csv.Annotations["containerImage"] != base.Image || csv.Spec.Replaces != base.Replaces {
			t.Errorf("%s: version %s, image %s, replaces %q; want %s, %s, %q: %s", csvPath, csv.Spec.Version, csv.Annotations["containerImage"], csv.Spec.Replaces, v, base.Image, base.Replaces, stale)
		}
	}

	var chart struct {
		Version, AppVersion string
	}
	readYAML(t, filepath.Join(root, "dist", "chart", "Chart.yaml"), &chart)
	var values struct {
		Image struct{ Repository, Tag string }
	}
	readYAML(t, filepath.Join(root, "dist", "chart", "values.yaml"), &values)
	if chart.Version != v || chart.AppVersion != "v"+v || values.Image.Repository+":"+values.Image.Tag != base.Image {
		t.Errorf("dist/chart: version %s, appVersion %s, image %s:%s; want %s, v%s, %s: %s", chart.Version, chart.AppVersion, values.Image.Repository, values.Image.Tag, v, v, base.Image, stale)
	}

	catalog, err := os.ReadFile(filepath.Join(root, "dist", "catalog", packageName, "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	repo, _, _ := strings.Cut(base.Image, ":")
	for _, s := range []string{"name: " + packageName + ".v" + v + "\n", "image: " + repo + "-bundle:v" + v + "\n"} {
		if !strings.Contains(string(catalog), s) {
			t.Errorf("dist/catalog does not hold %q: %s", strings.TrimSpace(s), stale)
		}
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: %s", err, stale)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// copyRelease copies the files Prepare edits into a new root.
func copyRelease(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{csvBase, versionGo, changelog} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPrepare: a new version becomes the CSV base's (version, image tag, createdAt, replaces, skipRange),
// manager.Version's and a CHANGELOG.md section made of the Unreleased one, and the notes of that version
// can be written; the current version changes nothing; an older one is refused.
func TestPrepare(t *testing.T) {
	dir := copyRelease(t)
	cur, err := ReadBase(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, f := range []string{csvBase, versionGo, changelog} {
		before[f] = readFile(t, filepath.Join(dir, f))
	}
	if _, err := Prepare(dir, cur.Version.String(), time.Now(), ""); err != nil {
		t.Fatalf("the current version: %v", err)
	}
	for f, b := range before {
		if readFile(t, filepath.Join(dir, f)) != b {
			t.Errorf("preparing the current version changed %s", f)
		}
	}
	if _, err := Prepare(dir, "0.0.1", time.Now(), ""); err == nil {
		t.Errorf("an older version is not refused")
	}

	// Something to release, in place of what the project's Unreleased section holds now.
	log := readFile(t, filepath.Join(dir, changelog))
	if pending, err := unreleasedBody([]byte(log)); err != nil {
		t.Fatal(err)
	} else {
		log = strings.Replace(log, unreleased+"\n"+pending, unreleased+"\n\n- Something new.\n\n", 1)
	}
	if err := os.WriteFile(filepath.Join(dir, changelog), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	next := cur.Version
	next.Minor++
	when := time.Date(2027, 1, 15, 10, 0, 0, 0, time.UTC)
	if _, err := Prepare(dir, next.String(), when, ""); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBase(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Version.Equals(next) || got.Image != "ghcr.io/genai-platform/genai-platform-operator:v"+next.String() || !got.CreatedAt.Equal(when) ||
		got.Replaces != packageName+".v"+cur.Version.String() || got.SkipRange != "" {
		t.Errorf("CSV base after preparing v%s: %+v", next, got)
	}
	if code := readFile(t, filepath.Join(dir, versionGo)); !strings.Contains(code, `var Version = "`+next.String()+`"`) {
		t.Errorf("%s not bumped", versionGo)
	}
	log = readFile(t, filepath.Join(dir, changelog))
	date, body, err := Section([]byte(log), next.String())
	if err != nil || date != "2027-01-15" || body != "- Something new." {
		t.Errorf("changelog section of v%s: %q %q %v", next, date, body, err)
	}
	if b, _ := unreleasedBody([]byte(log)); strings.TrimSpace(b) != "" {
		t.Errorf("the Unreleased section is not emptied: %q", b)
	}
	if _, body, err := Section([]byte(log), cur.Version.String()); err != nil || body == "" {
		t.Errorf("the v%s section is lost: %v", cur.Version, err)
	}
	notes, err := Notes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(notes), "- Something new.") || !strings.Contains(string(notes), "The bundle replaces `"+packageName+".v"+cur.Version.String()+"`") {
		t.Errorf("notes of v%s:\n%s", next, notes)
	}

	// The one after: a skip range, which the next one drops again.
	after := next
	after.Minor++
	log = strings.Replace(log, unreleased+"\n", unreleased+"\n\n- Another.\n", 1)
	if err := os.WriteFile(filepath.Join(dir, changelog), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(dir, after.String(), when, "<="+after.String()); err == nil {
		t.Errorf("a skip range holding the version itself is not refused")
	}
	rng := ">=" + cur.Version.String() + " <" + after.String()
	if _, err := Prepare(dir, after.String(), when, rng); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadBase(dir); got.Replaces != packageName+".v"+next.String() || got.SkipRange != rng {
		t.Errorf("CSV base after preparing v%s with a skip range: %+v", after, got)
	}
	if csv := readFile(t, filepath.Join(dir, csvBase)); strings.Count(csv, "replaces:") != 1 || strings.Count(csv, "olm.skipRange:") != 1 {
		t.Errorf("replaces or olm.skipRange written twice:\n%s", csv)
	}
}

// TestDraft: an empty Unreleased section is drafted from the subjects of the commits since the previous
// version's tag, oldest first (a repository of its own, so the test does not depend on this one's history).
func TestDraft(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("commit", "-q", "--allow-empty", "-m", "Before the release")
	git("tag", "v0.1.0")
	git("commit", "-q", "--allow-empty", "-m", "First change")
	git("commit", "-q", "--allow-empty", "-m", "Second change\n\nwith a body")
	if d, err := Draft(dir, "v0.1.0"); err != nil || d != "- First change\n- Second change\n" {
		t.Errorf("since v0.1.0: %q %v", d, err)
	}
	if d, err := Draft(dir, "v0.0.9"); err != nil || d != "- Before the release\n- First change\n- Second change\n" {
		t.Errorf("with no tag: %q %v", d, err)
	}
	git("tag", "v0.2.0")
	if _, err := Draft(dir, "v0.2.0"); err == nil {
		t.Errorf("nothing since the tag: no error")
	}
}
