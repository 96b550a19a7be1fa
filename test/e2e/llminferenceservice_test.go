//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

var (
	gvkLLMISVC            = gvk("serving.kserve.io", "v1alpha2", "LLMInferenceService")
	gvkInferencePool      = gvk(render.InferencePoolGroup, "v1", "InferencePool")
	gvkHPA                = gvk("autoscaling", "v2", "HorizontalPodAutoscaler")
	gvkVariantAutoscaling = gvk("llmd.ai", "v1alpha1", "VariantAutoscaling")
)

// Names KServe v0.20's LLM controller gives an LLMInferenceService's children (kmeta.ChildName of its name,
// unhashed at the lengths the operator keeps): its vLLM Deployment (workload_single_node.go), the endpoint
// picker's Deployment and Service (scheduler.go, and the preset kserve-config-llm-scheduler), and the
// HPA and VariantAutoscaling of an autoscaled one (scaling.go).
func llmWorkloadDeployment(llm string) string  { return llm + "-kserve" }
func llmSchedulerDeployment(llm string) string { return llm + "-kserve-router-scheduler" }
func llmEPPService(llm string) string          { return llm + "-epp-service" }
func llmHPA(llm string) string                 { return llm + "-kserve-hpa" }
func llmVariantAutoscaling(llm string) string  { return llm + "-kserve-va" }

// llmCondition is one condition of an LLMInferenceService as KServe writes it (knative's duck type).
type llmCondition struct{ Status, Reason, Message string }

// llmConditions reads an LLMInferenceService's conditions, by type, once KServe has seen its current
// generation.
func llmConditions(t *testing.T, name string) (map[string]llmCondition, error) {
	t.Helper()
	u := get(t, gvkLLMISVC, modelsNS, name)
	if u == nil {
		return nil, fmt.Errorf("no LLMInferenceService %s", name)
	}
	if og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); og != u.GetGeneration() {
		return nil, fmt.Errorf("LLMInferenceService %s: KServe observed generation %d, generation %d", name, og, u.GetGeneration())
	}
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	out := map[string]llmCondition{}
	for _, x := range raw {
		m := x.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		out[s("type")] = llmCondition{Status: s("status"), Reason: s("reason"), Message: s("message")}
	}
	return out, nil
}

// wantConditions checks conditions against "Type=Status" or "Type=Status/Reason" entries.
func wantConditions(name string, got map[string]llmCondition, want ...string) error {
	for _, w := range want {
		typ, rest, _ := strings.Cut(w, "=")
		status, reason, _ := strings.Cut(rest, "/")
		c, ok := got[typ]
		if !ok {
			return fmt.Errorf("LLMInferenceService %s: no %s condition yet (has %v)", name, typ, got)
		}
		if c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("LLMInferenceService %s: %s=%s %s: %s; want %s", name, typ, c.Status, c.Reason, c.Message, rest)
		}
	}
	return nil
}

func logConditions(t *testing.T, name string, got map[string]llmCondition) {
	t.Helper()
	types := make([]string, 0, len(got))
	for typ := range got {
		types = append(types, typ)
	}
	slices.Sort(types)
	for _, typ := range types {
		c := got[typ]
		t.Logf("  KServe: LLMInferenceService %s %s=%s %s: %s", name, typ, c.Status, c.Reason, c.Message)
	}
}

