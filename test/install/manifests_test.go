// Package install_test checks the operator's installation, config/default (what `make build-installer`
// writes to dist/install.yaml): built in the test with kustomize's Go API, so that no binary is needed,
// then checked statically (RBAC least privilege, the manager Deployment's hardening) and on a real API
// server (every object accepted, and the operator, running as the installed service account with the
// Deployment's own flags, able to do its work and nothing is forbidden).
package install_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/manager"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// The installation's fixed names: the namespace and the prefix come from config/default.
const (
	systemNamespace = "genai-platform-system"
	managerSA       = "genai-platform-controller-manager"
	managerRole     = "genai-platform-manager-role"
	deploymentName  = "genai-platform-controller-manager"
	metricsService  = "genai-platform-controller-manager-metrics-service"
	metricsReader   = "genai-platform-metrics-reader"
)

// build runs kustomize on config/default, as `make build-installer` does (there through the pinned
// kustomize binary, here through the same version's Go API).
func build(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(testenv.ProjectRoot(), "config", "default"))
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
	y, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(y), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func convert[T any](t testing.TB, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

func TestInstallContents(t *testing.T) {
	objs := build(t)
	want := []string{
		"Namespace/" + systemNamespace,
		"CustomResourceDefinition/genaiplatforms.platform.genai.dev",
		"ServiceAccount/" + managerSA,
		"ClusterRole/" + managerRole,
		"ClusterRoleBinding/genai-platform-manager-rolebinding",
		"Role/genai-platform-leader-election-role",
		"RoleBinding/genai-platform-leader-election-rolebinding",
		"ClusterRole/genai-platform-metrics-auth-role",
		"ClusterRoleBinding/genai-platform-metrics-auth-rolebinding",
		"ClusterRole/" + metricsReader,
		"Service/" + metricsService,
		"Deployment/" + deploymentName,
	}
	for _, w := range want {
		kind, name, _ := strings.Cut(w, "/")
		if find(objs, kind, name) == nil {
			t.Errorf("config/default has no %s", w)
		}
	}
	for _, o := range objs {
		if namespaced(o.GetKind()) && o.GetNamespace() != systemNamespace {
			t.Errorf("%s %s is in namespace %q, not %s", o.GetKind(), o.GetName(), o.GetNamespace(), systemNamespace)
		}
	}
	// Each binding grants its role to the service account the Deployment runs as.
	dep := convert[appsv1.Deployment](t, find(objs, "Deployment", deploymentName))
	if sa := dep.Spec.Template.Spec.ServiceAccountName; sa != managerSA {
		t.Errorf("the Deployment runs as service account %q, want %s", sa, managerSA)
	}
	for _, b := range []string{"ClusterRoleBinding/genai-platform-manager-rolebinding", "ClusterRoleBinding/genai-platform-metrics-auth-rolebinding", "RoleBinding/genai-platform-leader-election-rolebinding"} {
		kind, name, _ := strings.Cut(b, "/")
		u := find(objs, kind, name)
		if u == nil {
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
		ok := false
		for _, s := range subjects {
			m := s.(map[string]any)
			ok = ok || (m["kind"] == "ServiceAccount" && m["name"] == managerSA && m["namespace"] == systemNamespace)
		}
		if !ok {
			t.Errorf("%s does not bind service account %s/%s: %v", b, systemNamespace, managerSA, subjects)
		}
	}
}

func namespaced(kind string) bool {
	switch kind {
	case "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
		return false
	}
	return true
}

// rbacRules are every Role's and ClusterRole's rules, by "Kind/name".
func rbacRules(t testing.TB, objs []*unstructured.Unstructured) map[string][]rbacv1.PolicyRule {
	out := map[string][]rbacv1.PolicyRule{}
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole":
			out["ClusterRole/"+o.GetName()] = convert[rbacv1.ClusterRole](t, o).Rules
		case "Role":
			out["Role/"+o.GetName()] = convert[rbacv1.Role](t, o).Rules
		}
	}
	return out
}

