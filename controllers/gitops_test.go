package controllers_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/config/argocd"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// argoCDManager is the field manager Argo CD applies with when ServerSideApply=true.
const argoCDManager = "argocd-controller"

// TestGitOpsReapplyIsNoOp: Argo CD (ServerSideApply=true, ServerSideDiff=true) applies the sample and its
// Secrets; the operator reconciles it to Ready. Then re-applying the same YAML with Argo CD's field
// manager changes nothing: a dry-run apply (what Argo CD's server-side diff sends) returns the live object
// unchanged, a real one does not write, and the operator owns no field of the spec. On the way, the
// shipped Argo CD health check, run on the live object, says Progressing, then Healthy, then Degraded.
func TestGitOpsReapplyIsNoOp(t *testing.T) {
	ns := newNamespace(t)
	for _, u := range readManifests(t, samplesDir+"secrets.yaml", ns) {
		argoApply(t, u)
	}
	manifests := readManifests(t, samplesDir+"platform_v1alpha1_genaiplatform.yaml", ns)
	if len(manifests) != 1 || manifests[0].GetKind() != "GenAIPlatform" {
		t.Fatalf("the sample should hold one GenAIPlatform, got %d objects", len(manifests))
	}
	desired := manifests[0]
	argoApply(t, desired.DeepCopy())
	p := &platformv1.GenAIPlatform{}
	p.Name, p.Namespace = desired.GetName(), ns

	// Reconciled, but no Envoy Gateway controller has accepted anything: Progressing, saying why.
	live := waitReconciled(t, p)
	ready := findCondition(live, platformv1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse {
		t.Fatalf("Ready before any gateway controller: %+v", ready)
	}
	wantHealth(t, p, "Progressing", ready.Reason+": "+ready.Message)

	// The gateway and AI Gateway controllers report what they would: Ready, and Healthy.
	markSampleChildrenAccepted(t, live)
	live = waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionTrue, status.ReasonReady)
	wantHealth(t, p, "Healthy", findCondition(live, platformv1.ConditionReady).Message)
	liveU := getUnstructured(t, p)

	// What Argo CD's server-side diff does: a dry-run apply of the same YAML. Nothing would change.
	dry := desired.DeepCopy()
	if err := k8s.Apply(testCtx, client.ApplyConfigurationFromUnstructured(dry), client.FieldOwner(argoCDManager), client.DryRunAll); err != nil {
		t.Fatalf("dry-run re-apply: %v", err)
	}
	if dry.GetGeneration() != liveU.GetGeneration() || dry.GetResourceVersion() != liveU.GetResourceVersion() {
		t.Errorf("dry-run re-apply: generation %d→%d, resourceVersion %s→%s",
			liveU.GetGeneration(), dry.GetGeneration(), liveU.GetResourceVersion(), dry.GetResourceVersion())
	}
	for _, field := range []string{"spec", "status", "metadata"} {
		if !equality.Semantic.DeepEqual(dry.Object[field], liveU.Object[field]) {
			t.Errorf("dry-run re-apply would change %s:\n live: %s\n  dry: %s", field, toJSON(liveU.Object[field]), toJSON(dry.Object[field]))
		}
	}

	// The comparison above can fail: the same dry run with one spec field changed is seen as a change.
	changed := desired.DeepCopy()
	if err := unstructured.SetNestedField(changed.Object, int64(3), "spec", "gateway", "replicas"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Apply(testCtx, client.ApplyConfigurationFromUnstructured(changed), client.FieldOwner(argoCDManager), client.DryRunAll); err != nil {
		t.Fatalf("dry-run apply of a changed spec: %v", err)
	}
	if changed.GetGeneration() != liveU.GetGeneration()+1 || equality.Semantic.DeepEqual(changed.Object["spec"], liveU.Object["spec"]) {
		t.Errorf("a changed spec must show in the dry run: generation %d (live %d)", changed.GetGeneration(), liveU.GetGeneration())
	}
	if now := getUnstructured(t, p); now.GetResourceVersion() != liveU.GetResourceVersion() {
		t.Fatalf("a dry run changed the live object")
	}

	// Argo CD owns every spec field it applies; the operator owns its finalizer and the status only.
	checkManagedFields(t, liveU)

	// A real re-apply (a sync with nothing changed) writes nothing, and the operator has nothing to do.
	mark := writes.mark()
	again := desired.DeepCopy()
	argoApply(t, again)
	if again.GetResourceVersion() != liveU.GetResourceVersion() || again.GetGeneration() != liveU.GetGeneration() {
		t.Errorf("re-apply wrote the object: resourceVersion %s→%s, generation %d→%d",
			liveU.GetResourceVersion(), again.GetResourceVersion(), liveU.GetGeneration(), again.GetGeneration())
	}
	expectNoWritesOnReconcile(t, p)
	if w := writesFor(mark, ns, render.Name("genai", ns, p.Name)); len(w) > 0 {
		t.Errorf("the operator wrote after a no-op re-apply: %v", w)
	}

	// A Secret the platform needs disappears: only a human can fix it: Degraded, with the reason.
	if err := k8s.Delete(testCtx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "anthropic", "namespace": ns},
	}}); err != nil {
		t.Fatal(err)
	}
	live = waitCondition(t, p, platformv1.ConditionStalled, metav1.ConditionTrue, status.ReasonSecretNotFound)
	stalled := findCondition(live, platformv1.ConditionStalled)
	wantHealth(t, p, "Degraded", stalled.Reason+": "+stalled.Message)
}

