// simcluster runs the simulated GPU cluster of test/sim (real control plane, kwok fake GPU nodes, the
// real Envoy Gateway, KServe and, when its source is there, Envoy AI Gateway controllers) for the demo and
// for manual play.
//
//	simcluster up    --state DIR [--nodepools FILE]   start; run until SIGINT/SIGTERM, then stop everything
//	simcluster down  --state DIR                      stop a cluster started by another process
//	simcluster check --state DIR                      exit 1 if any process of that cluster is running
//
// `up` writes DIR/kubeconfig (admin) and, once everything is up, DIR/ready; when the Envoy AI Gateway
// controller does not run (its source is absent), DIR/aigateway-absent says why and how to get it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/genai-platform/genai-platform-operator/test/sim"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	state := fs.String("state", "", "the cluster's state directory (required)")
	pools := fs.String("nodepools", "", "node pools file (default test/sim/nodepools.yaml)")
	_ = fs.Parse(os.Args[2:])
	if *state == "" {
		usage()
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		fail(err)
	}
	switch os.Args[1] {
	case "up":
		fail(up(dir, *pools))
	case "down":
		found, err := sim.Down(dir)
		fmt.Printf("simulated cluster %s stopped (%d processes ended)\n", dir, len(found))
		fail(err)
	case "check":
		left := sim.Processes(dir)
		for _, l := range left {
			fmt.Println("left running:", l)
		}
		if len(left) > 0 {
			os.Exit(1)
		}
		fmt.Printf("no process of the simulated cluster %s is running\n", dir)
	default:
		usage()
	}
}

func up(dir, pools string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := sim.Start(ctx, sim.Options{StateDir: dir, NodePools: pools, Out: os.Stdout})
	if err != nil {
		return err
	}
	for _, t := range c.Timings {
		fmt.Printf("   %-100s %6.1fs\n", t.Step, t.Duration.Seconds())
	}
	if err := os.WriteFile(filepath.Join(dir, sim.LauncherPIDFile), []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
		_ = c.Stop()
		return err
	}
	if !c.AIGateway {
		if err := os.WriteFile(filepath.Join(dir, "aigateway-absent"), []byte(c.AIGatewayAbsent+"\n"), 0o644); err != nil {
			_ = c.Stop()
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(c.Kubeconfig+"\n"), 0o644); err != nil {
		_ = c.Stop()
		return err
	}
	<-ctx.Done()
	fmt.Println(">> stopping the simulated cluster")
	_ = os.Remove(filepath.Join(dir, "ready"))
	if err := c.Stop(); err != nil {
		return err
	}
	fmt.Println(">> stopped; no process left")
	return nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: simcluster up|down|check --state DIR [--nodepools FILE]")
	os.Exit(2)
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "simcluster:", err)
		os.Exit(1)
	}
}
