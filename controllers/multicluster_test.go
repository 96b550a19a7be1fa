package controllers_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// modelClusterEnv is a model cluster of its own: a real kube-apiserver + etcd with the upstream CRDs,
// restartable at the same address with the same certificates (so a kubeconfig stays valid), where the
// operator acts only with the rights config/rbac/model-cluster grants.
type modelClusterEnv struct {
	name  string
	env   *envtest.Environment
	admin client.Client // the test's own, all-powerful client
	cfg   *rest.Config
}

func startModelCluster(t *testing.T, name string) *modelClusterEnv {
	t.Helper()
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	// A fixed certificate directory: a restart then keeps the serving and client CAs.
	env.ControlPlane.GetAPIServer().CertDir = t.TempDir()
	cfg, admin := testenv.StartWithAdmin(t, env)
	mc := &modelClusterEnv{name: name, env: env, admin: admin, cfg: cfg}
	mc.applyFiles(t, "service_account.yaml", "role.yaml", "role_binding.yaml")
	return mc
}

// applyFiles applies manifests of config/rbac/model-cluster, as a model cluster's admin would.
func (m *modelClusterEnv) applyFiles(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		objs, err := testenv.ReadObjects(filepath.Join(testenv.ProjectRoot(), "config", "rbac", "model-cluster", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range objs {
			if err := m.admin.Apply(testCtx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("cluster-admin"), client.ForceOwnership); err != nil {
				t.Fatalf("%s: applying %s: %v", m.name, f, err)
			}
		}
	}
}

// kubeconfig is a kubeconfig for a user of the model cluster, signed by its client CA.
func (m *modelClusterEnv) kubeconfig(t *testing.T, user string) []byte {
	t.Helper()
	u, err := m.env.AddUser(envtest.User{Name: user}, m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stop kills the model cluster's kube-apiserver (SIGKILL: a crash, not a graceful shutdown, which also
// keeps the test fast), leaving etcd, and so the cluster's state, in place.
func (m *modelClusterEnv) stop(t *testing.T) {
	t.Helper()
	port := m.env.ControlPlane.GetAPIServer().SecureServing.Port
	pid := testenv.ProcessWithArg(t, "kube-apiserver", "--secure-port="+port)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			_ = c.Close()
			return fmt.Errorf("%s's API server still answers", m.name)
		}
		return nil
	})
}

func (m *modelClusterEnv) restart(t *testing.T) {
	t.Helper()
	if err := m.env.ControlPlane.GetAPIServer().Start(); err != nil {
		t.Fatalf("restarting %s's API server: %v", m.name, err)
	}
}

// operatorIdentity is the user config/rbac/model-cluster binds: the ServiceAccount's user name.
const operatorIdentity = "system:serviceaccount:genai-platform-system:genai-platform-operator"

var modelClusterGVKs = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Namespace"}, {Version: "v1", Kind: "Secret"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayClass"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
	{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "EnvoyProxy"},
	{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "SecurityPolicy"},
	gvkISVC,
}

