package status

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// fieldOwner stands for the operator's field manager in managedFields.
const fieldOwner = "genai-platform-operator"

// specChangedAt is when the operator last changed every child, in these tests.
var specChangedAt = metav1.NewTime(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))

// platform has two providers, a token limit (so a BackendTrafficPolicy), and a self-hosted model in one
// model cluster of this cluster: every part of a platform and every status shape is there.
func platform() *platformv1.GenAIPlatform {
	p := &platformv1.GenAIPlatform{}
	p.Name, p.Namespace, p.Generation = "acme", "ai", 3
	p.Spec.Gateway.Listener.Protocol = platformv1.ListenerHTTP
	p.Spec.Gateway.Limits = []platformv1.TokenLimit{{Name: "all", Tokens: 1000, Per: "Hour"}}
	p.Spec.Providers = []platformv1.ProviderSpec{
		{Name: "openai", Type: platformv1.ProviderOpenAI, Credentials: &platformv1.ProviderCredentials{SecretRef: platformv1.SecretKeyReference{Name: "openai"}}},
		{Name: "anthropic", Type: platformv1.ProviderOpenAI, Credentials: &platformv1.ProviderCredentials{SecretRef: platformv1.SecretKeyReference{Name: "anthropic"}}},
	}
	p.Spec.ModelClusters = []platformv1.ModelClusterSpec{{Name: "gpu", NodePools: []platformv1.NodePoolSpec{{Name: "h100"}}}}
	p.Spec.Models = []platformv1.ModelSpec{
		{Name: "gpt", Routes: []platformv1.ModelRoute{{Provider: "openai"}}},
		{Name: "claude", Routes: []platformv1.ModelRoute{{Provider: "anthropic"}}},
		{Name: "llama", SelfHosted: &platformv1.SelfHostedModel{StorageURI: "hf://meta-llama/Llama-3.1-8B-Instruct",
			Placements: []platformv1.Placement{{Cluster: "gpu", NodePool: "h100"}}}},
	}
	return p
}

// linkTLS is the link's TLS material as the reconciler observes it (values are never read by status).
var linkTLS = &facts.LinkTLS{Hostname: "gpu.tier-two.genai.internal", State: map[string][]byte{"ca.crt": []byte("c")},
	ServingCert: []byte("c"), ServingKey: []byte("k"), TrustBundle: []byte("c")}

// allReady renders the platform with every fact in place and observes every child as its own
// controller reports it when all is well, in that controller's real status shape.
func allReady(t testing.TB) Input {
	p := platform()
	f := facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{
		"openai": {"apiKey": []byte("k")}, "anthropic": {"apiKey": []byte("k")},
	}}}
	f.SetCluster("gpu", facts.Cluster{Address: "10.0.0.2", Key: &facts.ClusterKey{Current: "k"}, TLS: linkTLS})
	f.Placements = []facts.Placement{{PlacementID: facts.PlacementID{Model: "llama", Cluster: "gpu", NodePool: "h100"}, Exists: true, Ready: true}}
	desired := render.Render(render.Input{Platform: p, Facts: f})
	in := Input{Platform: p, Facts: f, Desired: desired, Observed: make([]kinds.Observed, len(desired.Children))}
	for i, c := range desired.Children {
		in.Observed[i] = observe(t, c.Object, reported(t, c.Object, 1, ""))
	}
	return in
}

// condition is one condition as a controller writes it.
func condition(typ, status, reason, message string, observedGeneration int64) map[string]any {
	c := map[string]any{"type": typ, "status": status, "reason": reason, "message": message,
		"lastTransitionTime": specChangedAt.Add(time.Second).Format(time.RFC3339)}
	if observedGeneration != 0 {
		c["observedGeneration"] = observedGeneration
	}
	return c
}

