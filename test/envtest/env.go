// Package envtest starts a real kube-apiserver + etcd (built by hack/build-control-plane.sh) with every CRD
// the operator writes installed from its real upstream source, so that the API server validates each object
// the operator produces exactly as a production cluster would.
package envtest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/genai-platform/genai-platform-operator/controllers"
)

// Upstream versions of the CRDs the tests install. Envoy AI Gateway v1.1 needs Envoy Gateway v1.8.1 or
// newer with Gateway API v1.5+ (bundled in Envoy Gateway's chart). The tests use Envoy Gateway v1.9.1:
// v1.8.1's BackendTrafficPolicy CRD declares rateLimit...limit.requests as an int32 with a maximum of
// 4294967295, which kube-apiserver 1.37 refuses for every rate-limit rule (the upstream token_ratelimit
// example included); v1.9.1 fixes the schema.
const (
	EnvoyGatewayModule = "github.com/envoyproxy/gateway@v1.9.1"
	KServeModule       = "github.com/kserve/kserve@v0.20.0"
	K8sVersion         = "1.37.2"
)

// ProjectRoot is the repository root, found from this file's location.
func ProjectRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir is ../shared next to the project checkout; empty when absent.
func SharedDir() string {
	d := filepath.Join(ProjectRoot(), "..", "shared")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// AIGatewayCRDDir is where the Envoy AI Gateway CRDs come from: the real v1.1.0 CRDs in ../shared when it
// exists, else the CRDs generated from the project's own v1beta1 types (make manifests).
func AIGatewayCRDDir() (dir string, real bool) {
	if s := SharedDir(); s != "" {
		return filepath.Join(s, "crds", "envoy-ai-gateway-v1.1.0"), true
	}
	return filepath.Join(ProjectRoot(), "bin", "crds", "aigateway"), false
}

var moduleDirs sync.Map

// ModuleDir downloads a module through the Go module proxy (or finds it in the module cache) without
// touching go.mod, and returns its directory.
func ModuleDir(modAtVersion string) (string, error) {
	if d, ok := moduleDirs.Load(modAtVersion); ok {
		return d.(string), nil
	}
	cmd := exec.Command("go", "mod", "download", "-json", modAtVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", modAtVersion, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s %v", modAtVersion, info.Error, err)
	}
	moduleDirs.Store(modAtVersion, info.Dir)
	return info.Dir, nil
}

// CRDPaths lists every CRD directory or file the operator's tests install.
func CRDPaths() ([]string, error) {
	eg, err := ModuleDir(EnvoyGatewayModule)
	if err != nil {
		return nil, err
	}
	ks, err := ModuleDir(KServeModule)
	if err != nil {
		return nil, err
	}
	ai, _ := AIGatewayCRDDir()
	egCRDs := filepath.Join(eg, "charts", "gateway-helm", "charts", "crds", "crds")
	return []string{
		filepath.Join(ProjectRoot(), "config", "crd", "bases"),
		filepath.Join(egCRDs, "gatewayapi-crds.yaml"),
		filepath.Join(egCRDs, "generated"),
		filepath.Join(ks, "config", "crd", "full"),
		// KServe's LLMInferenceService (envtest does not recurse into config/crd/full/llmisvc), and the
		// Gateway API Inference Extension CRDs KServe v0.20 installs with its LLM controller
		// (config/llmisvc/kustomization.yaml): InferencePool inference.networking.k8s.io/v1 (bundle
		// v1.5.0-rc.2), InferencePool inference.networking.x-k8s.io/v1alpha2, and llm-d's
		// InferenceObjective and InferenceModelRewrite.
		filepath.Join(ks, "config", "crd", "full", "llmisvc", "serving.kserve.io_llminferenceservices.yaml"),
		filepath.Join(ks, "config", "llmisvc", "gateway-inference-extension.yaml"),
		ai,
	}, nil
}

// BinaryDir is where hack/build-control-plane.sh caches kube-apiserver and etcd.
func BinaryDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(ProjectRoot(), "bin", "k8s", K8sVersion+"-linux-amd64")
}

// New returns an environment with every CRD installed; Start it, Stop it when done.
func New() (*envtest.Environment, error) {
	paths, err := CRDPaths()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(BinaryDir(), "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("kube-apiserver not built in %s: run make test (it runs hack/build-control-plane.sh)", BinaryDir())
	}
	return &envtest.Environment{
		BinaryAssetsDirectory: BinaryDir(),
		CRDDirectoryPaths:     paths,
		ErrorIfCRDPathMissing: true,
	}, nil
}

// Start is New followed by Start.
func Start() (*envtest.Environment, *rest.Config, error) {
	env, err := New()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		// A failed start (a CRD refused, say) may leave etcd and kube-apiserver running: stop them.
		_ = env.Stop()
		return nil, nil, err
	}
	return env, cfg, nil
}

// StartWithAdmin starts an environment, stopped when the test ends, and returns its config and an admin
// client that knows the operator's kinds and CRDs.
func StartWithAdmin(t testing.TB, env *envtest.Environment) (*rest.Config, client.Client) {
	t.Helper()
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := controllers.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, admin
}
