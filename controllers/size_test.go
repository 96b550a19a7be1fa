package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// TestPlatformNearTheSizeLimit: a platform whose spec is about 1.4 MiB (256 self-hosted models at the
// API's cap, each with long server arguments) is admitted, rendered and applied, and its status (a line
// per model) still fits beside the spec in the API server's 1.5 MiB request limit.
func TestPlatformNearTheSizeLimit(t *testing.T) {
	ns := newNamespace(t)
	arg := "--" + strings.Repeat("x", 77)
	args := make([]string, 64)
	for i := range args {
		args[i] = fmt.Sprintf("%s%02d", arg, i)
	}
	argsYAML, err := sigyaml.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	flow := strings.ReplaceAll(strings.TrimSpace(string(argsYAML)), "\n", ", ")
	flow = "[" + strings.ReplaceAll(flow, "- ", "") + "]"
	var b strings.Builder
	b.WriteString("gateway: {listener: {protocol: HTTP}}\nmodelClusters: [{name: c, namespace: " + ns + "-models, nodePools: [{name: p}]}]\nmodels:\n")
	for i := range 256 {
		fmt.Fprintf(&b, "- {name: org/model-with-a-rather-long-name-%03d, selfHosted: {storageUri: 'hf://org/m%d', args: %s, placements: [{cluster: c, nodePool: p}]}}\n", i, i, flow)
	}
	p := createPlatform(t, ns, "big", b.String())
	p = getPlatform(t, p)
	raw, err := sigyaml.Marshal(p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("spec: %d KiB", len(raw)/1024)
	if len(raw) < 1200*1024 {
		t.Fatalf("the spec is only %d KiB: not near the limit", len(raw)/1024)
	}
	eventually(t, 90*time.Second, func() error {
		got := getPlatform(t, p)
		if got.Status.ObservedGeneration != got.Generation || len(got.Status.Models) != 256 {
			return fmt.Errorf("observedGeneration %d of %d, %d model statuses", got.Status.ObservedGeneration, got.Generation, len(got.Status.Models))
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionReady); c == nil {
			return fmt.Errorf("no Ready condition")
		}
		return nil
	})
	isvcs := 0
	for i := range 256 {
		u := newISVC()
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns + "-models", Name: render.InferenceServiceName(p, ns+"-models", fmt.Sprintf("org/model-with-a-rather-long-name-%03d", i), "p")}, u); err == nil {
			isvcs++
		}
	}
	if isvcs != 256 {
		t.Errorf("%d of 256 InferenceServices", isvcs)
	}
}

func newISVC() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvkISVC)
	return u
}
