package bench

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
)

// unrelatedNamespace holds the unrelated namespaced objects.
const unrelatedNamespace = "unrelated"

// unrelatedKinds are the kinds the operator owns: one batch of unrelated objects each.
func unrelatedKinds() []kinds.Kind { return kinds.All }

// unrelatedTemplates are small valid objects of every kind the operator owns, without its labels: the
// smallest object render makes of each kind (a platform with tracing, so that a GatewayConfig is
// rendered too, and a model on KServe's LLM engine), stripped to its spec; a one-key Secret; a bare Namespace.
func (b *bench) unrelatedTemplates() []*unstructured.Unstructured {
	b.t.Helper()
	// The first line continues spec.models (the spec's last list): one model served by an
	// LLMInferenceService, so that every kind has a template.
	p := b.newPlatform(unrelatedNamespace, "template", 10, "- {name: org/llm, selfHosted: {storageUri: 'hf://org/llm', gpus: 1, placements: [{cluster: east, nodePool: a}], versions: [{name: v1, engine: LLMInferenceService}]}}\n"+
		"observability: {tracing: {otlpEndpoint: 'http://otel.example:4317'}}\n")
	smallest := map[string]*unstructured.Unstructured{}
	size := map[string]int{}
	for i, c := range p.output.Children {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c.Object)
		if err != nil {
			b.t.Fatal(err)
		}
		j, _ := json.Marshal(m)
		kind := p.children[i].GVK.Kind
		if s, ok := size[kind]; ok && s <= len(j) {
			continue
		}
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{}}}
		if spec, ok := m["spec"]; ok {
			u.Object["spec"] = spec
		}
		u.SetGroupVersionKind(p.children[i].GVK)
		smallest[kind], size[kind] = u, len(j)
	}
	var out []*unstructured.Unstructured
	for _, k := range unrelatedKinds() {
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{}}}
		u.SetGroupVersionKind(k.GVK)
		switch k.GVK.Kind {
		case "Secret":
			u.Object["type"] = "Opaque"
			u.Object["data"] = map[string]any{"key": "dmFsdWU="}
		case "Namespace":
		default:
			t, ok := smallest[k.GVK.Kind]
			if !ok {
				b.t.Fatalf("render makes no %s to copy as an unrelated object", k.GVK.Kind)
			}
			u = t
		}
		out = append(out, u)
	}
	return out
}

// createUnrelated creates n objects of each kind the operator owns, in another namespace (cluster-scoped
// kinds: named unrelated-NNNNN), without the operator's labels, one kind after the other, 32 requests
// at a time; it returns how long each kind took.
func (b *bench) createUnrelated(n int) map[string]float64 {
	b.t.Helper()
	b.namespace(unrelatedNamespace)
	took := map[string]float64{}
	for _, tmpl := range b.unrelatedTemplates() {
		jobs := make(chan int, 256)
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		start := time.Now()
		for range 32 {
			wg.Go(func() {
				for i := range jobs {
					u := tmpl.DeepCopy()
					if k := u.GetKind(); k == "Namespace" || k == "GatewayClass" {
						u.SetName(fmt.Sprintf("unrelated-%05d", i))
					} else {
						u.SetNamespace(unrelatedNamespace)
						u.SetName(fmt.Sprintf("u-%05d", i))
					}
					if err := b.admin.Create(b.ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("creating %s %s: %w", u.GetKind(), u.GetName(), err)
						}
						mu.Unlock()
					}
				}
			})
		}
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		if firstErr != nil {
			b.t.Fatal(firstErr)
		}
		took[tmpl.GetKind()] = time.Since(start).Seconds()
		b.logf("%d unrelated %s objects created in %.1fs (%.0f/s)", n, tmpl.GetKind(), took[tmpl.GetKind()], float64(n)/took[tmpl.GetKind()])
	}
	return took
}