// wildcards names every "*" (whole or part) in the rules' verbs, resources, API groups and URLs.
func wildcards(roles map[string][]rbacv1.PolicyRule) []string {
	var out []string
	for role, rules := range roles {
		for i, r := range rules {
			for field, values := range map[string][]string{"verbs": r.Verbs, "resources": r.Resources, "apiGroups": r.APIGroups, "nonResourceURLs": r.NonResourceURLs, "resourceNames": r.ResourceNames} {
				for _, v := range values {
					if strings.Contains(v, "*") {
						out = append(out, fmt.Sprintf("%s rule %d %s: %q", role, i, field, v))
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// secretGrants lists, per role, the verbs it grants on core Secrets.
func secretGrants(roles map[string][]rbacv1.PolicyRule) map[string][]string {
	out := map[string][]string{}
	for role, rules := range roles {
		for _, r := range rules {
			if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "secrets") {
				out[role] = append(out[role], r.Verbs...)
			}
		}
		slices.Sort(out[role])
	}
	return out
}

func TestRBACLeastPrivilege(t *testing.T) {
	roles := rbacRules(t, build(t))
	if len(roles) < 4 {
		t.Fatalf("only %d roles in config/default", len(roles))
	}
	if w := wildcards(roles); len(w) > 0 {
		t.Errorf("RBAC wildcards:\n%s", strings.Join(w, "\n"))
	}
	// The check itself finds a wildcard wherever one hides.
	if w := wildcards(map[string][]rbacv1.PolicyRule{"ClusterRole/x": {{APIGroups: []string{""}, Resources: []string{"pods/*"}, Verbs: []string{"get"}}}}); len(w) != 1 {
		t.Errorf("the wildcard check misses pods/*: %v", w)
	}

	// Secrets. The operator must list and watch Secrets cluster-wide: platforms live in any namespace,
	// its cache of the Secrets it manages is a label-filtered informer (list/watch with a selector), and
	// a metadata-only informer (names and resourceVersions, never values) notices when a referenced
	// Secret changes. RBAC cannot scope list/watch to a label, so the narrowing is the cache's: it holds
	// only Secrets labelled as the operator's (asserted below), and referenced user Secrets are read
	// directly (get). It writes the managed copies by server-side apply (create when new, patch after)
	// and never by PUT (no update); it deletes the copies it prunes. No other role touches Secrets.
	// TestInstallOnAPIServer shows these verbs are enough: the operator runs as the service account.
	grants := secretGrants(roles)
	wantVerbs := []string{"create", "delete", "get", "list", "patch", "watch"}
	for role, verbs := range grants {
		if role != "ClusterRole/"+managerRole {
			t.Errorf("%s grants %v on Secrets: only the manager needs Secrets", role, verbs)
		}
	}
	if got := grants["ClusterRole/"+managerRole]; !slices.Equal(got, wantVerbs) {
		t.Errorf("the manager's Secret verbs are %v, want exactly %v", got, wantVerbs)
	}
	// The selector the cache uses for Secrets: their own entry's, else the cache's default.
	opts := controllers.CacheOptions()
	secretSelector := opts.DefaultLabelSelector
	for obj, by := range opts.ByObject {
		if _, isSecret := obj.(*corev1.Secret); isSecret && by.Label != nil {
			secretSelector = by.Label
		}
	}
	if secretSelector == nil || secretSelector.Empty() ||
		!secretSelector.Matches(labels.Set{platformv1.LabelManagedBy: platformv1.ManagedByValue}) || secretSelector.Matches(labels.Set{}) {
		t.Errorf("the manager's Secret cache is not label-filtered (%v): cluster-wide list/watch on Secrets would cache every Secret's data", secretSelector)
	}

	// Whoever scrapes metrics needs get on /metrics and nothing else.
	if got := roles["ClusterRole/"+metricsReader]; len(got) != 1 || !slices.Equal(got[0].NonResourceURLs, []string{"/metrics"}) || !slices.Equal(got[0].Verbs, []string{"get"}) {
		t.Errorf("metrics-reader rules: %+v", got)
	}
}

// deploymentProblems lists what the manager Deployment lacks of the hardening and wiring it must have.
func deploymentProblems(dep *appsv1.Deployment) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	pod := dep.Spec.Template.Spec
	var c *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "manager" {
			c = &pod.Containers[i]
		}
	}
	if c == nil {
		return []string{"no manager container"}
	}
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	if !isTrue(sc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
		bad("runAsNonRoot is not true")
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		bad("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		bad("allowPrivilegeEscalation is not false")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		bad("capabilities do not drop ALL (or add some)")
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad("seccompProfile is not RuntimeDefault")
	}
	if isTrue(sc.Privileged) {
		bad("privileged")
	}

	var cfg manager.Config
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.BindFlags(fs)
	var args []string
	if len(c.Command) > 1 {
		args = append(args, c.Command[1:]...)
	}
	if err := fs.Parse(append(args, c.Args...)); err != nil {
		bad("the manager's flags do not parse: %v", err)
	}
	if !cfg.LeaderElect {
		bad("leader election is off")
	}
	if !cfg.SecureMetrics || cfg.MetricsAddr != ":8443" {
		bad("metrics are not served securely on :8443 (secure=%v, address %q)", cfg.SecureMetrics, cfg.MetricsAddr)
	}
	_, probePort, _ := net.SplitHostPort(cfg.ProbeAddr)
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		switch {
		case p.probe == nil || p.probe.HTTPGet == nil:
			bad("no %s HTTP probe", p.name)
		case p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "8081" || probePort != "8081":
			bad("%s probe is %s on port %s (health probes bound to %q), want %s on 8081", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), cfg.ProbeAddr, p.path)
		}
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[res]
		lim, hasLim := c.Resources.Limits[res]
		if !hasReq || !hasLim {
			bad("%s request or limit missing", res)
		} else if req.Cmp(lim) > 0 {
			bad("%s request %s above its limit %s", res, req.String(), lim.String())
		}
	}
	if c.Image == "" {
		bad("no image")
	}
	return out
}

func isTrue(b *bool) bool { return b != nil && *b }

func TestManagerDeployment(t *testing.T) {
	objs := build(t)
	dep := convert[appsv1.Deployment](t, find(objs, "Deployment", deploymentName))
	if p := deploymentProblems(dep); len(p) > 0 {
		t.Errorf("manager Deployment:\n%s", strings.Join(p, "\n"))
	}

	// The check notices each property missing.
	broken := dep.DeepCopy()
	c := &broken.Spec.Template.Spec.Containers[0]
	c.SecurityContext.ReadOnlyRootFilesystem = nil
	c.SecurityContext.Capabilities = nil
	c.LivenessProbe = nil
	c.Resources.Limits = nil
	c.Args = slices.DeleteFunc(slices.Clone(c.Args), func(a string) bool { return a == "--leader-elect" || strings.HasPrefix(a, "--metrics-secure") })
	got := strings.Join(deploymentProblems(broken), "\n")
	for _, w := range []string{"readOnlyRootFilesystem", "capabilities", "liveness", "limit missing", "leader election", "metrics are not served securely"} {
		if !strings.Contains(got, w) {
			t.Errorf("a Deployment without it passes the %q check; problems found:\n%s", w, got)
		}
	}

	// The metrics Service reaches the HTTPS metrics port of the manager's pods.
	svc := convert[corev1.Service](t, find(objs, "Service", metricsService))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8443 {
		t.Fatalf("metrics Service ports: %+v", svc.Spec.Ports)
	}
	target := svc.Spec.Ports[0].TargetPort
	found := false
	for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
		if (target.Type == intstr.String && p.Name == target.StrVal) || (target.Type == intstr.Int && p.ContainerPort == target.IntVal) {
			found = p.ContainerPort == 8443
		}
	}
	if !found {
		t.Errorf("the metrics Service's targetPort %s is not the container's port 8443", target.String())
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("the metrics Service selects %s=%s, which the manager's pods do not carry", k, v)
		}
	}
}

