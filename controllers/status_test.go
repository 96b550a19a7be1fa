package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

var (
	gvkGatewayClass = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayClass"}
	gvkGateway      = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}
	gvkBackend      = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "Backend"}
	gvkAISB         = schema.GroupVersionKind{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "AIServiceBackend"}
	gvkBSP          = schema.GroupVersionKind{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "BackendSecurityPolicy"}
	gvkRoute        = schema.GroupVersionKind{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "AIGatewayRoute"}
)

// TestStatusTellsTheTruth: with no Envoy Gateway or AI Gateway controller, Ready=False names what it
// waits for, step by step; once the children report what those controllers would, Ready=True.
func TestStatusTellsTheTruth(t *testing.T) {
	p := twoProviderPlatform(t)
	ns := p.Namespace

	got := waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionFalse, status.ReasonWaitingForGateway)
	if msg := findCondition(got, platformv1.ConditionReady).Message; !strings.Contains(msg, "GatewayClass") {
		t.Errorf("first the GatewayClass is awaited: %q", msg)
	}

	setStatusConditions(t, gvkGatewayClass, "", render.Name("genai", ns, p.Name), nil, "Accepted")
	setStatusConditions(t, gvkGateway, ns, render.GatewayName(p), map[string]any{
		"addresses": []any{map[string]any{"type": "IPAddress", "value": "10.1.2.3"}},
	}, "Accepted", "Programmed")
	got = waitCondition(t, p, platformv1.ConditionGatewayReady, metav1.ConditionTrue, "")
	if got.Status.Endpoint != "http://10.1.2.3" {
		t.Errorf("endpoint from the Gateway's address: got %q", got.Status.Endpoint)
	}
	// Envoy Gateway accepts the providers' Backends; the AI Gateway objects are still awaited.
	for _, pr := range []string{"openai", "anthropic"} {
		setStatusConditions(t, gvkBackend, ns, render.ProviderBackendName(p, pr), nil, "Accepted")
	}
	got = waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionFalse, status.ReasonWaitingForAIGateway)
	if msg := findCondition(got, platformv1.ConditionReady).Message; !strings.Contains(msg, "Envoy AI Gateway") {
		t.Errorf("Ready should say it waits for the AI Gateway controller: %q", msg)
	}

	for _, pr := range []string{"openai", "anthropic"} {
		name := render.ProviderBackendName(p, pr)
		setStatusConditions(t, gvkAISB, ns, name, nil, "Accepted")
		setStatusConditions(t, gvkBSP, ns, name, nil, "Accepted")
	}
	waitCondition(t, p, platformv1.ConditionProvidersReady, metav1.ConditionTrue, "")
	setStatusConditions(t, gvkRoute, ns, render.RouteName(p, 0), nil, "Accepted")

	got = waitCondition(t, p, platformv1.ConditionReady, metav1.ConditionTrue, status.ReasonReady)
	if got.Status.ReadyModels != 3 || got.Status.ModelsSummary != "3/3" || got.Status.ObservedGeneration != got.Generation {
		t.Errorf("status: %+v", got.Status)
	}
	for _, typ := range []string{platformv1.ConditionReconciling, platformv1.ConditionStalled} {
		if c := findCondition(got, typ); c != nil {
			t.Errorf("%s must be absent when ready: %+v", typ, c)
		}
	}
	for _, ps := range got.Status.Providers {
		if !ps.Ready {
			t.Errorf("provider %s not ready: %s", ps.Name, ps.Message)
		}
	}
}

