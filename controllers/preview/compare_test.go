package preview_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	"github.com/genai-platform/genai-platform-operator/controllers/manager"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

var childGVKs = testenv.ChildGVKs()

func keyOf(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// TestRenderMatchesController is the preview's acceptance test: `manager render` on the samples, with
// their Secrets, prints the objects the controller creates for them in a real API server, kind for
// kind, name for name, field for field.
//
// The preview assumes the facts of a platform that is up (every InferenceService Ready, every Tier Two
// Gateway with an address). No KServe or Envoy Gateway controller runs here, so the test plays their
// part and writes those facts into the live objects' status, exactly as the preview assumes them; the
// controller then reconciles to the state the preview describes. Field for field means: applying the
// preview's object with the operator's field manager changes nothing in the live object (a server-side
// apply dry run), so every field the operator set is in the preview with the same value, and nothing
// else is; Secrets, whose values the preview redacts, are compared by type, metadata and keys.
func TestRenderMatchesController(t *testing.T) {
	out, errOut, code := run(t, "-f", samples, "--secrets-from", samples)
	if code != 0 {
		t.Fatalf("manager render: exit %d: %s", code, errOut)
	}
	var rendered []*unstructured.Unstructured
	for _, g := range parse(t, out) {
		rendered = append(rendered, g.Objects...)
	}
	if len(rendered) < 40 {
		t.Fatalf("the preview holds only %d objects", len(rendered))
	}

	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	var logs testenv.SyncBuffer
	ctrl.SetLogger(zap.New(zap.WriteTo(&logs)))
	// The preview assumes the platform may write where its model clusters are (it cannot see namespace
	// labels): so may this controller.
	mgr, err := manager.New(cfg, manager.Config{MetricsAddr: "0", ProbeAddr: "0", Controller: controllers.Options{ModelNamespaces: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			lines := strings.Split(logs.String(), "\n")
			t.Logf("last operator log lines:\n%s", strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})
	k8s, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		t.Fatal(err)
	}

	// The samples, as `kubectl apply --server-side -f config/samples` would.
	var platforms []types.NamespacedName
	for _, f := range []string{"secrets.yaml", "secrets-selfhosted.yaml", "platform_v1alpha1_genaiplatform.yaml", "platform_v1alpha1_genaiplatform_selfhosted.yaml", "platform_v1alpha1_genaitenant.yaml"} {
		for _, o := range readObjects(t, filepath.Join(samples, f)) {
			if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("kubectl")); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.GetKind() == "GenAIPlatform" {
				platforms = append(platforms, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
			}
		}
	}

	// Play KServe and Envoy Gateway: every InferenceService Ready, every Tier Two Gateway addressed as the
	// preview assumes.
	testenv.Eventually(t, 60*time.Second, func() error {
		isvcs := listManaged(t, k8s, schema.GroupVersionKind{Group: "serving.kserve.io", Version: "v1beta1", Kind: "InferenceService"})
		if len(isvcs) < 3 {
			return fmt.Errorf("%d InferenceServices so far", len(isvcs))
		}
		for _, isvc := range isvcs {
			patch := []byte(`{"status":{"conditions":[{"type":"Ready","status":"True"}]}}`)
			if err := k8s.Status().Patch(ctx, isvc, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return err
			}
		}
		return nil
	})
	var gpu platformv1.GenAIPlatform
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: "ai-platform", Name: "gpu"}, &gpu); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		gw := &unstructured.Unstructured{}
		gw.SetGroupVersionKind(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"})
		gw.SetNamespace("genai-models")
		gw.SetName(render.TierTwoGatewayName(&gpu))
		patch := fmt.Appendf(nil, `{"status":{"addresses":[{"type":"Hostname","value":%q}]}}`, preview.TierTwoAddress("gpu-east"))
		return k8s.Status().Patch(ctx, gw, client.RawPatch(types.MergePatchType, patch))
	})

	// The controller converges on the facts: the same set of objects as the preview.
	want := map[string]*unstructured.Unstructured{}
	for _, o := range rendered {
		want[keyOf(o)] = o
	}
	live := map[string]*unstructured.Unstructured{}
	testenv.Eventually(t, 60*time.Second, func() error {
		for _, key := range platforms {
			var p platformv1.GenAIPlatform
			if err := k8s.Get(ctx, key, &p); err != nil {
				return err
			}
			if p.Status.ObservedGeneration != p.Generation {
				return fmt.Errorf("%s not reconciled yet", key)
			}
		}
		live = map[string]*unstructured.Unstructured{}
		for _, gvk := range childGVKs {
			for _, o := range listManaged(t, k8s, gvk) {
				live[keyOf(o)] = o
			}
		}
		if d := setDiff(want, live); d != "" {
			return fmt.Errorf("the preview's objects and the controller's differ:\n%s", d)
		}
		return nil
	})

	uids := map[string]types.UID{}
	for _, key := range platforms {
		var p platformv1.GenAIPlatform
		if err := k8s.Get(ctx, key, &p); err != nil {
			t.Fatal(err)
		}
		uids[key.Name] = p.UID
	}
	// Each object, field for field (the controller may still be settling the status-driven fields).
	testenv.Eventually(t, 30*time.Second, func() error {
		var diffs []string
		for _, key := range sortedKeys(want) {
			if d := objectDiff(ctx, t, k8s, want[key], uids); d != "" {
				diffs = append(diffs, key+": "+d)
			}
		}
		if len(diffs) > 0 {
			return fmt.Errorf("%d objects differ:\n%s", len(diffs), strings.Join(diffs, "\n"))
		}
		return nil
	})

	kinds := map[string]int{}
	for _, o := range want {
		kinds[o.GetKind()]++
	}
	t.Logf("the preview and the controller agree on %d objects: %v", len(want), kinds)

	// The comparison finds a difference when there is one: a changed field, a missing object, a Secret
	// key too many.
	var gateway, secret *unstructured.Unstructured
	for _, key := range sortedKeys(want) {
		switch o := want[key]; {
		case o.GetKind() == "Gateway" && gateway == nil:
			gateway = o.DeepCopy()
		case o.GetKind() == "Secret" && secret == nil:
			secret = o.DeepCopy()
		}
	}
	listeners, _, _ := unstructured.NestedSlice(gateway.Object, "spec", "listeners")
	listeners[0].(map[string]any)["port"] = int64(8080)
	_ = unstructured.SetNestedSlice(gateway.Object, listeners, "spec", "listeners")
	if d := objectDiff(ctx, t, k8s, gateway, uids); !strings.Contains(d, "8080") {
		t.Errorf("a Gateway with another port compares equal: %q", d)
	}
	_ = unstructured.SetNestedField(secret.Object, preview.Redacted, "data", "extra")
	if d := objectDiff(ctx, t, k8s, secret, uids); !strings.Contains(d, "extra") {
		t.Errorf("a Secret with another key compares equal: %q", d)
	}
	fewer := clone(want)
	delete(fewer, keyOf(gateway))
	if d := setDiff(fewer, live); !strings.Contains(d, keyOf(gateway)) {
		t.Errorf("a missing Gateway goes unnoticed: %q", d)
	}
}

