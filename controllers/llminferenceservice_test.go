package controllers_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	kservev1a2 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1alpha2"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

var (
	gvkLLMISVC = kservev1a2.GroupVersion.WithKind("LLMInferenceService")
	// gvkInferencePool is the InferencePool KServe v0.20's LLM controller creates (and Envoy AI Gateway v1.1
	// serves to Envoy Gateway), from the CRD KServe installs with it (config/llmisvc/gateway-inference-extension.yaml).
	gvkInferencePool = schema.GroupVersionKind{Group: "inference.networking.k8s.io", Version: "v1", Kind: "InferencePool"}
)

// setLLMISVCStatus writes an LLMInferenceService's status as KServe v0.20's LLM controller does: knative's
// duckv1.Status (observedGeneration and conditions with severity and a string lastTransitionTime), the
// conditions of pkg/apis/serving/v1alpha2/llm_inference_service_lifecycle.go and KServe's URL for a service
// without a route of its own (its workload Service). generation is the one KServe says it saw (0: the
// current one). conds are "Type=Status[/Reason/Message]".
func setLLMISVCStatus(t *testing.T, ns, name string, generation int64, conds ...string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvkLLMISVC)
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			return err
		}
		g := generation
		if g == 0 {
			g = u.GetGeneration()
		}
		var list []any
		for _, c := range conds {
			typ, rest, _ := strings.Cut(c, "=")
			parts := strings.SplitN(rest, "/", 3)
			cond := map[string]any{"type": typ, "status": parts[0], "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
			if len(parts) > 1 {
				cond["reason"] = parts[1]
			}
			if len(parts) > 2 {
				cond["message"] = parts[2]
			}
			list = append(list, cond)
		}
		u.Object["status"] = map[string]any{
			"observedGeneration": g,
			"conditions":         list,
			"url":                "http://" + render.LLMWorkloadServiceName(name) + "." + ns + ".svc.cluster.local",
			"addresses":          []any{map[string]any{"url": "http://" + render.LLMWorkloadServiceName(name) + "." + ns + ".svc.cluster.local"}},
		}
		return k8s.Status().Update(testCtx, u)
	})
}

// kserveNotRouted are the router conditions KServe v0.20 reports for an LLMInferenceService without a
// route or gateway of its own: its InferencePool is never accepted by "its" gateway, so RouterReady and
// Ready stay False however well it serves (router.go EvaluateInferencePoolConditions).
var kserveNotRouted = []string{
	"InferencePoolReady=False/WaitingForGateway/Inference Pool exists but no Gateway controller has accepted it yet",
	"RouterReady=False/WaitingForGateway/Inference Pool exists but no Gateway controller has accepted it yet",
	"Ready=False/WaitingForGateway/Inference Pool exists but no Gateway controller has accepted it yet",
}

// versionsOf waits until the platform's status.models entry of a model shows these versions.
func waitVersions(t *testing.T, p *platformv1.GenAIPlatform, model string, want []platformv1.VersionStatus) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		ms := modelStatus(getPlatform(t, p), model)
		if ms == nil {
			return fmt.Errorf("no status for %s yet", model)
		}
		if fmt.Sprint(ms.Versions) != fmt.Sprint(want) {
			return fmt.Errorf("status.models[%s].versions %+v, want %+v", model, ms.Versions, want)
		}
		return nil
	})
}

// tierTwoRuleOf returns the Tier Two HTTPRoute rule of a model.
func tierTwoRuleOf(t *testing.T, p *platformv1.GenAIPlatform, ns, model string) map[string]any {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRouteList"})
	if err := k8s.List(testCtx, list, client.InNamespace(ns), client.MatchingLabels{platformv1.LabelPlatform: p.Name}); err != nil {
		t.Fatal(err)
	}
	for _, route := range list.Items {
		rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
		for _, r := range rules {
			rm := r.(map[string]any)
			if rm["matches"].([]any)[0].(map[string]any)["headers"].([]any)[0].(map[string]any)["value"] == model {
				return rm
			}
		}
	}
	return nil
}