// TestSecretProblemsAreConditions: a missing Secret, a missing key and a Secret in another namespace
// each make that provider not ready with a reason naming it; the other providers are reconciled.
func TestSecretProblemsAreConditions(t *testing.T) {
	ns := newNamespace(t)
	createSecret(t, ns, "good", map[string]string{"apiKey": "sk-good-secret-value"})
	createSecret(t, ns, "wrong-key", map[string]string{"a": "1", "b": "2"})
	p := createPlatform(t, ns, "acme", `
gateway: {listener: {protocol: HTTP}}
providers:
- {name: good, type: OpenAI, credentials: {secretRef: {name: good}}}
- {name: missing, type: OpenAI, credentials: {secretRef: {name: no-such-secret}}}
- {name: nokey, type: Anthropic, credentials: {secretRef: {name: wrong-key, key: apiKey}}}
- {name: elsewhere, type: Cohere, credentials: {secretRef: {name: good, namespace: kube-system}}}
models:
- {name: a, routes: [{provider: good}]}
- {name: b, routes: [{provider: missing}]}
`)
	want := map[string]string{
		"missing":   status.ReasonSecretNotFound,
		"nokey":     status.ReasonSecretKeyNotFound,
		"elsewhere": status.ReasonCrossNamespaceSecret,
	}
	var got *platformv1.GenAIPlatform
	eventually(t, 20*time.Second, func() error {
		got = getPlatform(t, p)
		if len(got.Status.Providers) != 4 {
			return fmt.Errorf("providers status: %+v", got.Status.Providers)
		}
		for _, ps := range got.Status.Providers {
			if r, bad := want[ps.Name]; bad && (ps.Ready || ps.Reason != r) {
				return fmt.Errorf("provider %s: ready=%v reason %s, want %s", ps.Name, ps.Ready, ps.Reason, r)
			}
		}
		return nil
	})
	for _, ps := range got.Status.Providers {
		switch ps.Name {
		case "missing":
			if !strings.Contains(ps.Message, "no-such-secret") {
				t.Errorf("message should name the Secret: %q", ps.Message)
			}
		case "nokey":
			if !strings.Contains(ps.Message, `"apiKey"`) || !strings.Contains(ps.Message, "wrong-key") {
				t.Errorf("message should name the Secret and key: %q", ps.Message)
			}
		case "elsewhere":
			if !strings.Contains(ps.Message, "kube-system") {
				t.Errorf("message should name the namespace: %q", ps.Message)
			}
		}
	}
	// The good provider is rendered and applied regardless.
	s := &corev1.Secret{}
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.ProviderSecretName(p, "good")}, s); err != nil {
		t.Fatalf("the good provider's managed Secret: %v", err)
	}
	got = waitCondition(t, p, platformv1.ConditionStalled, metav1.ConditionTrue, "")
	for _, ms := range got.Status.Models {
		if ms.Name == "b" && (ms.Ready || ms.Reason != status.ReasonNoUsableBackend) {
			t.Errorf("model b routes only to a broken provider: %+v", ms)
		}
	}
}

// TestNoSecretValueLeaks: no Secret value appears in the operator's logs, events or the platform status:
// provider credentials, model download credentials (a good and a broken Secret), and the private keys of
// the link's TLS.
func TestNoSecretValueLeaks(t *testing.T) {
	ns := newNamespace(t)
	const value = "sk-LEAKCHECK-0123456789abcdef"
	createSecret(t, ns, "key", map[string]string{"apiKey": value})
	createSecret(t, ns, "multi", map[string]string{"x": value + "-x", "y": value + "-y"})
	createSecret(t, ns, "s3", map[string]string{"AWS_ACCESS_KEY_ID": value + "-id", "AWS_SECRET_ACCESS_KEY": value + "-s3"})
	createSecret(t, ns, "s3-broken", map[string]string{"AWS_ACCESS_KEY_ID": value + "-only-id"})
	p := createPlatform(t, ns, "leak", `
gateway: {listener: {protocol: HTTP}}
providers:
- {name: ok, type: OpenAI, credentials: {secretRef: {name: key}}}
- {name: bad, type: OpenAI, credentials: {secretRef: {name: multi, key: z}}}
modelClusters: [{name: east, namespace: `+ns+`-models, address: {hostname: t2.example}, nodePools: [{name: a}]}]
models:
- {name: m, routes: [{provider: ok}, {provider: bad}]}
- {name: s3, selfHosted: {storageUri: 's3://b/m', storage: {s3: {secretRef: {name: s3}}}, placements: [{cluster: east, nodePool: a}]}}
- {name: s3-broken, selfHosted: {storageUri: 's3://b/m', storage: {s3: {secretRef: {name: s3-broken}}}, placements: [{cluster: east, nodePool: a}]}}
`)
	waitCondition(t, p, platformv1.ConditionStalled, metav1.ConditionTrue, "")
	waitSecretValue(t, client.ObjectKey{Namespace: ns, Name: render.ProviderSecretName(p, "ok")}, render.KeyAPIKey, value)
	// Rotate, to make the operator handle the value again.
	u := &corev1.Secret{}
	if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "key"}, u); err != nil {
		t.Fatal(err)
	}
	u.Data["apiKey"] = []byte(value + "-2")
	if err := k8s.Update(testCtx, u); err != nil {
		t.Fatal(err)
	}
	waitSecretValue(t, client.ObjectKey{Namespace: ns, Name: render.ProviderSecretName(p, "ok")}, render.KeyAPIKey, value+"-2")

	waitSecretValue(t, client.ObjectKey{Namespace: ns + "-models", Name: render.ModelSecretName(p, "s3")}, "AWS_SECRET_ACCESS_KEY", value+"-s3")
	// The link's private keys: Tier Two's serving key and the operator CA's key.
	tierTwo := getSecret(t, ns+"-models", render.TierTwoTLSSecretName(p))
	state := getSecret(t, ns, render.ClusterTLSStateSecretName(p, "east"))
	var keyParts []string
	for _, k := range [][]byte{tierTwo.Data[corev1.TLSPrivateKeyKey], state.Data["ca.key"]} {
		lines := strings.Split(strings.TrimSpace(string(k)), "\n")
		if len(lines) < 3 {
			t.Fatalf("no private key in the link's Secrets")
		}
		keyParts = append(keyParts, lines[1]) // the first line of the key's base64 body
	}

	var evs corev1.EventList
	if err := k8s.List(testCtx, &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	st := fmt.Sprintf("%+v", getPlatform(t, p).Status)
	for where, text := range map[string]string{"logs": logs.String(), "status": st, "events": fmt.Sprintf("%+v", evs.Items)} {
		for _, part := range keyParts {
			if strings.Contains(text, part) {
				t.Errorf("a private key of the link appears in the operator's %s", where)
			}
		}
	}
	places := map[string]string{"logs": logs.String(), "status": st, "events": fmt.Sprintf("%+v", evs.Items)}
	if len(logs.String()) == 0 {
		t.Fatal("the operator logged nothing: the check would be vacuous")
	}
	for where, text := range places {
		if strings.Contains(text, "LEAKCHECK") {
			t.Errorf("a Secret value appears in the operator's %s", where)
		}
	}
}

