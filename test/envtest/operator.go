package envtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// OperatorProcess is the operator's real binary (BuildOperator), run as a process of its own under a
// user's kubeconfig, started and killed at will, its output appended to Log.
type OperatorProcess struct {
	Bin, Kubeconfig, Log string
	// Args come after the defaults Start passes (metrics and probes off, every model namespace allowed):
	// a flag given again here wins.
	Args []string
	// Env is added to the process's environment (GODEBUG=gctrace=1, say).
	Env []string
	Cmd *exec.Cmd
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// BuildOperator builds the operator's binary (go build . at the project root) once per test binary, and
// returns its path.
func BuildOperator(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "genai-manager-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "manager")
		build := exec.Command("go", "build", "-o", binary, ".")
		build.Dir = ProjectRoot()
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the operator: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Start starts the process; it is killed when the test ends.
func (o *OperatorProcess) Start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(o.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	o.Cmd = exec.Command(o.Bin, append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--model-namespaces=*"}, o.Args...)...)
	o.Cmd.Env = append(append(os.Environ(), "KUBECONFIG="+o.Kubeconfig), o.Env...)
	o.Cmd.Stdout, o.Cmd.Stderr = logf, logf
	if err := o.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Kill() })
}

// Kill is SIGKILL: no deferred cleanup, no lease release, half-done work left as it is.
func (o *OperatorProcess) Kill() {
	if o.Cmd == nil || o.Cmd.Process == nil {
		return
	}
	_ = o.Cmd.Process.Signal(syscall.SIGKILL)
	_ = o.Cmd.Wait()
	o.Cmd = nil
}

// UserKubeconfig adds a cluster-admin (system:masters) user of that name to the environment, writes its
// kubeconfig into dir and returns the path. A non-empty server (host:port) replaces the API server's
// address, for a proxy in front of it; the API server's certificate is still verified for 127.0.0.1.
func UserKubeconfig(t testing.TB, env *envtest.Environment, cfg *rest.Config, dir, user, server string) string {
	t.Helper()
	u, err := env.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := clientcmd.Load(kc)
	if err != nil {
		t.Fatal(err)
	}
	if server != "" {
		for _, cl := range loaded.Clusters {
			cl.Server = "https://" + server
			cl.TLSServerName = "127.0.0.1" // the API server's certificate names its own address
		}
	}
	path := filepath.Join(dir, user+".kubeconfig")
	if err := clientcmd.WriteToFile(*loaded, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// PlatformSpec is the spec (YAML) of a platform of n models, from model first: most routed to four
// providers, every fifth self-hosted on two model clusters of this cluster (namespaces ns-east and
// ns-west, two pools each), with a gateway-wide token limit.
func PlatformSpec(ns string, n int, first int) string {
	var b strings.Builder
	b.WriteString("gateway: {listener: {protocol: HTTP}, limits: [{name: all, tokens: 100000, per: Hour}]}\n")
	b.WriteString("providers:\n")
	for i := range 4 {
		fmt.Fprintf(&b, "- {name: p%d, type: OpenAICompatible, hostname: p%d.example}\n", i, i)
	}
	b.WriteString("modelClusters:\n")
	for _, c := range []string{"east", "west"} {
		fmt.Fprintf(&b, "- {name: %s, namespace: %s-%s, nodePools: [{name: a, nodeSelector: {pool: a}}, {name: b, nodeSelector: {pool: b}}]}\n", c, ns, c)
	}
	b.WriteString("models:\n")
	for i := first; i < first+n; i++ {
		if i%5 == 0 {
			fmt.Fprintf(&b, "- {name: org/self-%d, selfHosted: {storageUri: 'hf://org/m%d', gpus: 1, placements: [{cluster: east, nodePool: a}, {cluster: west, nodePool: b, priority: 1}]}}\n", i, i)
		} else {
			fmt.Fprintf(&b, "- {name: model-%d, routes: [{provider: p%d}]}\n", i, i%4)
		}
	}
	return b.String()
}
