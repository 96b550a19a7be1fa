package install_test

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/manager"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// TestInstallOnAPIServer applies the installation to a real kube-apiserver (RBAC authorization, Pod
// Security admission), then runs the operator as the installation's service account, configured by the
// Deployment's own flags, on the samples: every permission it needs must be granted, and the metrics
// endpoint must serve only authorized scrapers over HTTPS.
func TestInstallOnAPIServer(t *testing.T) {
	objs := build(t)
	var logs testenv.SyncBuffer
	logger := zap.New(zap.WriteTo(&logs), zap.UseDevMode(true))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger) // client-go's reflectors report refused lists and watches through klog
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	// The installation brings the GenAIPlatform CRD itself: leave it out of the environment's.
	own := filepath.Join(testenv.ProjectRoot(), "config", "crd", "bases")
	env.CRDDirectoryPaths = slices.DeleteFunc(env.CRDDirectoryPaths, func(p string) bool { return p == own })
	cfg, admin := testenv.StartWithAdmin(t, env)
	ctx := t.Context()

	// Namespaces first, then CRDs, established before anything else is applied; then the rest.
	var namespaces, crds, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace":
			namespaces = append(namespaces, o)
		case "CustomResourceDefinition":
			crds = append(crds, o)
		default:
			rest = append(rest, o)
		}
	}
	applyAll(t, admin, namespaces)
	applyAll(t, admin, crds)
	for _, c := range crds {
		testenv.Eventually(t, 30*time.Second, func() error {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := admin.Get(ctx, types.NamespacedName{Name: c.GetName()}, &crd); err != nil {
				return err
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return fmt.Errorf("CRD %s not established", c.GetName())
		})
	}
	applyAll(t, admin, rest)
	if t.Failed() {
		t.FailNow()
	}

	// As stored (defaulted) by the API server, the Deployment keeps every property checked statically.
	var dep appsv1.Deployment
	if err := admin.Get(ctx, types.NamespacedName{Namespace: systemNamespace, Name: deploymentName}, &dep); err != nil {
		t.Fatal(err)
	}
	if p := deploymentProblems(&dep); len(p) > 0 {
		t.Errorf("the stored manager Deployment:\n%s", strings.Join(p, "\n"))
	}

	t.Run("pod security restricted", func(t *testing.T) { podSecurity(t, admin, &dep) })
	t.Run("operator as the installed service account", func(t *testing.T) { runAsInstalled(t, cfg, admin, &dep, &logs) })
}

// podSecurity: the operator's namespace enforces the restricted Pod Security Standard, and the
// manager's pod passes it (a dry-run create goes through Pod Security admission); a pod without the
// hardening is refused, which shows the namespace really enforces it.
func podSecurity(t *testing.T, admin client.Client, dep *appsv1.Deployment) {
	var ns corev1.Namespace
	if err := admin.Get(t.Context(), types.NamespacedName{Name: systemNamespace}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s does not enforce the restricted Pod Security Standard: %v", systemNamespace, ns.Labels)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, GenerateName: "manager-", Labels: dep.Spec.Template.Labels},
		Spec:       *dep.Spec.Template.Spec.DeepCopy(),
	}
	if err := admin.Create(t.Context(), pod.DeepCopy(), client.DryRunAll); err != nil {
		t.Errorf("the manager's pod is refused in %s: %v", systemNamespace, err)
	}
	loose := pod.DeepCopy()
	loose.Spec.SecurityContext = nil
	loose.Spec.Containers[0].SecurityContext = nil
	err := admin.Create(t.Context(), loose, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "PodSecurity") {
		t.Errorf("a pod without the security context is not refused by Pod Security admission: %v", err)
	}
}