// TestHostileSecrets: referenced Secrets that are of the wrong type, binary, empty, or as large as a
// Secret may be (1 MiB) neither crash nor stall the operator. Each provider gets what its Secret can give:
// a binary or 1 MiB key is copied as it is (it is the user's key; the managed copy fits as the original
// did), an empty or keyless Secret leaves the provider not ready and Stalled, naming the Secret, never a
// value; the other providers stay served.
func TestHostileSecrets(t *testing.T) {
	ns := newNamespace(t)
	big := strings.Repeat("k", 1024*1024-64)
	binary := string([]byte{0xff, 0xfe, 0x00, 0x01, 0x80, 0x7f})
	mk := func(name string, typ corev1.SecretType, data map[string][]byte) {
		t.Helper()
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Type: typ, Data: data}
		if err := k8s.Create(testCtx, s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	mk("tls-typed", corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")})
	mk("binary", corev1.SecretTypeOpaque, map[string][]byte{"apiKey": []byte(binary)})
	mk("empty", corev1.SecretTypeOpaque, nil)
	mk("huge", corev1.SecretTypeOpaque, map[string][]byte{"apiKey": []byte(big)})
	p := createPlatform(t, ns, "hostile", `
gateway: {listener: {protocol: HTTP}}
providers:
- {name: tls, type: OpenAI, credentials: {secretRef: {name: tls-typed}}}
- {name: bin, type: OpenAI, credentials: {secretRef: {name: binary}}}
- {name: empty, type: OpenAI, credentials: {secretRef: {name: empty}}}
- {name: huge, type: OpenAI, credentials: {secretRef: {name: huge}}}
models:
- {name: a, routes: [{provider: tls}]}
- {name: b, routes: [{provider: bin}]}
- {name: c, routes: [{provider: empty}]}
- {name: d, routes: [{provider: huge}]}
`)
	waitSecretValue(t, client.ObjectKey{Namespace: ns, Name: render.ProviderSecretName(p, "bin")}, render.KeyAPIKey, binary)
	waitSecretValue(t, client.ObjectKey{Namespace: ns, Name: render.ProviderSecretName(p, "huge")}, render.KeyAPIKey, big)
	got := waitCondition(t, p, platformv1.ConditionStalled, metav1.ConditionTrue, "")
	for _, pr := range got.Status.Providers {
		switch pr.Name {
		case "tls", "empty":
			if pr.Ready || pr.Reason != status.ReasonSecretKeyNotFound {
				t.Errorf("provider %s: %+v; want not ready, %s", pr.Name, pr.ComponentStatus, status.ReasonSecretKeyNotFound)
			}
		default:
			if pr.Reason == status.ReasonSecretKeyNotFound || pr.Reason == status.ReasonSecretNotFound {
				t.Errorf("provider %s: %+v; its Secret holds a key", pr.Name, pr.ComponentStatus)
			}
		}
	}
	if st := fmt.Sprintf("%+v", got.Status); strings.Contains(st, big[:64]) || strings.Contains(st, binary) {
		t.Error("the status holds a Secret value")
	}

	// A Secret deleted after it worked: the gateway keeps the last good copy, and the status says so.
	if err := k8s.Delete(testCtx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "binary", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		got := getPlatform(t, p)
		for _, pr := range got.Status.Providers {
			if pr.Name == "bin" && (pr.Reason != status.ReasonSecretNotFound || !strings.Contains(pr.Message, "keeps using the last good copy")) {
				return fmt.Errorf("provider bin: %+v", pr.ComponentStatus)
			}
		}
		return nil
	})
	waitSecretValue(t, client.ObjectKey{Namespace: ns, Name: render.ProviderSecretName(p, "bin")}, render.KeyAPIKey, binary)
}

// TestSecretDeletedMidReconcile: a provider's Secret is deleted right after the operator has read it,
// inside the reconcile that first uses it (a hook on the operator's own request to the real API server).
// That reconcile finishes with the value it read; the deletion then shows, the gateway keeps that copy,
// and the status says so. Nothing is half made, and the platform is Stalled until a human restores it.
func TestSecretDeletedMidReconcile(t *testing.T) {
	ns := newNamespace(t)
	if err := k8s.Create(testCtx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "openai", Namespace: ns}, StringData: map[string]string{"apiKey": "sk-read-once"}}); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan struct{})
	afterRequest.once("GET /api/v1/namespaces/"+ns+"/secrets/openai", func() {
		defer close(deleted)
		if err := k8s.Delete(testCtx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "openai", Namespace: ns}}); err != nil {
			t.Errorf("deleting the Secret mid-reconcile: %v", err)
		}
	})
	p := createPlatform(t, ns, "midway", `
gateway: {listener: {protocol: HTTP}}
providers: [{name: openai, type: OpenAI, credentials: {secretRef: {name: openai}}}]
models: [{name: gpt-4o, routes: [{provider: openai}]}]
`)
	select {
	case <-deleted:
	case <-time.After(30 * time.Second):
		t.Fatal("the operator never read the provider's Secret")
	}
	waitSecretValue(t, client.ObjectKey{Namespace: ns, Name: render.ProviderSecretName(p, "openai")}, render.KeyAPIKey, "sk-read-once")
	got := waitCondition(t, p, platformv1.ConditionStalled, metav1.ConditionTrue, status.ReasonSecretNotFound)
	if len(got.Status.Providers) != 1 || !strings.Contains(got.Status.Providers[0].Message, "keeps using the last good copy") {
		t.Errorf("providers: %+v; want the deleted Secret named, and the last good copy kept", got.Status.Providers)
	}
	if got.Status.ObservedGeneration != got.Generation {
		t.Errorf("observedGeneration %d, generation %d: the reconcile after the deletion did not finish", got.Status.ObservedGeneration, got.Generation)
	}

	// Stalled and steady: rechecked, and nothing written.
	expectNoWritesOnReconcile(t, p)

	// Restored: served again, not Stalled.
	if err := k8s.Create(testCtx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "openai", Namespace: ns}, StringData: map[string]string{"apiKey": "sk-restored"}}); err != nil {
		t.Fatal(err)
	}
	waitSecretValue(t, client.ObjectKey{Namespace: ns, Name: render.ProviderSecretName(p, "openai")}, render.KeyAPIKey, "sk-restored")
	eventually(t, 20*time.Second, func() error {
		got := getPlatform(t, p)
		if c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionStalled); c != nil {
			return fmt.Errorf("still Stalled: %s", c.Message)
		}
		if pr := got.Status.Providers; len(pr) != 1 || pr[0].Reason == status.ReasonSecretNotFound {
			return fmt.Errorf("providers: %+v", pr)
		}
		return nil
	})
}
