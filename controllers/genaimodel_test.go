package controllers_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	kservev1b1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/config/argocd"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// newGenAIModel creates a GenAIModel with client c (a team's, or the admin's).
func newGenAIModel(t *testing.T, c client.Client, ns, name, specYAML string) *platformv1.GenAIModel {
	t.Helper()
	m := &platformv1.GenAIModel{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := sigyaml.UnmarshalStrict([]byte(specYAML), &m.Spec); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(testCtx, m); err != nil {
		t.Fatalf("creating GenAIModel %s/%s: %v", ns, name, err)
	}
	return m
}

// waitModelCondition waits until the GenAIModel's condition typ has status want and reason (any if "")
// for its current generation, and returns the model.
func waitModelCondition(t *testing.T, m *platformv1.GenAIModel, typ string, want metav1.ConditionStatus, reason string) *platformv1.GenAIModel {
	t.Helper()
	got := &platformv1.GenAIModel{}
	eventually(t, 20*time.Second, func() error {
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(m), got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, typ)
		if c == nil || c.Status != want || (reason != "" && c.Reason != reason) || c.ObservedGeneration != got.Generation {
			return fmt.Errorf("GenAIModel %s/%s %s: %+v", m.Namespace, m.Name, typ, c)
		}
		return nil
	})
	return got
}