// reported is the status the kind's controller writes when all is well (refusal empty), or when it
// refuses the object with that message. The shapes are the controllers' own:
//   - Gateway API and Envoy Gateway: status.conditions with observedGeneration; routes per parent,
//     policies per ancestor (gateway-api apis/v1, envoyproxy/gateway api/v1alpha1);
//   - Envoy AI Gateway v1.1: one condition, Accepted/True ReconciliationSucceeded or NotAccepted/False
//     ReconciliationFailed, no observedGeneration (internal/controller/controller.go, newConditions);
//   - KServe: knative conditions with status.observedGeneration.
func reported(t testing.TB, obj client.Object, generation int64, refusal string) map[string]any {
	k, ok := kinds.Of(obj)
	if !ok {
		t.Fatalf("%T is not a child kind", obj)
	}
	r := k.Readiness
	if r == nil {
		return nil
	}
	var conds []any
	switch {
	case r.Shape == kinds.AIGateway && refusal != "":
		conds = []any{condition("NotAccepted", "False", "ReconciliationFailed", refusal, 0)}
	case r.Shape == kinds.AIGateway:
		conds = []any{condition("Accepted", "True", "ReconciliationSucceeded", "reconciled", 0)}
	case r.Shape == kinds.GenerationInStatus:
		conds = []any{condition("Ready", "True", "", "", 0)}
	default:
		for i, typ := range r.Want {
			if refusal != "" && i == len(r.Want)-1 {
				conds = append(conds, condition(typ, "False", "Invalid", refusal, generation))
				continue
			}
			conds = append(conds, condition(typ, "True", typ, "", generation))
		}
	}
	controller := map[string]any{"controllerName": "gateway.envoyproxy.io/gatewayclass-controller", "conditions": conds}
	switch r.Shape {
	case kinds.Parents:
		controller["parentRef"] = map[string]any{"name": "gw"}
		return map[string]any{"parents": []any{controller}}
	case kinds.Ancestors:
		controller["ancestorRef"] = map[string]any{"name": "gw"}
		return map[string]any{"ancestors": []any{controller}}
	case kinds.GenerationInStatus:
		return map[string]any{"observedGeneration": generation, "conditions": conds}
	}
	return map[string]any{"conditions": conds}
}

// observe makes the live object (generation 1, changed by the operator at specChangedAt, with the
// given status) and reads it as the reconciler does.
func observe(t testing.TB, desired client.Object, st map[string]any) kinds.Observed {
	t.Helper()
	k, _ := kinds.Of(desired)
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		t.Fatal(err)
	}
	if st != nil {
		u["status"] = st
	}
	live := k.New()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, live); err != nil {
		t.Fatalf("%s status does not fit its type: %v", k.GVK.Kind, err)
	}
	live.SetGeneration(1)
	live.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: fieldOwner, Operation: metav1.ManagedFieldsOperationApply, Time: &specChangedAt}})
	return kinds.Observe(live, fieldOwner)
}

// indexOf finds a desired child by kind and name (and cluster: "" is Tier One).
func indexOf(t testing.TB, in *Input, kind, name, cluster string) int {
	t.Helper()
	for i, c := range in.Desired.Children {
		k, _ := kinds.Of(c.Object)
		if k.GVK.Kind == kind && c.Cluster == cluster && (name == "" || c.Object.GetName() == name) {
			return i
		}
	}
	t.Fatalf("no %s %s in cluster %q among the rendered children", kind, name, cluster)
	return -1
}

// setStatus replaces what one child's controller reports.
func setStatus(t testing.TB, in *Input, kind, name, cluster string, st map[string]any) {
	i := indexOf(t, in, kind, name, cluster)
	in.Observed[i] = observe(t, in.Desired.Children[i].Object, st)
}

