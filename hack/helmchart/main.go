// Command helmchart writes the operator's Helm chart (dist/chart) from config/, and installs it with
// Helm's Go SDK (what `helm install` runs) for the end-to-end test. It is a module of its own, so that
// Helm's dependencies stay out of the operator's go.mod.
//
// The chart is config/default as kustomize builds it, templated: every object but the Namespace (the
// release's, `helm install --create-namespace`), in the release's namespace; the CRDs in crds/; values for
// the image, replicas, leader election, metrics and a ServiceMonitor, the allowed model namespaces
// (--model-namespaces), the log level and scheduling, each of whose defaults renders config/default's
// objects. The chart's version and image are the CSV base's (config/manifests/bases), like the bundle's.
//
//	go run . [-root ../..]                       write dist/chart (make chart)
//	go run . install -kubeconfig K -namespace N [-release R] [-chart DIR] [-create-namespace] [-set k=v]...
//	go run . uninstall -kubeconfig K -namespace N [-release R]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

func main() {
	cmd := "generate"
	args := os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	var err error
	switch cmd {
	case "generate":
		root := fs.String("root", "../..", "repository root")
		_ = fs.Parse(args)
		var files map[string][]byte
		if files, err = Generate(*root); err == nil {
			err = Write(*root, files)
		}
		if err == nil {
			fmt.Printf("wrote %s (%d files)\n", ChartDir, len(files))
		}
	case "install", "uninstall":
		kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig")
		namespace := fs.String("namespace", "genai-platform-system", "the release's namespace")
		release := fs.String("release", chartName, "release name")
		chartDir := fs.String("chart", filepath.Join("..", "..", ChartDir), "chart directory")
		createNS := fs.Bool("create-namespace", false, "create the namespace")
		timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for the release's objects to be ready (or gone)")
		var sets setFlags
		fs.Var(&sets, "set", "a value, as helm install --set takes it (repeatable)")
		_ = fs.Parse(args)
		cfg := new(action.Configuration)
		flags := genericclioptions.NewConfigFlags(false)
		flags.KubeConfig, flags.Namespace = kubeconfig, namespace
		if err = cfg.Init(flags, *namespace, "secret", log.Printf); err != nil {
			break
		}
		if cmd == "uninstall" {
			u := action.NewUninstall(cfg)
			u.Wait, u.Timeout = true, *timeout
			if _, err = u.Run(*release); err == nil {
				fmt.Printf("release %s uninstalled\n", *release)
			}
			break
		}
		err = install(cfg, *chartDir, *release, *namespace, *createNS, *timeout, sets)
	default:
		err = fmt.Errorf("unknown command %q: generate, install or uninstall", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmchart:", err)
		os.Exit(1)
	}
}

func install(cfg *action.Configuration, chartDir, release, namespace string, createNS bool, timeout time.Duration, sets []string) error {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return err
	}
	vals := map[string]any{}
	for _, s := range sets {
		if err := strvals.ParseInto(s, vals); err != nil {
			return fmt.Errorf("--set %s: %w", s, err)
		}
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.CreateNamespace = release, namespace, createNS
	in.Wait, in.Timeout = true, timeout
	rel, err := in.Run(chrt, vals)
	if err != nil {
		return err
	}
	fmt.Printf("release %s installed in %s: chart %s-%s, revision %d, %s\n", rel.Name, rel.Namespace, rel.Chart.Metadata.Name, rel.Chart.Metadata.Version, rel.Version, rel.Info.Status)
	return nil
}

// Write replaces the chart directory with files (paths relative to root).
func Write(root string, files map[string][]byte) error {
	if err := os.RemoveAll(filepath.Join(root, ChartDir)); err != nil {
		return err
	}
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }
