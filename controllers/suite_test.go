package controllers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// The suite runs one real kube-apiserver + etcd with every upstream CRD installed, and one operator
// (the real manager, cache options and controller) against it. Each test works in its own namespace.
var (
	k8s        client.Client      // the test's own client: its writes are not counted
	metricsURL string             // the operator's metrics endpoint
	writes     writeCounter       // every write the operator sends
	logs       testenv.SyncBuffer // everything the operator logs
	testCfg    *rest.Config       // the API server, as its admin
	testCache  cache.Cache        // the operator's cache (what its informers hold)
	testCtx    context.Context
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testenv.SharedDir() == "" {
		fmt.Println("note: ../shared is absent: the Envoy AI Gateway CRDs come from the project's own types")
	}
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test API server:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	scheme := controllers.NewScheme()
	testCfg = cfg
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	metricsAddr, err := freeAddress()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	metricsURL = "http://" + metricsAddr + "/metrics"
	operatorCfg := rest.CopyConfig(cfg)
	operatorCfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt} }
	logger := zap.New(zap.WriteTo(&logs), zap.UseDevMode(true), zap.Level(zapcore.Level(-4)))
	ctrl.SetLogger(logger)
	mgr, err := ctrl.NewManager(operatorCfg, ctrl.Options{
		Scheme:  scheme,
		Cache:   controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: metricsAddr},
		Logger:  logger,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testCache = mgr.GetCache()
	if err := controllers.Setup(mgr, controllers.Options{KeyRotationGrace: 2 * time.Second, DeletionStallAfter: 3 * time.Second, RemoteRequestTimeout: 3 * time.Second, RemoteHealthInterval: time.Second, SelectorRecheck: 2 * time.Second,
		// The tests' own namespaces (newNamespace: test...) and the default model namespace; the write
		// scope test places model clusters elsewhere.
		ModelNamespaces: []string{"test*", "genai-models"}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), logr.Discard()))
	defer cancel()
	testCtx = ctx
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	code := m.Run()
	cancel()
	if code != 0 {
		lines := strings.Split(logs.String(), "\n")
		fmt.Println("--- last operator log lines ---")
		fmt.Println(strings.Join(lines[max(0, len(lines)-60):], "\n"))
	}
	return code
}

// writeCounter counts the operator's write requests (POST, PUT, PATCH, DELETE) to the API server.
type writeCounter struct {
	n     atomic.Int64
	mu    sync.Mutex
	paths []string
}

func (w *writeCounter) add(r *http.Request) {
	w.n.Add(1)
	w.mu.Lock()
	w.paths = append(w.paths, r.Method+" "+r.URL.Path)
	w.mu.Unlock()
}

func (w *writeCounter) addWithQuery(r *http.Request) {
	w.n.Add(1)
	w.mu.Lock()
	w.paths = append(w.paths, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	w.mu.Unlock()
}

func (w *writeCounter) since(start int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.paths[start:]...)
}

func (w *writeCounter) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.paths)
}

type countingTransport struct{ next http.RoundTripper }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		writes.add(r)
	}
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/secrets") {
		secretLists.addWithQuery(r) // a list or watch of Secrets (a get names one)
	}
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/secrets/") {
		secretGets.add(r)
	}
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		if resp.StatusCode == http.StatusConflict {
			conflicts.add(r)
		}
		afterRequest.run(r.Method + " " + r.URL.Path)
	}
	return resp, err
}

// secretGets records the operator's reads of single Secrets.
var secretGets writeCounter

// conflicts records the operator's requests that the API server refused with 409 Conflict.
var conflicts writeCounter

// secretLists records the paths of the operator's lists and watches of Secrets: which namespaces'
// Secrets it watches.
var secretLists writeCounter

// afterRequest holds one-shot hooks run right after the operator's request gets its answer, before the
// operator goes on: they change the cluster at a chosen moment inside a reconcile.
var afterRequest = &requestHooks{hooks: map[string]func(){}}

type requestHooks struct {
	mu    sync.Mutex
	hooks map[string]func()
}

// once runs do after the operator's next request with this method and path ("GET /api/v1/...").
func (h *requestHooks) once(request string, do func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks[request] = do
}

func (h *requestHooks) run(request string) {
	h.mu.Lock()
	do := h.hooks[request]
	delete(h.hooks, request)
	h.mu.Unlock()
	if do != nil {
		do()
	}
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	base := strings.NewReplacer("/", "-", ".", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: base[:min(len(base), 40)] + "-"}}
	if err := k8s.Create(testCtx, ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// freeAddress finds a free loopback port for the operator's metrics endpoint.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, check)
}

// TestRegistryResourcesAreServed: each registered kind's resource is the one the real API server, with
// the upstream CRDs, serves for it (RBAC is written in resources).
func TestRegistryResourcesAreServed(t *testing.T) {
	for _, k := range kinds.All {
		m, err := k8s.RESTMapper().RESTMapping(k.GVK.GroupKind(), k.GVK.Version)
		if err != nil {
			t.Errorf("%s: %v", k.Name(), err)
			continue
		}
		if m.Resource.Resource != k.Resource {
			t.Errorf("%s: registry says resource %q, the API server serves %q", k.Name(), k.Resource, m.Resource.Resource)
		}
	}
}