func TestCompute(t *testing.T) {
	cases := []struct {
		name        string
		mutate      func(testing.TB, *Input)
		ready       metav1.ConditionStatus
		reason      string
		msgHas      string
		readyModels int32
		stalled     bool
	}{
		{name: "all ready", mutate: func(testing.TB, *Input) {}, ready: metav1.ConditionTrue, reason: ReasonReady, readyModels: 3},
		{name: "no gateway controller", ready: metav1.ConditionFalse, reason: ReasonWaitingForGateway, msgHas: "GatewayClass genai-ai-acme has no Accepted status yet",
			mutate: func(t testing.TB, in *Input) { setStatus(t, in, "GatewayClass", "", "", nil) }},
		{name: "gateway pending (API server default status)", ready: metav1.ConditionFalse, reason: ReasonWaitingForGateway, msgHas: "Programmed",
			mutate: func(t testing.TB, in *Input) {
				setStatus(t, in, "Gateway", "acme", "", map[string]any{"conditions": []any{
					condition("Accepted", "True", "Accepted", "", 1), condition("Programmed", "Unknown", "Pending", "", 1)}})
			}},
		{name: "gateway refused", ready: metav1.ConditionFalse, reason: ReasonNotAccepted, stalled: true, msgHas: "InvalidListener",
			mutate: func(t testing.TB, in *Input) {
				setStatus(t, in, "Gateway", "acme", "", map[string]any{"conditions": []any{condition("Accepted", "False", "InvalidListener", "bad", 1)}})
			}},
		{name: "rate-limit policy refused (no Redis): the gateway is not ready", ready: metav1.ConditionFalse, reason: ReasonNotAccepted, stalled: true,
			msgHas: "BackendTrafficPolicy acme-token-limits is not accepted by Envoy Gateway: Invalid: enable Ratelimit in EnvoyGateway config",
			mutate: func(t testing.TB, in *Input) {
				i := indexOf(t, in, "BackendTrafficPolicy", "acme-token-limits", "")
				in.Observed[i] = observe(t, in.Desired.Children[i].Object, reported(t, in.Desired.Children[i].Object, 1, "enable Ratelimit in EnvoyGateway config"))
			}},
		{name: "policy without status yet does not hold readiness", ready: metav1.ConditionTrue, reason: ReasonReady, readyModels: 3,
			mutate: func(t testing.TB, in *Input) { setStatus(t, in, "ClientTrafficPolicy", "", "", nil) }},
		{name: "policy refused at an older generation is not held against the new one", ready: metav1.ConditionTrue, reason: ReasonReady, readyModels: 3,
			mutate: func(t testing.TB, in *Input) {
				i := indexOf(t, in, "ClientTrafficPolicy", "", "")
				in.Observed[i].Generation = 2 // the refusal below was for generation 1
				in.Observed[i].Conditions = []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "Invalid", ObservedGeneration: 1}}
			}},
		{name: "stale generation", ready: metav1.ConditionFalse, reason: ReasonWaitingForGateway, msgHas: "generation 2",
			mutate: func(t testing.TB, in *Input) { in.Observed[indexOf(t, in, "Gateway", "acme", "")].Generation = 2 }},
		{name: "no AI gateway controller", ready: metav1.ConditionFalse, reason: ReasonWaitingForAIGateway, msgHas: "waiting for the Envoy AI Gateway controller", readyModels: 2,
			mutate: func(t testing.TB, in *Input) {
				setStatus(t, in, "AIServiceBackend", "acme-provider-anthropic", "", nil)
			}},
		{name: "AI gateway refuses a backend (its real NotAccepted shape)", ready: metav1.ConditionFalse, reason: ReasonNotAccepted, stalled: true, readyModels: 2,
			msgHas: "AIServiceBackend acme-provider-anthropic is not accepted by Envoy AI Gateway: ReconciliationFailed: failed to find backend",
			mutate: func(t testing.TB, in *Input) {
				i := indexOf(t, in, "AIServiceBackend", "acme-provider-anthropic", "")
				in.Observed[i] = observe(t, in.Desired.Children[i].Object, reported(t, in.Desired.Children[i].Object, 1, "failed to find backend"))
			}},
		{name: "AI gateway Accepted written before the operator's last change is not trusted", ready: metav1.ConditionFalse, reason: ReasonWaitingForAIGateway,
			msgHas: "has not yet processed its current spec", readyModels: 2,
			mutate: func(t testing.TB, in *Input) {
				i := indexOf(t, in, "BackendSecurityPolicy", "acme-provider-anthropic", "")
				in.Observed[i].Conditions[0].LastTransitionTime = metav1.NewTime(specChangedAt.Add(-time.Minute))
			}},
		{name: "AI gateway Accepted a second before the change, by a clock running behind, is trusted", ready: metav1.ConditionTrue, reason: ReasonReady, readyModels: 3,
			mutate: func(t testing.TB, in *Input) {
				i := indexOf(t, in, "BackendSecurityPolicy", "acme-provider-anthropic", "")
				in.Observed[i].Conditions[0].LastTransitionTime = metav1.NewTime(specChangedAt.Add(-time.Second))
			}},
		{name: "AI gateway NotAccepted written before the operator's last change is not held against it", ready: metav1.ConditionFalse, reason: ReasonWaitingForAIGateway,
			msgHas: "has no Accepted status yet", readyModels: 2,
			mutate: func(t testing.TB, in *Input) {
				i := indexOf(t, in, "AIServiceBackend", "acme-provider-anthropic", "")
				in.Observed[i] = observe(t, in.Desired.Children[i].Object, reported(t, in.Desired.Children[i].Object, 1, "old error"))
				in.Observed[i].Conditions[0].LastTransitionTime = metav1.NewTime(specChangedAt.Add(-time.Minute))
			}},
		{name: "Envoy Gateway refuses a Tier Two HTTPRoute: its model is not ready, with Envoy Gateway's message", ready: metav1.ConditionFalse, reason: ReasonProviderNotReady,
			msgHas: "has ResolvedRefs False, as said by Envoy Gateway: BackendNotFound: Failed to process route rule 0", readyModels: 2,
			mutate: func(t testing.TB, in *Input) {
				setStatus(t, in, "HTTPRoute", "", "gpu", map[string]any{"parents": []any{map[string]any{
					"parentRef": map[string]any{"name": "gw"}, "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
					"conditions": []any{condition("Accepted", "True", "Accepted", "", 1),
						condition("ResolvedRefs", "False", "BackendNotFound", "Failed to process route rule 0 backendRef 0: service genai-models/x-predictor not found.", 1)},
				}}})
			}},
		{name: "Envoy Gateway refuses the Tier Two SecurityPolicy: the model cluster and its models are not ready", ready: metav1.ConditionFalse, reason: ReasonNotAccepted, stalled: true,
			msgHas: "Tier Two SecurityPolicy", readyModels: 2,
			mutate: func(t testing.TB, in *Input) {
				i := indexOf(t, in, "SecurityPolicy", "", "gpu")
				in.Observed[i] = observe(t, in.Desired.Children[i].Object, reported(t, in.Desired.Children[i].Object, 1, "secret not found"))
			}},
		{name: "missing secret stalls", ready: metav1.ConditionFalse, reason: ReasonSecretNotFound, msgHas: "provider openai", readyModels: 2, stalled: true,
			mutate: func(t testing.TB, in *Input) {
				in.Facts.Secrets.ProviderProblems = map[string]facts.Problem{"openai": {Reason: ReasonSecretNotFound, Message: "Secret ai/x not found", Stalled: true}}
				delete(in.Desired.Routes, "gpt")
			}},
		{name: "a model's download Secret missing stalls", ready: metav1.ConditionFalse, reason: ReasonSecretNotFound, msgHas: "model gpt", readyModels: 2, stalled: true,
			mutate: func(t testing.TB, in *Input) {
				in.Facts.Secrets.ModelProblems = map[string]facts.Problem{"gpt": {Reason: ReasonSecretNotFound, Message: "Secret ai/hf not found", Stalled: true}}
			}},
		{name: "missing CRD", ready: metav1.ConditionFalse, reason: ReasonCRDNotInstalled, msgHas: "AIServiceBackend", stalled: true,
			mutate: func(t testing.TB, in *Input) {
				in.Missing = map[schema.GroupVersionKind]bool{kinds.All[kindIndex(t, "AIServiceBackend")].GVK: true}
			}},
		{name: "apply error", ready: metav1.ConditionFalse, reason: ReasonApplyFailed, msgHas: "boom", readyModels: 3,
			mutate: func(t testing.TB, in *Input) { in.ApplyError = errors.New("boom") }},
		{name: "invalid spec", ready: metav1.ConditionFalse, reason: ReasonInvalidSpec, msgHas: "tlsSecretRef", stalled: true,
			mutate: func(t testing.TB, in *Input) {
				in.Facts.Invalid = &facts.Problem{Reason: ReasonInvalidSpec, Message: "spec.gateway.listener.tlsSecretRef: other namespace", Stalled: true}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := allReady(t)
			tc.mutate(t, &in)
			st := Compute(in)
			c := meta.FindStatusCondition(st.Conditions, platformv1.ConditionReady)
			if c == nil || c.Status != tc.ready || c.Reason != tc.reason || !strings.Contains(c.Message, tc.msgHas) {
				t.Fatalf("Ready = %+v; want %s %s containing %q", c, tc.ready, tc.reason, tc.msgHas)
			}
			if c.ObservedGeneration != 3 {
				t.Errorf("condition observedGeneration %d", c.ObservedGeneration)
			}
			if st.ReadyModels != tc.readyModels {
				t.Errorf("readyModels %d, want %d: %+v", st.ReadyModels, tc.readyModels, st.Models)
			}
			stalled := meta.FindStatusCondition(st.Conditions, platformv1.ConditionStalled)
			reconciling := meta.FindStatusCondition(st.Conditions, platformv1.ConditionReconciling)
			switch {
			case tc.ready == metav1.ConditionTrue:
				if stalled != nil || reconciling != nil {
					t.Errorf("ready: Stalled/Reconciling must be absent: %v %v", stalled, reconciling)
				}
			case tc.stalled:
				if stalled == nil || stalled.Status != metav1.ConditionTrue || reconciling != nil {
					t.Errorf("want Stalled=True only: %v %v", stalled, reconciling)
				}
			default:
				if reconciling == nil || reconciling.Status != metav1.ConditionTrue || stalled != nil {
					t.Errorf("want Reconciling=True only: %v %v", stalled, reconciling)
				}
			}
		})
	}
}

