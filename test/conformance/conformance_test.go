// Package conformance proves what a client request turns into at each provider, through the real Envoy AI
// Gateway v1.1.0: the objects the operator renders (controllers/preview, the code of `manager render`) are
// given to the real AI Gateway controller on a real API server, and the filter configuration it writes
// drives the real external processor, called over gRPC exactly as Envoy calls it. Expectations are the
// providers' own APIs (expectations_test.go); the results are the table in docs/providers.md.
package conformance

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/test/envtest"
)

var update = flag.Bool("update", false, "rewrite the generated table of docs/providers.md from the results (make conformance UPDATE=1)")

const (
	aigwVersion     = "v1.1.0"
	gatewayHostname = "llm.conformance.example"
	// Envoy Gateway's namespace, where the controller writes the filter configuration (its default).
	envoyGatewayNamespace = "envoy-gateway-system"
	// The controller's own namespace (POD_NAMESPACE).
	aigwNamespace = "envoy-ai-gateway-system"
)

// aigwPaths finds the AI Gateway binaries built by hack/build-aigw.sh, and skips the test, saying how to
// get them, when they or their source are absent.
func aigwPaths(t *testing.T) (controllerBin, extprocBin, crdDir string) {
	root := envtest.ProjectRoot()
	src := os.Getenv("AIGW_SRC")
	if src == "" {
		src = filepath.Join(root, "..", "shared", "src", "envoy-ai-gateway-"+aigwVersion)
	}
	bin := os.Getenv("AIGW_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin", "aigw")
	}
	controllerBin = filepath.Join(bin, "controller-"+aigwVersion)
	extprocBin = filepath.Join(bin, "extproc-"+aigwVersion)
	how := fmt.Sprintf("git clone --branch %s https://github.com/envoyproxy/ai-gateway /path/to/ai-gateway; export AIGW_SRC=/path/to/ai-gateway; make aigw-build (make test runs it)", aigwVersion)
	if !exists(controllerBin) || !exists(extprocBin) {
		if !exists(filepath.Join(src, "go.mod")) {
			t.Skipf("the Envoy AI Gateway %s source is not at %s and its binaries are not built, so requests cannot be checked through it. To get it: %s", aigwVersion, src, how)
		}
		t.Skipf("the Envoy AI Gateway %s binaries are not built in %s: run make aigw-build (make test runs it); it builds them from %s", aigwVersion, bin, src)
	}
	// The real CRDs: ../shared's copy, else the source's chart (the same files).
	crdDir, upstream := envtest.AIGatewayCRDDir()
	if !upstream {
		crdDir = filepath.Join(src, "manifests", "charts", "ai-gateway-crds-helm", "templates")
		if !exists(crdDir) {
			t.Skipf("the Envoy AI Gateway %s CRDs are neither in ../shared/crds nor in the source at %s. To get it: %s", aigwVersion, src, how)
		}
	}
	return controllerBin, extprocBin, crdDir
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestProviderConformance(t *testing.T) {
	controllerBin, extprocBin, crdDir := aigwPaths(t)
	start := time.Now()
	root := envtest.ProjectRoot()
	unlock := lock(t, filepath.Join(root, "bin", "aigw", ".conformance.lock"))
	defer unlock()
	// The controller binds these whatever its flags say (controller-runtime's metrics server and its
	// rate-limit xDS server): another instance, or anything else there, would make it exit.
	for _, port := range []string{"8080", "18002"} {
		l, err := net.Listen("tcp", ":"+port)
		if err != nil {
			t.Fatalf("port %s is in use; the Envoy AI Gateway controller binds it unconditionally (metrics :8080, rate-limit xDS :18002): %v", port, err)
		}
		_ = l.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()

	// The identities outside the platform, and the fakes that issue their tokens.
	id, red := newIdentities(t, dir)

	// What the operator renders for the test platform, with the test's Secrets.
	secretsFile, err := writeUserSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := renderPlatform(t, secretsFile)
	cases, err := buildCases(r, id)
	if err != nil {
		t.Fatal(err)
	}

	// A real API server with the Gateway API, Envoy Gateway and real AI Gateway CRDs; the AI Gateway
	// controller on it; the rendered objects applied; the filter configuration it writes.
	cl := startCluster(t, crdDir)
	ctrl := startController(t, ctx, cl, controllerBin, dir, id)
	gw := applyRendered(t, ctx, cl, r)
	config := waitForFilterConfig(t, ctx, cl, gw, cases, ctrl, id, red)
	t.Logf("the AI Gateway controller wrote the filter configuration with all %d model backends (%s after start)", len(cases), time.Since(start).Round(time.Second))

	// The external processor on that configuration, called as Envoy calls it.
	sock, epLog := startExtProc(t, ctx, extprocBin, dir, config, id)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := extprocv3.NewExternalProcessorClient(conn)

	var results []result
	n := 0
	for _, bc := range cases {
		for _, col := range columns {
			if !slices.Contains(modelEndpoints[bc.Model], col.Endpoint) {
				continue
			}
			n++
			res := runCase(ctx, client, bc, col, fmt.Sprintf("conformance-%04d", n))
			results = append(results, res)
			name := strings.NewReplacer("/", "_", " ", "_").Replace(fmt.Sprintf("%s@%s/%s", bc.Model, bc.Backend, col))
			t.Run(name, func(t *testing.T) {
				known, isKnown := knownUpstream[bc.Row][col.String()]
				switch {
				case res.NA != "":
					t.Logf("n/a: %s", res.NA)
				case isKnown && res.Err != nil && strings.Contains(res.Err.Error(), known.fails):
					t.Logf("known Envoy AI Gateway v1.1 limitation (%s): %s", known.why, red.Replace(res.Err.Error()))
				case isKnown && res.Err == nil:
					t.Errorf("%s, backend %s: the known limitation %q is gone: remove it from knownUpstream and from docs/providers.md", col, bc.Backend, known.fails)
				case res.Err != nil:
					t.Errorf("%s, backend %s (%s), model %s: %s", col, bc.Backend, bc.Row, bc.Model, red.Replace(res.Err.Error()))
				}
			})
		}
	}
	// Tenants (testdata/tenants.yaml): which client may call which model, and what a response costs.
	t.Run("tenants", func(t *testing.T) { checkTenants(t, ctx, cl, client, r, gw, cases) })
	if t.Failed() {
		t.Logf("external processor log (secrets redacted):\n%s", tail(red.Replace(epLog.String()), 60))
	}
	t.Logf("%d requests through the external processor; %s in all", n, time.Since(start).Round(time.Second))

	sec := section(r.platform, results, red)
	if err := syncDoc(filepath.Join(root, "docs", "providers.md"), sec, *update); err != nil {
		t.Error(err)
	}
}

// lock serialises runs of this test on the machine: the controller's fixed ports allow one at a time.
func lock(t *testing.T, path string) func() {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("another run of the conformance test holds %s", path)
		}
		time.Sleep(time.Second)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }
}

