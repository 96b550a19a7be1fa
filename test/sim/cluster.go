// Package sim runs a simulated GPU cluster on this machine, loopback only, with no container: a real
// control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), kwok faking GPU nodes
// and the pods scheduled on them, the real Envoy Gateway controller, the real KServe manager and KServe
// LLMInferenceService controller, and the real Envoy AI Gateway controller, with their CRDs and
// configuration. The binaries are built once by hack/build-sim.sh and hack/build-aigw.sh into bin/. The
// Envoy AI Gateway controller is not served by the Go module proxy: it is built from its source when that
// is there (AIGW_SRC), else the cluster runs without it, with its CRDs, and says so
// (Cluster.AIGatewayAbsent).
//
// There is no data plane: Envoy and model server pods are kwok's fakes. What is real is every controller's
// reading of the objects: acceptance, programming, scheduling, readiness, garbage collection.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// Versions of the upstream controllers the cluster runs (hack/build-sim.sh builds the same ones).
const (
	KwokVersion         = "v0.8.0"
	EnvoyGatewayVersion = "v1.9.1"
	KServeVersion       = "v0.20.0"
)

// Options configure a cluster.
type Options struct {
	// StateDir holds the cluster's kubeconfig, certificates, configuration and logs. It is emptied at
	// start. Required, absolute.
	StateDir string
	// NodePools is the node pools file; default test/sim/nodepools.yaml.
	NodePools string
	// BinDir holds kwok, envoy-gateway, kserve-manager and kserve-llmisvc; default bin/sim.
	BinDir string
	// K8sBinDir holds etcd, kube-apiserver, kube-controller-manager and kube-scheduler; default
	// bin/k8s/<version>-linux-amd64.
	K8sBinDir string
	// AIGatewayBinDir holds the Envoy AI Gateway controller built by hack/build-aigw.sh; default $AIGW_BIN,
	// else bin/aigw.
	AIGatewayBinDir string
	// AIGatewayCRDDir holds the Envoy AI Gateway CRDs to install; default AIGatewayCRDs() ($AIGW_CRDS).
	AIGatewayCRDDir string
	// Out receives progress lines; nil: discarded.
	Out io.Writer
}

// Cluster is a running simulated cluster.
type Cluster struct {
	Options
	// Kubeconfig is the path of an admin (system:masters) kubeconfig.
	Kubeconfig string
	// Config is the admin REST config; Client an admin client with the package's scheme.
	Config *rest.Config
	Client client.Client

	env     *envtest.Environment
	sockDir string
	mu      sync.Mutex
	procs   []*proc
	cancel  context.CancelFunc
	bg      sync.WaitGroup
	started time.Time
	// watchdog ends the cluster's processes should this process die without Stop.
	watchdog *os.Process
	// Timings records how long each start-up step took.
	Timings []Timing
	// AIGateway is true when the Envoy AI Gateway controller runs; otherwise AIGatewayAbsent says why
	// (its source is absent) and how to get it.
	AIGateway       bool
	AIGatewayAbsent string
	// restarts of the supervised processes (the Envoy AI Gateway controller).
	restarts []Restart
	// The LLMInferenceService controller's webhook CA and relay port (prepareLLMISVC).
	llmisvcCA   []byte
	llmisvcPort int
}

// Timing is how long one step of the start-up took.
type Timing struct {
	Step     string
	Duration time.Duration
}

func (c *Cluster) logf(format string, args ...any) {
	if c.Out != nil {
		fmt.Fprintf(c.Out, format+"\n", args...)
	}
}