// TestRefusedTierTwoRouteNamesTheModel: the refused Tier Two route shows on the model it serves, with
// Envoy Gateway's reason and message, and the other models stay ready.
func TestRefusedTierTwoRouteNamesTheModel(t *testing.T) {
	in := allReady(t)
	setStatus(t, &in, "HTTPRoute", "", "gpu", map[string]any{"parents": []any{map[string]any{
		"parentRef": map[string]any{"name": "gw"}, "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
		"conditions": []any{condition("Accepted", "False", "NotAllowedByListeners", "No listeners included by this parent ref allowed this attachment.", 1)},
	}}})
	st := Compute(in)
	for _, m := range st.Models {
		switch m.Name {
		case "llama":
			if m.Ready || !strings.Contains(m.Message, "NotAllowedByListeners: No listeners included by this parent ref allowed this attachment.") {
				t.Errorf("llama: %+v", m)
			}
		default:
			if !m.Ready {
				t.Errorf("%s should stay ready: %+v", m.Name, m)
			}
		}
	}
	if len(st.ModelClusters) != 1 || !st.ModelClusters[0].Ready {
		t.Errorf("the model cluster itself is fine: %+v", st.ModelClusters)
	}
}

func kindIndex(t testing.TB, kind string) int {
	for i, k := range kinds.All {
		if k.GVK.Kind == kind {
			return i
		}
	}
	t.Fatalf("no kind %s", kind)
	return -1
}