// TestLLMInferenceServiceEngine: a version with engine LLMInferenceService becomes an LLMInferenceService
// that the real API server accepts with KServe v0.20's real CRD (its CEL rules included), Tier Two routes to
// the InferencePool KServe makes for it (and its canary to the versions' workload Services), and the
// model's status rolls up from the LLMInferenceService's status in KServe's own shape: the wanted
// conditions, KServe's reasons, the generation KServe saw, the scheduler's reason for a Pending pod.
func TestLLMInferenceServiceEngine(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	createSecret(t, ns, "hf-token", map[string]string{"HF_TOKEN": "hf_test"})
	p := createPlatform(t, ns, "llm", `
gateway: {listener: {protocol: HTTP}}
modelClusters:
- name: gpu
  namespace: `+mns+`
  address: {hostname: tier2.gpu.example}
  tls: {mode: None}
  nodePools:
  - {name: h100, nodeSelector: {gpu: h100}, tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]}
models:
- name: Qwen/Qwen2.5-7B-Instruct
  selfHosted:
    storageUri: hf://Qwen/Qwen2.5-7B-Instruct
    credentialsSecretRef: {name: hf-token}
    gpus: 2
    placements: [{cluster: gpu, nodePool: h100, minReplicas: 1, maxReplicas: 3}]
    versions:
    - {name: v1, weight: 90, engine: LLMInferenceService, args: [--max-model-len=8192]}
`)
	const model = "Qwen/Qwen2.5-7B-Instruct"
	v1 := render.VersionLLMInferenceServiceName(p, model, "h100", "v1")

	// The LLMInferenceService is in the model cluster, accepted by the API server with KServe's CRD.
	var llm kservev1a2.LLMInferenceService
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: v1}, &llm)
	})
	spec := llm.Spec
	switch {
	case spec.Model.URI != "hf://Qwen/Qwen2.5-7B-Instruct" || ptr.Deref(spec.Model.Name, "") != model:
		t.Errorf("model %+v: want the storageUri served as the model's name", spec.Model)
	case spec.Replicas != nil || spec.Scaling == nil || ptr.Deref(spec.Scaling.MinReplicas, 0) != 1 || spec.Scaling.MaxReplicas != 3 || spec.Scaling.WVA == nil || spec.Scaling.WVA.HPA == nil:
		t.Errorf("replicas %v, scaling %+v: want autoscaling 1-3 by the Workload Variant Autoscaler with an HPA", spec.Replicas, spec.Scaling)
	case spec.Router == nil || spec.Router.Scheduler == nil:
		t.Errorf("router %+v: want the scheduler (InferencePool and endpoint picker)", spec.Router)
	case spec.Template == nil || len(spec.Template.Containers) != 1 || spec.Template.Containers[0].Name != "main" ||
		!slices.Equal(spec.Template.Containers[0].Args, []string{"--max-model-len=8192"}) || spec.Template.NodeSelector["gpu"] != "h100" || len(spec.Template.Tolerations) != 1:
		t.Errorf("template %+v: want the node pool's placement and the version's arguments on container main", spec.Template)
	case llm.Annotations[render.AnnotationStorageSecretName] != render.ModelSecretName(p, model):
		t.Errorf("annotations %v: want the download Secret named for KServe's storage initializer", llm.Annotations)
	}
	if r := spec.Template.Containers[0].Resources; r == nil || r.Limits.Name("nvidia.com/gpu", "").String() != "2" {
		t.Errorf("resources %+v: want 2 GPUs", r)
	}
	// No route or gateway of KServe's own: the Tier Two HTTPRoute is the only way in.
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvkLLMISVC)
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: v1}, u); err != nil {
		t.Fatal(err)
	}
	if router, _, _ := unstructured.NestedMap(u.Object, "spec", "router"); len(router) != 1 || router["scheduler"] == nil {
		t.Errorf("spec.router %v: want the scheduler only (no route, no gateway)", router)
	}

	// Tier Two routes the model to the InferencePool KServe names <name>-inference-pool, with vLLM's /v1
	// path unchanged.
	eventually(t, 20*time.Second, func() error {
		rule := tierTwoRuleOf(t, p, mns, model)
		if rule == nil {
			return fmt.Errorf("no Tier Two rule for %s yet", model)
		}
		refs, _ := rule["backendRefs"].([]any)
		want := map[string]any{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": render.InferencePoolName(v1), "weight": int64(90)}
		if len(refs) != 1 || fmt.Sprint(refs[0]) != fmt.Sprint(want) {
			return fmt.Errorf("backendRefs %v, want [%v]", refs, want)
		}
		if rule["filters"] != nil {
			return fmt.Errorf("filters %v: vLLM serves /v1, nothing to rewrite", rule["filters"])
		}
		return nil
	})

	// The InferencePool KServe v0.20 makes for it (scheduler.go expectedSchedulerInferencePool, spec from its
	// preset kserve-config-llm-scheduler) is accepted by the InferencePool CRD KServe installs, under the
	// name the route uses.
	pool := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"selector":    map[string]any{"matchLabels": map[string]any{kservev1a2.LabelAppName: v1, kservev1a2.LabelPartOf: kservev1a2.PartOfValue, kservev1a2.LabelComponent: kservev1a2.ComponentWorkload}},
		"targetPorts": []any{map[string]any{"number": int64(render.LLMWorkloadPort)}},
		"endpointPickerRef": map[string]any{"kind": "Service", "name": v1 + "-epp-service", "port": map[string]any{"number": int64(9002)},
			"failureMode": "FailOpen"},
	}}}
	pool.SetGroupVersionKind(gvkInferencePool)
	pool.SetNamespace(mns)
	pool.SetName(render.InferencePoolName(v1))
	if err := k8s.Create(testCtx, pool); err != nil {
		t.Fatalf("the InferencePool KServe makes is refused: %v", err)
	}

	// KServe reports the model server unavailable: the version does not serve, with KServe's reason.
	setLLMISVCStatus(t, mns, v1, 0, append([]string{"PresetsCombined=True",
		"MainWorkloadReady=False/MinimumReplicasUnavailable/Deployment does not have minimum availability.",
		"WorkloadsReady=False/MinimumReplicasUnavailable/Deployment does not have minimum availability.",
		"SchedulerWorkloadReady=True"}, kserveNotRouted...)...)
	waitVersions(t, p, model, []platformv1.VersionStatus{{Name: "v1", Weight: 90, NotReady: []string{"gpu/h100: MinimumReplicasUnavailable"}}})

	// A Pending pod of its model server (KServe's workload labels): the scheduler's reason is shown.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: mns, Name: v1 + "-kserve-7c9d8-x2x4p", Labels: map[string]string{
		kservev1a2.LabelAppName: v1, kservev1a2.LabelPartOf: kservev1a2.PartOfValue, kservev1a2.LabelComponent: kservev1a2.ComponentWorkload}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "ghcr.io/llm-d/llm-d-cuda:v0.8.0"}}}}
	if err := k8s.Create(testCtx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
		Message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.", LastTransitionTime: metav1.Now()}}
	if err := k8s.Status().Update(testCtx, pod); err != nil {
		t.Fatal(err)
	}
	// A change to the platform makes it reconcile (a Pod is not watched).
	updatePlatform(t, p, func(cur *platformv1.GenAIPlatform) {
		cur.Spec.Models[0].SelfHosted.Versions[0].Weight = ptr.To[int32](100)
	})
	eventually(t, 20*time.Second, func() error {
		ms := modelStatus(getPlatform(t, p), model)
		if ms == nil || !strings.Contains(ms.Message, "cannot be scheduled: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu") {
			return fmt.Errorf("model status %+v: want the scheduler's reason", ms)
		}
		return nil
	})
	if err := k8s.Delete(testCtx, pod); err != nil {
		t.Fatal(err)
	}

	// The model server and the endpoint picker are available: the version serves, although KServe's own
	// Ready stays False for want of a gateway of its own.
	setLLMISVCStatus(t, mns, v1, 0, append([]string{"PresetsCombined=True", "MainWorkloadReady=True", "WorkloadsReady=True", "SchedulerWorkloadReady=True"}, kserveNotRouted...)...)
	waitVersions(t, p, model, []platformv1.VersionStatus{{Name: "v1", Weight: 100, Ready: true}})

	// A status KServe wrote for an earlier generation is not trusted: a new spec waits for KServe.
	gen := getLLMISVC(t, mns, v1).Generation
	updatePlatform(t, p, func(cur *platformv1.GenAIPlatform) {
		cur.Spec.Models[0].SelfHosted.Versions[0].Args = []string{"--max-model-len=16384"}
	})
	eventually(t, 20*time.Second, func() error {
		if got := getLLMISVC(t, mns, v1); got.Generation == gen || !slices.Equal(got.Spec.Template.Containers[0].Args, []string{"--max-model-len=16384"}) {
			return fmt.Errorf("generation %d, args %v: want the new arguments", got.Generation, got.Spec.Template.Containers[0].Args)
		}
		return nil
	})
	setLLMISVCStatus(t, mns, v1, gen, append([]string{"PresetsCombined=True", "MainWorkloadReady=True", "WorkloadsReady=True", "SchedulerWorkloadReady=True"}, kserveNotRouted...)...)
	waitVersions(t, p, model, []platformv1.VersionStatus{{Name: "v1", Weight: 100, NotReady: []string{"gpu/h100: WaitingForKServe"}}})
	setLLMISVCStatus(t, mns, v1, 0, append([]string{"PresetsCombined=True", "MainWorkloadReady=True", "WorkloadsReady=True", "SchedulerWorkloadReady=True"}, kserveNotRouted...)...)
	waitVersions(t, p, model, []platformv1.VersionStatus{{Name: "v1", Weight: 100, Ready: true}})

	// A canary v2 (one fixed replica, its own bounds): while it is not Ready, v1's InferencePool keeps all
	// the traffic; once it is, one rule cannot split between two InferencePools (Envoy AI Gateway v1.1), so
	// the split goes to the versions' workload Services, 90/10.
	updatePlatform(t, p, func(cur *platformv1.GenAIPlatform) {
		cur.Spec.Models[0].SelfHosted.Versions[0].Weight = ptr.To[int32](90)
		cur.Spec.Models[0].SelfHosted.Versions = append(cur.Spec.Models[0].SelfHosted.Versions, platformv1.ModelVersion{
			Name: "v2", Weight: ptr.To[int32](10), Engine: platformv1.EngineLLMInferenceService, MinReplicas: ptr.To[int32](1),
			StorageURI: "hf://Qwen/Qwen2.5-7B-Instruct-1M"})
	})
	v2 := render.VersionLLMInferenceServiceName(p, model, "h100", "v2")
	eventually(t, 20*time.Second, func() error {
		got := &kservev1a2.LLMInferenceService{}
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: v2}, got); err != nil {
			return err
		}
		if ptr.Deref(got.Spec.Replicas, -1) != 1 || got.Spec.Scaling != nil || got.Spec.Model.URI != "hf://Qwen/Qwen2.5-7B-Instruct-1M" {
			return fmt.Errorf("v2: replicas %v, scaling %+v, uri %s: want one fixed replica of v2's weights", got.Spec.Replicas, got.Spec.Scaling, got.Spec.Model.URI)
		}
		return nil
	})
	setLLMISVCStatus(t, mns, v1, 0, append([]string{"PresetsCombined=True", "MainWorkloadReady=True", "WorkloadsReady=True", "SchedulerWorkloadReady=True"}, kserveNotRouted...)...)
	waitWeights := func(want ...string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			if got := tierTwoWeights(t, p, mns, model); !slices.Equal(got, want) {
				return fmt.Errorf("Tier Two backends %v, want %v", got, want)
			}
			return nil
		})
	}
	waitWeights(render.InferencePoolName(v1) + "=90")
	setLLMISVCStatus(t, mns, v2, 0, "PresetsCombined=True", "MainWorkloadReady=True", "WorkloadsReady=True",
		"SchedulerWorkloadReady=False/ProgressDeadlineExceeded/ReplicaSet has timed out progressing.")
	waitVersions(t, p, model, []platformv1.VersionStatus{{Name: "v1", Weight: 90, Ready: true}, {Name: "v2", Weight: 10, NotReady: []string{"gpu/h100: ProgressDeadlineExceeded"}}})
	waitWeights(render.InferencePoolName(v1) + "=90")
	setLLMISVCStatus(t, mns, v2, 0, append([]string{"PresetsCombined=True", "MainWorkloadReady=True", "WorkloadsReady=True", "SchedulerWorkloadReady=True"}, kserveNotRouted...)...)
	waitWeights(render.LLMWorkloadServiceName(v1)+"=90", render.LLMWorkloadServiceName(v2)+"=10")
	rule := tierTwoRuleOf(t, p, mns, model)
	for _, ref := range rule["backendRefs"].([]any) {
		// The API server defaults group "" and kind Service.
		if r := ref.(map[string]any); r["port"] != int64(render.LLMWorkloadPort) || r["group"] != "" || r["kind"] != "Service" {
			t.Errorf("backendRef %v: want KServe's workload Service on port %d", r, render.LLMWorkloadPort)
		}
	}

	// Retiring v1: v2 alone takes the traffic, through its own InferencePool again.
	updatePlatform(t, p, func(cur *platformv1.GenAIPlatform) {
		cur.Spec.Models[0].SelfHosted.Versions = cur.Spec.Models[0].SelfHosted.Versions[1:]
	})
	waitWeights(render.InferencePoolName(v2) + "=10")
	eventually(t, 20*time.Second, func() error {
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: v1}, &kservev1a2.LLMInferenceService{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("v1's LLMInferenceService is still there: %v", err)
		}
		return nil
	})
}