// readManifests reads the objects of a YAML file, placed in namespace ns (Namespaces skipped).
func readManifests(t *testing.T, file, ns string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.ReadObjects(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() == "" || u.GetKind() == "Namespace" {
			continue
		}
		u.SetNamespace(ns)
		out = append(out, u)
	}
	return out
}

// argoApply applies u server-side as Argo CD does, without forcing conflicts (a conflict with a field
// the operator owns would be an error here), and leaves the API server's answer in u.
func argoApply(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	if err := k8s.Apply(testCtx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(argoCDManager)); err != nil {
		t.Fatalf("applying %s %s as %s: %v", u.GetKind(), u.GetName(), argoCDManager, err)
	}
}

func getUnstructured(t *testing.T, p *platformv1.GenAIPlatform) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(platformv1.GroupVersion.WithKind("GenAIPlatform"))
	if err := k8s.Get(testCtx, client.ObjectKeyFromObject(p), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// waitReconciled waits until the operator has written the status of the current generation.
func waitReconciled(t *testing.T, p *platformv1.GenAIPlatform) *platformv1.GenAIPlatform {
	t.Helper()
	var got *platformv1.GenAIPlatform
	eventually(t, 20*time.Second, func() error {
		got = getPlatform(t, p)
		if got.Generation == 0 || got.Status.ObservedGeneration != got.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", got.Status.ObservedGeneration, got.Generation)
		}
		if c := findCondition(got, platformv1.ConditionReady); c == nil || c.ObservedGeneration != got.Generation {
			return fmt.Errorf("no Ready condition for generation %d yet", got.Generation)
		}
		return nil
	})
	return got
}

// wantHealth runs the Argo CD health check shipped in config/argocd on the live object.
func wantHealth(t *testing.T, p *platformv1.GenAIPlatform, status, message string) {
	t.Helper()
	got, err := argocd.Health(argocd.HealthScript, getUnstructured(t, p).Object)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != status || got.Message != message {
		t.Errorf("Argo CD health of the live platform:\n got  %s %q\n want %s %q", got.Status, got.Message, status, message)
	}
}

// markSampleChildrenAccepted writes into the sample's children the status their controllers (Envoy
// Gateway, Envoy AI Gateway) would, so that the platform becomes Ready.
func markSampleChildrenAccepted(t *testing.T, p *platformv1.GenAIPlatform) {
	t.Helper()
	ns := p.Namespace
	setStatusConditions(t, gvkGatewayClass, "", render.Name("genai", ns, p.Name), nil, "Accepted")
	setStatusConditions(t, gvkGateway, ns, render.GatewayName(p), map[string]any{
		"addresses": []any{map[string]any{"type": "IPAddress", "value": "10.1.2.3"}},
	}, "Accepted", "Programmed")
	for _, pr := range p.Spec.Providers {
		name := render.ProviderBackendName(p, pr.Name)
		setStatusConditions(t, gvkBackend, ns, name, nil, "Accepted")
		setStatusConditions(t, gvkAISB, ns, name, nil, "Accepted")
		setStatusConditions(t, gvkBSP, ns, name, nil, "Accepted")
	}
	setStatusConditions(t, gvkRoute, ns, render.RouteName(p, 0), nil, "Accepted")
}

