package controllers_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	kservev1b1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

var gvkISVC = schema.GroupVersionKind{Group: "serving.kserve.io", Version: "v1beta1", Kind: "InferenceService"}

// selfHostedInput is the render input whose object names match what the operator creates for p.
func selfHostedInput(p *platformv1.GenAIPlatform, providers []string, tokens []string, ownNamespaces ...string) render.Input {
	in := render.Input{Platform: p, Facts: facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{}, ModelDownloads: map[string]facts.ModelDownload{}}}}
	for _, pr := range providers {
		in.Facts.Secrets.Credentials[pr] = map[string][]byte{}
	}
	for _, m := range tokens {
		in.Facts.Secrets.ModelDownloads[m] = facts.ModelDownload{Storage: map[string][]byte{render.KeyHFToken: []byte("t")}}
	}
	for _, mc := range p.Spec.ModelClusters {
		cf := facts.Cluster{Key: &facts.ClusterKey{Current: "k"}, ForeignNamespace: !slices.Contains(ownNamespaces, mc.Name)}
		if render.LinkTLSMode(&mc) != platformv1.TierLinkTLSNone {
			cf.TLS = preview.AssumedLinkTLS(&mc)
		}
		in.Facts.SetCluster(mc.Name, cf)
	}
	return in
}

// TestSelfHostedSampleConverges: the self-hosted sample's Tier One and Tier Two objects and
// InferenceServices are all accepted by the API server with the real KServe, Envoy Gateway, Gateway API
// and AI Gateway CRDs; each InferenceService has exactly its placement's and node pool's settings.
func TestSelfHostedSampleConverges(t *testing.T) {
	ns := newNamespace(t)
	applyYAMLFile(t, ns, samplesDir+"secrets.yaml")
	applyYAMLFile(t, ns, samplesDir+"secrets-selfhosted.yaml")
	p := applyYAMLFile(t, ns, samplesDir+"platform_v1alpha1_genaiplatform_selfhosted.yaml")
	p = getPlatform(t, p)
	waitChildren(t, p, expectedChildrenOf(t, selfHostedInput(p, []string{"openai"}, []string{"meta-llama/Llama-3.1-8B-Instruct"}, "gpu-east")))

	got := waitCondition(t, p, platformv1.ConditionModelClustersReady, metav1.ConditionFalse, status.ReasonWaitingForGateway)
	if msg := findCondition(got, platformv1.ConditionModelClustersReady).Message; !strings.Contains(msg, "Tier Two Gateway") {
		t.Errorf("ModelClustersReady should name the Tier Two Gateway: %q", msg)
	}

	// Field-level check of the InferenceServices against the sample's placements and node pools.
	const mns = "genai-models"
	llamaL4 := getISVC(t, mns, render.InferenceServiceName(p, mns, "meta-llama/Llama-3.1-8B-Instruct", "l4"))
	pr := llamaL4.Spec.Predictor
	if pr.MinReplicas == nil || *pr.MinReplicas != 1 || pr.MaxReplicas != 4 {
		t.Errorf("l4 replicas: min %v max %d", pr.MinReplicas, pr.MaxReplicas)
	}
	if !reflect.DeepEqual(pr.NodeSelector, map[string]string{"gpu": "l4"}) {
		t.Errorf("l4 nodeSelector: %v", pr.NodeSelector)
	}
	wantTol := []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	if !reflect.DeepEqual(pr.Tolerations, wantTol) {
		t.Errorf("l4 tolerations: %+v", pr.Tolerations)
	}
	checkGPUs(t, llamaL4, "nvidia.com/gpu", "1")
	if pr.Model == nil || pr.Model.StorageURI == nil || *pr.Model.StorageURI != "hf://meta-llama/Llama-3.1-8B-Instruct" || pr.Model.ModelFormat.Name != "huggingface" {
		t.Errorf("l4 model: %+v", pr.Model)
	}
	if llamaL4.Annotations[render.AnnotationDeploymentMode] != "Standard" {
		t.Errorf("raw deployment mode annotation: %v", llamaL4.Annotations)
	}
	if !slices.Contains(pr.Model.Args, "--model_name=meta-llama/Llama-3.1-8B-Instruct") || !slices.Contains(pr.Model.Args, "--max_model_len=8192") {
		t.Errorf("args: %v", pr.Model.Args)
	}
	var tokenEnv *corev1.EnvVar
	for i := range pr.Model.Env {
		if pr.Model.Env[i].Name == render.KeyHFToken {
			tokenEnv = &pr.Model.Env[i]
		}
	}
	secretName := render.ModelSecretName(p, "meta-llama/Llama-3.1-8B-Instruct")
	if tokenEnv == nil || tokenEnv.ValueFrom == nil || tokenEnv.ValueFrom.SecretKeyRef == nil ||
		tokenEnv.ValueFrom.SecretKeyRef.Name != secretName || tokenEnv.ValueFrom.SecretKeyRef.Key != render.KeyHFToken {
		t.Errorf("HF_TOKEN wiring: %+v", tokenEnv)
	}
	waitSecretValue(t, client.ObjectKey{Namespace: mns, Name: secretName}, render.KeyHFToken, "hf_demo_placeholder")

	qwen := getISVC(t, mns, render.InferenceServiceName(p, mns, "qwen2.5-72b", "h100"))
	checkGPUs(t, qwen, "nvidia.com/gpu", "4")
	if !reflect.DeepEqual(qwen.Spec.Predictor.NodeSelector, map[string]string{"gpu": "h100"}) || qwen.Spec.Predictor.MaxReplicas != 2 {
		t.Errorf("qwen predictor: %+v", qwen.Spec.Predictor)
	}
	for _, e := range qwen.Spec.Predictor.Model.Env {
		if e.Name == render.KeyHFToken {
			t.Errorf("qwen has no download credentials, yet HF_TOKEN is wired")
		}
	}

	// The operator created the model namespace: deleting the platform removes it with everything else.
	if err := k8s.Delete(testCtx, getPlatform(t, p)); err != nil {
		t.Fatal(err)
	}
	waitNoChildren(t, p)
}

