//go:build e2e

// Package e2e runs the operator against the simulated GPU cluster of test/sim: a real control plane,
// kwok's fake GPU nodes, the real Envoy Gateway and KServe controllers. Every check reads what those
// controllers (and the scheduler) say, never only what the operator wrote. Run it with `make e2e`
// (which builds the cluster's binaries first); the e2e build tag keeps plain `go test ./...` away.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
	"github.com/genai-platform/genai-platform-operator/test/sim"
)

const (
	platformNS     = "ai-platform"
	modelsNS       = "genai-models"
	fieldOwner     = "e2e-kubectl"
	managedBy      = platformv1.LabelManagedBy + "=" + platformv1.ManagedByValue
	waitShort      = 2 * time.Minute
	waitForControl = 3 * time.Minute
)

// The scenario's phases.
const (
	stepOperator = "operator starts"
	stepSamples  = "samples applied"
	stepGateways = "Envoy Gateway accepts and programs every Gateway, Tier One and Tier Two"
	stepPolicies = "Envoy Gateway accepts the policies attached to the Gateways"
	stepStandIn  = "with stand-ins for Envoy AI Gateway's HTTPRoutes, Envoy Gateway accepts every Backend and policy"
	stepISVC     = "KServe makes every InferenceService Ready, its pods on nodes of the placement's pool"
	stepRoutes   = "Tier Two HTTPRoutes resolve to the KServe predictor Services"
	stepAIGW     = "the platform says what it waits for: the Envoy AI Gateway controller, not served here"
	stepMemory   = "memory of the running cluster"
	stepMove     = "changing the placement's pool in the sample moves the pods"
	stepTooBig   = "a model too big for its pool is not ready, with the scheduler's reason in the platform status"
	stepDelete   = "deleting the platforms leaves nothing behind"
)

var (
	cluster *sim.Cluster
	c       client.Client
	timings []sim.Timing
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	log.SetLogger(logr.Discard()) // the client's API warnings; the components log to <state>/logs
	root := testenv.ProjectRoot()
	state := os.Getenv("E2E_STATE")
	if state == "" {
		state = filepath.Join(root, "bin", "e2e")
	}
	start := time.Now()
	manager := os.Getenv("E2E_MANAGER")
	if manager == "" {
		manager = filepath.Join(root, "bin", "e2e-manager")
		build := exec.Command("go", "build", "-o", manager, ".")
		build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the operator:", err)
			return 1
		}
		timings = append(timings, sim.Timing{Step: "build the operator", Duration: time.Since(start)})
	}

	ctx := context.Background()
	var err error
	cluster, err = sim.Start(ctx, sim.Options{StateDir: state, Out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the simulated cluster:", err)
		return 1
	}
	defer func() {
		stop := time.Now()
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the simulated cluster:", err)
		}
		fmt.Printf("simulated cluster stopped in %s\n", time.Since(stop).Round(100*time.Millisecond))
	}()
	for _, t := range cluster.Timings {
		timings = append(timings, sim.Timing{Step: "cluster: " + t.Step, Duration: t.Duration})
	}
	scheme := sim.Scheme()
	_ = platformv1.AddToScheme(scheme)
	if c, err = client.New(cluster.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	timings = append(timings, sim.Timing{Step: "e2e total (build + start + tests)", Duration: time.Since(start)})
	fmt.Println("\ne2e timings:")
	for _, t := range timings {
		fmt.Printf("  %-110s %7.1fs\n", t.Step, t.Duration.Seconds())
	}
	if code != 0 {
		fmt.Printf("\nlogs of every component: %s\n", filepath.Join(state, "logs"))
	}
	return code
}

// failed names the phases that failed, for the phases that depend on them.
var failed = map[string]bool{}

// step runs one phase of the scenario as a subtest, timed. A phase that needs an earlier one is skipped
// when that one failed, so one failure does not hide the independent checks after it (nor drag through
// their timeouts). fatal phases (the operator, the samples) stop the scenario.
func step(t *testing.T, name string, fatal bool, needs []string, f func(t *testing.T)) {
	t.Helper()
	start := time.Now()
	ok := t.Run(name, func(t *testing.T) {
		for _, n := range needs {
			if failed[n] {
				failed[name] = true
				t.Skipf("skipped: needs %q, which failed", n)
			}
		}
		f(t)
	})
	timings = append(timings, sim.Timing{Step: "test: " + name, Duration: time.Since(start)})
	if !ok {
		failed[name] = true
		if fatal {
			t.FailNow()
		}
	}
}