func TestEndpoint(t *testing.T) {
	port := int32(8443)
	cases := []struct {
		l     platformv1.ListenerSpec
		addrs []string
		want  string
	}{
		{platformv1.ListenerSpec{Protocol: platformv1.ListenerHTTPS, Hostname: "llm.acme.example"}, nil, "https://llm.acme.example"},
		{platformv1.ListenerSpec{Protocol: platformv1.ListenerHTTPS, Hostname: "llm.acme.example", Port: &port}, nil, "https://llm.acme.example:8443"},
		{platformv1.ListenerSpec{Protocol: platformv1.ListenerHTTP}, []string{"10.0.0.9"}, "http://10.0.0.9"},
		{platformv1.ListenerSpec{Protocol: platformv1.ListenerHTTP, Hostname: "*.acme.example"}, []string{"lb.example"}, "http://lb.example"},
		{platformv1.ListenerSpec{Protocol: platformv1.ListenerHTTP}, nil, ""},
	}
	for _, tc := range cases {
		p := platform()
		p.Spec.Gateway.Listener = tc.l
		if got := endpoint(p, tc.addrs); got != tc.want {
			t.Errorf("%+v %v: got %q want %q", tc.l, tc.addrs, got, tc.want)
		}
	}
}

// TestEndpointFromGatewayStatus: with no host name, the endpoint is the Tier One Gateway's address as
// Envoy Gateway reports it.
func TestEndpointFromGatewayStatus(t *testing.T) {
	in := allReady(t)
	setStatus(t, &in, "Gateway", "acme", "", map[string]any{
		"addresses":  []any{map[string]any{"type": "IPAddress", "value": "10.9.9.9"}},
		"conditions": []any{condition("Accepted", "True", "Accepted", "", 1), condition("Programmed", "True", "Programmed", "", 1)},
	})
	if st := Compute(in); st.Endpoint != "http://10.9.9.9" {
		t.Errorf("endpoint %q", st.Endpoint)
	}
}