// routedModels are the model names the platform's AIGatewayRoutes match.
func routedModels(t *testing.T, p *platformv1.GenAIPlatform) []string {
	t.Helper()
	var routes aigv1b1.AIGatewayRouteList
	if err := k8s.List(testCtx, &routes, client.InNamespace(p.Namespace), client.MatchingLabels(render.SelectorLabels(p))); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range routes.Items {
		for _, rule := range r.Spec.Rules {
			for _, match := range rule.Matches {
				for _, h := range match.Headers {
					out = append(out, h.Value)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestTeamOwnedModels: teams declare GenAIModels in their own namespaces, with only the shipped editor
// role there and no right on the platform's namespace. The platform admits the namespaces its
// spec.allowedModels selects, and refuses the rest with a reason on the model: NotAllowed, Conflicted
// (spec.models and the oldest GenAIModel keep their name), InvalidReference (naming the field) and
// PlatformNotFound. Accepted models are routed like spec.models, with their Secrets read in their own
// namespace, and each reports its own status; the platform counts them and names the ones not ready.
func TestTeamOwnedModels(t *testing.T) {
	platformNS := newNamespace(t)
	createSecret(t, platformNS, "openai-key", map[string]string{"apiKey": "sk-platform"})
	p := createPlatform(t, platformNS, "shared", `
gateway: {listener: {protocol: HTTP}}
providers: [{name: openai, type: OpenAI, credentials: {secretRef: {name: openai-key}}}]
modelClusters: [{name: gpu, namespace: `+platformNS+`-models, nodePools: [{name: a100}]}]
models: [{name: gpt-4o, routes: [{provider: openai}]}]
allowedModels: {namespaces: {from: Selector, selector: {matchLabels: {genai.example/team: "true"}}}}
`)
	teamA, teamB := newNamespace(t), newNamespace(t)
	labelNamespace(t, teamA, "genai.example/team", "true")
	dev := asBoundTo(t, teamA, "ana", "genaimodel_editor_role.yaml")

	// The team's editor can ship a model in the team's namespace, and nothing in the platform's.
	chat := newGenAIModel(t, dev, teamA, "chat", `{platformRef: {name: shared, namespace: `+platformNS+`}, name: team-a/chat, routes: [{provider: openai, model: gpt-4o-mini}]}`)
	intruder := &platformv1.GenAIModel{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: platformNS}}
	intruder.Spec.PlatformRef.Name, intruder.Spec.Name, intruder.Spec.Routes = "shared", "x", []platformv1.ModelRoute{{Provider: "openai"}}
	if err := dev.Create(testCtx, intruder); !apierrors.IsForbidden(err) {
		t.Errorf("the team's editor created a GenAIModel in the platform's namespace: %v", err)
	}
	if err := dev.Update(testCtx, getPlatform(t, p)); !apierrors.IsForbidden(err) {
		t.Errorf("the team's editor may update the platform: %v", err)
	}

	// A self-hosted model whose Hugging Face token is in the team's namespace.
	createSecret(t, teamA, "hf", map[string]string{"HF_TOKEN": "hf-team-a-token"})
	llama := newGenAIModel(t, dev, teamA, "llama", `{platformRef: {name: shared, namespace: `+platformNS+`}, name: team-a/llama,
  selfHosted: {storageUri: 'hf://meta-llama/Llama-3.1-8B-Instruct', credentialsSecretRef: {name: hf}, placements: [{cluster: gpu, nodePool: a100}]}}`)

	// Refused: another name's owner, a namespace not admitted, a reference the platform lacks, no platform.
	clash := newGenAIModel(t, dev, teamA, "clash", `{platformRef: {name: shared, namespace: `+platformNS+`}, name: gpt-4o, routes: [{provider: openai}]}`)
	time.Sleep(1100 * time.Millisecond) // creation timestamps have a one-second resolution: chat is older
	late := newGenAIModel(t, dev, teamA, "late", `{platformRef: {name: shared, namespace: `+platformNS+`}, name: team-a/chat, routes: [{provider: openai}]}`)
	outsider := newGenAIModel(t, k8s, teamB, "outsider", `{platformRef: {name: shared, namespace: `+platformNS+`}, name: team-b/m, routes: [{provider: openai}]}`)
	typo := newGenAIModel(t, dev, teamA, "typo", `{platformRef: {name: shared, namespace: `+platformNS+`}, name: team-a/typo, routes: [{provider: openai}, {provider: anthropic}]}`)
	orphan := newGenAIModel(t, dev, teamA, "orphan", `{platformRef: {name: nowhere}, name: team-a/orphan, routes: [{provider: openai}]}`)

	got := waitModelCondition(t, chat, platformv1.ConditionAccepted, metav1.ConditionTrue, platformv1.ReasonModelAccepted)
	eventually(t, 20*time.Second, func() error {
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(chat), got); err != nil {
			return err
		}
		if !slices.Equal(got.Status.Routes, []string{"provider:openai"}) {
			return fmt.Errorf("chat routes: %v", got.Status.Routes)
		}
		return nil
	})
	waitModelCondition(t, llama, platformv1.ConditionAccepted, metav1.ConditionTrue, platformv1.ReasonModelAccepted)
	for _, c := range []struct {
		m      *platformv1.GenAIModel
		reason string
		says   string
	}{
		{clash, platformv1.ReasonConflicted, "the platform's spec.models"},
		{late, platformv1.ReasonConflicted, "GenAIModel " + teamA + "/chat"},
		{outsider, platformv1.ReasonNotAllowed, "does not admit GenAIModels of namespace " + teamB},
		{typo, platformv1.ReasonInvalidReference, `spec.routes[1].provider: platform ` + platformNS + `/shared has no provider "anthropic"`},
		{orphan, platformv1.ReasonPlatformNotFound, "GenAIPlatform " + teamA + "/nowhere not found"},
	} {
		got := waitModelCondition(t, c.m, platformv1.ConditionAccepted, metav1.ConditionFalse, c.reason)
		if msg := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionAccepted).Message; !strings.Contains(msg, c.says) {
			t.Errorf("GenAIModel %s: %q does not say %q", c.m.Name, msg, c.says)
		}
		// Argo CD shows a refused model Degraded, with the reason, from the live object.
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(platformv1.GroupVersion.WithKind("GenAIModel"))
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(c.m), u); err != nil {
			t.Fatal(err)
		}
		if hs, err := argocd.Health(argocd.ModelHealthScript, u.Object); err != nil || hs.Status != "Degraded" || !strings.HasPrefix(hs.Message, c.reason+": ") {
			t.Errorf("Argo CD health of GenAIModel %s: %+v, %v", c.m.Name, hs, err)
		}
	}

	// Routed at Tier One beside spec.models; the refused ones are not. The self-hosted one has a rule
	// from the first write, sent to its cluster, whose Backend waits for the Tier Two Gateway's address
	// (no Envoy Gateway gives one here): its rule keeps its place when the address comes.
	eventually(t, 20*time.Second, func() error {
		if got := routedModels(t, p); !slices.Equal(got, []string{"gpt-4o", "team-a/chat", "team-a/llama"}) {
			return fmt.Errorf("routed models: %v", got)
		}
		return nil
	})
	// The self-hosted one has its InferenceService on the platform's GPUs, and the team's token, read in
	// the team's namespace, is what its pods download with.
	eventually(t, 20*time.Second, func() error {
		var isvcs kservev1b1.InferenceServiceList
		if err := k8s.List(testCtx, &isvcs, client.InNamespace(platformNS+"-models"), client.MatchingLabels(render.SelectorLabels(p))); err != nil {
			return err
		}
		if len(isvcs.Items) != 1 {
			return fmt.Errorf("%d InferenceServices in the model namespace, want team-a/llama's", len(isvcs.Items))
		}
		var secrets corev1.SecretList
		if err := k8s.List(testCtx, &secrets, client.InNamespace(platformNS+"-models"), client.MatchingLabels(render.SelectorLabels(p))); err != nil {
			return err
		}
		for _, s := range secrets.Items {
			if string(s.Data["HF_TOKEN"]) == "hf-team-a-token" {
				return nil
			}
		}
		return fmt.Errorf("no storage Secret with the team's token in the model namespace")
	})

	// The platform counts them, names the ones not ready, and is not held back by a team's refusal.
	eventually(t, 20*time.Second, func() error {
		cur := getPlatform(t, p)
		a := cur.Status.AttachedModels
		if a == nil || a.Accepted != 2 || a.Refused != 4 || cur.Status.TotalModels != 3 || len(cur.Status.Models) != 1 {
			return fmt.Errorf("attachedModels %+v, totalModels %d, models %d", a, cur.Status.TotalModels, len(cur.Status.Models))
		}
		if !slices.ContainsFunc(a.NotReady, func(s string) bool { return strings.HasPrefix(s, teamB+"/outsider: NotAllowed") }) {
			return fmt.Errorf("attachedModels.notReady: %v", a.NotReady)
		}
		if c := meta.FindStatusCondition(cur.Status.Conditions, platformv1.ConditionStalled); c != nil {
			return fmt.Errorf("a team's refused model stalls the platform: %s", c.Message)
		}
		return nil
	})

	// The oldest gives its name up: the next in line takes it over.
	if err := dev.Delete(testCtx, chat); err != nil {
		t.Fatal(err)
	}
	waitModelCondition(t, late, platformv1.ConditionAccepted, metav1.ConditionTrue, platformv1.ReasonModelAccepted)

	// A namespace that loses the label loses its models, with no other change: the platform reads its
	// GenAIModels' namespace labels again on a timer (the suite's: 2 s; the operator's default: a minute).
	labelNamespace(t, teamA, "genai.example/team", "")
	waitModelCondition(t, late, platformv1.ConditionAccepted, metav1.ConditionFalse, platformv1.ReasonNotAllowed)
	eventually(t, 20*time.Second, func() error {
		if got := routedModels(t, p); !slices.Equal(got, []string{"gpt-4o"}) {
			return fmt.Errorf("routed models: %v", got)
		}
		return nil
	})
	b, _ := json.Marshal(getPlatform(t, p).Status.AttachedModels)
	t.Logf("attachedModels: %s", b)
}

// labelNamespace sets (or, with an empty value, removes) a label on a namespace.
func labelNamespace(t *testing.T, ns, key, value string) {
	t.Helper()
	obj := &corev1.Namespace{}
	if err := k8s.Get(testCtx, client.ObjectKey{Name: ns}, obj); err != nil {
		t.Fatal(err)
	}
	before := obj.DeepCopy()
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	if value == "" {
		delete(obj.Labels, key)
	} else {
		obj.Labels[key] = value
	}
	if err := k8s.Patch(testCtx, obj, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
}

// TestModelVersionsCanary: a team ships a second version of its model as a 90/10 canary. Each version has
// its own InferenceService; Tier Two splits the traffic by weight among the Ready ones (a version not
// Ready gets none); moving the weights, and retiring a version, write only Tier Two objects in the model
// cluster, never Tier One's.
func TestModelVersionsCanary(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	p := createPlatform(t, ns, "canary", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: gpu, namespace: `+mns+`, address: {hostname: tier2.gpu.example}, nodePools: [{name: a100}]}]
`)
	dev := asBoundTo(t, ns, "tom", "genaimodel_editor_role.yaml")
	m := newGenAIModel(t, dev, ns, "llama", `{platformRef: {name: canary}, name: llama, selfHosted: {storageUri: 'hf://meta-llama/Llama-3.1-8B-Instruct',
  placements: [{cluster: gpu, nodePool: a100}],
  versions: [{name: v1, weight: 90}, {name: v2, weight: 10, storageUri: 'hf://meta-llama/Llama-3.3-8B-Instruct'}]}}`)
	v1, v2 := render.VersionInferenceServiceName(p, mns, "llama", "a100", "v1"), render.VersionInferenceServiceName(p, mns, "llama", "a100", "v2")
	predictor := render.PredictorServiceName
	waitWeights := func(want ...string) {
		t.Helper()
		slices.Sort(want)
		eventually(t, 20*time.Second, func() error {
			if got := tierTwoWeights(t, p, mns, "llama"); !slices.Equal(got, want) {
				return fmt.Errorf("Tier Two backends of llama: %v, want %v", got, want)
			}
			return nil
		})
	}
	// Both versions exist (v2 with its own weights); nothing is Ready yet: the rule keeps both, by weight.
	if isvc := getISVC(t, mns, v2); isvc.Spec.Predictor.Model == nil || *isvc.Spec.Predictor.Model.StorageURI != "hf://meta-llama/Llama-3.3-8B-Instruct" {
		t.Fatalf("v2's InferenceService does not serve v2's weights: %+v", isvc.Spec.Predictor.Model)
	}
	waitWeights(predictor(v1)+"=90", predictor(v2)+"=10")

	// KServe makes v1 Ready, v2 not (its pods do not fit): all of the model's traffic goes to v1.
	setISVCReady(t, mns, v1, true, "", "")
	setISVCReady(t, mns, v2, false, "MinimumReplicasUnavailable", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu")
	waitWeights(predictor(v1) + "=90")

	// The model's status says which version serves, and KServe's reason for the other (there are no pods
	// here for a scheduler's reason).
	eventually(t, 20*time.Second, func() error {
		got := &platformv1.GenAIModel{}
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(m), got); err != nil {
			return err
		}
		want := []platformv1.VersionStatus{{Name: "v1", Weight: 90, Ready: true}, {Name: "v2", Weight: 10, NotReady: []string{"gpu/a100: MinimumReplicasUnavailable"}}}
		if fmt.Sprint(got.Status.Versions) != fmt.Sprint(want) {
			return fmt.Errorf("status.versions %+v, want %+v", got.Status.Versions, want)
		}
		return nil
	})

	// v2 Ready: the canary takes its 10%.
	setISVCReady(t, mns, v2, true, "", "")
	waitWeights(predictor(v1)+"=90", predictor(v2)+"=10")

	// Moving the weights to 50/50, then retiring v1, writes Tier Two objects only.
	waitQuiet(t)
	mark := writes.mark()
	// An edit as kubectl edit makes it: read, change, update, and again on a conflict (the operator
	// writes the model's status meanwhile).
	editModel := func(edit func(*platformv1.GenAIModel)) {
		t.Helper()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur := &platformv1.GenAIModel{}
			if err := dev.Get(testCtx, client.ObjectKeyFromObject(m), cur); err != nil {
				return err
			}
			edit(cur)
			return dev.Update(testCtx, cur)
		}); err != nil {
			t.Fatal(err)
		}
	}
	editModel(func(cur *platformv1.GenAIModel) {
		cur.Spec.SelfHosted.Versions[0].Weight, cur.Spec.SelfHosted.Versions[1].Weight = ptr.To[int32](50), ptr.To[int32](50)
	})
	waitWeights(predictor(v1)+"=50", predictor(v2)+"=50")
	editModel(func(cur *platformv1.GenAIModel) { cur.Spec.SelfHosted.Versions = cur.Spec.SelfHosted.Versions[1:] })
	waitWeights(predictor(v2) + "=50")
	eventually(t, 20*time.Second, func() error {
		if err := k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: v1}, &kservev1b1.InferenceService{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("v1's InferenceService is still there: %v", err)
		}
		return nil
	})
	waitQuiet(t)
	var tierOne, tierTwo []string
	for _, w := range writes.since(mark) {
		switch {
		case strings.Contains(w, "/namespaces/"+mns+"/"):
			tierTwo = append(tierTwo, w)
		case strings.Contains(w, "/genaimodels/") || strings.Contains(w, "/genaiplatforms/") || strings.Contains(w, "/events"):
		case strings.Contains(w, "/namespaces/"+ns+"/") || strings.Contains(w, "/gatewayclasses/"):
			tierOne = append(tierOne, w)
		}
	}
	if len(tierOne) != 0 || len(tierTwo) == 0 {
		t.Errorf("moving the weights and retiring a version wrote Tier One %v; Tier Two %v", tierOne, tierTwo)
	}
	t.Logf("the canary's two changes wrote %d Tier Two objects and no Tier One object: %v", len(tierTwo), tierTwo)
}