// eventually polls f until it returns nil; on timeout the test fails with f's last error.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestSimulatedCluster(t *testing.T) {
	ctx := context.Background()
	var acme, gpu *unstructured.Unstructured

	step(t, stepOperator, true, nil, func(t *testing.T) {
		port := freePort(t)
		manager := os.Getenv("E2E_MANAGER")
		if manager == "" {
			manager = filepath.Join(testenv.ProjectRoot(), "bin", "e2e-manager")
		}
		if err := cluster.StartProcess("operator", []string{"KUBECONFIG=" + cluster.Kubeconfig}, manager,
			"--metrics-bind-address=0", fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", port)); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, func() error { return httpOK(fmt.Sprintf("http://127.0.0.1:%d/readyz", port)) })
	})

	step(t, stepSamples, true, nil, func(t *testing.T) {
		for _, f := range []string{"secrets.yaml", "secrets-selfhosted.yaml"} {
			applyFile(t, samplePath(f))
		}
		acme = readSample(t, "platform_v1alpha1_genaiplatform.yaml")
		gpu = readSample(t, "platform_v1alpha1_genaiplatform_selfhosted.yaml")
		apply(t, acme, gpu)
		for _, name := range []string{"acme", "gpu"} {
			eventually(t, time.Minute, func() error {
				p := platform(t, name)
				if p.Status.ObservedGeneration != p.Generation {
					return fmt.Errorf("platform %s: observedGeneration %d, generation %d", name, p.Status.ObservedGeneration, p.Generation)
				}
				return nil
			})
		}
	})

	step(t, stepGateways, false, nil, func(t *testing.T) {
		eventually(t, waitForControl, func() error {
			gws := listManaged(t, gvk("gateway.networking.k8s.io", "v1", "Gateway"))
			if len(gws) != 3 { // acme, gpu, gpu's Tier Two
				return fmt.Errorf("%d managed Gateways, want 3", len(gws))
			}
			for _, gw := range gws {
				if err := conditionsTrue(gw, "Accepted", "Programmed"); err != nil {
					return err
				}
				if addrs, _, _ := unstructured.NestedSlice(gw.Object, "status", "addresses"); len(addrs) == 0 {
					return fmt.Errorf("Gateway %s/%s has no address", gw.GetNamespace(), gw.GetName())
				}
			}
			for _, gc := range listManaged(t, gvk("gateway.networking.k8s.io", "v1", "GatewayClass")) {
				if err := conditionsTrue(gc, "Accepted"); err != nil {
					return err
				}
			}
			return nil
		})
		// Envoy Gateway made an Envoy Deployment per Gateway, and kwok runs its pods.
		eventually(t, waitShort, func() error {
			var deps unstructured.UnstructuredList
			deps.SetGroupVersionKind(gvk("apps", "v1", "DeploymentList"))
			if err := c.List(ctx, &deps, client.InNamespace(sim.EnvoyGatewayNamespace), client.MatchingLabels{"app.kubernetes.io/managed-by": "envoy-gateway"}); err != nil {
				return err
			}
			owners := map[string]bool{}
			for _, d := range deps.Items {
				owners[d.GetLabels()["gateway.envoyproxy.io/owning-gateway-namespace"]+"/"+d.GetLabels()["gateway.envoyproxy.io/owning-gateway-name"]] = true
				if avail, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas"); avail < 1 {
					return fmt.Errorf("Envoy Deployment %s has no available replica", d.GetName())
				}
			}
			for _, want := range []string{platformNS + "/acme", platformNS + "/gpu", modelsNS + "/" + tierTwoGateway(t, gpu)} {
				if !owners[want] {
					return fmt.Errorf("no Envoy Deployment for Gateway %s (have %v)", want, keys(owners))
				}
			}
			return nil
		})
	})

	step(t, stepPolicies, false, nil, func(t *testing.T) {
		// The policies attached to Gateways: Tier One's ClientTrafficPolicies (and SecurityPolicies and
		// token-budget BackendTrafficPolicies when the spec asks for them), Tier Two's SecurityPolicy.
		// Those attached to the HTTPRoutes Envoy AI Gateway generates wait for the stand-in step.
		eventually(t, waitShort, func() error {
			checked := 0
			for _, kind := range []string{"ClientTrafficPolicy", "SecurityPolicy", "BackendTrafficPolicy"} {
				for _, pol := range listManaged(t, gvk("gateway.envoyproxy.io", "v1alpha1", kind)) {
					if !targetsExist(t, pol) {
						continue
					}
					if err := ancestorsAccepted(pol); err != nil {
						return err
					}
					checked++
				}
			}
			if checked < 3 { // two Tier One ClientTrafficPolicies and the Tier Two SecurityPolicy at least
				return fmt.Errorf("only %d policies checked", checked)
			}
			return nil
		})
	})

	step(t, stepAIGW, false, nil, func(t *testing.T) {
		for _, kind := range []string{"AIGatewayRoute", "AIServiceBackend", "BackendSecurityPolicy"} {
			objs := listManaged(t, gvk("aigateway.envoyproxy.io", "v1beta1", kind))
			if len(objs) == 0 {
				t.Errorf("no %s", kind)
			}
			for _, o := range objs {
				if st, ok := o.Object["status"]; ok && st != nil && len(st.(map[string]any)) > 0 {
					t.Errorf("%s %s has a status, yet no Envoy AI Gateway controller runs: %v", kind, o.GetName(), st)
				}
			}
		}
		eventually(t, waitShort, func() error {
			for _, name := range []string{"acme", "gpu"} {
				p := platform(t, name)
				if err := condition(p, platformv1.ConditionGatewayReady, metav1.ConditionTrue, "", ""); err != nil {
					return err
				}
				if err := condition(p, platformv1.ConditionReady, metav1.ConditionFalse, "WaitingForAIGatewayController", "Envoy AI Gateway controller"); err != nil {
					return err
				}
				if err := condition(p, platformv1.ConditionProvidersReady, metav1.ConditionFalse, "WaitingForAIGatewayController", "Envoy AI Gateway controller"); err != nil {
					return err
				}
			}
			// The model cluster: its Tier Two Gateway is programmed and has an address; only Tier One's
			// link (AIServiceBackend, BackendSecurityPolicy) waits for Envoy AI Gateway.
			p := platform(t, "gpu")
			if len(p.Status.ModelClusters) != 1 || p.Status.ModelClusters[0].GatewayAddress == "" {
				return fmt.Errorf("model cluster status %+v: want the Tier Two address", p.Status.ModelClusters)
			}
			mc := p.Status.ModelClusters[0]
			if mc.Ready || mc.Reason != "WaitingForAIGatewayController" {
				return fmt.Errorf("model cluster %s: ready=%v %s: %s; want WaitingForAIGatewayController", mc.Name, mc.Ready, mc.Reason, mc.Message)
			}
			return nil
		})
		for _, name := range []string{"acme", "gpu"} {
			logPlatform(t, platform(t, name))
		}
	})

	step(t, stepStandIn, false, []string{stepGateways}, func(t *testing.T) {
		// No Envoy AI Gateway controller here: make the HTTPRoutes it would generate from each
		// AIGatewayRoute (same name, same parents, each rule to the Backends of its AIServiceBackends,
		// owned by the AIGatewayRoute), so that Envoy Gateway processes what the operator made for them:
		// the provider and model-cluster Backends, their BackendTLSPolicies, the fallback
		// BackendTrafficPolicies. Then every one of those must be accepted.
		for _, r := range listManaged(t, gvk("aigateway.envoyproxy.io", "v1beta1", "AIGatewayRoute")) {
			apply(t, standInRoute(t, r))
		}
		eventually(t, waitShort, func() error {
			for _, b := range listManaged(t, gvk("gateway.envoyproxy.io", "v1alpha1", "Backend")) {
				if err := conditionsTrue(b, "Accepted"); err != nil {
					return err
				}
			}
			for _, kind := range []string{"ClientTrafficPolicy", "SecurityPolicy", "BackendTrafficPolicy"} {
				for _, pol := range listManaged(t, gvk("gateway.envoyproxy.io", "v1alpha1", kind)) {
					if err := ancestorsAccepted(pol); err != nil {
						return err
					}
				}
			}
			for _, pol := range listManaged(t, gvk("gateway.networking.k8s.io", "v1", "BackendTLSPolicy")) {
				if err := ancestorsAccepted(pol); err != nil {
					return err
				}
			}
			return nil
		})
		// With the Backends accepted, what the platforms wait for is Envoy AI Gateway alone.
		eventually(t, waitShort, func() error {
			for _, name := range []string{"acme", "gpu"} {
				if err := condition(platform(t, name), platformv1.ConditionProvidersReady, metav1.ConditionFalse, "WaitingForAIGatewayController", "Envoy AI Gateway controller"); err != nil {
					return err
				}
			}
			return nil
		})
	})

	step(t, stepISVC, false, nil, func(t *testing.T) {
		p := platform(t, "gpu")
		eventually(t, waitForControl, func() error { return placementsRunning(t, p) })
	})

	step(t, stepRoutes, false, []string{stepISVC}, func(t *testing.T) {
		p := platform(t, "gpu")
		eventually(t, waitShort, func() error { return tierTwoRoutesResolved(t, p) })
	})

	step(t, stepMemory, false, nil, func(t *testing.T) {
		total, by := sim.Memory(cluster.StateDir)
		names := make([]string, 0, len(by))
		for n := range by {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return by[names[i]] > by[names[j]] })
		var parts []string
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s %d MiB", n, by[n]>>20))
		}
		t.Logf("resident memory: %d MiB in total: %s", total>>20, strings.Join(parts, ", "))
	})

	step(t, stepMove, false, []string{stepISVC}, func(t *testing.T) {
		// qwen2.5-72b moves from the h100 pool to the l4 pool (4 GPUs: one whole L4 node).
		moved := gpu.DeepCopy()
		setPlacementPool(t, moved, "qwen2.5-72b", "h100", "l4")
		apply(t, moved)
		p := platform(t, "gpu")
		oldISVC := render.InferenceServiceName(p, modelsNS, "qwen2.5-72b", "h100")
		eventually(t, waitForControl, func() error {
			if err := placementsRunning(t, platform(t, "gpu")); err != nil {
				return err
			}
			if n := countPods(t, oldISVC); n != 0 {
				return fmt.Errorf("%d pods of the old InferenceService %s remain", n, oldISVC)
			}
			return notFound(gvk("serving.kserve.io", "v1beta1", "InferenceService"), modelsNS, oldISVC)
		})
		eventually(t, waitShort, func() error { return tierTwoRoutesResolved(t, platform(t, "gpu")) })
		for _, pod := range podsOf(t, render.InferenceServiceName(p, modelsNS, "qwen2.5-72b", "l4")) {
			t.Logf("qwen2.5-72b now runs in pod %s on node %s", pod.Name, pod.Spec.NodeName)
		}
		gpu = moved
	})

	step(t, stepTooBig, false, nil, func(t *testing.T) {
		big := gpu.DeepCopy()
		addModel(t, big, map[string]any{
			"name": "too-big",
			"selfHosted": map[string]any{
				"storageUri": "hf://example/too-big", "gpus": int64(16),
				"placements": []any{map[string]any{"cluster": "gpu-east", "nodePool": "h100", "minReplicas": int64(1)}},
			},
		})
		apply(t, big)
		p := platform(t, "gpu")
		isvc := render.InferenceServiceName(p, modelsNS, "too-big", "h100")
		// The scheduler's verdict, on the pod KServe made.
		eventually(t, waitForControl, func() error {
			pods := podsOf(t, isvc)
			if len(pods) == 0 {
				return fmt.Errorf("no pod of %s yet", isvc)
			}
			for _, pod := range pods {
				cond := podCondition(&pod, corev1.PodScheduled)
				if cond == nil || cond.Status != corev1.ConditionFalse || !strings.Contains(cond.Message, "Insufficient nvidia.com/gpu") {
					return fmt.Errorf("pod %s: PodScheduled %+v; want False with Insufficient nvidia.com/gpu", pod.Name, cond)
				}
			}
			return nil
		})
		// KServe's verdict on the InferenceService.
		eventually(t, waitShort, func() error {
			u := get(t, gvk("serving.kserve.io", "v1beta1", "InferenceService"), modelsNS, isvc)
			if u == nil {
				return fmt.Errorf("no InferenceService %s", isvc)
			}
			if err := conditionsTrue(*u, "Ready"); err == nil {
				return fmt.Errorf("InferenceService %s is Ready", isvc)
			}
			return nil
		})
		// The operator's verdict: the model is not ready, and says why in the scheduler's words.
		eventually(t, waitShort, func() error {
			p := platform(t, "gpu")
			for _, m := range p.Status.Models {
				if m.Name != "too-big" {
					continue
				}
				if m.Ready {
					return fmt.Errorf("model too-big is ready")
				}
				if !strings.Contains(m.Message, "Insufficient nvidia.com/gpu") {
					return fmt.Errorf("model too-big: %s: %s; want the scheduler's reason (Insufficient nvidia.com/gpu)", m.Reason, m.Message)
				}
				t.Logf("model too-big: ready=%v %s: %s", m.Ready, m.Reason, m.Message)
				return nil
			}
			return fmt.Errorf("no status for model too-big")
		})
		// Removed from the spec, removed from the cluster.
		apply(t, gpu)
		eventually(t, waitShort, func() error {
			if n := countPods(t, isvc); n != 0 {
				return fmt.Errorf("%d pods of %s remain", n, isvc)
			}
			return notFound(gvk("serving.kserve.io", "v1beta1", "InferenceService"), modelsNS, isvc)
		})
	})

	step(t, stepDelete, false, nil, func(t *testing.T) {
		for _, name := range []string{"acme", "gpu"} {
			p := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Namespace: platformNS, Name: name}}
			if err := c.Delete(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, waitForControl, func() error {
			var list platformv1.GenAIPlatformList
			if err := c.List(ctx, &list, client.InNamespace(platformNS)); err != nil {
				return err
			}
			if len(list.Items) != 0 {
				return fmt.Errorf("%d platforms still there", len(list.Items))
			}
			if left := everythingManaged(t); len(left) > 0 {
				return fmt.Errorf("left behind (labelled %s): %v", managedBy, left)
			}
			// What the controllers made for the platform goes too: KServe's predictors (garbage
			// collected through their owner references) and Envoy Gateway's proxies.
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.HasLabels{"serving.kserve.io/inferenceservice"}); err != nil {
				return err
			}
			if len(pods.Items) > 0 {
				return fmt.Errorf("%d predictor pods remain", len(pods.Items))
			}
			var deps unstructured.UnstructuredList
			deps.SetGroupVersionKind(gvk("apps", "v1", "DeploymentList"))
			if err := c.List(ctx, &deps, client.MatchingLabels{"gateway.envoyproxy.io/owning-gateway-namespace": platformNS}); err != nil {
				return err
			}
			if len(deps.Items) > 0 {
				return fmt.Errorf("%d Envoy Deployments of Tier One remain", len(deps.Items))
			}
			var standIns unstructured.UnstructuredList
			standIns.SetGroupVersionKind(gvk("gateway.networking.k8s.io", "v1", "HTTPRouteList"))
			if err := c.List(ctx, &standIns, client.HasLabels{LabelStandIn}); err != nil {
				return err
			}
			if len(standIns.Items) > 0 {
				return fmt.Errorf("%d stand-in HTTPRoutes remain (owned by the AIGatewayRoutes)", len(standIns.Items))
			}
			return notFound(gvk("", "v1", "Namespace"), "", modelsNS)
		})
	})
}

