package controllers_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// TestRestartedApplier: an operator that restarts has no record of what it applied, and decides from the
// live objects' managed fields alone. Every kind render makes (the self-hosted sample's golden output:
// namespaces, Secrets, Gateways, proxies, routes, policies, InferenceServices) was applied once. A fresh
// Applier leaves alone every object whose owned fields hold exactly what it wants, and applies again,
// once, those where the API server's defaults (which server-side apply files under the applier) make the
// owned fields more than it sent: it cannot tell a default from a field it no longer wants, and a
// missed removal would be wrong, a write is not. Its next pass sends nothing.
func TestRestartedApplier(t *testing.T) {
	ns := newNamespace(t)
	objs, err := testenv.ReadObjects(filepath.Join("render", "testdata", "samples-selfhosted.out.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var typed []client.Object
	for _, u := range objs {
		// Into this test's namespaces, with names of its own for the cluster-scoped ones; no owner (the
		// golden platform does not exist here).
		switch u.GetNamespace() {
		case "ai-platform":
			u.SetNamespace(ns)
		case "genai-models":
			u.SetNamespace(ns + "-models")
		}
		if u.GetKind() == "Namespace" {
			u.SetName(ns + "-models")
		}
		if u.GetKind() == "GatewayClass" {
			u.SetName(u.GetName() + "-" + ns)
		}
		u.SetOwnerReferences(nil)
		obj, err := k8s.Scheme().New(u.GroupVersionKind())
		if err != nil {
			t.Fatal(err)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			t.Fatal(err)
		}
		typed = append(typed, obj.(client.Object))
	}
	// Reads from the operator's own cache, as the operator's Applier does.
	cached, err := client.New(testCfg, client.Options{Scheme: k8s.Scheme(), Cache: &client.CacheOptions{Reader: testCache}})
	if err != nil {
		t.Fatal(err)
	}
	original := apply.New(client.WithFieldOwner(cached, apply.FieldOwner), k8s.Scheme(), 4)
	for _, err := range original.ApplyAll(testCtx, typed) {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The cache has caught up with those writes (as a restarted operator's, once synced, has).
	eventually(t, 20*time.Second, func() error {
		for _, obj := range typed {
			live, inCache := obj.DeepCopyObject().(client.Object), obj.DeepCopyObject().(client.Object)
			if err := k8s.Get(testCtx, client.ObjectKeyFromObject(obj), live); err != nil {
				return err
			}
			if err := testCache.Get(testCtx, client.ObjectKeyFromObject(obj), inCache); err != nil {
				return err
			}
			if live.GetResourceVersion() != inCache.GetResourceVersion() {
				return fmt.Errorf("the cache is behind on %s", obj.GetName())
			}
		}
		return nil
	})
	restarted := apply.New(client.WithFieldOwner(cached, apply.FieldOwner), k8s.Scheme(), 4)
	pass := func() []string {
		t.Helper()
		var sent []string
		for _, obj := range typed {
			did, err := restarted.Apply(testCtx, obj)
			if err != nil {
				t.Fatal(err)
			}
			if did {
				sent = append(sent, obj.GetObjectKind().GroupVersionKind().Kind+"/"+obj.GetName())
			}
		}
		return sent
	}
	first := pass()
	// Which kinds carry server defaults under the applier's fields: Envoy Gateway's CRD defaults
	// (EnvoyProxy logging, a Secret reference's group and kind, Envoy AI Gateway's modelsOwnedBy), a
	// Namespace's spec.finalizers.
	if len(first) == 0 || len(first) >= len(typed) {
		t.Errorf("a restarted Applier applied %d of %d objects again: want only those with server defaults under its fields: %v", len(first), len(typed), first)
	}
	t.Logf("after a restart, applied again once: %d of %d objects: %v", len(first), len(typed), first)
	if again := pass(); len(again) > 0 {
		t.Errorf("the restarted Applier's second pass applied %v again", again)
	}
}
