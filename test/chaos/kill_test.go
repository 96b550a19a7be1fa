// Package chaos runs the operator's real binary against a real API server (kube-apiserver + etcd with
// the upstream CRDs) and kills it with SIGKILL at random moments while a large platform converges, is
// edited and is deleted. `make test` runs a few kills; `make test-chaos` runs CHAOS_KILLS (default 20).
package chaos

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// operator is the manager binary, started and killed at will.
type operator = testenv.OperatorProcess

// expected is every child render makes for p as Kind/namespace/name, with the facts a reconciler has in a
// cluster without Envoy Gateway or KServe (keys and TLS issued; no Tier Two address yet), and the models'
// live AIGatewayRoutes (shards: models stay where they are served, so after an edit the routes are not
// those of a new platform).
func expected(t *testing.T, p *platformv1.GenAIPlatform, shards map[string]string) []string {
	t.Helper()
	f := facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{}}, RouteShards: shards}
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

// liveRouteShards is which of the platform's AIGatewayRoutes serves each model now.
func liveRouteShards(ctx context.Context, t *testing.T, c client.Client, p *platformv1.GenAIPlatform) map[string]string {
	t.Helper()
	var routes aigv1b1.AIGatewayRouteList
	if err := c.List(ctx, &routes, client.InNamespace(p.Namespace), client.MatchingLabels(render.SelectorLabels(p))); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i := range routes.Items {
		maps.Copy(out, render.ModelsOfRoute(&routes.Items[i]))
	}
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
			op.Start(t)
			time.Sleep(time.Duration(300+rng.IntN(2700)) * time.Millisecond)
			op.Kill()
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
		op.Start(t)
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
			if l, w := live(ctx, t, admin, &got), expected(t, &got, liveRouteShards(ctx, t, admin, &got)); !slices.Equal(l, w) {
				return fmt.Errorf("%s: %s", phase, diff(l, w))
			}
			return nil
		})
		took := time.Since(start)
		op.Kill()
		return took
	}

	chaos(kills/2, "convergence")
	took := converge("convergence")
	n := len(expected(t, p, nil))
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
	op.Start(t)
	testenv.Eventually(t, 3*time.Minute, func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(p), &platformv1.GenAIPlatform{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the platform is still there (%v)", err)
		}
		if l := live(ctx, t, admin, p); len(l) > 0 {
			return fmt.Errorf("left behind: %s", diff(l, nil))
		}
		return nil
	})
	op.Kill()
	t.Logf("%d kills survived (seed %d): converged, edited and deleted with nothing orphaned or lost", killed, seed)
}