// --- the scenario's checks ---

// placementsRunning: every placement of every self-hosted model has a Ready InferenceService (KServe's
// word) whose pods run (kwok's) on nodes carrying the pool's nodeSelector labels and the pool's taints
// (the scheduler's placement, following the operator's rendered nodeSelector and tolerations).
func placementsRunning(t *testing.T, p *platformv1.GenAIPlatform) error {
	t.Helper()
	mc := p.Spec.ModelClusters[0]
	pools := map[string]platformv1.NodePoolSpec{}
	for _, np := range mc.NodePools {
		pools[np.Name] = np
	}
	for _, m := range p.Spec.Models {
		if m.SelfHosted == nil {
			continue
		}
		for _, pl := range m.SelfHosted.Placements {
			name := render.InferenceServiceName(p, modelsNS, m.Name, pl.NodePool)
			u := get(t, gvk("serving.kserve.io", "v1beta1", "InferenceService"), modelsNS, name)
			if u == nil {
				return fmt.Errorf("no InferenceService %s (model %s on %s)", name, m.Name, pl.NodePool)
			}
			if err := conditionsTrue(*u, "Ready"); err != nil {
				return err
			}
			pods := podsOf(t, name)
			if len(pods) < int(pl.MinReplicas) || len(pods) == 0 {
				return fmt.Errorf("InferenceService %s: %d pods, want at least %d", name, len(pods), max(pl.MinReplicas, 1))
			}
			for _, pod := range pods {
				if pod.Status.Phase != corev1.PodRunning || pod.Spec.NodeName == "" {
					return fmt.Errorf("pod %s: %s on %q", pod.Name, pod.Status.Phase, pod.Spec.NodeName)
				}
				var node corev1.Node
				if err := c.Get(context.Background(), client.ObjectKey{Name: pod.Spec.NodeName}, &node); err != nil {
					return err
				}
				pool := pools[pl.NodePool]
				for k, v := range pool.NodeSelector {
					if node.Labels[k] != v {
						return fmt.Errorf("pod %s of %s (pool %s) runs on node %s with %s=%q, want %q", pod.Name, name, pl.NodePool, node.Name, k, node.Labels[k], v)
					}
				}
				if got := node.Labels[sim.LabelPool]; got != pl.NodePool {
					return fmt.Errorf("pod %s of %s runs on node %s of pool %s, want pool %s", pod.Name, name, node.Name, got, pl.NodePool)
				}
				gpus := pod.Spec.Containers[0].Resources.Limits[corev1.ResourceName(gpuResource(pool))]
				if gpus.Value() != int64(m.SelfHosted.GPUs) {
					return fmt.Errorf("pod %s asks for %s %s, want %d", pod.Name, gpus.String(), gpuResource(pool), m.SelfHosted.GPUs)
				}
			}
		}
	}
	return nil
}