func getISVC(t *testing.T, ns, name string) *kservev1b1.InferenceService {
	t.Helper()
	isvc := &kservev1b1.InferenceService{}
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: name}, isvc)
	})
	return isvc
}

func checkGPUs(t *testing.T, isvc *kservev1b1.InferenceService, resource, want string) {
	t.Helper()
	r := isvc.Spec.Predictor.Model.Resources
	if r == nil {
		t.Fatalf("%s: no resources", isvc.Name)
	}
	req, lim := r.Requests[corev1.ResourceName(resource)], r.Limits[corev1.ResourceName(resource)]
	if req.String() != want || lim.String() != want {
		t.Errorf("%s: %s requests %s limits %s, want %s", isvc.Name, resource, req.String(), lim.String(), want)
	}
}

func waitNoChildren(t *testing.T, p *platformv1.GenAIPlatform) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if left := liveChildren(t, p); len(left) > 0 {
			return fmt.Errorf("left behind: %v", left)
		}
		if err := k8s.Get(testCtx, keyOf(p), &platformv1.GenAIPlatform{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("platform still there: %v", err)
		}
		return nil
	})
}

// setISVCReady sets an InferenceService's Ready condition as KServe would, with its failure info when
// not Ready.
func setISVCReady(t *testing.T, ns, name string, ready bool, reason, message string) {
	t.Helper()
	setISVCReadyIn(t, k8s, ns, name, ready, reason, message)
}

// setISVCReadyIn is setISVCReady in the cluster c talks to.
func setISVCReadyIn(t *testing.T, c client.Client, ns, name string, ready bool, reason, message string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvkISVC)
		if err := c.Get(testCtx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			return err
		}
		st := "False"
		if ready {
			st = "True"
		}
		cond := map[string]any{"type": "Ready", "status": st, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
		if reason != "" {
			cond["reason"], cond["message"] = reason, message
		}
		u.Object["status"] = map[string]any{"observedGeneration": u.GetGeneration(), "conditions": []any{cond}}
		if reason == "ModelLoadFailed" { // KServe's lastFailureInfo reasons are an enum of load failures
			u.Object["status"].(map[string]any)["modelStatus"] = map[string]any{
				"transitionStatus": "BlockedByFailedLoad",
				"lastFailureInfo":  map[string]any{"reason": reason, "message": message},
			}
		}
		return c.Status().Update(testCtx, u)
	})
}

// ruleBackends returns, for a model, its rule's backends in Tier One's AIGatewayRoutes as "name/weight/priority".
func ruleBackends(t *testing.T, p *platformv1.GenAIPlatform, model string) []string {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvkRoute.GroupVersion().WithKind("AIGatewayRouteList"))
	if err := k8s.List(testCtx, list, client.InNamespace(p.Namespace), client.MatchingLabels{platformv1.LabelPlatform: p.Name}); err != nil {
		t.Fatal(err)
	}
	for _, route := range list.Items {
		rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
		for _, r := range rules {
			rm := r.(map[string]any)
			h := rm["matches"].([]any)[0].(map[string]any)["headers"].([]any)[0].(map[string]any)
			if h["value"] != model {
				continue
			}
			var out []string
			for _, b := range rm["backendRefs"].([]any) {
				bm := b.(map[string]any)
				out = append(out, fmt.Sprintf("%s/%v/%v", bm["name"], bm["weight"], bm["priority"]))
			}
			sort.Strings(out)
			return out
		}
	}
	return nil
}

// tierTwoBackends returns the predictor Services a model's Tier Two rule sends to.
func tierTwoBackends(t *testing.T, p *platformv1.GenAIPlatform, ns, model string) []string {
	t.Helper()
	var out []string
	for _, b := range tierTwoWeights(t, p, ns, model) {
		out = append(out, strings.Split(b, "=")[0])
	}
	return out
}

// tierTwoWeights returns a model's Tier Two backends as "<predictor Service>=<weight>", sorted.
func tierTwoWeights(t *testing.T, p *platformv1.GenAIPlatform, ns, model string) []string {
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
			h := rm["matches"].([]any)[0].(map[string]any)["headers"].([]any)[0].(map[string]any)
			if h["value"] != model {
				continue
			}
			var out []string
			for _, b := range rm["backendRefs"].([]any) {
				bm := b.(map[string]any)
				out = append(out, fmt.Sprintf("%s=%v", bm["name"], bm["weight"]))
			}
			sort.Strings(out)
			return out
		}
	}
	return nil
}

