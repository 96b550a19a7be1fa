//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/genai-platform/genai-platform-operator/controllers/manager"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
	"github.com/genai-platform/genai-platform-operator/test/sim"
)

const (
	// sharedNS is a namespace the operator shares with another kubebuilder-made operator (`operators`, as
	// on upstream OLM).
	sharedNS       = "operators"
	ourDeployment  = "genai-platform-controller-manager"
	ourService     = "genai-platform-controller-manager-metrics-service"
	theirName      = "other-operator"
	theirDeploy    = "other-operator-controller-manager"
	theirService   = "other-operator-controller-manager-metrics-service"
	installedNS    = "genai-platform-system"
	helmReleaseArg = "genai-platform-operator"
)

// kubebuilderOperator is the Deployment that kubebuilder v4 scaffolds for a project named other-operator,
// with the metrics Service of older scaffolds, which selects by `control-plane: controller-manager` alone.
// The operator's pods do not carry that label.
func kubebuilderOperator() []client.Object {
	sel := map[string]string{"control-plane": "controller-manager", "app.kubernetes.io/name": theirName}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: theirDeploy, Namespace: sharedNS, Labels: sel},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: "manager", Image: "example.com/other-operator:v1.0.0", Command: []string{"/manager"},
						Args:            []string{"--leader-elect", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"},
						Ports:           []corev1.ContainerPort{{Name: "https", ContainerPort: 8443}},
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					}},
				},
			},
		},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: theirService, Namespace: sharedNS, Labels: sel},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"control-plane": "controller-manager"},
			Ports:    []corev1.ServicePort{{Name: "https", Port: 8443, TargetPort: intstr.FromString("https")}},
		},
	}
	return []client.Object{dep, svc}
}

