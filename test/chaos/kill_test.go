// Package chaos runs the operator's real binary against a real API server (kube-apiserver + etcd with
// the upstream CRDs) and kills it with SIGKILL at random moments while a large platform converges, is
// edited and is deleted. `make test` runs a few kills; `make test-chaos` runs CHAOS_KILLS (default 20).
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// operator is the manager binary, started and killed at will.
type operator struct {
	bin, kubeconfig, log string
	args                 []string
	cmd                  *exec.Cmd
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// buildOperator builds the operator's binary once for the package's tests.
func buildOperator(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chaos-manager-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "manager")
		build := exec.Command("go", "build", "-o", binary, ".")
		build.Dir = testenv.ProjectRoot()
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the operator: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func (o *operator) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(o.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	o.cmd = exec.Command(o.bin, append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--model-namespaces=*"}, o.args...)...)
	o.cmd.Env = append(os.Environ(), "KUBECONFIG="+o.kubeconfig)
	o.cmd.Stdout, o.cmd.Stderr = logf, logf
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.kill() })
}

// kill is SIGKILL: no deferred cleanup, no lease release, half-done work left as it is.
func (o *operator) kill() {
	if o.cmd == nil || o.cmd.Process == nil {
		return
	}
	_ = o.cmd.Process.Signal(syscall.SIGKILL)
	_ = o.cmd.Wait()
	o.cmd = nil
}

// platformSpec is a platform of n models: most routed to four providers, every fifth self-hosted on two
// model clusters of this cluster (two pools each).
func platformSpec(ns string, n int, first int) string {
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

// expected is every child render makes for p as Kind/namespace/name, with the facts a reconciler has in a
// cluster without Envoy Gateway or KServe (keys and TLS issued; no Tier Two address yet).
func expected(t *testing.T, p *platformv1.GenAIPlatform) []string {
	t.Helper()
	f := facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{}}}
	for _, mc := range p.Spec.ModelClusters {
		f.SetCluster(mc.Name, facts.Cluster{Key: &facts.ClusterKey{Current: "k"}, TLS: preview.AssumedLinkTLS(&mc)})
	}
	scheme := controllers.NewScheme()
	var out []string
	for _, c := range render.Render(render.Input{Platform: p, Facts: f}).Children {
		gvk, err := apiutil.GVKForObject(c.Object, scheme)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, gvk.Kind+"/"+c.Object.GetNamespace()+"/"+c.Object.GetName())
	}
	sort.Strings(out)
	return out
}

// live is every object carrying the platform's labels, of every child kind, as Kind/namespace/name.
// Namespaces being deleted are left out: without a namespace controller they stay Terminating.
func live(ctx context.Context, t *testing.T, c client.Client, p *platformv1.GenAIPlatform) []string {
	t.Helper()
	var out []string
	for _, gvk := range testenv.ChildGVKs() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.MatchingLabels(render.SelectorLabels(p))); err != nil {
			t.Fatalf("listing %s: %v", gvk.Kind, err)
		}
		for _, item := range list.Items {
			if gvk.Kind == "Namespace" && item.GetDeletionTimestamp() != nil {
				continue
			}
			out = append(out, gvk.Kind+"/"+item.GetNamespace()+"/"+item.GetName())
		}
	}
	sort.Strings(out)
	return out
}

// diff names what one sorted list has that the other has not.
func diff(got, want []string) string {
	var extra, missing []string
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	return fmt.Sprintf("%d orphaned or duplicated (first: %v), %d missing (first: %v)", len(extra), first(extra), len(missing), first(missing))
}

func first(s []string) []string { return s[:min(len(s), 3)] }

// TestOperatorKilledAtRandom: the operator is SIGKILLed at random moments while a 200-model platform with
// two model clusters converges, is edited (models removed and added) and is deleted. Each time it comes
// back it converges: exactly the rendered children exist (none orphaned, none duplicated, none missing),
// the finalizer is never lost, and the deletion completes with nothing of the platform's left.
func TestOperatorKilledAtRandom(t *testing.T) {
	c := newCluster(t, nil)
	admin := c.admin
	kills := 6
	if v, err := strconv.Atoi(os.Getenv("CHAOS_KILLS")); err == nil && v > 0 {
		kills = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("CHAOS_SEED"), 10, 64); err == nil {
		seed = v
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Logf("CHAOS_SEED=%d CHAOS_KILLS=%d", seed, kills)

	op := c.operator(t, "chaos-operator", nil)

	ctx := t.Context()
	ns := "chaos"
	c.namespace(t, ns)
	p := c.platform(t, ns, "big", 200, 0)

	killed := 0
	// chaos starts the operator and kills it after a random moment, rounds times, checking each time that
	// the platform still has its finalizer once it was given one.
	chaos := func(rounds int, phase string) {
		for range rounds {
			op.start(t)
			time.Sleep(time.Duration(300+rng.IntN(2700)) * time.Millisecond)
			op.kill()
			killed++
			var got platformv1.GenAIPlatform
			switch err := admin.Get(ctx, client.ObjectKeyFromObject(p), &got); {
			case apierrors.IsNotFound(err) && phase == "deletion":
			case err != nil:
				t.Fatalf("%s, kill %d: %v", phase, killed, err)
			case got.Generation > 0 && got.Status.ObservedGeneration > 0 && !slices.Contains(got.Finalizers, platformv1.FinalizerCleanup):
				t.Fatalf("%s, kill %d: the platform lost its finalizer", phase, killed)
			}
		}
	}
	// converge starts the operator and waits until exactly the rendered children exist for the spec's
	// latest generation.
	converge := func(phase string) time.Duration {
		start := time.Now()
		op.start(t)
		testenv.Eventually(t, 3*time.Minute, func() error {
			var got platformv1.GenAIPlatform
			if err := admin.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
				return err
			}
			if got.Status.ObservedGeneration != got.Generation {
				return fmt.Errorf("%s: observedGeneration %d of %d", phase, got.Status.ObservedGeneration, got.Generation)
			}
			if !slices.Contains(got.Finalizers, platformv1.FinalizerCleanup) {
				return fmt.Errorf("%s: no finalizer", phase)
			}
			if l, w := live(ctx, t, admin, &got), expected(t, &got); !slices.Equal(l, w) {
				return fmt.Errorf("%s: %s", phase, diff(l, w))
			}
			return nil
		})
		took := time.Since(start)
		op.kill()
		return took
	}

	chaos(kills/2, "convergence")
	took := converge("convergence")
	n := len(expected(t, p))
	t.Logf("converged after %d kills: %d children, in %v once left alone", killed, n, took.Round(time.Millisecond))

	// Edit: 60 models go, 20 new ones come.
	c.setModels(t, p, 160, 60)
	chaos(kills/4, "edit")
	took = converge("edit")
	t.Logf("edit converged after %d kills in all, in %v once left alone", killed, took.Round(time.Millisecond))

	// Delete.
	if err := admin.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	chaos(kills-killed, "deletion")
	op.start(t)
	testenv.Eventually(t, 3*time.Minute, func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(p), &platformv1.GenAIPlatform{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the platform is still there (%v)", err)
		}
		if l := live(ctx, t, admin, p); len(l) > 0 {
			return fmt.Errorf("left behind: %s", diff(l, nil))
		}
		return nil
	})
	op.kill()
	t.Logf("%d kills survived (seed %d): converged, edited and deleted with nothing orphaned or lost", killed, seed)
}
