package controllers

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
)

// TestOptionalKindsAreNotRequiredOfModelClusters: a remote model cluster without KServe's
// LLMInferenceService CRD is not at fault (the placements that need it say so); one without a kind every
// platform needs is.
func TestOptionalKindsAreNotRequiredOfModelClusters(t *testing.T) {
	served := map[schema.GroupVersionKind]bool{}
	var optional []string
	for _, k := range kinds.ModelCluster() {
		if k.Optional {
			optional = append(optional, k.GVK.Kind)
			continue
		}
		served[k.GVK] = true
	}
	if !slices.Equal(optional, []string{"LLMInferenceService"}) {
		t.Fatalf("optional model-cluster kinds %v", optional)
	}
	if missing := missingModelClusterKinds(served); len(missing) != 0 {
		t.Errorf("a cluster without the LLMInferenceService CRD misses %v", missing)
	}
	for _, k := range kinds.ModelCluster() {
		if k.GVK.Kind == "InferenceService" {
			delete(served, k.GVK)
		}
	}
	if missing := missingModelClusterKinds(served); len(missing) != 1 || missing[0] != "InferenceService (serving.kserve.io/v1beta1)" {
		t.Errorf("a cluster without the InferenceService CRD misses %v", missing)
	}
}