// helmchart runs hack/helmchart (Helm's Go SDK: what `helm install` and `helm uninstall` run).
func helmchart(t *testing.T, args ...string) string {
	t.Helper()
	bin := os.Getenv("E2E_HELMCHART")
	if bin == "" {
		bin = filepath.Join(testenv.ProjectRoot(), "bin", "e2e-helmchart")
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = filepath.Join(testenv.ProjectRoot(), "hack", "helmchart")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building hack/helmchart: %v\n%s", err, out)
		}
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helmchart %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// testInstalls: the chart installed by Helm next to another kubebuilder-made operator in one namespace,
// then dist/install.yaml applied as the README says, each on the simulated cluster.
func testInstalls(t *testing.T) {
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sharedNS}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	theirs := kubebuilderOperator()
	for _, o := range theirs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	out := helmchart(t, "install", "-kubeconfig", cluster.Kubeconfig, "-namespace", sharedNS, "-release", helmReleaseArg,
		"-chart", filepath.Join(testenv.ProjectRoot(), "dist", "chart"),
		"-set", "modelNamespaces={genai-models,team-*}", "-set", "logLevel=debug")
	t.Log(out)

	t.Run("the release's objects, in its namespace, with the values' flags", func(t *testing.T) {
		var dep appsv1.Deployment
		if err := c.Get(ctx, types.NamespacedName{Namespace: sharedNS, Name: ourDeployment}, &dep); err != nil {
			t.Fatal(err)
		}
		args := dep.Spec.Template.Spec.Containers[0].Args
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		var cfg manager.Config
		cfg.BindFlags(fs)
		(&zap.Options{}).BindFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Errorf("the manager refuses the chart's flags %v: %v", args, err)
		}
		if !slices.Equal(cfg.Controller.ModelNamespaces, []string{"genai-models", "team-*"}) || !cfg.LeaderElect || !cfg.SecureMetrics || !slices.Contains(args, "--zap-log-level=debug") {
			t.Errorf("args %v: model namespaces %v, leader election %v, secure metrics %v", args, cfg.Controller.ModelNamespaces, cfg.LeaderElect, cfg.SecureMetrics)
		}
		var crb rbacv1.ClusterRoleBinding
		if err := c.Get(ctx, types.NamespacedName{Name: "genai-platform-manager-rolebinding"}, &crb); err != nil {
			t.Fatal(err)
		}
		if len(crb.Subjects) != 1 || crb.Subjects[0].Namespace != sharedNS || crb.Subjects[0].Name != dep.Spec.Template.Spec.ServiceAccountName {
			t.Errorf("the manager's ClusterRoleBinding binds %+v", crb.Subjects)
		}
		for name, o := range map[string]client.Object{
			dep.Spec.Template.Spec.ServiceAccountName:    &corev1.ServiceAccount{},
			"genai-platform-leader-election-role":        &rbacv1.Role{},
			"genai-platform-leader-election-rolebinding": &rbacv1.RoleBinding{},
			ourService: &corev1.Service{},
		} {
			if err := c.Get(ctx, types.NamespacedName{Namespace: sharedNS, Name: name}, o); err != nil {
				t.Errorf("%T %s: %v", o, name, err)
			}
		}
	})

	t.Run("neither operator's Deployment or Service selects the other's pods", func(t *testing.T) {
		// Both Deployments run one pod (on a kwok node), and each Service's endpoints are its own pod.
		podsOf := map[string]string{} // pod name -> the Deployment its ReplicaSet belongs to
		eventually(t, 2*time.Minute, func() error {
			for _, name := range []string{ourDeployment, theirDeploy} {
				var d appsv1.Deployment
				if err := c.Get(ctx, types.NamespacedName{Namespace: sharedNS, Name: name}, &d); err != nil {
					return err
				}
				if d.Status.AvailableReplicas != 1 || d.Status.Replicas != 1 {
					return fmt.Errorf("Deployment %s: %d replicas, %d available", name, d.Status.Replicas, d.Status.AvailableReplicas)
				}
			}
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(sharedNS)); err != nil {
				return err
			}
			clear(podsOf)
			for _, p := range pods.Items {
				owner := metav1.GetControllerOf(&p)
				if owner == nil || owner.Kind != "ReplicaSet" {
					return fmt.Errorf("pod %s has no ReplicaSet", p.Name)
				}
				var rs appsv1.ReplicaSet
				if err := c.Get(ctx, types.NamespacedName{Namespace: sharedNS, Name: owner.Name}, &rs); err != nil {
					return err
				}
				if d := metav1.GetControllerOf(&rs); d != nil {
					podsOf[p.Name] = d.Name
				}
			}
			if len(podsOf) != 2 {
				return fmt.Errorf("pods %v, want one of each operator", podsOf)
			}
			return nil
		})
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(sharedNS)); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{ourDeployment, theirDeploy} {
			var d appsv1.Deployment
			if err := c.Get(ctx, types.NamespacedName{Namespace: sharedNS, Name: name}, &d); err != nil {
				t.Fatal(err)
			}
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pods.Items {
				if sel.Matches(labels.Set(p.Labels)) != (podsOf[p.Name] == name) {
					t.Errorf("Deployment %s's selector %s and pod %s of %s", name, sel, p.Name, podsOf[p.Name])
				}
			}
		}
		for svc, owner := range map[string]string{ourService: ourDeployment, theirService: theirDeploy} {
			eventually(t, time.Minute, func() error {
				var eps discoveryv1.EndpointSliceList
				if err := c.List(ctx, &eps, client.InNamespace(sharedNS), client.MatchingLabels{discoveryv1.LabelServiceName: svc}); err != nil {
					return err
				}
				var targets []string
				for _, s := range eps.Items {
					for _, e := range s.Endpoints {
						if e.TargetRef != nil {
							targets = append(targets, e.TargetRef.Name)
						}
					}
				}
				if len(targets) != 1 || podsOf[targets[0]] != owner {
					return fmt.Errorf("Service %s's endpoints are the pods %v, want the one pod of %s (pods: %v)", svc, targets, owner, podsOf)
				}
				return nil
			})
		}
	})

	t.Run("helm uninstall removes the release and keeps the CRDs", func(t *testing.T) {
		t.Log(helmchart(t, "uninstall", "-kubeconfig", cluster.Kubeconfig, "-namespace", sharedNS, "-release", helmReleaseArg))
		for _, o := range []client.Object{&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: sharedNS, Name: ourDeployment}},
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "genai-platform-manager-role"}}} {
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
				t.Errorf("%T %s after uninstall: %v", o, o.GetName(), err)
			}
		}
		var theirDep appsv1.Deployment
		if err := c.Get(ctx, types.NamespacedName{Namespace: sharedNS, Name: theirDeploy}, &theirDep); err != nil {
			t.Errorf("the other operator's Deployment: %v", err)
		}
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := c.Get(ctx, types.NamespacedName{Name: "genaiplatforms.platform.genai.dev"}, crd); err != nil {
			t.Errorf("the GenAIPlatform CRD: %v", err)
		}
	})
	for _, o := range theirs {
		_ = c.Delete(ctx, o)
	}

	t.Run("kubectl apply --server-side -f dist/install.yaml", func(t *testing.T) {
		// The committed manifests, as they are: the namespace enforces the restricted Pod Security
		// Standard, which the manager's pod (a kwok fake) must pass to be created.
		objs, err := sim.ReadObjects(filepath.Join(testenv.ProjectRoot(), "dist", "install.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		apply(t, objs...)
		eventually(t, 2*time.Minute, func() error {
			var d appsv1.Deployment
			if err := c.Get(ctx, types.NamespacedName{Namespace: installedNS, Name: ourDeployment}, &d); err != nil {
				return err
			}
			if d.Status.AvailableReplicas != 1 {
				return fmt.Errorf("Deployment %s/%s: %d available replicas (%+v)", installedNS, ourDeployment, d.Status.AvailableReplicas, d.Status.Conditions)
			}
			return nil
		})
		// The objects stay: the e2e's operator runs as their ServiceAccount, with their Deployment's
		// flags (operatorFromInstallYAML).
	})
}

// operatorFromInstallYAML is how the e2e runs the operator: the locally built binary in place of the
// image, as the manager Deployment of dist/install.yaml would run it. It authenticates as that
// Deployment's ServiceAccount (a token from the TokenRequest API), so that it has exactly the RBAC
// install.yaml grants, and takes the Deployment's arguments, with the addresses moved to free local
// ports and the leader election Lease in the Deployment's namespace (out of a cluster the manager
// cannot read its own). It returns the environment and the arguments.
func operatorFromInstallYAML(t *testing.T, probePort, metricsPort int) ([]string, []string) {
	t.Helper()
	ctx := context.Background()
	objs, err := sim.ReadObjects(filepath.Join(testenv.ProjectRoot(), "dist", "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			if err := runtimeDefaultConvert(o, &dep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dep.Name == "" || len(dep.Spec.Template.Spec.Containers) != 1 {
		t.Fatal("dist/install.yaml has no manager Deployment with one container")
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: dep.Namespace, Name: dep.Spec.Template.Spec.ServiceAccountName}}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](4 * 3600)}}
	if err := c.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatalf("a token for the ServiceAccount %s/%s of dist/install.yaml: %v", sa.Namespace, sa.Name, err)
	}
	admin, err := clientcmd.LoadFromFile(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := admin.DeepCopy()
	for name := range kc.AuthInfos {
		kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	}
	path := filepath.Join(t.TempDir(), "operator.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		switch {
		case strings.HasPrefix(a, "--health-probe-bind-address="):
			a = fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort)
		case strings.HasPrefix(a, "--metrics-bind-address="):
			a = fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort)
		}
		args = append(args, a)
	}
	args = append(args, "--leader-election-namespace="+dep.Namespace)
	t.Logf("the operator runs as ServiceAccount %s/%s with %v", sa.Namespace, sa.Name, args)
	return []string{"KUBECONFIG=" + path}, args
}

func runtimeDefaultConvert(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)
}