// renderPlatform runs the operator's offline preview on testdata/platform.yaml and its tenants.
func renderPlatform(t *testing.T, secretsFile string) *rendered {
	previews, err := preview.Render(context.Background(), preview.Options{
		Files:       []string{filepath.Join("testdata", "platform.yaml"), filepath.Join("testdata", "tenants.yaml")},
		SecretsFrom: []string{secretsFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(previews) != 1 {
		t.Fatalf("testdata/platform.yaml renders %d platforms, want 1", len(previews))
	}
	pv := previews[0]
	if pv.Facts.Invalid != nil {
		t.Fatalf("the operator refuses the test platform: %s", pv.Facts.Invalid.Message)
	}
	for name, prob := range pv.Facts.Secrets.ProviderProblems {
		t.Fatalf("provider %s is not rendered (%s): %s", name, prob.Reason, prob.Message)
	}
	r := &rendered{platform: pv.Platform, clusters: map[string][]*unstructured.Unstructured{}}
	if r.tierOne, err = toUnstructured(pv.Output.In("")); err != nil {
		t.Fatal(err)
	}
	for _, mc := range pv.Platform.Spec.ModelClusters {
		if r.clusters[mc.Name], err = toUnstructured(pv.Output.In(mc.Name)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func decodeB64(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errors.New("not a string")
	}
	return base64.StdEncoding.DecodeString(s)
}

// writeYAML writes objects as a multi-document YAML file, readable only by the owner (it holds fake
// credentials).
func writeYAML(path string, objs ...any) error {
	var b strings.Builder
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
