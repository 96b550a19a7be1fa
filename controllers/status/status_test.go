package status

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

func platform() *platformv1.GenAIPlatform {
	p := &platformv1.GenAIPlatform{}
	p.Name, p.Namespace, p.Generation = "acme", "ai", 3
	p.Spec.Gateway.Listener.Protocol = platformv1.ListenerHTTP
	p.Spec.Providers = []platformv1.ProviderSpec{{Name: "openai"}, {Name: "anthropic"}}
	p.Spec.Models = []platformv1.ModelSpec{
		{Name: "gpt", Routes: []platformv1.ModelRoute{{Provider: "openai"}}},
		{Name: "claude", Routes: []platformv1.ModelRoute{{Provider: "anthropic"}}},
	}
	return p
}

func ok(types ...string) Child {
	c := Child{Exists: true, Generation: 1}
	for _, t := range types {
		c.Conditions = append(c.Conditions, metav1.Condition{Type: t, Status: metav1.ConditionTrue, ObservedGeneration: 1})
	}
	return c
}

// allReady is an input where every child reports what its controller would when all is well.
func allReady() Input {
	return Input{
		Platform:         platform(),
		Routes:           map[string][]string{"gpt": {"provider:openai"}, "claude": {"provider:anthropic"}},
		RouteOfModel:     map[string]string{"gpt": "acme-route-0", "claude": "acme-route-0"},
		GatewayClassName: "gc",
		GatewayName:      "acme",
		GatewayAddresses: []string{"10.0.0.1"},
		ProviderObjects: func(pr string) []string {
			return []string{"AIServiceBackend/" + pr, "BackendSecurityPolicy/" + pr, "Backend/" + pr}
		},
		Children: map[string]Child{
			"GatewayClass/gc":                 ok("Accepted"),
			"Gateway/acme":                    ok("Accepted", "Programmed"),
			"AIGatewayRoute/acme-route-0":     ok("Accepted"),
			"AIServiceBackend/openai":         ok("Accepted"),
			"BackendSecurityPolicy/openai":    ok("Accepted"),
			"Backend/openai":                  ok("Accepted"),
			"AIServiceBackend/anthropic":      ok("Accepted"),
			"BackendSecurityPolicy/anthropic": ok("Accepted"),
			"Backend/anthropic":               ok("Accepted"),
		},
	}
}