// objectDiff compares a preview object with its live counterpart; empty when they agree.
func objectDiff(ctx context.Context, t testing.TB, c client.Client, previewed *unstructured.Unstructured, uids map[string]types.UID) string {
	desired := previewed.DeepCopy()
	// The one field the preview cannot know: the platform's uid in owner references.
	if refs, ok, _ := unstructured.NestedSlice(desired.Object, "metadata", "ownerReferences"); ok {
		for _, r := range refs {
			m := r.(map[string]any)
			m["uid"] = string(uids[m["name"].(string)])
		}
		_ = unstructured.SetNestedSlice(desired.Object, refs, "metadata", "ownerReferences")
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(desired.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return err.Error()
	}
	if desired.GetKind() == "Secret" {
		var diffs []string
		if desired.Object["type"] != live.Object["type"] {
			diffs = append(diffs, fmt.Sprintf("type %v, live %v", desired.Object["type"], live.Object["type"]))
		}
		for _, f := range []string{"labels", "annotations", "ownerReferences"} {
			a, _, _ := unstructured.NestedFieldNoCopy(desired.Object, "metadata", f)
			b, _, _ := unstructured.NestedFieldNoCopy(live.Object, "metadata", f)
			if !equality.Semantic.DeepEqual(a, b) {
				diffs = append(diffs, fmt.Sprintf("metadata.%s %v, live %v", f, a, b))
			}
		}
		a, _, _ := unstructured.NestedMap(desired.Object, "data")
		b, _, _ := unstructured.NestedMap(live.Object, "data")
		if ka, kb := sortedKeys(a), sortedKeys(b); !slices.Equal(ka, kb) {
			diffs = append(diffs, fmt.Sprintf("data keys %v, live %v", ka, kb))
		}
		return strings.Join(diffs, "; ")
	}
	// Apply the preview's object as the operator (its field manager), dry run: the result equals the
	// live object exactly when the preview is what the operator applied.
	dry := desired.DeepCopy()
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(dry), client.FieldOwner(apply.FieldOwner), client.ForceOwnership, client.DryRunAll); err != nil {
		return "dry-run apply: " + err.Error()
	}
	var diffs []string
	for _, path := range [][]string{{"metadata", "labels"}, {"metadata", "annotations"}, {"metadata", "ownerReferences"}, {"spec"}} {
		a, _, _ := unstructured.NestedFieldNoCopy(dry.Object, path...)
		b, _, _ := unstructured.NestedFieldNoCopy(live.Object, path...)
		if !equality.Semantic.DeepEqual(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s: preview applied gives %v, live is %v", strings.Join(path, "."), a, b))
		}
	}
	if dry.GetGeneration() != live.GetGeneration() {
		diffs = append(diffs, fmt.Sprintf("applying the preview would change the object (generation %d -> %d)", live.GetGeneration(), dry.GetGeneration()))
	}
	return strings.Join(diffs, "; ")
}

func setDiff(want, live map[string]*unstructured.Unstructured) string {
	var d []string
	for _, k := range sortedKeys(want) {
		if live[k] == nil {
			d = append(d, "  only in the preview:    "+k)
		}
	}
	for _, k := range sortedKeys(live) {
		if want[k] == nil {
			d = append(d, "  only in the controller: "+k)
		}
	}
	return strings.Join(d, "\n")
}

// listManaged lists the operator's live objects of one kind, leaving out those being deleted.
func listManaged(t testing.TB, c client.Client, gvk schema.GroupVersionKind) []*unstructured.Unstructured {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(t.Context(), list, client.MatchingLabels{platformv1.LabelManagedBy: platformv1.ManagedByValue}); err != nil {
		t.Fatalf("listing %s: %v", gvk.Kind, err)
	}
	var out []*unstructured.Unstructured
	for i := range list.Items {
		if list.Items[i].GetDeletionTimestamp() == nil {
			out = append(out, &list.Items[i])
		}
	}
	return out
}

func readObjects(t testing.TB, file string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.ReadObjects(file)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func clone(m map[string]*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := make(map[string]*unstructured.Unstructured, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