func modelStatus(p *platformv1.GenAIPlatform, name string) *platformv1.ModelStatus {
	for i := range p.Status.Models {
		if p.Status.Models[i].Name == name {
			return &p.Status.Models[i]
		}
	}
	return nil
}

// TestReadinessDrivenRouting: a placement whose InferenceService is not Ready gets no traffic from Tier
// One or Tier Two; it comes back when Ready; a model with nothing Ready keeps its rule and says why, in
// KServe's words.
func TestReadinessDrivenRouting(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	createSecret(t, ns, "openai", map[string]string{"apiKey": "sk-x"})
	p := createPlatform(t, ns, "rd", `
gateway: {listener: {protocol: HTTP}}
providers: [{name: openai, type: OpenAI, credentials: {secretRef: {name: openai}}}]
modelClusters:
- name: east
  namespace: `+mns+`
  address: {hostname: tier2.east.example}
  nodePools: [{name: a}, {name: b}]
models:
- name: llama
  selfHosted:
    storageUri: hf://org/llama
    placements: [{cluster: east, nodePool: a, weight: 3}, {cluster: east, nodePool: b, weight: 1}]
  routes: [{provider: openai, priority: 1}]
- name: solo
  selfHosted:
    storageUri: hf://org/solo
    gpus: 16
    placements: [{cluster: east, nodePool: b}]
`)
	provider := render.ProviderBackendName(p, "openai") + "/1/1"
	cluster := render.ClusterBackendName(p, "east")
	isvcA, isvcB := render.InferenceServiceName(p, mns, "llama", "a"), render.InferenceServiceName(p, mns, "llama", "b")
	isvcSolo := render.InferenceServiceName(p, mns, "solo", "b")

	// Nothing Ready: llama goes to its provider only; solo keeps its rule, to its only placement.
	eventually(t, 20*time.Second, func() error {
		if got := ruleBackends(t, p, "llama"); !reflect.DeepEqual(got, []string{provider}) {
			return fmt.Errorf("llama backends %v", got)
		}
		if got := ruleBackends(t, p, "solo"); !reflect.DeepEqual(got, []string{cluster + "/1/0"}) {
			return fmt.Errorf("solo backends %v", got)
		}
		return nil
	})

	// llamaRoutes checks llama's backends at Tier One and its predictors at Tier Two.
	llamaRoutes := func(tierOne []string, tierTwo ...string) error {
		if got := ruleBackends(t, p, "llama"); !reflect.DeepEqual(got, tierOne) {
			return fmt.Errorf("llama backends %v, want %v", got, tierOne)
		}
		if got := tierTwoBackends(t, p, mns, "llama"); !reflect.DeepEqual(got, tierTwo) {
			return fmt.Errorf("tier two backends %v, want %v", got, tierTwo)
		}
		return nil
	}

	// KServe reports a: Ready. Tier One sends llama to the cluster with a's weight; Tier Two to a only.
	setISVCReady(t, mns, isvcA, true, "", "")
	eventually(t, 10*time.Second, func() error {
		if err := llamaRoutes([]string{cluster + "/3/0", provider}, render.PredictorServiceName(isvcA)); err != nil {
			return err
		}
		ms := modelStatus(getPlatform(t, p), "llama")
		if ms == nil || !slices.Contains(ms.Routes, "cluster:east/a") || slices.Contains(ms.Routes, "cluster:east/b") {
			return fmt.Errorf("llama status routes %+v", ms)
		}
		return nil
	})

	// b too: weights add up at Tier One, both predictors at Tier Two.
	setISVCReady(t, mns, isvcB, true, "", "")
	eventually(t, 10*time.Second, func() error {
		both := []string{render.PredictorServiceName(isvcA), render.PredictorServiceName(isvcB)}
		slices.Sort(both)
		return llamaRoutes([]string{cluster + "/4/0", provider}, both...)
	})

	// a crashes: it leaves the routes again.
	setISVCReady(t, mns, isvcA, false, "ModelLoadFailed", "container exited with code 137")
	eventually(t, 10*time.Second, func() error {
		return llamaRoutes([]string{cluster + "/1/0", provider}, render.PredictorServiceName(isvcB))
	})

	// solo cannot be scheduled: not ready, with the scheduler's reason as KServe reports it.
	setISVCReady(t, mns, isvcSolo, false, "MinimumReplicasUnavailable", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu")
	eventually(t, 10*time.Second, func() error {
		ms := modelStatus(getPlatform(t, p), "solo")
		if ms == nil || ms.Ready || ms.Reason != status.ReasonNoPlacementReady || !strings.Contains(ms.Message, "Insufficient nvidia.com/gpu") {
			return fmt.Errorf("solo status %+v", ms)
		}
		if got := ruleBackends(t, p, "solo"); !reflect.DeepEqual(got, []string{cluster + "/1/0"}) {
			return fmt.Errorf("solo keeps its rule: %v", got)
		}
		return nil
	})
}

// TestClusterKeyRotation walks a key rotation: at every observed step, Tier Two admits the key Tier One
// sends, and in the end only the new key is admitted.
func TestClusterKeyRotation(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	p := createPlatform(t, ns, "rot", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: `+mns+`, address: {hostname: tier2.east.example}, nodePools: [{name: a}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', placements: [{cluster: east, nodePool: a}]}}]
`)
	tierOneKey := client.ObjectKey{Namespace: ns, Name: render.ClusterKeySecretName(p, "east")}
	tierTwoKey := client.ObjectKey{Namespace: mns, Name: render.TierTwoKeySecretName(p)}

	// observe returns the key Tier One sends and the Authorization values Tier Two admits.
	observe := func() (string, map[string]bool, error) {
		one, two := &corev1.Secret{}, &corev1.Secret{}
		if err := k8s.Get(testCtx, tierOneKey, one); err != nil {
			return "", nil, err
		}
		if err := k8s.Get(testCtx, tierTwoKey, two); err != nil {
			return "", nil, err
		}
		admitted := map[string]bool{}
		for _, v := range two.Data {
			admitted[string(v)] = true
		}
		return string(one.Data[render.KeyAPIKey]), admitted, nil
	}
	var original string
	eventually(t, 20*time.Second, func() error {
		k, admitted, err := observe()
		if err != nil {
			return err
		}
		if k == "" || len(admitted) != 1 || !admitted[render.TierTwoAdmittedKey(k)] {
			return fmt.Errorf("initial link not established")
		}
		original = k
		return nil
	})

	waitQuiet(t)
	mark := writes.mark()
	// The timeline starts before the request, with the original key alone: a first sample taken after
	// it could already show the next key staged (a quick operator, a slow test), and the replay below
	// could then never see the refusal it must be able to see.
	k0, admitted0, err := observe()
	if err != nil {
		t.Fatal(err)
	}
	timeline := []linkSample{{at: time.Now(), sends: k0, admits: admitted0}}
	updatePlatform(t, p, func(latest *platformv1.GenAIPlatform) {
		latest.Annotations = map[string]string{platformv1.AnnotationRotateClusterKeys: "2026-11-25"}
	})

	// Record what each tier's Secret says, as often as the API server answers, until the rotation ends.
	deadline := time.Now().Add(30 * time.Second)
	for {
		k, admitted, err := observe()
		if err != nil {
			t.Fatal(err)
		}
		timeline = append(timeline, linkSample{at: time.Now(), sends: k, admits: admitted})
		if k != original && len(admitted) == 1 {
			break // done: the new key alone
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotation did not finish: switched=%v, admitted %d keys", k != original, len(admitted))
		}
		time.Sleep(20 * time.Millisecond)
	}
	sawBoth, sawSwitch := false, false
	for _, s := range timeline {
		sawBoth = sawBoth || len(s.admits) == 2
		sawSwitch = sawSwitch || s.sends != original
	}
	if !sawBoth || !sawSwitch {
		t.Errorf("the rotation should pass through both keys admitted (%v) and a switch (%v)", sawBoth, sawSwitch)
	}
	// Replay the timeline with proxies that lag behind their Secret, as the kubelet makes Tier One's
	// external processor lag (its key is in a mounted Secret) and Envoy Gateway's push makes Tier Two's:
	// with any lag up to the grace period (the suite's 2 s), no request is refused at any moment.
	grace := 2 * time.Second
	for _, lag := range []struct{ tierOne, tierTwo time.Duration }{
		{0, 0}, {grace * 9 / 10, 0}, {0, grace * 9 / 10}, {grace * 9 / 10, grace * 9 / 10}, {grace / 2, grace / 4},
	} {
		if at, ok := firstRefusal(timeline, lag.tierOne, lag.tierTwo); ok {
			t.Errorf("with Tier One %v and Tier Two %v behind their Secrets, a request at %v is refused", lag.tierOne, lag.tierTwo, at.Sub(timeline[0].at))
		}
	}
	// The replay can see a refusal: lags well past the grace period are refused (at the switch, when Tier
	// Two lags; at the retirement, when Tier One does).
	for _, lag := range []struct{ tierOne, tierTwo time.Duration }{{0, 3 * grace}, {3 * grace, 0}} {
		if _, ok := firstRefusal(timeline, lag.tierOne, lag.tierTwo); !ok {
			t.Errorf("with Tier One %v and Tier Two %v behind, the replay finds no refusal: it cannot tell", lag.tierOne, lag.tierTwo)
		}
	}
	t.Logf("rotation recorded in %d samples over %v", len(timeline), timeline[len(timeline)-1].at.Sub(timeline[0].at).Round(time.Millisecond))
	// The rotation writes each step once and nothing while it waits out its grace periods (it looks again
	// every second): three steps (stage, switch, retire), each recorded in both tiers' key Secrets.
	waitQuiet(t)
	perObject := map[string]int{}
	for _, w := range childWrites(append(writesFor(mark, ns, "-"), writesFor(mark, mns, "-")...)) {
		perObject[w]++
	}
	want := map[string]int{
		"PATCH /api/v1/namespaces/" + ns + "/secrets/" + tierOneKey.Name:  3,
		"PATCH /api/v1/namespaces/" + mns + "/secrets/" + tierTwoKey.Name: 3,
	}
	if !maps.Equal(perObject, want) {
		t.Errorf("writes during the rotation: %v; want each key Secret written once per step: %v", perObject, want)
	}
	// A second reconcile does not rotate again.
	time.Sleep(3 * time.Second)
	k, admitted, _ := observe()
	if len(admitted) != 1 || !admitted[render.TierTwoAdmittedKey(k)] {
		t.Errorf("after rotation: %d keys admitted", len(admitted))
	}
}

// TestRemovingPlacementModelAndCluster: each removal deletes exactly its objects, in the model cluster
// and at Tier One; a namespace the user made is kept; deleting the platform leaves nothing.
func TestRemovingPlacementModelAndCluster(t *testing.T) {
	ns := newNamespace(t)
	userNS := ns + "-user"
	if err := k8s.Create(testCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: userNS}}); err != nil {
		t.Fatal(err)
	}
	p := createPlatform(t, ns, "rm", `
gateway: {listener: {protocol: HTTP}}
modelClusters:
- {name: one, namespace: `+userNS+`, address: {hostname: one.example}, nodePools: [{name: a}, {name: b}]}
- {name: two, namespace: `+ns+`-two, address: {hostname: two.example}, nodePools: [{name: a}]}
models:
- {name: m1, selfHosted: {storageUri: 'hf://org/m1', placements: [{cluster: one, nodePool: a}, {cluster: one, nodePool: b}]}}
- {name: m2, selfHosted: {storageUri: 'hf://org/m2', placements: [{cluster: two, nodePool: a}]}}
`)
	step := func(edit func(*platformv1.GenAIPlatform)) {
		t.Helper()
		if edit != nil {
			updatePlatform(t, p, edit)
		}
		latest := getPlatform(t, p)
		waitChildren(t, p, expectedChildrenOf(t, selfHostedInput(latest, nil, nil, "two")))
	}
	step(nil)
	before := liveChildren(t, p)
	step(func(p *platformv1.GenAIPlatform) {
		p.Spec.Models[0].SelfHosted.Placements = p.Spec.Models[0].SelfHosted.Placements[:1]
	})
	after := liveChildren(t, p)
	if gone := diff(before, after); len(gone) != 1 || !strings.Contains(gone[0], "InferenceService/") {
		t.Errorf("removing a placement should delete exactly its InferenceService, deleted %v", gone)
	}
	step(func(p *platformv1.GenAIPlatform) { p.Spec.Models = p.Spec.Models[:1] })
	step(func(p *platformv1.GenAIPlatform) { p.Spec.ModelClusters = p.Spec.ModelClusters[:1] })
	for _, c := range liveChildren(t, p) {
		if strings.Contains(c, ns+"-two") || strings.HasSuffix(c, "-t2-two") {
			t.Errorf("cluster two's object left: %s", c)
		}
	}

	if err := k8s.Delete(testCtx, getPlatform(t, p)); err != nil {
		t.Fatal(err)
	}
	waitNoChildren(t, p)
	// The namespace the user made is still there.
	nsObj := &corev1.Namespace{}
	if err := k8s.Get(testCtx, client.ObjectKey{Name: userNS}, nsObj); err != nil || nsObj.DeletionTimestamp != nil {
		t.Errorf("the user's namespace must stay: %v %v", err, nsObj.DeletionTimestamp)
	}
}

func diff(before, after []string) []string {
	var gone []string
	for _, b := range before {
		if !slices.Contains(after, b) {
			gone = append(gone, b)
		}
	}
	return gone
}

// TestSelfHostedSecondReconcileSendsNoWrites: zero writes on a second reconcile with self-hosted models.
func TestSelfHostedSecondReconcileSendsNoWrites(t *testing.T) {
	ns := newNamespace(t)
	createSecret(t, ns, "hf", map[string]string{"token": "hf_x"})
	p := createPlatform(t, ns, "quiet", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: `+ns+`-models, address: {hostname: e.example}, nodePools: [{name: a, nodeSelector: {gpu: a}}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', credentialsSecretRef: {name: hf}, placements: [{cluster: east, nodePool: a}]}}]
`)
	waitChildren(t, p, expectedChildrenOf(t, selfHostedInput(getPlatform(t, p), nil, []string{"m"}, "east")))
	waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionFalse, "")
	expectNoWritesOnReconcile(t, p)
}

// TestSelfHostedStatusTellsTheTruth: a platform with a self-hosted model becomes Ready only when the Tier
// One gateway, the Tier Two gateway (whose status address Tier One then uses), the link and the
// InferenceService all report ready, as their controllers would.
func TestSelfHostedStatusTellsTheTruth(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	p := createPlatform(t, ns, "truth", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: `+mns+`, nodePools: [{name: a}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', placements: [{cluster: east, nodePool: a}]}}]
`)
	waitCondition(t, p, platformv1.ConditionModelClustersReady, metav1.ConditionFalse, status.ReasonWaitingForGateway)
	setStatusConditions(t, gvkGatewayClass, "", render.Name("genai", ns, p.Name), nil, "Accepted")
	setStatusConditions(t, gvkGateway, ns, render.GatewayName(p), map[string]any{
		"addresses": []any{map[string]any{"type": "IPAddress", "value": "10.0.0.1"}},
	}, "Accepted", "Programmed")

	// The Tier Two Gateway gets an address: only then does Tier One get a Backend for the cluster.
	got := waitCondition(t, p, platformv1.ConditionModelClustersReady, metav1.ConditionFalse, status.ReasonWaitingForGateway)
	if msg := findCondition(got, platformv1.ConditionModelClustersReady).Message; !strings.Contains(msg, "Tier Two Gateway") {
		t.Errorf("message: %q", msg)
	}
	acceptTierTwoIn(t, k8s, p, "east", mns)
	setStatusConditions(t, gvkGateway, mns, render.TierTwoGatewayName(p), map[string]any{
		"addresses": []any{map[string]any{"type": "Hostname", "value": "tier2.east.internal"}},
	}, "Accepted", "Programmed")
	link := render.ClusterBackendName(p, "east")
	eventually(t, 10*time.Second, func() error {
		b := &unstructured.Unstructured{}
		b.SetGroupVersionKind(gvkBackend)
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: link}, b); err != nil {
			return err
		}
		if eps, _, _ := unstructured.NestedSlice(b.Object, "spec", "endpoints"); !strings.Contains(fmt.Sprint(eps), "tier2.east.internal") {
			return fmt.Errorf("backend endpoints %v", eps)
		}
		return nil
	})
	setStatusConditions(t, gvkBackend, ns, link, nil, "Accepted")
	setStatusConditions(t, gvkAISB, ns, link, nil, "Accepted")
	setStatusConditions(t, gvkBSP, ns, link, nil, "Accepted")
	got = waitCondition(t, p, platformv1.ConditionModelClustersReady, metav1.ConditionTrue, status.ReasonReady)
	if got.Status.ModelClusters[0].GatewayAddress != "tier2.east.internal" {
		t.Errorf("cluster status: %+v", got.Status.ModelClusters)
	}
	waitCondition(t, p, platformv1.ConditionModelsReady, metav1.ConditionFalse, status.ReasonNoPlacementReady)

	setISVCReady(t, mns, render.InferenceServiceName(p, mns, "m", "a"), true, "", "")
	setStatusConditions(t, gvkRoute, ns, render.RouteName(p, 0), nil, "Accepted")
	got = waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionTrue, status.ReasonReady)
	if ms := modelStatus(got, "m"); ms == nil || !ms.Ready || !reflect.DeepEqual(ms.Routes, []string{"cluster:east/a"}) {
		t.Errorf("model status: %+v", ms)
	}
}

// TestModelsAreReachableOnlyThroughTierTwo: InferenceServices are cluster-local, with the download token
// named for KServe's storage initializer; an HTTPRoute KServe made for one of them before (it copies the
// InferenceService's labels and owns the route) is removed, and another team's route is left alone.
func TestModelsAreReachableOnlyThroughTierTwo(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	createSecret(t, ns, "hf", map[string]string{"token": "hf_x"})
	p := createPlatform(t, ns, "closed", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: `+mns+`, nodePools: [{name: a}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', credentialsSecretRef: {name: hf}, placements: [{cluster: east, nodePool: a}]}}]
`)
	isvcName := render.InferenceServiceName(p, mns, "m", "a")
	isvc := &unstructured.Unstructured{}
	isvc.SetGroupVersionKind(gvkISVC)
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: isvcName}, isvc)
	})
	if v := isvc.GetLabels()[render.LabelVisibility]; v != "cluster-local" {
		t.Errorf("InferenceService visibility label %q, want cluster-local", v)
	}
	if s := isvc.GetAnnotations()[render.AnnotationStorageSecretName]; s != render.ModelSecretName(p, "m") {
		t.Errorf("storage secret annotation %q, want the managed download Secret %s", s, render.ModelSecretName(p, "m"))
	}

	// What KServe made before the label: a route owned by the InferenceService, with its labels.
	route := func(name string, labels map[string]string) *gwapiv1.HTTPRoute {
		r := &gwapiv1.HTTPRoute{}
		r.Name, r.Namespace, r.Labels = name, mns, labels
		r.OwnerReferences = []metav1.OwnerReference{{APIVersion: gvkISVC.GroupVersion().String(), Kind: "InferenceService",
			Name: isvcName, UID: isvc.GetUID(), Controller: ptr.To(true)}}
		r.Spec.ParentRefs = []gwapiv1.ParentReference{{Name: "kserve-ingress-gateway"}}
		if err := k8s.Create(testCtx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	kserveRoute := route(isvcName, isvc.GetLabels())
	othersRoute := route("another-team", map[string]string{"app": "other"})
	updatePlatform(t, p, func(latest *platformv1.GenAIPlatform) {
		latest.Annotations = map[string]string{"test/poke": "1"}
	})
	eventually(t, 20*time.Second, func() error {
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(kserveRoute), &gwapiv1.HTTPRoute{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("KServe's route of the InferenceService is still there: %v", err)
		}
		return nil
	})
	if err := k8s.Get(testCtx, client.ObjectKeyFromObject(othersRoute), &gwapiv1.HTTPRoute{}); err != nil {
		t.Errorf("another team's route was touched: %v", err)
	}
}

// TestSharedModelNamespaceOutlivesItsMaker: two platforms use one model namespace; the one that made it
// is deleted, and the namespace, with the other platform's Tier Two and models in it, stays.
func TestSharedModelNamespaceOutlivesItsMaker(t *testing.T) {
	ns := newNamespace(t)
	shared := ns + "-shared"
	spec := `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: ` + shared + `, nodePools: [{name: a}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', placements: [{cluster: east, nodePool: a}]}}]
`
	maker := createPlatform(t, ns, "maker", spec)
	eventually(t, 20*time.Second, func() error {
		var n corev1.Namespace
		if err := k8s.Get(testCtx, client.ObjectKey{Name: shared}, &n); err != nil {
			return err
		}
		if n.Labels[platformv1.LabelPlatform] != "maker" {
			return fmt.Errorf("namespace %s labels %v", shared, n.Labels)
		}
		return nil
	})
	user := createPlatform(t, ns, "user", spec)
	userGateway := client.ObjectKey{Namespace: shared, Name: render.TierTwoGatewayName(user)}
	eventually(t, 20*time.Second, func() error { return k8s.Get(testCtx, userGateway, &gwapiv1.Gateway{}) })

	if err := k8s.Delete(testCtx, getPlatform(t, maker)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(maker), &platformv1.GenAIPlatform{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("platform maker still there: %v", err)
		}
		return nil
	})
	var n corev1.Namespace
	if err := k8s.Get(testCtx, client.ObjectKey{Name: shared}, &n); err != nil || n.DeletionTimestamp != nil {
		t.Fatalf("the shared namespace was deleted with the platform that made it: %v %v", err, n.DeletionTimestamp)
	}
	if err := k8s.Get(testCtx, userGateway, &gwapiv1.Gateway{}); err != nil {
		t.Errorf("the other platform's Tier Two Gateway: %v", err)
	}
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: shared, Name: render.TierTwoGatewayName(maker)}, &gwapiv1.Gateway{}); !apierrors.IsNotFound(err) {
		t.Errorf("the deleted platform's own Tier Two Gateway is still there: %v", err)
	}
}