// The image: a static binary on distroless, as the non-root user the Deployment requires.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.ProjectRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var from []string
	var user, entrypoint string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			from = append(from, f[1])
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entrypoint = strings.Join(f[1:], " ")
		}
	}
	if len(from) < 2 || !strings.HasPrefix(from[0], "golang:") || from[len(from)-1] != "gcr.io/distroless/static:nonroot" {
		t.Errorf("want a golang builder stage and a gcr.io/distroless/static:nonroot final stage, got %v", from)
	}
	if user != "65532:65532" && user != "65532" {
		t.Errorf("final USER is %q, want 65532 (numeric, so that runAsNonRoot can verify it)", user)
	}
	if !strings.Contains(string(b), "CGO_ENABLED=0") {
		t.Error("the binary is not built with CGO_ENABLED=0: distroless/static has no libc")
	}
	if entrypoint != `["/manager"]` {
		t.Errorf("ENTRYPOINT is %s, want [\"/manager\"] (the Deployment's command)", entrypoint)
	}
}

// applyAll server-side applies objects as the installer does (kubectl apply --server-side), without
// forcing: every object must be accepted as it is.
func applyAll(t testing.TB, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("install-test")); err != nil {
			t.Errorf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestSelectorsAreTheOperatorsOwn: the Deployment and the metrics Service select the operator's pods by
// its own name and instance. Installed in a namespace shared with another kubebuilder-made operator (whose
// pods carry control-plane: controller-manager, and whose selector may be that label alone), neither
// selects the other's pods.
func TestSelectorsAreTheOperatorsOwn(t *testing.T) {
	objs := build(t)
	dep := convert[appsv1.Deployment](t, find(objs, "Deployment", deploymentName))
	svc := convert[corev1.Service](t, find(objs, "Service", metricsService))
	ours := labels.Set(dep.Spec.Template.Labels)
	// A pod of another operator scaffolded by kubebuilder, in the same namespace.
	theirs := labels.Set{"control-plane": "controller-manager", "app.kubernetes.io/name": "other-operator", "app.kubernetes.io/managed-by": "kustomize"}
	// And the selectors that other operator's kubebuilder scaffold has.
	theirSelector := labels.SelectorFromSet(labels.Set{"control-plane": "controller-manager", "app.kubernetes.io/name": "other-operator"})

	depSel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	for name, sel := range map[string]labels.Selector{"Deployment": depSel, "metrics Service": labels.SelectorFromSet(svc.Spec.Selector)} {
		if !sel.Matches(ours) {
			t.Errorf("the %s's selector %s does not select the operator's own pods %v", name, sel, ours)
		}
		if sel.Matches(theirs) {
			t.Errorf("the %s's selector %s selects another operator's pods %v", name, sel, theirs)
		}
		for _, key := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance"} {
			if v, ok := sel.RequiresExactMatch(key); !ok || v == "" {
				t.Errorf("the %s's selector %s does not require %s", name, sel, key)
			}
		}
	}
	// Operators scaffolded by kubebuilder before v4 select their pods by control-plane: controller-manager
	// alone: the operator's pods do not carry that label, so that such a neighbour never selects them.
	oldSelector := labels.SelectorFromSet(labels.Set{"control-plane": "controller-manager"})
	for _, sel := range []labels.Selector{theirSelector, oldSelector} {
		if sel.Matches(ours) {
			t.Errorf("another operator's selector %s selects the operator's pods %v", sel, ours)
		}
	}
}