// labelled lists, as "Kind/namespace/name", the platform's labelled objects in one cluster (namespaces
// being deleted excluded: the namespace controller does not run in envtest).
func labelled(t *testing.T, c client.Client, p *platformv1.GenAIPlatform) []string {
	t.Helper()
	var out []string
	for _, gvk := range modelClusterGVKs {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(testCtx, list, client.MatchingLabels(render.SelectorLabels(p))); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) { // the kind is not served there
				continue
			}
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

// renderedFor is what render says belongs in one model cluster, as "Kind/namespace/name".
func renderedFor(t *testing.T, p *platformv1.GenAIPlatform, cluster string) []string {
	t.Helper()
	in := selfHostedInput(p, nil, nil, cluster)
	var out []string
	for _, obj := range render.Render(in).In(cluster) {
		gvk := obj.GetObjectKind().GroupVersionKind()
		out = append(out, gvk.Kind+"/"+obj.GetNamespace()+"/"+obj.GetName())
	}
	sort.Strings(out)
	return out
}

// watchesOn sums kube-apiserver's open WATCH requests on the kinds only the operator watches (nothing
// else in a test model cluster watches them).
func (m *modelClusterEnv) watchesOn(t *testing.T, resources ...string) int {
	t.Helper()
	hc, err := rest.HTTPClientFor(m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(strings.TrimSuffix(m.cfg.Host, "/") + "/metrics")
	if err != nil {
		t.Fatalf("%s metrics: %v", m.name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != 200 {
		t.Fatalf("%s metrics: %s", m.name, resp.Status)
	}
	total := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if os.Getenv("DEBUG_WATCH_METRICS") != "" && strings.Contains(line, "longrunning") {
			t.Log(line)
		}
		if !strings.HasPrefix(line, "apiserver_longrunning_requests{") || !strings.Contains(line, `verb="WATCH"`) {
			continue
		}
		for _, r := range resources {
			if strings.Contains(line, `resource="`+r+`"`) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				total += int(v)
			}
		}
	}
	return total
}

func setKubeconfig(t *testing.T, ns, name string, kubeconfig []byte) {
	t.Helper()
	updateOrCreateSecret(t, ns, name, map[string]string{"kubeconfig": string(kubeconfig)})
}

// modelReady reports a model's readiness and routes from the platform's status.
func modelReadyState(p *platformv1.GenAIPlatform, name string) string {
	ms := modelStatus(p, name)
	if ms == nil {
		return "absent"
	}
	return fmt.Sprintf("ready=%v routes=%v", ms.Ready, ms.Routes)
}

func clusterState(p *platformv1.GenAIPlatform, name string) (bool, string) {
	for _, c := range p.Status.ModelClusters {
		if c.Name == name {
			return c.Ready, c.Reason
		}
	}
	return false, "absent"
}

// TestMultiCluster: a hub (the suite's API server) and two model clusters, each a real kube-apiserver +
// etcd, reached only through kubeconfig Secrets with config/rbac/model-cluster's rights.
func TestMultiCluster(t *testing.T) {
	east, west := startModelCluster(t, "east"), startModelCluster(t, "west")
	ns := newNamespace(t)
	setKubeconfig(t, ns, "east-kubeconfig", east.kubeconfig(t, operatorIdentity))
	setKubeconfig(t, ns, "west-kubeconfig", west.kubeconfig(t, operatorIdentity))
	p := createPlatform(t, ns, "multi", `
gateway: {listener: {protocol: HTTP}}
modelClusters:
- {name: east, kubeconfigSecretRef: {name: east-kubeconfig}, nodePools: [{name: h100, nodeSelector: {pool: h100}}]}
- {name: west, kubeconfigSecretRef: {name: west-kubeconfig, key: kubeconfig}, nodePools: [{name: l4, nodeSelector: {pool: l4}}]}
models:
- {name: llama, selfHosted: {storageUri: 'hf://org/llama', placements: [{cluster: east, nodePool: h100}, {cluster: west, nodePool: l4}]}}
- {name: qwen, selfHosted: {storageUri: 'hf://org/qwen', placements: [{cluster: east, nodePool: h100}]}}
- {name: mistral, selfHosted: {storageUri: 'hf://org/mistral', placements: [{cluster: west, nodePool: l4}]}}
`)
	p = getPlatform(t, p)

	// The objects land in the right clusters: each model cluster holds exactly what render puts there,
	// and the hub holds none of it.
	for _, mc := range []*modelClusterEnv{east, west} {
		want := renderedFor(t, p, mc.name)
		eventually(t, 30*time.Second, func() error {
			if got := labelled(t, mc.admin, p); !reflect.DeepEqual(got, want) {
				return fmt.Errorf("%s holds %v, want %v", mc.name, got, want)
			}
			return nil
		})
	}
	for _, obj := range labelled(t, k8s, p) {
		if strings.HasPrefix(obj, "InferenceService/") || strings.HasPrefix(obj, "HTTPRoute/") || strings.Contains(obj, "/genai-models/") {
			t.Errorf("model cluster object in the hub: %s", obj)
		}
	}

	// Make everything ready as the controllers of each cluster would.
	mns := "genai-models"
	for _, mc := range []*modelClusterEnv{east, west} {
		acceptTierTwoIn(t, mc.admin, p, mc.name, mns)
		setStatusConditionsIn(t, mc.admin, gvkGateway, mns, render.TierTwoGatewayName(p), map[string]any{
			"addresses": []any{map[string]any{"type": "Hostname", "value": "tier2." + mc.name + ".internal"}},
		}, "Accepted", "Programmed")
	}
	setISVCReadyIn(t, east.admin, mns, render.InferenceServiceName(p, mns, "llama", "h100"), true, "", "")
	setISVCReadyIn(t, east.admin, mns, render.InferenceServiceName(p, mns, "qwen", "h100"), true, "", "")
	setISVCReadyIn(t, west.admin, mns, render.InferenceServiceName(p, mns, "llama", "l4"), true, "", "")
	setISVCReadyIn(t, west.admin, mns, render.InferenceServiceName(p, mns, "mistral", "l4"), true, "", "")
	setStatusConditions(t, gvkGatewayClass, "", render.Name("genai", ns, p.Name), nil, "Accepted")
	setStatusConditions(t, gvkGateway, ns, render.GatewayName(p), map[string]any{
		"addresses": []any{map[string]any{"type": "IPAddress", "value": "10.0.0.1"}},
	}, "Accepted", "Programmed")
	for _, c := range []string{"east", "west"} {
		link := render.ClusterBackendName(p, c)
		setStatusConditions(t, gvkBackend, ns, link, nil, "Accepted")
		setStatusConditions(t, gvkAISB, ns, link, nil, "Accepted")
		setStatusConditions(t, gvkBSP, ns, link, nil, "Accepted")
	}
	acceptRoute := func() { setStatusConditions(t, gvkRoute, ns, render.RouteName(p, 0), nil, "Accepted") }
	eastLink, westLink := render.ClusterBackendName(p, "east")+"/1/0", render.ClusterBackendName(p, "west")+"/1/0"
	// The route settles once every placement is Ready; only then does the AI Gateway "accept" it.
	eventually(t, 20*time.Second, func() error {
		if b := ruleBackends(t, p, "llama"); !reflect.DeepEqual(b, sorted(eastLink, westLink)) {
			return fmt.Errorf("llama's Tier One backends: %v", b)
		}
		return nil
	})
	acceptRoute()
	got := waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionTrue, status.ReasonReady)
	if b := ruleBackends(t, p, "llama"); !reflect.DeepEqual(b, sorted(eastLink, westLink)) {
		t.Errorf("llama's Tier One backends: %v", b)
	}
	if s := modelReadyState(got, "llama"); s != "ready=true routes=[cluster:east/h100 cluster:west/l4]" {
		t.Errorf("llama: %s", s)
	}

	// A remote status change reaches the platform through the model cluster's watch.
	setISVCReadyIn(t, east.admin, mns, render.InferenceServiceName(p, mns, "qwen", "h100"), false, "MinimumReplicasUnavailable", "0/1 nodes are available: 1 Insufficient nvidia.com/gpu")
	eventually(t, 10*time.Second, func() error {
		if ms := modelStatus(getPlatform(t, p), "qwen"); ms == nil || ms.Ready || !strings.Contains(ms.Message, "Insufficient nvidia.com/gpu") {
			return fmt.Errorf("qwen: %+v", ms)
		}
		return nil
	})
	setISVCReadyIn(t, east.admin, mns, render.InferenceServiceName(p, mns, "qwen", "h100"), true, "", "")

	t.Run("an unreachable cluster stops being routed to, and comes back", func(t *testing.T) {
		west.stop(t)
		eventually(t, 30*time.Second, func() error {
			cur := getPlatform(t, p)
			if ready, reason := clusterState(cur, "west"); ready || reason != status.ReasonClusterUnreachable {
				return fmt.Errorf("west: ready=%v %s", ready, reason)
			}
			if ready, reason := clusterState(cur, "east"); !ready {
				return fmt.Errorf("east: %s", reason)
			}
			if b := ruleBackends(t, p, "llama"); !reflect.DeepEqual(b, []string{eastLink}) {
				return fmt.Errorf("llama's Tier One backends: %v", b)
			}
			if b := ruleBackends(t, p, "mistral"); b != nil {
				return fmt.Errorf("mistral still routed to the dead cluster: %v", b)
			}
			return nil
		})
		acceptRoute()
		eventually(t, 20*time.Second, func() error {
			cur := getPlatform(t, p)
			for model, want := range map[string]string{
				"llama": "ready=true routes=[cluster:east/h100]", "qwen": "ready=true routes=[cluster:east/h100]",
			} {
				if s := modelReadyState(cur, model); s != want {
					return fmt.Errorf("%s: %s", model, s)
				}
			}
			if ms := modelStatus(cur, "mistral"); ms == nil || ms.Ready || !strings.Contains(ms.Message, status.ReasonClusterUnreachable) {
				return fmt.Errorf("mistral: %+v", ms)
			}
			return nil
		})
		// The link objects of the dead cluster stay (no churn), only routing stopped.
		if !slices.Contains(liveChildren(t, p), "Backend/"+ns+"/"+render.ClusterBackendName(p, "west")) {
			t.Errorf("west's link Backend was removed: %v", liveChildren(t, p))
		}

		west.restart(t)
		eventually(t, 60*time.Second, func() error {
			cur := getPlatform(t, p)
			if ready, reason := clusterState(cur, "west"); !ready {
				return fmt.Errorf("west: %s", reason)
			}
			if b := ruleBackends(t, p, "llama"); !reflect.DeepEqual(b, sorted(eastLink, westLink)) {
				return fmt.Errorf("llama's Tier One backends: %v", b)
			}
			return nil
		})
		acceptRoute()
		waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionTrue, status.ReasonReady)
	})

	t.Run("a rotated kubeconfig switches the client without restart", func(t *testing.T) {
		// A new identity with the same rights; the old one loses its rights once the Secret is rotated,
		// so a change that still lands in east proves the operator switched.
		east.applyBinding(t, "rotated-operator")
		setKubeconfig(t, ns, "east-kubeconfig", east.kubeconfig(t, "rotated-operator"))
		time.Sleep(2 * time.Second) // the Secret watch triggers a reconcile that reconnects
		if err := east.admin.Delete(testCtx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "genai-platform-operator-model-cluster"}}); err != nil {
			t.Fatal(err)
		}
		updatePlatform(t, p, func(cur *platformv1.GenAIPlatform) {
			cur.Spec.ModelClusters[0].NodePools = append(cur.Spec.ModelClusters[0].NodePools, platformv1.NodePoolSpec{Name: "a100"})
			cur.Spec.Models[1].SelfHosted.Placements = append(cur.Spec.Models[1].SelfHosted.Placements, platformv1.Placement{Cluster: "east", NodePool: "a100"})
		})
		eventually(t, 30*time.Second, func() error {
			return east.admin.Get(testCtx, client.ObjectKey{Namespace: mns, Name: render.InferenceServiceName(p, mns, "qwen", "a100")}, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService"}})
		})
	})

	t.Run("a bad kubeconfig is reported and does not block the other cluster", func(t *testing.T) {
		setKubeconfig(t, ns, "west-kubeconfig", []byte("this is not a kubeconfig"))
		eventually(t, 20*time.Second, func() error {
			cur := getPlatform(t, p)
			if ready, reason := clusterState(cur, "west"); ready || reason != status.ReasonKubeconfigInvalid {
				return fmt.Errorf("west: ready=%v %s", ready, reason)
			}
			if ready, reason := clusterState(cur, "east"); !ready {
				return fmt.Errorf("east: %s", reason)
			}
			return nil
		})
		c := findCondition(getPlatform(t, p), platformv1.ConditionModelClustersReady)
		if !strings.Contains(c.Message, "spec.modelClusters[west].kubeconfigSecretRef") {
			t.Errorf("ModelClustersReady does not name the field: %q", c.Message)
		}
		setKubeconfig(t, ns, "west-kubeconfig", west.kubeconfig(t, operatorIdentity))
		eventually(t, 30*time.Second, func() error {
			if ready, reason := clusterState(getPlatform(t, p), "west"); !ready {
				return fmt.Errorf("west: %s", reason)
			}
			return nil
		})
	})

	t.Run("removing a cluster cleans it and stops its cache and watches", func(t *testing.T) {
		if n := west.watchesOn(t, "inferenceservices", "gateways", "httproutes"); n == 0 {
			t.Fatalf("expected the operator to watch west before removal")
		}
		updatePlatform(t, p, func(cur *platformv1.GenAIPlatform) {
			cur.Spec.ModelClusters = cur.Spec.ModelClusters[:1]
			cur.Spec.Models = []platformv1.ModelSpec{cur.Spec.Models[1]} // qwen: east only
		})
		eventually(t, 30*time.Second, func() error {
			if left := labelled(t, west.admin, p); len(left) > 0 {
				return fmt.Errorf("left in west: %v", left)
			}
			if n := west.watchesOn(t, "inferenceservices", "gateways", "httproutes", "securitypolicies", "envoyproxies", "gatewayclasses"); n != 0 {
				return fmt.Errorf("%d watches still open on west", n)
			}
			return nil
		})
	})

	t.Run("deleting the platform leaves nothing in any cluster", func(t *testing.T) {
		if err := k8s.Delete(testCtx, p); err != nil {
			t.Fatal(err)
		}
		waitNoChildren(t, p)
		for _, c := range []client.Client{east.admin, west.admin, k8s} {
			if left := labelled(t, c, p); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		}
	})
}

