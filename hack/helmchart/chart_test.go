package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	root      = "../.."
	chartPath = root + "/" + ChartDir
	namespace = "genai-platform-system"
)

// kubeVersion is the Kubernetes version the project tests on (envtest, the simulated cluster): Helm's
// client-only default is older than the chart's kubeVersion.
var kubeVersion = &chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}

// TestChartIsUpToDate: dist/chart is exactly what the generator writes from config/ today.
func TestChartIsUpToDate(t *testing.T) {
	want, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	stale := false
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || string(got) != string(b) {
			t.Errorf("%s is not what the generator writes (%v)", name, err)
			stale = true
		}
	}
	err = filepath.Walk(chartPath, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if _, ok := want[filepath.ToSlash(rel)]; !ok {
			t.Errorf("%s is not written by the generator", rel)
			stale = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		t.Log("run make chart (or make release) and commit dist/chart")
	}
}

// valueSets are the values the tests lint and render the chart with, as `helm --set` takes them.
var valueSets = map[string][]string{
	"defaults":            nil,
	"no leader election":  {"leaderElection.enabled=false"},
	"no metrics":          {"metrics.enabled=false"},
	"service monitor":     {"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prometheus", "metrics.serviceMonitor.interval=30s"},
	"model namespaces":    {"modelNamespaces={genai-models,team-*}", "logLevel=debug", "extraArgs={--apply-workers=8}"},
	"image and resources": {"image.repository=registry.example.com/op", "image.tag=v9", "image.pullPolicy=Always", "resources.limits.memory=1Gi", "replicas=2"},
	"scheduling":          {"nodeSelector.pool=system", "tolerations[0].key=dedicated", "tolerations[0].operator=Exists", "imagePullSecrets[0].name=pull"},
}