// TestModelStorageCredentials: each storage kind's Secret is copied into the model cluster in the layout
// KServe's storage initializer reads (only the kind's keys; S3 settings as KServe's annotations), image pull
// Secrets are copied and set on the predictor, and a Secret that cannot serve (missing keys, not a
// registry Secret) leaves the model not ready and Stalled, with the field and the keys it needs named.
func TestModelStorageCredentials(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	createSecret(t, ns, "minio", map[string]string{"AWS_ACCESS_KEY_ID": "id-8e1f", "AWS_SECRET_ACCESS_KEY": "key-5c2a", "notes": "not for the model cluster"})
	createSecret(t, ns, "az", map[string]string{"AZURE_STORAGE_ACCESS_KEY": "k", "AZURE_ACCOUNT_NAME": "acct"})
	createSecret(t, ns, "not-a-registry", map[string]string{"token": "x"})
	reg := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "registry", Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson,
		StringData: map[string]string{corev1.DockerConfigJsonKey: `{"auths":{}}`}}
	if err := k8s.Create(testCtx, reg); err != nil {
		t.Fatal(err)
	}
	p := createPlatform(t, ns, "store", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: `+mns+`, nodePools: [{name: a}]}]
models:
- {name: s3, selfHosted: {storageUri: 's3://b/m', storage: {s3: {secretRef: {name: minio}, endpoint: 'minio:9000', useHTTPS: false}}, imagePullSecrets: [{name: registry}], placements: [{cluster: east, nodePool: a}]}}
- {name: az, selfHosted: {storageUri: 'https://acct.blob.core.windows.net/m', storage: {azureBlob: {secretRef: {name: az}}}, placements: [{cluster: east, nodePool: a}]}}
- {name: bad-s3, selfHosted: {storageUri: 's3://b/m', storage: {s3: {secretRef: {name: az}}}, placements: [{cluster: east, nodePool: a}]}}
- {name: bad-pull, selfHosted: {storageUri: 'hf://o/m', imagePullSecrets: [{name: not-a-registry}], placements: [{cluster: east, nodePool: a}]}}
`)
	s3Secret := &corev1.Secret{}
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: render.ModelSecretName(p, "s3")}, s3Secret)
	})
	if keys := slices.Sorted(maps.Keys(s3Secret.Data)); !reflect.DeepEqual(keys, []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) {
		t.Errorf("S3 download Secret keys %v, want only the AWS keys", keys)
	}
	if a := s3Secret.Annotations; a["serving.kserve.io/s3-endpoint"] != "minio:9000" || a["serving.kserve.io/s3-usehttps"] != "0" || a["serving.kserve.io/s3-verifyssl"] != "1" {
		t.Errorf("S3 download Secret annotations %v", a)
	}
	waitSecretValue(t, client.ObjectKey{Namespace: mns, Name: render.ModelSecretName(p, "az")}, "AZURE_STORAGE_ACCESS_KEY", "k")
	waitSecretValue(t, client.ObjectKey{Namespace: mns, Name: render.PullSecretName(p, "s3", "registry")}, corev1.DockerConfigJsonKey, `{"auths":{}}`)

	isvc := &unstructured.Unstructured{}
	isvc.SetGroupVersionKind(gvkISVC)
	// Applied in the wave after the Secrets': it may come a moment later.
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: render.InferenceServiceName(p, mns, "s3", "a")}, isvc)
	})
	pulls, _, _ := unstructured.NestedSlice(isvc.Object, "spec", "predictor", "imagePullSecrets")
	if want := []any{map[string]any{"name": render.PullSecretName(p, "s3", "registry")}}; !reflect.DeepEqual(pulls, want) {
		t.Errorf("predictor imagePullSecrets %v, want %v", pulls, want)
	}
	if s := isvc.GetAnnotations()[render.AnnotationStorageSecretName]; s != render.ModelSecretName(p, "s3") {
		t.Errorf("storage secret annotation %q", s)
	}
	env, _, _ := unstructured.NestedSlice(isvc.Object, "spec", "predictor", "model", "env")
	if len(env) != 0 {
		t.Errorf("the model server container gets the S3 keys: %v", env)
	}

	got := getPlatform(t, p)
	eventually(t, 20*time.Second, func() error {
		got = getPlatform(t, p)
		for _, tc := range []struct{ model, want string }{
			{"bad-s3", "selfHosted.storage.s3.secretRef: Secret " + ns + "/az needs the keys AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (it has: AZURE_ACCOUNT_NAME, AZURE_STORAGE_ACCESS_KEY)"},
			{"bad-pull", "selfHosted.imagePullSecrets[0]: Secret " + ns + "/not-a-registry is not an image pull Secret"},
		} {
			ms := modelStatus(got, tc.model)
			if ms == nil || ms.Ready || ms.Reason != status.ReasonSecretKeyNotFound || !strings.Contains(ms.Message, tc.want) {
				return fmt.Errorf("model %s status %+v; want not ready, %s, %q", tc.model, ms, status.ReasonSecretKeyNotFound, tc.want)
			}
		}
		return nil
	})
	if c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Stalled condition %+v; a Secret only a human can fix stalls the platform", c)
	}
	if st := fmt.Sprintf("%+v", got.Status); strings.Contains(st, "id-8e1f") || strings.Contains(st, "key-5c2a") {
		t.Errorf("status holds a Secret value: %s", st)
	}
}

// linkSample is what the two tiers' key Secrets said at one moment: the key Tier One sends, and the
// Authorization values Tier Two admits.
type linkSample struct {
	at     time.Time
	sends  string
	admits map[string]bool
}

// firstRefusal replays a recorded rotation with each tier's proxies seeing their Secret as it was lag
// ago, and returns the first moment a request Tier One sends would be refused by Tier Two.
func firstRefusal(timeline []linkSample, tierOneLag, tierTwoLag time.Duration) (time.Time, bool) {
	asOf := func(t time.Time) linkSample {
		s := timeline[0]
		for _, x := range timeline {
			if x.at.After(t) {
				break
			}
			s = x
		}
		return s
	}
	end := timeline[len(timeline)-1].at.Add(max(tierOneLag, tierTwoLag))
	for t := timeline[0].at; !t.After(end); t = t.Add(10 * time.Millisecond) {
		if sends := asOf(t.Add(-tierOneLag)).sends; !asOf(t.Add(-tierTwoLag)).admits[render.TierTwoAdmittedKey(sends)] {
			return t, true
		}
	}
	return time.Time{}, false
}

// TestScheduledKeyRotation: a model cluster with keyRotationPeriod rotates its key once the current key
// is that old, with no rotation request; a key younger than the period is kept.
func TestScheduledKeyRotation(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	p := createPlatform(t, ns, "sched", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: `+mns+`, keyRotationPeriod: 24h, address: {hostname: tier2.east.example}, nodePools: [{name: a}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', placements: [{cluster: east, nodePool: a}]}}]
`)
	key := client.ObjectKey{Namespace: ns, Name: render.ClusterKeySecretName(p, "east")}
	s := &corev1.Secret{}
	eventually(t, 20*time.Second, func() error {
		if err := k8s.Get(testCtx, key, s); err != nil {
			return err
		}
		if s.Annotations["platform.genai.dev/key-created-at"] == "" {
			return fmt.Errorf("the key Secret does not record when its key was made")
		}
		return nil
	})
	original := string(s.Data[render.KeyAPIKey])
	// A day and an hour later, as the key Secret tells it. (A reconcile already under way may apply the
	// annotation it read before this edit: the edit is repeated until the rotation starts.)
	dayAgo := time.Now().Add(-25 * time.Hour).UTC().Format(time.RFC3339)
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(testCtx, key, s); err != nil {
			return err
		}
		if string(s.Data[render.KeyAPIKey]) == original && s.Data["next"] == nil && s.Annotations["platform.genai.dev/key-created-at"] != dayAgo {
			s.Annotations["platform.genai.dev/key-created-at"] = dayAgo
			if err := k8s.Update(testCtx, s); err != nil {
				return err
			}
		}
		if string(s.Data[render.KeyAPIKey]) == original || s.Data["previous"] != nil {
			return fmt.Errorf("the scheduled rotation has not finished: annotations %v, keys %v", s.Annotations, secretKeyNames(s))
		}
		return nil
	})
	if got := getPlatform(t, p); got.Annotations[platformv1.AnnotationRotateClusterKeys] != "" {
		t.Errorf("a scheduled rotation needs no request: %v", got.Annotations)
	}
	created, err := time.Parse(time.RFC3339, s.Annotations["platform.genai.dev/key-created-at"])
	if err != nil || time.Since(created) > time.Minute {
		t.Errorf("the new key's creation time %q: the next rotation would not be a period away (%v)", s.Annotations["platform.genai.dev/key-created-at"], err)
	}
	rotated := string(s.Data[render.KeyAPIKey])
	time.Sleep(3 * time.Second)
	if err := k8s.Get(testCtx, key, s); err != nil || string(s.Data[render.KeyAPIKey]) != rotated {
		t.Errorf("a key younger than the period was rotated again (%v)", err)
	}
}