// TestComputeKeepsTransitionTimes: an unchanged condition keeps its lastTransitionTime, so a steady
// platform's status does not change (and is not written) on every reconcile.
func TestComputeKeepsTransitionTimes(t *testing.T) {
	in := allReady(t)
	first := Compute(in)
	in.Platform.Status = first
	second := Compute(in)
	for i := range first.Conditions {
		if !first.Conditions[i].LastTransitionTime.Equal(&second.Conditions[i].LastTransitionTime) {
			t.Errorf("%s: transition time changed", first.Conditions[i].Type)
		}
	}
}

// TestUnauthenticatedIsNeverSilent: a platform without clientAuth says so in its own condition, which
// goes once client authentication is set.
func TestUnauthenticatedIsNeverSilent(t *testing.T) {
	in := allReady(t)
	st := Compute(in)
	if c := meta.FindStatusCondition(st.Conditions, platformv1.ConditionUnauthenticated); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "spec.gateway.clientAuth") {
		t.Fatalf("Unauthenticated: %+v", c)
	}
	if !meta.IsStatusConditionTrue(st.Conditions, platformv1.ConditionReady) {
		t.Error("Unauthenticated must not hold Ready back")
	}
	in.Platform.Status = st
	in.Platform.Spec.Gateway.ClientAuth = &platformv1.ClientAuthSpec{JWT: &platformv1.JWTAuth{Issuer: "https://id.example", JWKSURI: "https://id.example/jwks"}}
	if c := meta.FindStatusCondition(Compute(in).Conditions, platformv1.ConditionUnauthenticated); c != nil {
		t.Errorf("with clientAuth, Unauthenticated must be gone: %+v", c)
	}
}

// TestUnresolvedBackendBlamesOnlyItsModel: Envoy Gateway reports unresolved references per HTTPRoute,
// and a Tier Two route shard holds several models: a missing predictor Service makes only the model it
// belongs to not ready; the shard's other model is still served.
func TestUnresolvedBackendBlamesOnlyItsModel(t *testing.T) {
	p := platform()
	p.Spec.Models = append(p.Spec.Models, platformv1.ModelSpec{Name: "qwen", SelfHosted: &platformv1.SelfHostedModel{
		StorageURI: "hf://Qwen/Qwen2.5-0.5B-Instruct", Placements: []platformv1.Placement{{Cluster: "gpu", NodePool: "h100"}}}})
	f := facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{
		"openai": {"apiKey": []byte("k")}, "anthropic": {"apiKey": []byte("k")},
	}}}
	f.SetCluster("gpu", facts.Cluster{Address: "10.0.0.2", Key: &facts.ClusterKey{Current: "k"}, TLS: linkTLS})
	for _, m := range []string{"llama", "qwen"} {
		f.Placements = append(f.Placements, facts.Placement{PlacementID: facts.PlacementID{Model: m, Cluster: "gpu", NodePool: "h100"}, Exists: true, Ready: true})
	}
	desired := render.Render(render.Input{Platform: p, Facts: f})
	in := Input{Platform: p, Facts: f, Desired: desired, Observed: make([]kinds.Observed, len(desired.Children))}
	for i, c := range desired.Children {
		in.Observed[i] = observe(t, c.Object, reported(t, c.Object, 1, ""))
	}
	i := indexOf(t, &in, "HTTPRoute", "", "gpu")
	shard := in.Desired.Children[i].Component
	if len(shard.Models) != 2 || len(shard.Backends["llama"]) != 1 {
		t.Fatalf("want one Tier Two shard with both models: %+v", shard)
	}
	missing := shard.Backends["llama"][0]
	in.Observed[i] = observe(t, in.Desired.Children[i].Object, map[string]any{"parents": []any{map[string]any{
		"parentRef": map[string]any{"name": "gw"}, "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
		"conditions": []any{condition("Accepted", "True", "Accepted", "", 1),
			condition("ResolvedRefs", "False", "BackendNotFound", "Failed to process route rule 0 backendRef 0: service genai-models/"+missing+" not found.", 1)},
	}}})
	st := Compute(in)
	for _, m := range st.Models {
		switch m.Name {
		case "llama":
			if m.Ready || !strings.Contains(m.Message, missing) {
				t.Errorf("llama, whose predictor is missing: %+v", m)
			}
		default:
			if !m.Ready {
				t.Errorf("%s must stay ready: %+v", m.Name, m)
			}
		}
	}
}

