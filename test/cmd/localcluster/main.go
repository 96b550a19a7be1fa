// localcluster starts a local control plane for the demo: the kube-apiserver and etcd built by
// hack/build-control-plane.sh, every CRD the operator writes (Gateway API, Envoy Gateway, KServe, Envoy AI
// Gateway), and kube-controller-manager for garbage collection and namespace deletion. It writes an
// admin kubeconfig and runs until interrupted, then stops everything it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

func main() {
	kubeconfig := flag.String("write-kubeconfig", "", "where to write the admin kubeconfig")
	flag.Parse()
	if err := run(*kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(kubeconfig string) error {
	env, err := testenv.New()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	if _, err := env.Start(); err != nil {
		return err
	}

	admin, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	cfg, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, cfg, 0o600); err != nil {
		return err
	}

	// Garbage collection (owner references) and namespace deletion, as in a real cluster.
	kcm := exec.Command(filepath.Join(testenv.BinaryDir(), "kube-controller-manager"),
		"--kubeconfig="+kubeconfig, "--controllers=garbage-collector-controller,namespace-controller",
		"--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false")
	if _, err := os.Stat(kcm.Path); err == nil {
		kcm.Stdout, kcm.Stderr = nil, nil
		if err := kcm.Start(); err != nil {
			return err
		}
		defer func() { _ = kcm.Process.Kill(); _, _ = kcm.Process.Wait() }()
	}

	fmt.Println("control plane up; kubeconfig:", kubeconfig)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Println("stopping the control plane")
	return nil
}