func getLLMISVC(t *testing.T, ns, name string) *kservev1a2.LLMInferenceService {
	t.Helper()
	got := &kservev1a2.LLMInferenceService{}
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: name}, got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestLLMEngineAdmission: the CRDs refuse, with a message naming the field, what an engine cannot serve or
// Tier Two cannot route, in a platform's spec.models and in a team's GenAIModel alike (one shared type);
// and admit the valid edge cases.
func TestLLMEngineAdmission(t *testing.T) {
	ns := newNamespace(t)
	// A model namespace of the test's own: the admitted platforms are reconciled, and the default one
	// (genai-models) is the samples' tests'.
	head := "gateway: {listener: {protocol: HTTP}}\nmodelClusters: [{name: c, namespace: " + ns + "-models, nodePools: [{name: p}]}]\n"
	model := func(selfHosted string) string {
		return head + "models: [{name: m, selfHosted: " + selfHosted + "}]"
	}
	cases := []struct {
		name, selfHosted string
		message          []string // each must appear in the error
	}{
		{"engines mixed", "{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p}], versions: [{name: a}, {name: b, engine: LLMInferenceService}]}",
			[]string{"spec.models[0].selfHosted", "versions[].engine must be the same for every version of a model"}},
		{"engine unknown", "{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p}], versions: [{name: a, engine: Triton}]}",
			[]string{"spec.models[0].selfHosted.versions[0].engine", "LLMInferenceService"}},
		{"llm engine with a gs:// model", "{storageUri: 'gs://b/m', placements: [{cluster: c, nodePool: p}], versions: [{name: a, engine: LLMInferenceService}]}",
			[]string{"spec.models[0].selfHosted", "versions[].engine LLMInferenceService downloads only hf://, s3://, pvc:// and oci://"}},
		{"llm engine with a version's https:// model", "{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p}], versions: [{name: a, engine: LLMInferenceService, storageUri: 'https://h/m'}]}",
			[]string{"versions[].engine LLMInferenceService downloads only"}},
		{"llm engine with the model's runtime", "{storageUri: 'hf://x/y', runtime: kserve-vllm, placements: [{cluster: c, nodePool: p}], versions: [{name: a, engine: LLMInferenceService}]}",
			[]string{"spec.models[0].selfHosted", "runtime names a KServe ServingRuntime"}},
		{"llm engine with the version's runtime", "{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p}], versions: [{name: a, engine: LLMInferenceService, runtime: kserve-vllm}]}",
			[]string{"runtime names a KServe ServingRuntime"}},
		{"llm engine autoscaled from zero", "{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p, minReplicas: 0, maxReplicas: 2}], versions: [{name: a, engine: LLMInferenceService}]}",
			[]string{"spec.models[0].selfHosted", "autoscales (maxReplicas above minReplicas) only from minReplicas 1"}},
		{"version max below its min", "{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p}], versions: [{name: a, minReplicas: 3, maxReplicas: 2}]}",
			[]string{"spec.models[0].selfHosted.versions[0]", "versions[].maxReplicas must be at least versions[].minReplicas"}},
		{"version max below a placement's min", "{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p, minReplicas: 3}], versions: [{name: a, maxReplicas: 2}]}",
			[]string{"spec.models[0].selfHosted", "versions[].maxReplicas is below a placement's minReplicas"}},
		{"version min negative", "{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p}], versions: [{name: a, minReplicas: -1}]}",
			[]string{"spec.models[0].selfHosted.versions[0].minReplicas"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &platformv1.GenAIPlatform{}
			if err := sigyaml.Unmarshal([]byte(model(tc.selfHosted)), &p.Spec); err != nil {
				t.Fatalf("spec yaml: %v", err)
			}
			p.Namespace, p.Name = ns, fmt.Sprintf("refused-%d", i)
			err := k8s.Create(testCtx, p)
			if err == nil || !apierrors.IsInvalid(err) {
				t.Fatalf("platform: want an Invalid error, got %v", err)
			}
			for _, m := range tc.message {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("platform: error does not say %q:\n%v", m, err)
				}
			}
			// The same selfHosted in a team's model: refused alike, the path naming spec.selfHosted.
			gm := &platformv1.GenAIModel{}
			if err := sigyaml.Unmarshal([]byte("{platformRef: {name: x}, name: m, selfHosted: "+tc.selfHosted+"}"), &gm.Spec); err != nil {
				t.Fatal(err)
			}
			gm.Namespace, gm.Name = ns, fmt.Sprintf("refused-%d", i)
			err = k8s.Create(testCtx, gm)
			if err == nil || !apierrors.IsInvalid(err) {
				t.Fatalf("GenAIModel: want an Invalid error, got %v", err)
			}
			for _, m := range tc.message {
				m = strings.Replace(m, "spec.models[0].selfHosted", "spec.selfHosted", 1)
				if !strings.Contains(err.Error(), m) {
					t.Errorf("GenAIModel: error does not say %q:\n%v", m, err)
				}
			}
		})
	}
	for i, selfHosted := range []string{
		// Every version on the LLM engine, from every scheme it downloads; a fixed count from zero.
		"{storageUri: 's3://b/m', placements: [{cluster: c, nodePool: p, minReplicas: 0}], versions: [{name: a, engine: LLMInferenceService}, {name: b, engine: LLMInferenceService, storageUri: 'pvc://models/m'}, {name: c, engine: LLMInferenceService, storageUri: 'oci://r/m:1'}]}",
		// The version's own bounds lift a placement that starts from zero.
		"{storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p, minReplicas: 0, maxReplicas: 4}], versions: [{name: a, engine: LLMInferenceService, minReplicas: 1}]}",
		// An explicit InferenceService engine beside the default one; a version's maxReplicas alone above the placements' minimum.
		"{storageUri: 'gs://b/m', runtime: r, placements: [{cluster: c, nodePool: p, minReplicas: 2}], versions: [{name: a}, {name: b, engine: InferenceService, maxReplicas: 2}]}",
	} {
		p := &platformv1.GenAIPlatform{}
		if err := sigyaml.Unmarshal([]byte(model(selfHosted)), &p.Spec); err != nil {
			t.Fatal(err)
		}
		p.Namespace, p.Name = ns, fmt.Sprintf("admitted-%d", i)
		if err := k8s.Create(testCtx, p); err != nil {
			t.Errorf("refused %s: %v", selfHosted, err)
		}
	}
}