func (c *Cluster) step(name string, f func() error) error {
	start := time.Now()
	c.logf(">> %s", name)
	err := f()
	c.Timings = append(c.Timings, Timing{Step: name, Duration: time.Since(start)})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Start builds nothing: it starts a cluster from the binaries hack/build-sim.sh built. On error, what
// was started is stopped.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if !filepath.IsAbs(opts.StateDir) {
		return nil, fmt.Errorf("state dir %q must be absolute", opts.StateDir)
	}
	root := testenv.ProjectRoot()
	if opts.NodePools == "" {
		opts.NodePools = filepath.Join(root, "test", "sim", "nodepools.yaml")
	}
	if opts.BinDir == "" {
		opts.BinDir = filepath.Join(root, "bin", "sim")
	}
	if opts.K8sBinDir == "" {
		opts.K8sBinDir = testenv.BinaryDir()
	}
	if opts.AIGatewayBinDir == "" {
		opts.AIGatewayBinDir = os.Getenv("AIGW_BIN") // as hack/build-aigw.sh
	}
	if opts.AIGatewayBinDir == "" {
		opts.AIGatewayBinDir = filepath.Join(root, "bin", "aigw")
	}
	if opts.AIGatewayCRDDir == "" {
		opts.AIGatewayCRDDir = AIGatewayCRDs()
	}
	c = &Cluster{Options: opts, started: time.Now()}
	if err := c.checkBinaries(); err != nil {
		return nil, err
	}
	if err := c.decideAIGateway(); err != nil {
		return nil, err
	}
	// A previous run killed hard may have left processes behind: end them before reusing the directory.
	if left := Sweep(opts.StateDir, 5*time.Second); len(left) > 0 {
		c.logf("   ended %d processes left by a previous run in %s", len(left), opts.StateDir)
	}
	removeTempDirs(opts.StateDir)
	if err := os.RemoveAll(opts.StateDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opts.StateDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	// Unix sockets of the relays: a short path (108-byte limit), recorded for Down.
	if c.sockDir, err = os.MkdirTemp("", "genai-sim-"); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.StateDir, "sockdir"), []byte(c.sockDir), 0o644); err != nil {
		return nil, err
	}
	bgctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	defer func() {
		if err != nil {
			c.logf("!! start failed: %v (logs in %s)", err, filepath.Join(opts.StateDir, "logs"))
			_ = c.Stop()
			c = nil
		}
	}()

	type startStep struct {
		name string
		f    func() error
	}
	steps := []startStep{
		{"etcd + kube-apiserver with the CRDs of Gateway API, Envoy Gateway, KServe, Envoy AI Gateway and the operator", c.startControlPlane},
		{"kube-controller-manager and kube-scheduler", c.startControllers},
		{"kwok and the fake nodes of " + filepath.Base(opts.NodePools), func() error { return c.startKwok(ctx) }},
		{"simulated cloud load balancer", func() error { c.startLoadBalancer(bgctx); return nil }},
	}
	// Before Envoy Gateway: its extension manager calls the AI Gateway controller's extension server, and
	// the controller's webhook must be serving before Envoy Gateway creates its first Envoy pod.
	if c.AIGateway {
		steps = append(steps, startStep{"Envoy AI Gateway " + AIGatewayVersion + " controller", func() error { return c.startAIGateway(ctx, bgctx) }})
	} else {
		c.logf("!! %s", c.AIGatewayAbsent)
	}
	steps = append(steps,
		startStep{"Envoy Gateway " + EnvoyGatewayVersion, func() error { return c.startEnvoyGateway(ctx) }},
		startStep{"KServe " + KServeVersion, func() error { return c.startKServe(ctx) }},
		startStep{"KServe " + KServeVersion + " LLMInferenceService controller", func() error { return c.startLLMISVC(ctx) }},
	)
	for _, s := range steps {
		if err := c.step(s.name, s.f); err != nil {
			return c, err
		}
	}
	c.Timings = append(c.Timings, Timing{Step: "total", Duration: time.Since(c.started)})
	c.logf(">> simulated cluster up in %s; KUBECONFIG=%s", time.Since(c.started).Round(100*time.Millisecond), c.Kubeconfig)
	return c, nil
}

