// The genai-platform-operator manager: reconciles GenAIPlatforms into a two-tier GenAI platform.
//
//	manager [flags]                                   run the operator
//	manager --version                                 print the version, commit and Go version
//	manager render -f platform.yaml [--secrets-from DIR]   print what it would create, offline
package main

import (
	"flag"
	"fmt"
	"os"

	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/genai-platform/genai-platform-operator/controllers/manager"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "render" {
		// The offline preview of the objects the operator would create.
		os.Exit(preview.Main(os.Args[2:], os.Stdout, os.Stderr))
	}

	var cfg manager.Config
	cfg.BindFlags(flag.CommandLine)
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	printVersion := flag.Bool("version", false, "Print the version, the commit and the Go version, and exit.")
	flag.Parse()
	if *printVersion {
		fmt.Println(manager.ReadBuildInfo())
		return
	}
	logger := zap.New(zap.UseFlagOptions(&opts))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	setupLog := ctrl.Log.WithName("setup")

	mgr, err := manager.New(ctrl.GetConfigOrDie(), cfg)
	if err != nil {
		setupLog.Error(err, "building the manager")
		os.Exit(1)
	}
	setupLog.Info("starting the manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "running the manager")
		os.Exit(1)
	}
}