func gpuResource(p platformv1.NodePoolSpec) string {
	if p.GPUResourceName != "" {
		return string(p.GPUResourceName)
	}
	return "nvidia.com/gpu"
}

// tierTwoRoutesResolved: Envoy Gateway accepted each Tier Two HTTPRoute and resolved its backends, and
// each backend is the predictor Service KServe made for a placement.
func tierTwoRoutesResolved(t *testing.T, p *platformv1.GenAIPlatform) error {
	t.Helper()
	routes := listManaged(t, gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"))
	if len(routes) == 0 {
		return fmt.Errorf("no Tier Two HTTPRoute")
	}
	want := map[string]bool{}
	for _, m := range p.Spec.Models {
		if m.SelfHosted == nil {
			continue
		}
		for _, pl := range m.SelfHosted.Placements {
			want[render.PredictorServiceName(render.InferenceServiceName(p, modelsNS, m.Name, pl.NodePool))] = true
		}
	}
	got := map[string]bool{}
	for _, r := range routes {
		parents, _, _ := unstructured.NestedSlice(r.Object, "status", "parents")
		if len(parents) == 0 {
			return fmt.Errorf("HTTPRoute %s has no parent status", r.GetName())
		}
		for _, x := range parents {
			if err := condsTrue("HTTPRoute "+r.GetName()+" parent", x.(map[string]any)["conditions"], "Accepted", "ResolvedRefs"); err != nil {
				return err
			}
		}
		rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
		for _, rule := range rules {
			refs, _, _ := unstructured.NestedSlice(rule.(map[string]any), "backendRefs")
			for _, ref := range refs {
				name := ref.(map[string]any)["name"].(string)
				got[name] = true
				var svc corev1.Service
				if err := c.Get(context.Background(), client.ObjectKey{Namespace: r.GetNamespace(), Name: name}, &svc); err != nil {
					return fmt.Errorf("HTTPRoute %s backend %s: %w", r.GetName(), name, err)
				}
				if svc.Labels["serving.kserve.io/inferenceservice"] == "" {
					return fmt.Errorf("Service %s is not KServe's predictor Service (labels %v)", name, svc.Labels)
				}
			}
		}
	}
	for w := range want {
		if !got[w] {
			return fmt.Errorf("no Tier Two route to %s (routes send to %v)", w, keys(got))
		}
	}
	return nil
}

// everythingManaged lists every object, of every listable kind, labelled as the operator's.
func everythingManaged(t *testing.T) []string {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		t.Fatal(err)
	}
	var left []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !contains(r.Verbs, "list") {
				continue
			}
			var list unstructured.UnstructuredList
			list.SetGroupVersionKind(gv.WithKind(r.Kind + "List"))
			if err := c.List(context.Background(), &list, client.MatchingLabels{platformv1.LabelManagedBy: platformv1.ManagedByValue}); err != nil {
				continue
			}
			for _, o := range list.Items {
				left = append(left, fmt.Sprintf("%s %s/%s", r.Kind, o.GetNamespace(), o.GetName()))
			}
		}
	}
	return left
}