// TestDeletionWaitsForUnreachableCluster: a platform whose model cluster cannot be reached at deletion
// time keeps its finalizer with a condition saying how to give up; the escape-hatch annotation lets it go.
func TestDeletionWaitsForUnreachableCluster(t *testing.T) {
	far := startModelCluster(t, "far")
	// This model cluster has no KServe: said in status, and the rest is still deployed there.
	if err := far.admin.Delete(testCtx, &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "inferenceservices.serving.kserve.io"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		err := far.admin.Get(testCtx, client.ObjectKey{Name: "inferenceservices.serving.kserve.io"}, &apiextensionsv1.CustomResourceDefinition{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("CRD still there: %v", err)
		}
		// Gone from discovery too, as a cluster without KServe would be.
		if _, err := discovery.NewDiscoveryClientForConfigOrDie(far.cfg).ServerResourcesForGroupVersion("serving.kserve.io/v1beta1"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("serving.kserve.io/v1beta1 still discovered: %v", err)
		}
		return nil
	})
	ns := newNamespace(t)
	setKubeconfig(t, ns, "far-kubeconfig", far.kubeconfig(t, operatorIdentity))
	p := createPlatform(t, ns, "doomed", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: far, kubeconfigSecretRef: {name: far-kubeconfig}, nodePools: [{name: a}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', placements: [{cluster: far, nodePool: a}]}}]
`)
	eventually(t, 30*time.Second, func() error {
		if got := labelled(t, far.admin, p); !slices.Contains(got, "Gateway/genai-models/"+render.TierTwoGatewayName(p)) {
			return fmt.Errorf("no Tier Two Gateway in far yet: %v", got)
		}
		cur := getPlatform(t, p)
		if ready, reason := clusterState(cur, "far"); ready || reason != status.ReasonCRDNotInstalled {
			return fmt.Errorf("far: ready=%v %s", ready, reason)
		}
		if c := findCondition(cur, platformv1.ConditionModelClustersReady); c == nil || !strings.Contains(c.Message, "InferenceService (serving.kserve.io/v1beta1)") {
			return fmt.Errorf("ModelClustersReady: %+v", c)
		}
		return nil
	})
	// Steady with a model cluster that misses a CRD: nothing written.
	expectNoWritesOnReconcile(t, p)

	// Steady with the model cluster unreachable: nothing written either.
	far.stop(t)
	eventually(t, 30*time.Second, func() error {
		cur := getPlatform(t, p)
		if ready, reason := clusterState(cur, "far"); ready || reason != status.ReasonClusterUnreachable {
			return fmt.Errorf("far: ready=%v %s", ready, reason)
		}
		// The status quotes the probe's error: while the API server goes down it may read "connection
		// reset by peer" before it settles on "connection refused", a real change the operator writes.
		for _, mc := range cur.Status.ModelClusters {
			if mc.Name == "far" && !strings.Contains(mc.Message, "connection refused") {
				return fmt.Errorf("far: %s", mc.Message)
			}
		}
		return nil
	})
	expectNoWritesOnReconcile(t, p)

	if err := k8s.Delete(testCtx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		cur := &platformv1.GenAIPlatform{}
		if err := k8s.Get(testCtx, keyOf(p), cur); err != nil {
			return err
		}
		c := findCondition(cur, platformv1.ConditionReady)
		if c == nil || c.Reason != status.ReasonCleanupBlocked || !strings.Contains(c.Message, platformv1.AnnotationAbandonClusters) || !strings.Contains(c.Message, "far") {
			return fmt.Errorf("Ready: %+v", c)
		}
		return nil
	})
	// Still there after a while: deletion waits, looking again every 15 s, and writes nothing meanwhile
	// (its status already says why it waits).
	waitQuiet(t)
	mark := writes.mark()
	time.Sleep(16 * time.Second)
	if err := k8s.Get(testCtx, keyOf(p), &platformv1.GenAIPlatform{}); err != nil {
		t.Fatalf("the platform went while its model cluster was unreachable: %v", err)
	}
	if w := writesFor(mark, ns, "-"); len(w) != 0 {
		t.Errorf("the blocked deletion wrote %d times in 16 s: %v", len(w), w)
	}
	cur := getPlatform(t, p)
	before := cur.DeepCopy()
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[platformv1.AnnotationAbandonClusters] = "far"
	if err := k8s.Patch(testCtx, cur, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(testCtx, keyOf(p), &platformv1.GenAIPlatform{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("platform still there: %v", err)
		}
		return nil
	})
	// What was abandoned is still in the cluster, as the annotation said it would be.
	far.restart(t)
	eventually(t, 30*time.Second, func() error {
		if got := labelled(t, far.admin, p); len(got) == 0 {
			return fmt.Errorf("abandoned objects not found in far")
		}
		return nil
	})
}

func (m *modelClusterEnv) applyBinding(t *testing.T, user string) {
	t.Helper()
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "genai-platform-operator-model-cluster-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "genai-platform-operator-model-cluster"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}
	if err := m.admin.Create(testCtx, crb); err != nil {
		t.Fatal(err)
	}
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}