// TestApplyErrorsStallOnlyWhenPermanent: an object the API server or a webhook refuses (invalid,
// forbidden, denied) stalls the platform; a conflict or a timeout is retried (Reconciling). Errors arrive
// wrapped and joined, as deploy returns them.
func TestApplyErrorsStallOnlyWhenPermanent(t *testing.T) {
	gr := schema.GroupResource{Group: "gateway.envoyproxy.io", Resource: "backendtrafficpolicies"}
	for _, tc := range []struct {
		name    string
		err     error
		stalled bool
	}{
		{"invalid", apierrors.NewInvalid(gr.WithVersion("").GroupVersion().WithKind("BackendTrafficPolicy").GroupKind(), "x", nil), true},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("RBAC")), true},
		{"webhook denial", apierrors.NewBadRequest(`admission webhook "validate.example" denied the request: no`), true},
		{"conflict then invalid, joined", errors.Join(apierrors.NewConflict(gr, "a", errors.New("c")), fmt.Errorf("applying x: %w", apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "x", nil))), true},
		{"conflict", fmt.Errorf("applying x: %w", apierrors.NewConflict(gr, "x", errors.New("c"))), false},
		{"timeout", apierrors.NewTimeoutError("slow", 1), false},
		{"no API status", errors.New("connection refused"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := allReady(t)
			in.ApplyError = tc.err
			st := Compute(in)
			stalled := meta.FindStatusCondition(st.Conditions, platformv1.ConditionStalled)
			if got := stalled != nil && stalled.Status == metav1.ConditionTrue; got != tc.stalled {
				t.Errorf("Stalled %v, want %v (%v)", got, tc.stalled, tc.err)
			}
			if c := meta.FindStatusCondition(st.Conditions, platformv1.ConditionReady); c == nil || c.Reason != ReasonApplyFailed {
				t.Errorf("Ready %+v, want ApplyFailed", c)
			}
		})
	}
}

// TestFallbackSaysWhy: a self-hosted model whose placements are all not Ready, served by its provider
// route, is ready, says that it is a fallback and why the GPUs do not serve (the scheduler's words, as
// KServe's pod reports them), and is counted in modelsOnFallback. With its placement Ready again it is
// served by its cluster and counted no more.
func TestFallbackSaysWhy(t *testing.T) {
	build := func(placementReady bool) Input {
		p := platform()
		p.Spec.Models[2].Routes = []platformv1.ModelRoute{{Provider: "openai", Priority: ptrTo(int32(1))}}
		f := facts.Facts{Secrets: facts.Secrets{Credentials: map[string]map[string][]byte{
			"openai": {"apiKey": []byte("k")}, "anthropic": {"apiKey": []byte("k")},
		}}}
		f.SetCluster("gpu", facts.Cluster{Address: "10.0.0.2", Key: &facts.ClusterKey{Current: "k"}, TLS: linkTLS})
		pl := facts.Placement{PlacementID: facts.PlacementID{Model: "llama", Cluster: "gpu", NodePool: "h100"}, Exists: true, Ready: placementReady}
		if !placementReady {
			pl.Reason, pl.Message = "Unschedulable", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu"
		}
		f.Placements = []facts.Placement{pl}
		desired := render.Render(render.Input{Platform: p, Facts: f})
		in := Input{Platform: p, Facts: f, Desired: desired, Observed: make([]kinds.Observed, len(desired.Children))}
		for i, c := range desired.Children {
			in.Observed[i] = observe(t, c.Object, reported(t, c.Object, 1, ""))
		}
		return in
	}
	st := Compute(build(false))
	var llama *platformv1.ModelStatus
	for i := range st.Models {
		if st.Models[i].Name == "llama" {
			llama = &st.Models[i]
		}
	}
	if llama == nil || !llama.Ready || llama.Reason != ReasonServedByFallback ||
		!strings.Contains(llama.Message, "provider:openai") || !strings.Contains(llama.Message, "Insufficient nvidia.com/gpu") {
		t.Errorf("llama: %+v; want ready, %s, through provider:openai, with the scheduler's reason", llama, ReasonServedByFallback)
	}
	if st.ModelsOnFallback != 1 {
		t.Errorf("modelsOnFallback %d, want 1", st.ModelsOnFallback)
	}
	if st := Compute(build(true)); st.ModelsOnFallback != 0 {
		t.Errorf("with its placement Ready: modelsOnFallback %d, models %+v", st.ModelsOnFallback, st.Models)
	}
}

func ptrTo[T any](v T) *T { return &v }