// --- helpers ---

func samplePath(f string) string { return filepath.Join(testenv.ProjectRoot(), "config", "samples", f) }

func readSample(t *testing.T, f string) *unstructured.Unstructured {
	t.Helper()
	objs, err := sim.ReadObjects(samplePath(f))
	if err != nil || len(objs) != 1 {
		t.Fatalf("%s: %v (%d objects)", f, err, len(objs))
	}
	return objs[0]
}

func applyFile(t *testing.T, path string) {
	t.Helper()
	objs, err := sim.ReadObjects(path)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, objs...)
}

// apply is `kubectl apply --server-side` of whole objects, as a user keeping the samples in Git does.
func apply(t *testing.T, objs ...*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		o = o.DeepCopy()
		if err := c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

func platform(t *testing.T, name string) *platformv1.GenAIPlatform {
	t.Helper()
	var p platformv1.GenAIPlatform
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: platformNS, Name: name}, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func tierTwoGateway(t *testing.T, sample *unstructured.Unstructured) string {
	t.Helper()
	return render.TierTwoGatewayName(platform(t, sample.GetName()))
}

func gvk(group, version, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
}

func listManaged(t *testing.T, k schema.GroupVersionKind) []unstructured.Unstructured {
	t.Helper()
	var list unstructured.UnstructuredList
	list.SetGroupVersionKind(k.GroupVersion().WithKind(k.Kind + "List"))
	if err := c.List(context.Background(), &list, client.MatchingLabels{platformv1.LabelManagedBy: platformv1.ManagedByValue}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func get(t *testing.T, k schema.GroupVersionKind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k)
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	return u
}

func notFound(k schema.GroupVersionKind, ns, name string) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k)
	err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%s %s/%s still exists", k.Kind, ns, name)
}