// testLLMInferenceService: a team's GenAIModel with two versions on engine LLMInferenceService, one with a
// fixed replica count, one autoscaled, each with its own vllm arguments; checked against KServe v0.20's
// real LLM controller, Envoy Gateway (and Envoy AI Gateway's extension and InferencePool controller) and
// the scheduler, then retired.
//
// What KServe's LLM controller reports here (kwok runs every pod Running and Ready; there is no vLLM):
//   - v1 (replicas 1): PresetsCombined, MainWorkloadReady, SchedulerWorkloadReady and WorkloadsReady True;
//     InferencePoolReady, RouterReady and Ready False, WaitingForGateway ("Inference Pool ... exists but
//     no Gateway controller has accepted it yet"). KServe counts only the Gateways of its own routes, and
//     the operator gives it none (Tier Two's HTTPRoute is the operator's), so this stays however well the
//     pool serves; the operator does not wait for it (controllers/kinds).
//   - v2 (minReplicas 1, maxReplicas 3: the Workload Variant Autoscaler with an HPA as its actuator):
//     the same, plus ScalingReady and WorkloadsReady False, FailedGetExternalMetric: the HPA KServe made
//     reads wva_desired_replicas from the external metrics API, which the simulated cluster does not serve
//     (no Prometheus adapter, no WVA controller). So v2 is not Ready, and gets no traffic.
func testLLMInferenceService(t *testing.T) {
	ctx := context.Background()
	const name = "team/llm-d"
	args := map[string][]string{
		"v1": {"--max-model-len=8192"},
		"v2": {"--max-model-len=16384", "--enable-prefix-caching"},
	}
	model := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": platformv1.GroupVersion.String(), "kind": "GenAIModel",
		"metadata": map[string]any{"name": "llm-d", "namespace": platformNS},
		"spec": map[string]any{
			"platformRef": map[string]any{"name": "gpu"}, "name": name,
			"selfHosted": map[string]any{
				"storageUri": "hf://example/llm-d", "gpus": int64(1),
				"placements": []any{map[string]any{"cluster": "gpu-east", "nodePool": "h100", "minReplicas": int64(1)}},
				"versions": []any{
					map[string]any{"name": "v1", "weight": int64(90), "engine": "LLMInferenceService", "args": []any{args["v1"][0]}},
					map[string]any{"name": "v2", "weight": int64(10), "engine": "LLMInferenceService", "args": []any{args["v2"][0], args["v2"][1]},
						"minReplicas": int64(1), "maxReplicas": int64(3)},
				},
			},
		},
	}}
	apply(t, model)
	// Should a check fail half-way, the model goes anyway: the steps after this one count what is left.
	t.Cleanup(func() { _ = client.IgnoreNotFound(c.Delete(context.Background(), model)) })
	p := platform(t, "gpu")
	llm := map[string]string{
		"v1": render.VersionLLMInferenceServiceName(p, name, "h100", "v1"),
		"v2": render.VersionLLMInferenceServiceName(p, name, "h100", "v2"),
	}

	// KServe's LLM controller: its verdict on each version, in its own words.
	gotConds := map[string]map[string]llmCondition{}
	for v, want := range map[string][]string{
		"v1": {"PresetsCombined=True", "MainWorkloadReady=True", "SchedulerWorkloadReady=True", "WorkloadsReady=True",
			"InferencePoolReady=False/WaitingForGateway", "RouterReady=False/WaitingForGateway", "Ready=False/WaitingForGateway"},
		"v2": {"PresetsCombined=True", "MainWorkloadReady=True", "SchedulerWorkloadReady=True",
			"ScalingReady=False/FailedGetExternalMetric", "WorkloadsReady=False/FailedGetExternalMetric",
			"InferencePoolReady=False/WaitingForGateway", "Ready=False"},
	} {
		eventually(t, waitForControl, func() error {
			got, err := llmConditions(t, llm[v])
			if err != nil {
				return err
			}
			gotConds[v] = got
			return wantConditions(llm[v], got, want...)
		})
	}
	for _, v := range []string{"v1", "v2"} {
		t.Logf("version %s: LLMInferenceService %s/%s", v, modelsNS, llm[v])
		logConditions(t, llm[v], gotConds[v])
	}
	if c := gotConds["v1"]["InferencePoolReady"]; !strings.Contains(c.Message, "no Gateway controller has accepted it yet") {
		t.Errorf("v1 InferencePoolReady message %q; want KServe's WaitingForGateway message", c.Message)
	}

	// What it made for each version: the InferencePool selecting the version's vLLM pods, the endpoint
	// picker (Deployment, Service) it names, and the pods, with the version's arguments, on the pool's nodes.
	for _, v := range []string{"v1", "v2"} {
		pool := get(t, gvkInferencePool, modelsNS, render.InferencePoolName(llm[v]))
		if pool == nil {
			t.Fatalf("no InferencePool %s for version %s", render.InferencePoolName(llm[v]), v)
		}
		if owner := metav1.GetControllerOf(pool); owner == nil || owner.Kind != "LLMInferenceService" || owner.Name != llm[v] {
			t.Errorf("InferencePool %s: controller %+v; want LLMInferenceService %s", pool.GetName(), owner, llm[v])
		}
		epp, _, _ := unstructured.NestedString(pool.Object, "spec", "endpointPickerRef", "name")
		eppPort, _, _ := unstructured.NestedInt64(pool.Object, "spec", "endpointPickerRef", "port", "number")
		if epp != llmEPPService(llm[v]) || eppPort != 9002 {
			t.Errorf("InferencePool %s: endpoint picker %s:%d; want %s:9002", pool.GetName(), epp, eppPort, llmEPPService(llm[v]))
		}
		ports, _, _ := unstructured.NestedSlice(pool.Object, "spec", "targetPorts")
		if fmt.Sprint(ports) != fmt.Sprintf("[map[number:%d]]", render.LLMWorkloadPort) {
			t.Errorf("InferencePool %s: targetPorts %v; want %d", pool.GetName(), ports, render.LLMWorkloadPort)
		}
		sel, _, _ := unstructured.NestedStringMap(pool.Object, "spec", "selector", "matchLabels")
		var svc corev1.Service
		if err := c.Get(ctx, client.ObjectKey{Namespace: modelsNS, Name: llmEPPService(llm[v])}, &svc); err != nil {
			t.Errorf("endpoint picker Service: %v", err)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: modelsNS, Name: render.LLMWorkloadServiceName(llm[v])}, &svc); err != nil {
			t.Errorf("workload Service (the route's way around the pool): %v", err)
		}

		// The endpoint picker: available (kwok), serving this pool, scoring by queue and KV cache.
		eventually(t, waitShort, func() error {
			var d appsv1.Deployment
			if err := c.Get(ctx, client.ObjectKey{Namespace: modelsNS, Name: llmSchedulerDeployment(llm[v])}, &d); err != nil {
				return err
			}
			if d.Status.AvailableReplicas < 1 {
				return fmt.Errorf("endpoint picker Deployment %s: no available replica", d.Name)
			}
			ctr := d.Spec.Template.Spec.Containers[0]
			cmd := strings.Join(append(slices.Clone(ctr.Command), ctr.Args...), " ")
			for _, want := range []string{"--pool-name " + pool.GetName(), "queue-scorer", "kv-cache-utilization-scorer", "prefix-cache-scorer"} {
				if !strings.Contains(cmd, want) {
					return fmt.Errorf("endpoint picker %s: %q not in its command line", d.Name, want)
				}
			}
			return nil
		})

		// The vLLM pods, as the pool selects them: KServe's preset container "main" with exactly the
		// version's arguments (passed to vllm serve), the GPU, scheduled on the h100 pool's nodes.
		eventually(t, waitShort, func() error {
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(modelsNS), client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(sel)}); err != nil {
				return err
			}
			if len(pods.Items) == 0 {
				return fmt.Errorf("InferencePool %s selects no pod (selector %v)", pool.GetName(), sel)
			}
			for _, pod := range pods.Items {
				var main *corev1.Container
				for i := range pod.Spec.Containers {
					if pod.Spec.Containers[i].Name == "main" {
						main = &pod.Spec.Containers[i]
					}
				}
				if main == nil {
					return fmt.Errorf("pod %s has no container main", pod.Name)
				}
				if !slices.Equal(main.Args, args[v]) {
					return fmt.Errorf("pod %s: vllm arguments %q; want the version's %q", pod.Name, main.Args, args[v])
				}
				if q := main.Resources.Limits["nvidia.com/gpu"]; q.String() != "1" {
					return fmt.Errorf("pod %s: nvidia.com/gpu limit %s; want 1", pod.Name, q.String())
				}
				if cond := podCondition(&pod, corev1.PodScheduled); cond == nil || cond.Status != corev1.ConditionTrue {
					return fmt.Errorf("pod %s not scheduled: %+v", pod.Name, cond)
				}
				var node corev1.Node
				if err := c.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, &node); err != nil {
					return err
				}
				if node.Labels["gpu"] != "h100" {
					return fmt.Errorf("pod %s on node %s (gpu=%s); want the h100 pool", pod.Name, node.Name, node.Labels["gpu"])
				}
				t.Logf("version %s: pod %s on node %s, vllm serve ... %s", v, pod.Name, node.Name, strings.Join(main.Args, " "))
			}
			return nil
		})
	}

	// The replica bounds the operator set: v1 a fixed count on KServe's Deployment; v2 the HPA and the
	// VariantAutoscaling KServe made, with the version's bounds.
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: modelsNS, Name: llmWorkloadDeployment(llm["v1"])}, &d); err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("v1 Deployment %s: replicas %v; want 1", d.Name, d.Spec.Replicas)
	}
	if get(t, gvkHPA, modelsNS, llmHPA(llm["v1"])) != nil {
		t.Errorf("v1 has an HPA %s; its replica count is fixed", llmHPA(llm["v1"]))
	}
	for _, k := range []struct {
		gvk  string
		u    *unstructured.Unstructured
		name string
	}{
		{"HorizontalPodAutoscaler", get(t, gvkHPA, modelsNS, llmHPA(llm["v2"])), llmHPA(llm["v2"])},
		{"VariantAutoscaling", get(t, gvkVariantAutoscaling, modelsNS, llmVariantAutoscaling(llm["v2"])), llmVariantAutoscaling(llm["v2"])},
	} {
		if k.u == nil {
			t.Errorf("v2: no %s %s", k.gvk, k.name)
			continue
		}
		minR, _, _ := unstructured.NestedInt64(k.u.Object, "spec", "minReplicas")
		maxR, _, _ := unstructured.NestedInt64(k.u.Object, "spec", "maxReplicas")
		target, _, _ := unstructured.NestedString(k.u.Object, "spec", "scaleTargetRef", "name")
		if minR != 1 || maxR != 3 || target != llmWorkloadDeployment(llm["v2"]) {
			t.Errorf("v2 %s %s: %d-%d replicas of %s; want 1-3 of %s", k.gvk, k.name, minR, maxR, target, llmWorkloadDeployment(llm["v2"]))
		}
	}
	t.Logf("replicas: v1 Deployment %s replicas 1; v2 HPA %s and VariantAutoscaling %s 1-3", d.Name, llmHPA(llm["v2"]), llmVariantAutoscaling(llm["v2"]))

	// Tier Two: the model's rule sends everything to v1's InferencePool (v2 is not Ready: its 10 go to
	// v1), and Envoy Gateway's verdict on that backendRef.
	var route *unstructured.Unstructured
	wantRefs := fmt.Sprintf("[%s/InferencePool/%s:90]", render.InferencePoolGroup, render.InferencePoolName(llm["v1"]))
	eventually(t, waitForControl, func() error {
		for _, r := range listManaged(t, gvk("gateway.networking.k8s.io", "v1", "HTTPRoute")) {
			if generatedByAIGateway(r) || r.GetNamespace() != modelsNS {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
			for _, x := range rules {
				if !strings.Contains(fmt.Sprint(x.(map[string]any)["matches"]), name) {
					continue
				}
				refs, _, _ := unstructured.NestedSlice(x.(map[string]any), "backendRefs")
				var got []string
				for _, ref := range refs {
					m := ref.(map[string]any)
					got = append(got, fmt.Sprintf("%v/%v/%v:%v", m["group"], m["kind"], m["name"], m["weight"]))
				}
				if fmt.Sprint(got) != wantRefs {
					return fmt.Errorf("HTTPRoute %s sends %s to %v; want %s", r.GetName(), name, got, wantRefs)
				}
				route = &r
				return nil
			}
		}
		return fmt.Errorf("no Tier Two rule for %s yet", name)
	})
	// Envoy Gateway v1.9 resolves an InferencePool backendRef only through an extension that declares it
	// a backend resource: Envoy AI Gateway's (the upstream InferencePool addon of its Helm values). With
	// it, the route is Accepted with its references resolved; without it (no Envoy AI Gateway source),
	// Envoy Gateway refuses the kind.
	wantResolved, wantReason := "True", "ResolvedRefs"
	if !cluster.AIGateway {
		wantResolved, wantReason = "False", "InvalidKind"
		t.Logf("no Envoy AI Gateway controller, so Envoy Gateway has no extension for InferencePool: %s", cluster.AIGatewayAbsent)
	}
	eventually(t, waitShort, func() error {
		r := get(t, gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"), route.GetNamespace(), route.GetName())
		parents, _, _ := unstructured.NestedSlice(r.Object, "status", "parents")
		if len(parents) == 0 {
			return fmt.Errorf("HTTPRoute %s has no parent status", r.GetName())
		}
		for _, x := range parents {
			conds, _ := x.(map[string]any)["conditions"].([]any)
			if err := condsCurrent("HTTPRoute "+r.GetName()+" parent", conds, r.GetGeneration(), "Accepted"); err != nil {
				return err
			}
			for _, y := range conds {
				m := y.(map[string]any)
				if m["type"] != "ResolvedRefs" {
					continue
				}
				if m["status"] != wantResolved || m["reason"] != wantReason {
					return fmt.Errorf("HTTPRoute %s: ResolvedRefs=%v %v: %v; want %s %s", r.GetName(), m["status"], m["reason"], m["message"], wantResolved, wantReason)
				}
				t.Logf("Envoy Gateway: HTTPRoute %s/%s (%s -> %s) Accepted=True, ResolvedRefs=%v %v: %v",
					r.GetNamespace(), r.GetName(), name, wantRefs, m["status"], m["reason"], m["message"])
				return nil
			}
			return fmt.Errorf("HTTPRoute %s: no ResolvedRefs condition yet", r.GetName())
		}
		return nil
	})
	if cluster.AIGateway {
		// Envoy AI Gateway's InferencePool controller: the pool is Accepted by the Tier Two Gateway that
		// routes to it (the status KServe would read, were that Gateway one of its own routes').
		eventually(t, waitShort, func() error {
			pool := get(t, gvkInferencePool, modelsNS, render.InferencePoolName(llm["v1"]))
			parents, _, _ := unstructured.NestedSlice(pool.Object, "status", "parents")
			for _, x := range parents {
				m := x.(map[string]any)
				if ref, _ := m["parentRef"].(map[string]any); ref["name"] == render.TierTwoGatewayName(p) {
					return condsTrue("InferencePool "+pool.GetName()+" parent "+render.TierTwoGatewayName(p), m["conditions"], "Accepted", "ResolvedRefs")
				}
			}
			return fmt.Errorf("InferencePool %s: parents %v; want the Tier Two Gateway %s", pool.GetName(), parents, render.TierTwoGatewayName(p))
		})
		t.Logf("Envoy AI Gateway: InferencePool %s Accepted, ResolvedRefs by Gateway %s/%s", render.InferencePoolName(llm["v1"]), modelsNS, render.TierTwoGatewayName(p))
	}

	// The operator's verdict, from KServe's conditions: v1 ready with its weight, v2 not, in KServe's reason.
	eventually(t, waitShort, func() error {
		var m platformv1.GenAIModel
		if err := c.Get(ctx, client.ObjectKeyFromObject(model), &m); err != nil {
			return err
		}
		want := fmt.Sprint([]platformv1.VersionStatus{
			{Name: "v1", Weight: 90, Ready: true},
			{Name: "v2", Weight: 10, NotReady: []string{"gpu-east/h100: FailedGetExternalMetric"}},
		})
		if got := fmt.Sprint(m.Status.Versions); got != want {
			return fmt.Errorf("GenAIModel %s versions %s; want %s", m.Name, got, want)
		}
		if cluster.AIGateway {
			if cond := meta.FindStatusCondition(m.Status.Conditions, platformv1.ConditionReady); cond == nil || cond.Status != metav1.ConditionTrue {
				return fmt.Errorf("GenAIModel %s: Ready %+v", m.Name, cond)
			}
		}
		for _, cond := range m.Status.Conditions {
			t.Logf("GenAIModel %s/%s: %s=%s %s: %s", m.Namespace, m.Name, cond.Type, cond.Status, cond.Reason, cond.Message)
		}
		t.Logf("GenAIModel %s/%s: routes %v, versions %+v", m.Namespace, m.Name, m.Status.Routes, m.Status.Versions)
		return nil
	})

	// Retired: the LLMInferenceServices go (KServe's finalizer released), and what KServe made with them.
	if err := c.Delete(ctx, model); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, v := range []string{"v1", "v2"} {
		eventually(t, waitShort, func() error {
			if err := notFound(gvkLLMISVC, modelsNS, llm[v]); err != nil {
				return err
			}
			return notFound(gvkInferencePool, modelsNS, render.InferencePoolName(llm[v]))
		})
	}
	t.Logf("retired: both LLMInferenceServices and their InferencePools gone in %s", time.Since(start).Round(100*time.Millisecond))
}
