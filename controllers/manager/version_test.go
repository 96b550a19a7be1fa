package manager

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// TestVersionMatchesTheBundle: the version a binary reports is the CSV's spec.version, which the bundle
// and the image tag are made from.
func TestVersionMatchesTheBundle(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.ProjectRoot(), "config", "manifests", "bases", "genai-platform-operator.clusterserviceversion.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^  version: (\S+)$`).FindSubmatch(b)
	if m == nil || string(m[1]) != Version {
		t.Errorf("manager.Version is %q, the CSV's spec.version %q", Version, m)
	}
}

// TestVersionFlagAndMetric: `manager --version` prints the version and commit, and the build-info metric
// carries the same version.
func TestVersionFlagAndMetric(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = testenv.ProjectRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("manager --version: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "genai-platform-operator v"+Version+", commit ") {
		t.Errorf("manager --version printed %q", got)
	}
	b := ReadBuildInfo()
	if v := testutil.ToFloat64(buildInfo.WithLabelValues(b.Version, b.Revision, b.GoVersion)); v != 1 {
		t.Errorf("genai_platform_operator_build_info{version=%q} = %v, want 1", b.Version, v)
	}
}