func podsOf(t *testing.T, isvc string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.List(context.Background(), &pods, client.InNamespace(modelsNS), client.MatchingLabels{"serving.kserve.io/inferenceservice": isvc}); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func countPods(t *testing.T, isvc string) int {
	t.Helper()
	var pods corev1.PodList
	if err := c.List(context.Background(), &pods, client.InNamespace(modelsNS), client.MatchingLabels{"serving.kserve.io/inferenceservice": isvc}); err != nil {
		t.Fatal(err)
	}
	return len(pods.Items)
}

func podCondition(p *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// conditionsTrue checks status.conditions of an object, for its current generation when the condition
// says which generation it observed.
func conditionsTrue(u unstructured.Unstructured, types ...string) error {
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	what := fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
	if err := condsTrue(what, raw, types...); err != nil {
		return err
	}
	for _, x := range raw {
		m := x.(map[string]any)
		if og, ok := m["observedGeneration"].(int64); ok && og < u.GetGeneration() {
			return fmt.Errorf("%s: condition %v observed generation %d < %d", what, m["type"], og, u.GetGeneration())
		}
	}
	return nil
}

func condsTrue(what string, raw any, types ...string) error {
	list, _ := raw.([]any)
	for _, typ := range types {
		found := false
		for _, x := range list {
			m := x.(map[string]any)
			if m["type"] != typ {
				continue
			}
			found = true
			if m["status"] != "True" {
				return fmt.Errorf("%s: %s=%v %v: %v", what, typ, m["status"], m["reason"], m["message"])
			}
		}
		if !found {
			return fmt.Errorf("%s: no %s condition yet", what, typ)
		}
	}
	return nil
}

// ancestorsAccepted: a policy's status names at least one ancestor, and each accepted it.
func ancestorsAccepted(u unstructured.Unstructured) error {
	anc, _, _ := unstructured.NestedSlice(u.Object, "status", "ancestors")
	what := fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
	if len(anc) == 0 {
		return fmt.Errorf("%s has no ancestor status yet", what)
	}
	for _, a := range anc {
		if err := condsTrue(what, a.(map[string]any)["conditions"], "Accepted"); err != nil {
			return err
		}
	}
	return nil
}

// targetsExist: every targetRef of a policy names an existing object.
func targetsExist(t *testing.T, u unstructured.Unstructured) bool {
	t.Helper()
	refs, _, _ := unstructured.NestedSlice(u.Object, "spec", "targetRefs")
	for _, r := range refs {
		m := r.(map[string]any)
		version := "v1"
		if g := m["group"]; g == "gateway.envoyproxy.io" {
			version = "v1alpha1"
		}
		group, _ := m["group"].(string)
		if get(t, gvk(group, version, m["kind"].(string)), u.GetNamespace(), m["name"].(string)) == nil {
			return false
		}
	}
	return true
}

func condition(p *platformv1.GenAIPlatform, typ string, status metav1.ConditionStatus, reason, msgPart string) error {
	c := meta.FindStatusCondition(p.Status.Conditions, typ)
	switch {
	case c == nil:
		return fmt.Errorf("platform %s: no %s condition", p.Name, typ)
	case c.Status != status || (reason != "" && c.Reason != reason) || !strings.Contains(c.Message, msgPart):
		return fmt.Errorf("platform %s: %s=%s %s: %s; want %s %s (%q)", p.Name, typ, c.Status, c.Reason, c.Message, status, reason, msgPart)
	}
	return nil
}

func logPlatform(t *testing.T, p *platformv1.GenAIPlatform) {
	t.Helper()
	t.Logf("platform %s: models %s, endpoint %s", p.Name, p.Status.ModelsSummary, p.Status.Endpoint)
	for _, c := range p.Status.Conditions {
		t.Logf("  %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, m := range p.Status.ModelClusters {
		t.Logf("  model cluster %s ready=%v %s: %s (address %s)", m.Name, m.Ready, m.Reason, m.Message, m.GatewayAddress)
	}
	for _, m := range p.Status.Models {
		t.Logf("  model %s ready=%v %s: %s", m.Name, m.Ready, m.Reason, m.Message)
	}
}

func setPlacementPool(t *testing.T, u *unstructured.Unstructured, model, from, to string) {
	t.Helper()
	models, _, _ := unstructured.NestedSlice(u.Object, "spec", "models")
	done := false
	for _, m := range models {
		mm := m.(map[string]any)
		if mm["name"] != model {
			continue
		}
		pls, _, _ := unstructured.NestedSlice(mm, "selfHosted", "placements")
		for _, pl := range pls {
			if pl.(map[string]any)["nodePool"] == from {
				pl.(map[string]any)["nodePool"] = to
				done = true
			}
		}
		_ = unstructured.SetNestedSlice(mm, pls, "selfHosted", "placements")
	}
	if !done {
		t.Fatalf("no placement of %s on %s in the sample", model, from)
	}
	_ = unstructured.SetNestedSlice(u.Object, models, "spec", "models")
}

func addModel(t *testing.T, u *unstructured.Unstructured, m map[string]any) {
	t.Helper()
	models, _, _ := unstructured.NestedSlice(u.Object, "spec", "models")
	models = append(models, runtime.DeepCopyJSONValue(m))
	if err := unstructured.SetNestedSlice(u.Object, models, "spec", "models"); err != nil {
		t.Fatal(err)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// LabelStandIn marks the HTTPRoutes the test makes in Envoy AI Gateway's place.
const LabelStandIn = "e2e.genai.dev/stand-in-for"

// standInRoute is the HTTPRoute Envoy AI Gateway would generate from an AIGatewayRoute: same name and
// parents, each rule's matches, and for each AIServiceBackend of the rule the Backend it names, weighted.
func standInRoute(t *testing.T, route unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	var outRules []any
	for _, r := range rules {
		rule := r.(map[string]any)
		var refs []any
		backendRefs, _, _ := unstructured.NestedSlice(rule, "backendRefs")
		for _, br := range backendRefs {
			b := br.(map[string]any)
			asb := get(t, gvk("aigateway.envoyproxy.io", "v1beta1", "AIServiceBackend"), route.GetNamespace(), b["name"].(string))
			if asb == nil {
				t.Fatalf("AIGatewayRoute %s: no AIServiceBackend %v", route.GetName(), b["name"])
			}
			target, _, _ := unstructured.NestedMap(asb.Object, "spec", "backendRef")
			ref := map[string]any{"group": target["group"], "kind": target["kind"], "name": target["name"]}
			if w, ok := b["weight"]; ok {
				ref["weight"] = w
			}
			refs = append(refs, ref)
		}
		out := map[string]any{"backendRefs": refs}
		if m, ok := rule["matches"]; ok {
			out["matches"] = m
		}
		outRules = append(outRules, out)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{
			"name": route.GetName(), "namespace": route.GetNamespace(),
			"labels": map[string]any{LabelStandIn: "envoy-ai-gateway"},
			"ownerReferences": []any{map[string]any{
				"apiVersion": route.GetAPIVersion(), "kind": route.GetKind(), "name": route.GetName(), "uid": string(route.GetUID()),
			}},
		},
		"spec": map[string]any{"parentRefs": parents, "rules": outRules},
	}}
}
