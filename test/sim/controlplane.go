package sim

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// kubeControllers are the kube-controller-manager controllers a cluster needs to run Deployments and
// Services on kwok's nodes. node-lifecycle-controller removes the not-ready taint of new nodes (without
// it nothing schedules); names end in -controller since Kubernetes 1.37.
var kubeControllers = []string{
	"deployment-controller", "replicaset-controller", "garbage-collector-controller", "namespace-controller",
	"serviceaccount-controller", "serviceaccount-token-controller", "endpointslice-controller",
	"root-ca-certificate-publisher-controller", "pod-garbage-collector-controller", "node-lifecycle-controller",
	"taint-eviction-controller", "horizontal-pod-autoscaler-controller", "disruption-controller",
}

func lookPath(tool string) (string, error) {
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if p := filepath.Join(d, tool); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", tool)
}

// mustLook is lookPath for tools checkBinaries has checked.
func mustLook(tool string) string {
	p, err := lookPath(tool)
	if err != nil {
		return tool
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// startControlPlane starts etcd and kube-apiserver through envtest (its certificates, its admin users,
// its CRD installation), with the ServiceAccount admission plugin envtest disables turned back on, as
// in a real cluster, and writes an admin kubeconfig.
func (c *Cluster) startControlPlane() error {
	env, err := testenv.New()
	if err != nil {
		return err
	}
	env.BinaryAssetsDirectory = c.K8sBinDir
	// The Envoy AI Gateway CRDs from AIGatewayCRDDir (AIGW_CRDS) instead of the test environment's default.
	if def, _ := testenv.AIGatewayCRDDir(); def != c.AIGatewayCRDDir {
		for i, p := range env.CRDDirectoryPaths {
			if p == def {
				env.CRDDirectoryPaths[i] = c.AIGatewayCRDDir
			}
		}
	}
	// KServe's manager also needs the CRDs in config/crd/full's subdirectories (envtest does not recurse):
	// ClusterStorageContainer (the storage initializer's configuration) and the LocalModel kinds it watches.
	ks, err := testenv.ModuleDir(testenv.KServeModule)
	if err != nil {
		return err
	}
	for _, sub := range []string{"clusterstoragecontainer", "localmodel"} {
		env.CRDDirectoryPaths = append(env.CRDDirectoryPaths, filepath.Join(ks, "config", "crd", "full", sub))
	}
	// KServe's LLM controller: its two CRDs, LLMInferenceService and LLMInferenceServiceConfig (its
	// presets), are created once the API server runs (installLLMISVCCRDs), with their conversion webhook,
	// in place of the test environment's LLMInferenceService CRD (its InferencePool CRDs stay). And the
	// Workload Variant Autoscaler's VariantAutoscaling, KServe's only autoscaler for them (the operator's
	// autoscaled versions use it): without that CRD KServe refuses the version (ScalingCRDNotFound) before
	// it makes its HPA.
	if err := c.prepareLLMISVC(); err != nil {
		return err
	}
	env.CRDDirectoryPaths = slices.DeleteFunc(env.CRDDirectoryPaths, func(p string) bool {
		return filepath.Dir(p) == filepath.Join(ks, "config", "crd", "full", "llmisvc")
	})
	wva, err := testenv.ModuleDir(WVAModule)
	if err != nil {
		return err
	}
	env.CRDDirectoryPaths = append(env.CRDDirectoryPaths, filepath.Join(wva, "config", "crd", "bases", "llmd.ai_variantautoscalings.yaml"))
	env.ControlPlaneStartTimeout = 2 * time.Minute
	env.ControlPlaneStopTimeout = 30 * time.Second
	env.CRDInstallOptions.MaxTime = 3 * time.Minute
	logs := filepath.Join(c.StateDir, "logs")
	etcdLog, err := os.Create(filepath.Join(logs, "etcd.log"))
	if err != nil {
		return err
	}
	apiLog, err := os.Create(filepath.Join(logs, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	// envtest runs etcd with --unsafe-no-fsync already.
	env.ControlPlane.Etcd = &envtest.Etcd{Out: etcdLog, Err: etcdLog}
	env.ControlPlane.APIServer = &envtest.APIServer{Out: apiLog, Err: apiLog}
	env.ControlPlane.APIServer.Configure().Disable("disable-admission-plugins")
	// The children inherit the marker; the API server and etcd are started by envtest, in this process.
	if err := os.Setenv(MarkerEnv, c.StateDir); err != nil {
		return err
	}
	defer os.Unsetenv(MarkerEnv)
	c.env = env
	_, err = env.Start()
	// envtest starts etcd and kube-apiserver without a parent-death signal: a watchdog ends them (and
	// anything else of the cluster) should this process die without stopping the cluster.
	c.startWatchdog()
	// envtest's temporary directories (etcd data, API server certificates), for Down to remove when this
	// process could not (killed).
	var tmp []string
	if d := env.ControlPlane.Etcd.DataDir; d != "" {
		tmp = append(tmp, d)
	}
	if d := env.ControlPlane.APIServer.CertDir; d != "" {
		tmp = append(tmp, d)
	}
	_ = os.WriteFile(filepath.Join(c.StateDir, "tmpdirs"), []byte(strings.Join(tmp, "\n")), 0o644)
	if err != nil {
		return err
	}
	admin, err := env.AddUser(envtest.User{Name: "sim-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.StateDir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
		return err
	}
	c.Config = admin.Config()
	c.Config.QPS, c.Config.Burst = 50, 100
	if c.Client, err = client.New(c.Config, client.Options{Scheme: Scheme()}); err != nil {
		return err
	}
	if err := c.installLLMISVCCRDs(context.Background(), ks); err != nil {
		return err
	}
	api := env.ControlPlane.GetAPIServer()
	pki := filepath.Join(c.StateDir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pki, "ca.crt"), api.SecureServing.CA, 0o644); err != nil {
		return err
	}
	saKey, err := os.ReadFile(filepath.Join(api.CertDir, "sa-signer.key"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(pki, "sa.key"), saKey, 0o600)
}

// APIPort is the kube-apiserver's (secure) port on 127.0.0.1.
func (c *Cluster) APIPort() string {
	u, err := url.Parse(c.Config.Host)
	if err != nil {
		return ""
	}
	return u.Port()
}

// startControllers starts kube-controller-manager and kube-scheduler, neither serving any port, and
// waits until the service account controller works (namespaces get their default ServiceAccount, which
// the ServiceAccount admission plugin requires of every pod).
func (c *Cluster) startControllers() error {
	pki := filepath.Join(c.StateDir, "pki")
	if _, err := c.startProcess("kube-controller-manager", nil, filepath.Join(c.K8sBinDir, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig, "--controllers="+strings.Join(kubeControllers, ","),
		"--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
		"--service-account-private-key-file="+filepath.Join(pki, "sa.key"),
		"--root-ca-file="+filepath.Join(pki, "ca.crt"),
		// HPA without a metrics API: look rarely.
		"--horizontal-pod-autoscaler-sync-period=60s",
	); err != nil {
		return err
	}
	if _, err := c.startProcess("kube-scheduler", nil, filepath.Join(c.K8sBinDir, "kube-scheduler"),
		"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0",
	); err != nil {
		return err
	}
	return poll(context.Background(), 90*time.Second, "the default ServiceAccount (kube-controller-manager)", func() (bool, error) {
		if err := c.processesAlive(); err != nil {
			return false, err
		}
		var sa corev1.ServiceAccount
		err := c.Client.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "default"}, &sa)
		return err == nil, err
	})
}

// processesAlive returns an error naming a process of the cluster that has exited.
func (c *Cluster) processesAlive() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if done, err := p.exited(); done && !p.supervised {
			return fmt.Errorf("%s exited (%v): see %s", p.name, err, p.log.Name())
		}
	}
	return nil
}

// watchdogScript waits for the process $1 to end, then kills every process whose environment carries the
// cluster's marker ($2 = the marker's "NAME=value").
const watchdogScript = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
for f in /proc/[0-9]*/environ; do
  if tr '\0' '\n' <"$f" 2>/dev/null | grep -qxF "$2"; then
    p="${f#/proc/}"; p="${p%/environ}"
    [ "$p" != "$$" ] && kill -9 "$p" 2>/dev/null
  fi
done
exit 0`

// startWatchdog starts the watchdog, unmarked and in its own process group; Stop ends it.
func (c *Cluster) startWatchdog() {
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "genai-sim-watchdog", strconv.Itoa(os.Getpid()), MarkerEnv+"="+c.StateDir)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, MarkerEnv+"=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		c.logf("   no watchdog: %v", err)
		return
	}
	c.watchdog = cmd.Process
	go func() { _, _ = cmd.Process.Wait() }()
}