func TestCompute(t *testing.T) {
	cases := []struct {
		name        string
		mutate      func(*Input)
		ready       metav1.ConditionStatus
		reason      string
		msgHas      string
		readyModels int32
		stalled     bool
	}{
		{name: "all ready", mutate: func(*Input) {}, ready: metav1.ConditionTrue, reason: ReasonReady, readyModels: 2},
		{name: "no gateway controller", ready: metav1.ConditionFalse, reason: ReasonWaitingForGateway, msgHas: "GatewayClass gc has no Accepted status yet",
			mutate: func(in *Input) { in.Children["GatewayClass/gc"] = Child{Exists: true} }},
		{name: "gateway pending (API server default status)", ready: metav1.ConditionFalse, reason: ReasonWaitingForGateway, msgHas: "Programmed",
			mutate: func(in *Input) {
				c := ok("Accepted")
				c.Conditions = append(c.Conditions, metav1.Condition{Type: "Programmed", Status: metav1.ConditionUnknown, Reason: "Pending"})
				in.Children["Gateway/acme"] = c
			}},
		{name: "gateway refused", ready: metav1.ConditionFalse, reason: ReasonNotAccepted, msgHas: "InvalidListener",
			mutate: func(in *Input) {
				in.Children["Gateway/acme"] = Child{Exists: true, Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "InvalidListener"}}}
			}},
		{name: "rate-limit policy refused (no Redis): the gateway is not ready", ready: metav1.ConditionFalse, reason: ReasonNotAccepted,
			msgHas: "BackendTrafficPolicy acme-token-limits is not accepted by Envoy Gateway: Invalid: enable Ratelimit in EnvoyGateway config",
			mutate: func(in *Input) {
				c := ok()
				c.Conditions = append(c.Conditions, metav1.Condition{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "Invalid", Message: "enable Ratelimit in EnvoyGateway config", ObservedGeneration: 1})
				in.Children["BackendTrafficPolicy/acme-token-limits"] = c
			}},
		{name: "policy without status yet does not hold readiness", ready: metav1.ConditionTrue, reason: ReasonReady, readyModels: 2,
			mutate: func(in *Input) { in.Children["SecurityPolicy/acme-client-auth"] = Child{Exists: true, Generation: 1} }},
		{name: "policy refused at an older generation is not held against the new one", ready: metav1.ConditionTrue, reason: ReasonReady, readyModels: 2,
			mutate: func(in *Input) {
				c := Child{Exists: true, Generation: 2}
				c.Conditions = []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "Invalid", ObservedGeneration: 1}}
				in.Children["ClientTrafficPolicy/acme-client"] = c
			}},
		{name: "stale generation", ready: metav1.ConditionFalse, reason: ReasonWaitingForGateway, msgHas: "generation 2",
			mutate: func(in *Input) { c := ok("Accepted", "Programmed"); c.Generation = 2; in.Children["Gateway/acme"] = c }},
		{name: "no AI gateway controller", ready: metav1.ConditionFalse, reason: ReasonWaitingForAIGateway, msgHas: "Envoy AI Gateway", readyModels: 1,
			mutate: func(in *Input) { in.Children["AIServiceBackend/anthropic"] = Child{Exists: true} }},
		{name: "missing secret stalls", ready: metav1.ConditionFalse, reason: ReasonSecretNotFound, msgHas: "provider openai", readyModels: 1, stalled: true,
			mutate: func(in *Input) {
				in.ProviderProblems = map[string]Problem{"openai": {Reason: ReasonSecretNotFound, Message: "Secret ai/x not found", Stalled: true}}
				in.Routes = map[string][]string{"claude": {"provider:anthropic"}}
			}},
		{name: "a model's download Secret missing stalls", ready: metav1.ConditionFalse, reason: ReasonSecretNotFound, msgHas: "model gpt", readyModels: 1, stalled: true,
			mutate: func(in *Input) {
				in.ModelProblems = map[string]Problem{"gpt": {Reason: ReasonSecretNotFound, Message: "Secret ai/hf not found", Stalled: true}}
			}},
		{name: "missing CRD", ready: metav1.ConditionFalse, reason: ReasonCRDNotInstalled, msgHas: "AIServiceBackend", stalled: true,
			mutate: func(in *Input) { in.MissingKinds = []string{"AIServiceBackend (aigateway.envoyproxy.io/v1beta1)"} }},
		{name: "apply error", ready: metav1.ConditionFalse, reason: ReasonApplyFailed, msgHas: "boom", readyModels: 2,
			mutate: func(in *Input) { in.ApplyError = errors.New("boom") }},
		{name: "invalid spec", ready: metav1.ConditionFalse, reason: ReasonInvalidSpec, msgHas: "tlsSecretRef", stalled: true,
			mutate: func(in *Input) {
				in.Invalid = &Problem{Reason: ReasonInvalidSpec, Message: "spec.gateway.listener.tlsSecretRef: other namespace", Stalled: true}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := allReady()
			tc.mutate(&in)
			st := Compute(in)
			c := meta.FindStatusCondition(st.Conditions, platformv1.ConditionReady)
			if c == nil || c.Status != tc.ready || c.Reason != tc.reason || !strings.Contains(c.Message, tc.msgHas) {
				t.Fatalf("Ready = %+v; want %s %s containing %q", c, tc.ready, tc.reason, tc.msgHas)
			}
			if c.ObservedGeneration != 3 {
				t.Errorf("condition observedGeneration %d", c.ObservedGeneration)
			}
			if st.ReadyModels != tc.readyModels {
				t.Errorf("readyModels %d, want %d", st.ReadyModels, tc.readyModels)
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

// TestComputeKeepsTransitionTimes: an unchanged condition keeps its lastTransitionTime, so a steady
// platform's status does not change (and is not written) on every reconcile.
func TestComputeKeepsTransitionTimes(t *testing.T) {
	in := allReady()
	first := Compute(in)
	in.Platform.Status = first
	second := Compute(in)
	for i := range first.Conditions {
		if !first.Conditions[i].LastTransitionTime.Equal(&second.Conditions[i].LastTransitionTime) {
			t.Errorf("%s: transition time changed", first.Conditions[i].Type)
		}
	}
}