// checkManagedFields: the live object's managers are exactly Argo CD (apply, owning every field of the
// applied YAML) and the operator (its finalizer; the status, through the status subresource).
func checkManagedFields(t *testing.T, live *unstructured.Unstructured) {
	t.Helper()
	var got []string
	for _, mf := range live.GetManagedFields() {
		fields := fieldPaths(t, mf.FieldsV1)
		key := fmt.Sprintf("%s/%s/%s", mf.Manager, mf.Operation, mf.Subresource)
		got = append(got, key)
		switch {
		case mf.Manager == argoCDManager && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "":
			for _, want := range []string{"f:spec.f:gateway.f:listener.f:hostname", "f:spec.f:gateway.f:replicas", "f:spec.f:providers", "f:spec.f:models"} {
				if !hasPrefix(fields, want) {
					t.Errorf("%s should own %s; owns %v", key, want, fields)
				}
			}
			for _, f := range fields {
				if !strings.HasPrefix(f, "f:spec") && !strings.HasPrefix(f, "f:metadata") {
					t.Errorf("%s owns %s", key, f)
				}
			}
		case mf.Manager == apply.FieldOwner && mf.Operation == metav1.ManagedFieldsOperationUpdate && mf.Subresource == "":
			want := []string{`f:metadata.f:finalizers.v:"` + platformv1.FinalizerCleanup + `"`}
			if !equality.Semantic.DeepEqual(leaves(fields), want) {
				t.Errorf("%s should own its finalizer only, owns %v", key, fields)
			}
		case mf.Manager == apply.FieldOwner && mf.Operation == metav1.ManagedFieldsOperationUpdate && mf.Subresource == "status":
			for _, f := range fields {
				if !strings.HasPrefix(f, "f:status") {
					t.Errorf("%s owns %s", key, f)
				}
			}
			if !hasPrefix(fields, "f:status.f:conditions") || !hasPrefix(fields, "f:status.f:observedGeneration") {
				t.Errorf("%s should own the status conditions and observedGeneration; owns %v", key, fields)
			}
		default:
			t.Errorf("unexpected manager %s owns %v", key, fields)
		}
	}
	sort.Strings(got)
	want := []string{argoCDManager + "/Apply/", apply.FieldOwner + "/Update/", apply.FieldOwner + "/Update/status"}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("managers of the platform: got %v, want %v", got, want)
	}
}

// fieldPaths flattens a managedFields fieldsV1 set into dotted paths of every node, e.g.
// "f:spec.f:gateway.f:replicas".
func fieldPaths(t *testing.T, f *metav1.FieldsV1) []string {
	t.Helper()
	if f == nil {
		return nil
	}
	var tree map[string]any
	if err := json.Unmarshal(f.GetRawBytes(), &tree); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if k == "." {
				continue
			}
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, p)
			if sub, ok := v.(map[string]any); ok {
				walk(p, sub)
			}
		}
	}
	walk("", tree)
	sort.Strings(out)
	return out
}

// leaves keeps the paths no other path extends.
func leaves(paths []string) []string {
	var out []string
	for _, p := range paths {
		if !hasPrefix(paths, p+".") {
			out = append(out, p)
		}
	}
	return out
}

func hasPrefix(paths []string, prefix string) bool {
	for _, p := range paths {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// writesFor are the operator's writes since mark in namespace ns or to the cluster-scoped object named
// clusterName (the platform's GatewayClass).
func writesFor(mark int, ns, clusterName string) []string {
	var out []string
	for _, w := range writes.since(mark) {
		if strings.Contains(w, "/namespaces/"+ns+"/") || strings.HasSuffix(w, "/"+clusterName) {
			out = append(out, w)
		}
	}
	return out
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
