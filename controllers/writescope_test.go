package controllers_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// asNamespaceEditor is a client for a user whose only right is the shipped editor role in ns: what a
// namespace's edit role grants on GenAIPlatforms (the role aggregates to edit).
func asNamespaceEditor(t *testing.T, ns, user string) client.Client {
	t.Helper()
	return asBoundTo(t, ns, user, "genaiplatform_editor_role.yaml")
}

// asBoundTo returns a client acting as user, who holds in namespace ns the shipped ClusterRole of
// config/rbac/<roleFile> (as a namespace's edit role aggregates it), and nothing else.
func asBoundTo(t *testing.T, ns, user, roleFile string) client.Client {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.ProjectRoot(), "config", "rbac", roleFile))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := sigyaml.UnmarshalStrict(b, role); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(testCtx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role.Name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if err := k8s.Create(testCtx, binding); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(testCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWriteScope: a namespace editor declares a platform whose model clusters point at kube-system and at
// another team's namespace. The operator writes nothing there, and the platform says why and how to allow
// it (Stalled: only someone who may label namespaces can). The editor cannot give that label; once an
// admin labels the namespace for the platform's namespace, the platform proceeds there without an edit.
// A label naming another namespace allows nothing.
func TestWriteScope(t *testing.T) {
	ns := newNamespace(t)
	editor := asNamespaceEditor(t, ns, "jane")
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "team-gpu-"}}
	if err := k8s.Create(testCtx, other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(testCtx, other) })

	p := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Name: "sneaky", Namespace: ns}}
	if err := sigyaml.UnmarshalStrict([]byte(`
gateway: {listener: {protocol: HTTP}}
modelClusters:
- {name: system, namespace: kube-system, nodePools: [{name: a}]}
- {name: team, namespace: `+other.Name+`, nodePools: [{name: a}]}
models:
- {name: m, selfHosted: {storageUri: 'hf://org/m', gpus: 8, placements: [{cluster: system, nodePool: a}, {cluster: team, nodePool: a}]}}
`), &p.Spec); err != nil {
		t.Fatal(err)
	}
	if err := editor.Create(testCtx, p); err != nil {
		t.Fatalf("the namespace editor may declare a platform in %s: %v", ns, err)
	}

	got := waitCondition(t, p, platformv1.ConditionModelClustersReady, metav1.ConditionFalse, status.ReasonNamespaceNotAllowed)
	if c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Stalled %+v: only someone who may label namespaces can fix it", c)
	}
	for _, mc := range got.Status.ModelClusters {
		want := fmt.Sprintf("kubectl label namespace %s %s=%s", map[string]string{"system": "kube-system", "team": other.Name}[mc.Name], platformv1.LabelAllowedPlatformNamespace, ns)
		if mc.Ready || mc.Reason != status.ReasonNamespaceNotAllowed || !strings.Contains(mc.Message, want) {
			t.Errorf("model cluster %s: %+v; want %s naming %q", mc.Name, mc.ComponentStatus, status.ReasonNamespaceNotAllowed, want)
		}
	}
	// Nothing of the platform's in either namespace (its Tier One, in its own namespace, is made).
	for _, target := range []string{"kube-system", other.Name} {
		for _, list := range []client.ObjectList{&corev1.SecretList{}, &gwapiv1.GatewayList{}} {
			if err := k8s.List(testCtx, list, client.InNamespace(target), client.MatchingLabels{platformv1.LabelPlatform: p.Name, platformv1.LabelPlatformNS: ns}); err != nil {
				t.Fatal(err)
			}
			if n := meta.LenList(list); n != 0 {
				t.Errorf("%d %T of the platform in %s", n, list, target)
			}
		}
	}
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.GatewayName(p)}, &gwapiv1.Gateway{}); err != nil {
		t.Errorf("Tier One, in the platform's own namespace: %v", err)
	}

	// The editor cannot allow it.
	patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, platformv1.LabelAllowedPlatformNamespace, ns))
	err := editor.Patch(testCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other.Name}}, client.RawPatch(types.MergePatchType, patch))
	if !apierrors.IsForbidden(err) {
		t.Fatalf("a namespace editor labelled namespace %s: %v", other.Name, err)
	}

	// A label naming another namespace allows nothing; one naming the platform's does, at once.
	label := func(value string) {
		t.Helper()
		p := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, platformv1.LabelAllowedPlatformNamespace, value))
		if err := k8s.Patch(testCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other.Name}}, client.RawPatch(types.MergePatchType, p)); err != nil {
			t.Fatal(err)
		}
	}
	label("someone-else")
	time.Sleep(2 * time.Second)
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: other.Name, Name: render.TierTwoGatewayName(p)}, &gwapiv1.Gateway{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a label naming another namespace let the platform write: %v", err)
	}
	label(ns)
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: other.Name, Name: render.TierTwoGatewayName(p)}, &gwapiv1.Gateway{})
	})
	// The status is written at the end of the reconcile that wrote the Gateway.
	eventually(t, 20*time.Second, func() error {
		for _, mc := range getPlatform(t, p).Status.ModelClusters {
			if mc.Name == "team" && mc.Reason == status.ReasonNamespaceNotAllowed {
				return fmt.Errorf("model cluster team still refused: %s", mc.Message)
			}
			if mc.Name == "system" && mc.Reason != status.ReasonNamespaceNotAllowed {
				return fmt.Errorf("model cluster system: %+v", mc.ComponentStatus)
			}
		}
		return nil
	})
}