func values(t *testing.T, sets []string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	for _, s := range sets {
		if err := strvals.ParseInto(s, vals); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return vals
}

// TestLint: `helm lint --strict` (Helm's own linter: Chart.yaml, values against values.schema.json, every
// template rendered and parsed as Kubernetes objects) finds nothing above information with every value set.
func TestLint(t *testing.T) {
	for name, sets := range valueSets {
		t.Run(name, func(t *testing.T) {
			l := action.NewLint()
			l.Strict, l.Namespace, l.KubeVersion = true, namespace, kubeVersion
			res := l.Run([]string{chartPath}, values(t, sets))
			if res.TotalChartsLinted != 1 {
				t.Fatalf("linted %d charts: %v", res.TotalChartsLinted, res.Errors)
			}
			for _, m := range res.Messages {
				if m.Severity > support.InfoSev {
					t.Errorf("%s", m)
				} else {
					t.Logf("%s", m)
				}
			}
			for _, err := range res.Errors {
				t.Errorf("%v", err)
			}
		})
	}
}

// TestLintCanFail: the same linter refuses values that values.schema.json does not admit, so a chart or
// values mistake of that kind fails `helm install` and TestLint alike.
func TestLintCanFail(t *testing.T) {
	for name, c := range map[string]struct {
		sets []string
		want string
	}{
		"replicas not a number": {[]string{"replicas=two"}, "/replicas"},
		"unknown value":         {[]string{"replica=2"}, "'replica' not allowed"},
		"extra arg not a flag":  {[]string{"extraArgs={apply-workers}"}, "/extraArgs/0"},
		"pull policy":           {[]string{"image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
	} {
		l := action.NewLint()
		l.Strict, l.Namespace, l.KubeVersion = true, namespace, kubeVersion
		res := l.Run([]string{chartPath}, values(t, c.sets))
		if len(res.Errors) == 0 || !strings.Contains(fmt.Sprint(res.Errors), c.want) {
			t.Errorf("%s: want a lint error about %s, got %v", name, c.want, res.Errors)
		}
	}
}

// render is `helm template --include-crds --namespace genai-platform-system` with the values.
func render(t *testing.T, sets []string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	chrt, err := loader.Load(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &action.Configuration{
		Releases:     storage.Init(driver.NewMemory()),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities,
		Log:          func(string, ...any) {},
	}
	in := action.NewInstall(cfg)
	in.DryRun, in.ClientOnly, in.IncludeCRDs, in.Replace = true, true, true, true
	in.ReleaseName, in.Namespace, in.KubeVersion = chartName, namespace, kubeVersion
	rel, err := in.Run(chrt, values(t, sets))
	if err != nil {
		return nil, err
	}
	return Decode([]byte(rel.Manifest))
}

func key(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

func byKey(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		out[key(u)] = u
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestTemplateEqualsKustomize: with the default values, the chart renders exactly config/default's
// objects as kustomize builds them with the release image (dist/install.yaml), but for the Namespace,
// which is the release's (helm install --create-namespace).
func TestTemplateEqualsKustomize(t *testing.T) {
	csv, err := ReadCSV(root)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Kustomize(root, csv.Metadata.Annotations["containerImage"])
	if err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(u *unstructured.Unstructured) bool { return u.GetKind() == "Namespace" })
	got, err := render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, g := byKey(want), byKey(got)
	if len(w) < 10 || !reflect.DeepEqual(keys(w), keys(g)) {
		t.Fatalf("objects:\nchart     %v\nkustomize %v", keys(g), keys(w))
	}
	for k, wu := range w {
		if !reflect.DeepEqual(g[k].Object, wu.Object) {
			gb, _ := yaml.Marshal(g[k].Object)
			wb, _ := yaml.Marshal(wu.Object)
			t.Errorf("%s differs:\nchart:\n%s\nkustomize:\n%s", k, gb, wb)
		}
	}
	t.Logf("%d objects, each equal to kustomize's", len(w))
}

func managerOf(t *testing.T, objs []*unstructured.Unstructured) (map[string]any, map[string]any) {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		pod, _, _ := unstructured.NestedMap(u.Object, "spec", "template", "spec")
		for _, c := range pod["containers"].([]any) {
			if c := c.(map[string]any); c["name"] == managerContainer {
				return pod, c
			}
		}
	}
	t.Fatal("no manager container")
	return nil, nil
}

func args(c map[string]any) []string {
	var out []string
	for _, a := range c["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

func has(objs []*unstructured.Unstructured, kind, nameSuffix string) *unstructured.Unstructured {
	for _, u := range objs {
		if u.GetKind() == kind && strings.HasSuffix(u.GetName(), nameSuffix) {
			return u
		}
	}
	return nil
}

// TestValues: each value changes what it says, and only that.
func TestValues(t *testing.T) {
	defaults, err := render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, dc := managerOf(t, defaults)
	defaultArgs := args(dc)
	for _, a := range []string{"--leader-elect", "--metrics-bind-address=:8443", "--metrics-secure=true"} {
		if !slices.Contains(defaultArgs, a) {
			t.Errorf("default args %v lack %s", defaultArgs, a)
		}
	}

	t.Run("no leader election", func(t *testing.T) {
		objs, err := render(t, valueSets["no leader election"])
		if err != nil {
			t.Fatal(err)
		}
		_, c := managerOf(t, objs)
		if slices.Contains(args(c), "--leader-elect") || has(objs, "Role", "leader-election-role") != nil || has(objs, "RoleBinding", "leader-election-rolebinding") != nil {
			t.Errorf("leader election still there: args %v", args(c))
		}
		if len(objs) != len(defaults)-2 {
			t.Errorf("%d objects, want the %d defaults less the Role and RoleBinding", len(objs), len(defaults))
		}
	})

	t.Run("two replicas need leader election", func(t *testing.T) {
		_, err := render(t, []string{"replicas=2", "leaderElection.enabled=false"})
		if err == nil || !strings.Contains(err.Error(), "leaderElection.enabled") {
			t.Errorf("want a refusal naming leaderElection.enabled, got %v", err)
		}
	})

	t.Run("no metrics", func(t *testing.T) {
		objs, err := render(t, valueSets["no metrics"])
		if err != nil {
			t.Fatal(err)
		}
		_, c := managerOf(t, objs)
		if a := args(c); !slices.Contains(a, "--metrics-bind-address=0") || slices.Contains(a, "--metrics-secure=true") {
			t.Errorf("args %v", a)
		}
		for _, o := range []struct{ kind, name string }{{"Service", "metrics-service"}, {"ClusterRole", "metrics-reader"}, {"ClusterRole", "metrics-auth-role"}, {"ClusterRoleBinding", "metrics-auth-rolebinding"}} {
			if has(objs, o.kind, o.name) != nil {
				t.Errorf("%s %s rendered with metrics off", o.kind, o.name)
			}
		}
	})

	t.Run("service monitor", func(t *testing.T) {
		if has(defaults, "ServiceMonitor", "") != nil {
			t.Errorf("a ServiceMonitor by default")
		}
		objs, err := render(t, valueSets["service monitor"])
		if err != nil {
			t.Fatal(err)
		}
		sm, svc := has(objs, "ServiceMonitor", "metrics-monitor"), has(objs, "Service", "metrics-service")
		if sm == nil || svc == nil {
			t.Fatalf("ServiceMonitor %v, Service %v", sm != nil, svc != nil)
		}
		if sm.GetNamespace() != namespace || sm.GetLabels()["release"] != "prometheus" {
			t.Errorf("ServiceMonitor namespace %s, labels %v", sm.GetNamespace(), sm.GetLabels())
		}
		match, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
		if len(match) == 0 || !labels.SelectorFromSet(match).Matches(labels.Set(svc.GetLabels())) {
			t.Errorf("the ServiceMonitor's selector %v does not select the metrics Service %v", match, svc.GetLabels())
		}
		endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
		ep := endpoints[0].(map[string]any)
		if ep["port"] != ports[0].(map[string]any)["name"] || ep["scheme"] != "https" || ep["interval"] != "30s" {
			t.Errorf("endpoint %v, Service ports %v", ep, ports)
		}
		off, err := render(t, append(slices.Clone(valueSets["service monitor"]), "metrics.enabled=false"))
		if err != nil {
			t.Fatal(err)
		}
		if has(off, "ServiceMonitor", "") != nil {
			t.Errorf("a ServiceMonitor with metrics off")
		}
	})

	t.Run("model namespaces, log level, extra args", func(t *testing.T) {
		objs, err := render(t, valueSets["model namespaces"])
		if err != nil {
			t.Fatal(err)
		}
		_, c := managerOf(t, objs)
		want := append(slices.Clone(defaultArgs), "--model-namespaces=genai-models,team-*", "--zap-log-level=debug", "--apply-workers=8")
		if got := args(c); !reflect.DeepEqual(got, want) {
			t.Errorf("args %v, want %v", got, want)
		}
	})

	t.Run("image, resources, replicas", func(t *testing.T) {
		objs, err := render(t, valueSets["image and resources"])
		if err != nil {
			t.Fatal(err)
		}
		_, c := managerOf(t, objs)
		limits, _, _ := unstructured.NestedStringMap(c, "resources", "limits")
		replicas, _, _ := unstructured.NestedFieldNoCopy(has(objs, "Deployment", "").Object, "spec", "replicas")
		if c["image"] != "registry.example.com/op:v9" || c["imagePullPolicy"] != "Always" || limits["memory"] != "1Gi" || limits["cpu"] != "500m" || fmt.Sprint(replicas) != "2" {
			t.Errorf("image %v, pull policy %v, limits %v, replicas %v", c["image"], c["imagePullPolicy"], limits, replicas)
		}
		if _, dc := managerOf(t, defaults); dc["imagePullPolicy"] != nil {
			t.Errorf("an imagePullPolicy by default: %v", dc["imagePullPolicy"])
		}
	})

	t.Run("scheduling", func(t *testing.T) {
		objs, err := render(t, valueSets["scheduling"])
		if err != nil {
			t.Fatal(err)
		}
		pod, _ := managerOf(t, objs)
		got := fmt.Sprint(pod["nodeSelector"], pod["tolerations"], pod["imagePullSecrets"])
		if want := "map[pool:system] [map[key:dedicated operator:Exists]] [map[name:pull]]"; got != want {
			t.Errorf("pod scheduling %s, want %s", got, want)
		}
	})

	t.Run("namespace", func(t *testing.T) {
		chrt, err := loader.Load(chartPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory()), KubeClient: &kubefake.PrintingKubeClient{Out: io.Discard},
			Capabilities: chartutil.DefaultCapabilities, Log: func(string, ...any) {}}
		in := action.NewInstall(cfg)
		in.DryRun, in.ClientOnly, in.ReleaseName, in.Namespace, in.KubeVersion = true, true, chartName, "operators", kubeVersion
		rel, err := in.Run(chrt, map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Decode([]byte(rel.Manifest))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range objs {
			if ns := u.GetNamespace(); ns != "" && ns != "operators" {
				t.Errorf("%s in namespace %s, not the release's", key(u), ns)
			}
			subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
			for _, s := range subjects {
				if s.(map[string]any)["namespace"] != "operators" {
					t.Errorf("%s binds %v, not in the release's namespace", key(u), s)
				}
			}
		}
		if strings.Contains(rel.Manifest, namespace) {
			t.Errorf("the manifests still name %s", namespace)
		}
	})
}