// runAsInstalled runs the operator's manager (controllers/manager, as main.go builds it) with the
// Deployment's flags, impersonating the installed service account, on the samples.
func runAsInstalled(t *testing.T, cfg *rest.Config, admin client.Client, dep *appsv1.Deployment, logs *testenv.SyncBuffer) {
	var mc manager.Config
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	mc.BindFlags(fs)
	// As an admin who lets every platform use the samples' model namespace (the operator then creates it):
	// without it a platform writes only into its own namespace.
	if err := fs.Parse(append(dep.Spec.Template.Spec.Containers[0].Args, "--model-namespaces=genai-models")); err != nil {
		t.Fatal(err)
	}
	// Loopback ports instead of :8443 and :8081 (the machine is shared); in a pod the namespace comes
	// from the service account mount, here it is given.
	mc.MetricsAddr, mc.ProbeAddr, mc.LeaderElectionNamespace = freeAddress(t), freeAddress(t), systemNamespace

	asSA := rest.CopyConfig(cfg)
	asSA.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + systemNamespace + ":" + managerSA,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + systemNamespace, "system:authenticated"},
	}
	mgr, err := manager.New(asSA, mc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
		if t.Failed() {
			lines := strings.Split(logs.String(), "\n")
			t.Logf("last operator log lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}()

	// Leader election: the Lease in the operator's namespace, held.
	testenv.Eventually(t, 30*time.Second, func() error {
		var lease coordinationv1.Lease
		if err := admin.Get(ctx, types.NamespacedName{Namespace: systemNamespace, Name: manager.LeaderElectionID}, &lease); err != nil {
			return err
		}
		if ptr.Deref(lease.Spec.HolderIdentity, "") == "" {
			return fmt.Errorf("lease %s has no holder", lease.Name)
		}
		return nil
	})

	// Probes.
	for _, path := range []string{"/healthz", "/readyz"} {
		testenv.Eventually(t, 10*time.Second, func() error {
			resp, err := http.Get("http://" + mc.ProbeAddr + path)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", path, resp.Status)
			}
			return nil
		})
	}

	// The samples, applied by a user; the operator reconciles them as the service account.
	samples := filepath.Join(testenv.ProjectRoot(), "config", "samples")
	var platforms []types.NamespacedName
	for _, f := range []string{"secrets.yaml", "secrets-selfhosted.yaml", "platform_v1alpha1_genaiplatform.yaml", "platform_v1alpha1_genaiplatform_selfhosted.yaml"} {
		for _, o := range readYAML(t, filepath.Join(samples, f)) {
			applyAll(t, admin, []*unstructured.Unstructured{o})
			if o.GetKind() == "GenAIPlatform" {
				platforms = append(platforms, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
			}
		}
	}
	if len(platforms) != 2 {
		t.Fatalf("samples hold %d platforms", len(platforms))
	}
	for _, key := range platforms {
		testenv.Eventually(t, 60*time.Second, func() error {
			var p platformv1.GenAIPlatform
			if err := admin.Get(ctx, key, &p); err != nil {
				return err
			}
			if p.Status.ObservedGeneration != p.Generation {
				return fmt.Errorf("%s: observedGeneration %d, generation %d (every child applied advances it): %+v", key, p.Status.ObservedGeneration, p.Generation, p.Status.Conditions)
			}
			return nil
		})
	}
	// What the operator made, across the kinds it needs the most rights for.
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Secret"}, {Version: "v1", Kind: "Namespace"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayClass"},
		{Group: "serving.kserve.io", Version: "v1beta1", Kind: "InferenceService"},
		{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "AIGatewayRoute"},
	} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := admin.List(ctx, list, client.MatchingLabels{platformv1.LabelManagedBy: platformv1.ManagedByValue}); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == 0 {
			t.Errorf("the operator, as its service account, created no %s", gvk.Kind)
		}
	}

	t.Run("metrics", func(t *testing.T) { metrics(t, cfg, admin, mc.MetricsAddr) })

	// Deleting the platforms: the operator deletes their children and releases its finalizer.
	for _, key := range platforms {
		p := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		if err := admin.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 60*time.Second, func() error {
			err := admin.Get(ctx, key, &platformv1.GenAIPlatform{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("%s still there: %v", key, err)
		})
	}

	// Nothing was refused, ever: a forbidden list or watch only shows in the logs.
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "forbidden") {
			t.Errorf("the operator was refused something as its service account: %s", l)
		}
	}
}

// metrics: HTTPS; no token is 401, a token without metrics-reader is 403, with it 200.
func metrics(t *testing.T, cfg *rest.Config, admin client.Client, addr string) {
	ctx := t.Context()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}
	if err := admin.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name}}
		if err := admin.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns.Name).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	scraper, nobody := token("prometheus"), token("nobody")
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-genai-platform-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReader},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns.Name, Name: "prometheus"}},
	}
	if err := admin.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}

	// The endpoint's certificate is self-signed (no cert-manager in this installation): the TLS is for
	// confidentiality, the token for who may read.
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(token string) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	for _, c := range []struct {
		name, token string
		want        int
	}{{"no token", "", http.StatusUnauthorized}, {"a token without metrics-reader", nobody, http.StatusForbidden}, {"the scraper's token", scraper, http.StatusOK}} {
		// RBAC changes reach the authorizer's cache within a second or so.
		testenv.Eventually(t, 15*time.Second, func() error {
			code, body, err := get(c.token)
			if err != nil {
				return err
			}
			if code != c.want {
				return fmt.Errorf("%s: %d, want %d", c.name, code, c.want)
			}
			if code == http.StatusOK && !strings.Contains(body, "controller_runtime_reconcile_total") {
				return fmt.Errorf("%s: no controller metrics in the response", c.name)
			}
			return nil
		})
	}
	// Plain HTTP is not served.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("metrics are served over plain HTTP")
		}
	}
}

func readYAML(t testing.TB, file string) []*unstructured.Unstructured {
	t.Helper()
	out, err := testenv.ReadObjects(file)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func freeAddress(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