func (c *Cluster) checkBinaries() error {
	var missing []string
	for _, p := range []string{
		filepath.Join(c.K8sBinDir, "etcd"), filepath.Join(c.K8sBinDir, "kube-apiserver"),
		filepath.Join(c.K8sBinDir, "kube-controller-manager"), filepath.Join(c.K8sBinDir, "kube-scheduler"),
		c.bin("kwok"), c.bin("envoy-gateway"), c.bin("kserve-manager"), c.bin("kserve-llmisvc"),
	} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	for _, tool := range []string{"unshare", "socat", "ip", "chroot", "setpriv", "mount"} {
		if _, err := lookPath(tool); err != nil {
			missing = append(missing, tool+" (in PATH)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %v: run hack/build-sim.sh (make sim-build)", missing)
	}
	if os.Geteuid() != 0 {
		return errors.New("the simulated cluster runs Envoy Gateway and KServe in their own network and mount namespaces: it needs root")
	}
	return nil
}

// bin is the path of a simulated-cluster binary, named with its version so a version bump rebuilds it.
func (c *Cluster) bin(name string) string {
	v := map[string]string{"kwok": KwokVersion, "envoy-gateway": EnvoyGatewayVersion, "kserve-manager": KServeVersion, "kserve-llmisvc": KServeVersion}[name]
	return filepath.Join(c.BinDir, name+"-"+v)
}

// Stop ends everything the cluster started, in reverse order, then sweeps any process still carrying
// the cluster's marker. It returns an error naming processes that would not die.
func (c *Cluster) Stop() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.bg.Wait()
	c.mu.Lock()
	procs := c.procs
	c.procs = nil
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(10 * time.Second)
	}
	var errs []error
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping kube-apiserver and etcd: %w", err))
		}
		c.env = nil
	}
	Sweep(c.StateDir, 5*time.Second)
	if c.watchdog != nil {
		_ = c.watchdog.Kill()
		c.watchdog = nil
	}
	if left := Processes(c.StateDir); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes left running: %v", left))
	}
	removeTempDirs(c.StateDir)
	return errors.Join(errs...)
}

// LauncherPIDFile, in a state directory, holds the pid of the process that runs the cluster (simcluster
// up), which Down asks to stop first.
const LauncherPIDFile = "launcher.pid"

// Down stops a cluster started by another process (simcluster up) from its state directory: every
// process carrying its marker, then its relay socket directory.
func Down(stateDir string) ([]Leftover, error) {
	// The launcher (simcluster up) stops its cluster in order when told; then whatever is left goes.
	if b, err := os.ReadFile(filepath.Join(stateDir, LauncherPIDFile)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && pid != os.Getpid() {
			if syscall.Kill(pid, syscall.SIGTERM) == nil {
				for i := 0; i < 300 && syscall.Kill(pid, 0) == nil && !zombie(pid); i++ {
					time.Sleep(100 * time.Millisecond)
				}
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.Remove(filepath.Join(stateDir, LauncherPIDFile))
	}
	found := Sweep(stateDir, 15*time.Second)
	removeTempDirs(stateDir)
	if left := Processes(stateDir); len(left) > 0 {
		return found, fmt.Errorf("processes left running: %v", left)
	}
	return found, nil
}

// freePort returns a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// poll calls f every interval until it returns true or an error, or the timeout passes; the timeout
// error names what was awaited and f's last complaint.
func poll(ctx context.Context, timeout time.Duration, what string, f func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := f()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("timed out after %s waiting for %s: %w", timeout, what, last)
			}
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// removeTempDirs removes the cluster's directories outside its state directory: the relays' sockets and
// envtest's etcd data and certificates (envtest removes them itself when it stops them; not when its
// process was killed).
func removeTempDirs(stateDir string) {
	for _, f := range []string{"sockdir", "tmpdirs"} {
		b, err := os.ReadFile(filepath.Join(stateDir, f))
		if err != nil {
			continue
		}
		for _, d := range strings.Split(string(b), "\n") {
			if d = strings.TrimSpace(d); d != "" && filepath.IsAbs(d) && strings.HasPrefix(d, os.TempDir()) {
				_ = os.RemoveAll(d)
			}
		}
	}
}
