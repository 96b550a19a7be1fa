package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// rendered is what the operator would create for the test platform, as unstructured objects.
type rendered struct {
	platform *platformv1.GenAIPlatform
	tierOne  []*unstructured.Unstructured
	clusters map[string][]*unstructured.Unstructured
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// identities are the credentials outside the platform's Secrets: the gateway pod's own cloud identities,
// and the fakes that issue tokens.
type identities struct {
	gcp       *gcpTokenServer
	aad       *azureAD
	awsPod    awsCredentials // what EKS Pod Identity gives the external processor
	awsAgent  *awsPodIdentity
	gcpPod    *gcpServiceAccount // what ADC finds for the external processor
	userValue map[string]string  // provider name -> the credential the user put in their Secret
}

// buildCases makes one case per model × backend of the rendered AIGatewayRoutes, and checks that every
// route of the spec was rendered.
func buildCases(r *rendered, id *identities) ([]*backendCase, error) {
	p := r.platform
	var cases []*backendCase
	seen := map[string]bool{}
	for _, route := range ofKind(r.tierOne, "AIGatewayRoute") {
		rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
		for i, rule := range rules {
			model, _ := dig(rule, "matches", 0, "headers", 0, "value").(string)
			if _, ok := modelEndpoints[model]; !ok {
				return nil, fmt.Errorf("model %q of %s has no kind in modelEndpoints", model, route.GetName())
			}
			refs, _ := dig(rule, "backendRefs").([]any)
			for j, ref := range refs {
				asb, _ := dig(ref, "name").(string)
				override, _ := dig(ref, "modelNameOverride").(string)
				bc := &backendCase{
					Model: model, UpstreamModel: model,
					Target: target{
						BackendName: fmt.Sprintf("%s/%s/route/%s/rule/%d/ref/%d", route.GetNamespace(), asb, route.GetName(), i, j),
						RouteName:   route.GetNamespace() + "/" + route.GetName(),
					},
				}
				if override != "" {
					bc.UpstreamModel = override
				}
				if err := r.describeBackend(bc, asb, id); err != nil {
					return nil, fmt.Errorf("model %s, backend %s: %w", model, asb, err)
				}
				seen[model+"|"+bc.Backend] = true
				cases = append(cases, bc)
			}
		}
	}
	for _, m := range p.Spec.Models {
		if _, ok := modelEndpoints[m.Name]; !ok {
			return nil, fmt.Errorf("model %q of the platform has no kind in modelEndpoints", m.Name)
		}
		var want []string
		for _, rt := range m.Routes {
			want = append(want, rt.Provider)
		}
		if m.SelfHosted != nil {
			for _, pl := range m.SelfHosted.Placements {
				want = append(want, "cluster:"+pl.Cluster)
			}
		}
		for _, b := range want {
			if !seen[m.Name+"|"+b] {
				return nil, fmt.Errorf("model %s: no AIGatewayRoute rule sends it to %s", m.Name, b)
			}
		}
	}
	return cases, nil
}

// describeBackend fills in a case from the AIServiceBackend the rule names: which provider (or model
// cluster) it is, the Backend Envoy connects to, and the credential the provider must receive, read from
// the operator's managed Secret.
func (r *rendered) describeBackend(bc *backendCase, asbName string, id *identities) error {
	p := r.platform
	asb := find(r.tierOne, "AIServiceBackend", asbName)
	if asb == nil {
		return errors.New("no such AIServiceBackend")
	}
	beName, _, _ := unstructured.NestedString(asb.Object, "spec", "backendRef", "name")
	be := find(r.tierOne, "Backend", beName)
	if be == nil {
		return fmt.Errorf("AIServiceBackend %s names Backend %s, which is not rendered", asbName, beName)
	}
	eps, _, _ := unstructured.NestedSlice(be.Object, "spec", "endpoints")
	host, _ := dig(eps, 0, "fqdn", "hostname").(string)
	port, _ := dig(eps, 0, "fqdn", "port").(int64)
	if host == "" {
		host, _ = dig(eps, 0, "ip", "address").(string)
		port, _ = dig(eps, 0, "ip", "port").(int64)
	}
	if host == "" || port == 0 {
		return fmt.Errorf("Backend %s has no endpoint host and port: %s", beName, compact(eps))
	}
	bc.Target.UpstreamHost = host
	bc.Target.Authority = fmt.Sprintf("%s:%d", host, port)
	for _, tp := range ofKind(r.tierOne, "BackendTLSPolicy") {
		vh, _, _ := unstructured.NestedString(tp.Object, "spec", "validation", "hostname")
		if dig(tp.Object, "spec", "targetRefs", 0, "name") == beName && vh == host {
			bc.TLSVerified = true
		}
	}
	secret, secretErr := r.managedSecret(asbName)

	for i := range p.Spec.Providers {
		pr := &p.Spec.Providers[i]
		if render.ProviderBackendName(p, pr.Name) != asbName {
			continue
		}
		bc.Row, bc.Backend, bc.Provider = string(pr.Type), pr.Name, pr
		bc.Cred = providerCredential(pr, secret, secretErr, id)
		return nil
	}
	for i := range p.Spec.ModelClusters {
		mc := &p.Spec.ModelClusters[i]
		if render.ClusterBackendName(p, mc.Name) != asbName {
			continue
		}
		bc.Row, bc.Backend = tierTwoRow, "cluster:"+mc.Name
		bc.Cred, bc.Extra = r.tierTwoChecks(mc, secret, secretErr)
		// Tier Two listens HTTP on 80 behind the address the spec gives (else the one its Gateway's
		// status reports, which the preview assumes).
		addr, port := preview.TierTwoAddress(mc.Name), int32(80)
		if mc.Address != nil {
			addr, port = mc.Address.Hostname, mc.Address.Port
		}
		bc.LinkHosts = []string{fmt.Sprintf("%s:%d", addr, port)}
		return nil
	}
	return errors.New("neither a provider's nor a model cluster's AIServiceBackend")
}

// managedSecret is the data of the Secret the AIServiceBackend's BackendSecurityPolicy reads.
func (r *rendered) managedSecret(asbName string) (map[string]string, error) {
	for _, bsp := range ofKind(r.tierOne, "BackendSecurityPolicy") {
		if dig(bsp.Object, "spec", "targetRefs", 0, "name") != asbName {
			continue
		}
		name := secretRefName(bsp.Object["spec"])
		s := find(r.tierOne, "Secret", name)
		if s == nil {
			return nil, fmt.Errorf("BackendSecurityPolicy %s names Secret %q, which is not rendered", bsp.GetName(), name)
		}
		data, _, _ := unstructured.NestedMap(s.Object, "data")
		out := map[string]string{}
		for k, v := range data {
			b, err := decodeB64(v)
			if err != nil {
				return nil, fmt.Errorf("Secret %s key %s: %w", name, k, err)
			}
			out[k] = string(b)
		}
		return out, nil
	}
	return nil, fmt.Errorf("no BackendSecurityPolicy targets AIServiceBackend %s", asbName)
}

// secretRefName finds the Secret a BackendSecurityPolicy spec references, whatever its type.
func secretRefName(v any) string {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range []string{"secretRef", "clientSecretRef"} {
			if n, ok := dig(x, k, "name").(string); ok {
				return n
			}
		}
		for _, sub := range x {
			if n := secretRefName(sub); n != "" {
				return n
			}
		}
	case []any:
		for _, sub := range x {
			if n := secretRefName(sub); n != "" {
				return n
			}
		}
	}
	return ""
}

// only is the value of a Secret that holds one credential.
func only(data map[string]string, key string) (string, error) {
	if v, ok := data[key]; ok {
		return v, nil
	}
	return "", fmt.Errorf("the managed Secret has no key %q (keys: %s)", key, strings.Join(keysOf(data), ", "))
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func failing(err error) func(upstreamRequest) error {
	return func(upstreamRequest) error { return err }
}

// providerCredential is the credential the provider must receive: what the user gave, as the operator's
// managed Secret holds it (the managed copy must equal the user's value), turned into the provider's
// header, bearer token or signature.
func providerCredential(pr *platformv1.ProviderSpec, secret map[string]string, secretErr error, id *identities) func(upstreamRequest) error {
	src := render.ProviderCredentialSource(pr)
	if src.Ref == nil {
		// No Secret: the gateway's own identity, or (OpenAICompatible) no credential at all.
		switch pr.Type {
		case platformv1.ProviderAWSBedrock:
			creds := id.awsPod
			return func(up upstreamRequest) error { return verifySigV4(up, creds, "bedrock", pr.AWS.Region) }
		case platformv1.ProviderGCPVertexAI, platformv1.ProviderGCPAnthropic:
			return gcpToken(id.gcp, id.gcpPod.Email)
		}
		return noCredential
	}
	if secretErr != nil {
		return failing(secretErr)
	}
	value, err := only(secret, src.ManagedKey)
	if err != nil {
		return failing(err)
	}
	if value != id.userValue[pr.Name] {
		return failing(fmt.Errorf("the managed Secret's %s differs from the user's Secret", src.ManagedKey))
	}
	switch pr.Type {
	case platformv1.ProviderAzureOpenAI:
		if pr.Azure != nil {
			return entraToken(id.aad, pr.Azure.TenantID+"/"+pr.Azure.ClientID)
		}
		return headerIs("api-key", value)
	case platformv1.ProviderAnthropic:
		return headerIs("x-api-key", value)
	case platformv1.ProviderAWSBedrock:
		creds, err := parseAWSCredentialsFile(value)
		if err != nil {
			return failing(fmt.Errorf("the managed AWS credentials file: %w", err))
		}
		return func(up upstreamRequest) error { return verifySigV4(up, creds, "bedrock", pr.AWS.Region) }
	case platformv1.ProviderGCPVertexAI, platformv1.ProviderGCPAnthropic:
		var key struct {
			ClientEmail string `json:"client_email"`
		}
		if err := json.Unmarshal([]byte(value), &key); err != nil || key.ClientEmail == "" {
			return failing(errors.New("the managed service-account key has no client_email"))
		}
		return gcpToken(id.gcp, key.ClientEmail)
	}
	return bearer(value)
}

// gcpToken: a bearer token the token endpoint issued to that service account (the controller or the
// external processor proved it holds the account's key).
func gcpToken(g *gcpTokenServer, email string) func(upstreamRequest) error {
	return issuedBearer(&g.tokenIssuer, email, "Google")
}

// entraToken: a bearer token Entra ID issued to that tenant/client (the controller sent the client
// secret).
func entraToken(a *azureAD, tenantClient string) func(upstreamRequest) error {
	return issuedBearer(&a.tokenIssuer, tenantClient, "Entra ID")
}

func issuedBearer(ti *tokenIssuer, identity, issuer string) func(upstreamRequest) error {
	return func(up upstreamRequest) error {
		tok, ok := strings.CutPrefix(up.header("authorization"), "Bearer ")
		if !ok {
			return errors.New("no Authorization: Bearer header")
		}
		switch got := ti.identityOf(tok); got {
		case identity:
			return nil
		case "":
			return fmt.Errorf("the bearer token is not one %s issued", issuer)
		default:
			return fmt.Errorf("the bearer token was issued to %s, want %s", got, identity)
		}
	}
}

// tierTwoChecks: Tier One must send the link key its managed Secret holds, which must be one the model
// cluster's Tier Two admits (its SecurityPolicy's Secret), and the request must be one of Tier Two's
// routes: the x-ai-eg-model header it matches on, and the model name the InferenceService serves.
func (r *rendered) tierTwoChecks(mc *platformv1.ModelClusterSpec, secret map[string]string, secretErr error) (cred, extra func(upstreamRequest) error) {
	objs := r.clusters[mc.Name]
	admitted := map[string]bool{}
	for _, sp := range ofKind(objs, "SecurityPolicy") {
		refs, _, _ := unstructured.NestedSlice(sp.Object, "spec", "apiKeyAuth", "credentialRefs")
		for _, ref := range refs {
			s := find(objs, "Secret", fmt.Sprint(dig(ref, "name")))
			if s == nil {
				continue
			}
			data, _, _ := unstructured.NestedMap(s.Object, "data")
			for _, v := range data {
				if b, err := decodeB64(v); err == nil {
					admitted[string(b)] = true
				}
			}
		}
	}
	cred = func(up upstreamRequest) error {
		if secretErr != nil {
			return secretErr
		}
		key, err := only(secret, render.KeyAPIKey)
		if err != nil {
			return err
		}
		if err := bearer(key)(up); err != nil {
			return err
		}
		// Tier Two's apiKeyAuth is Envoy's api_key_auth filter: it cuts a leading "Bearer " off the
		// header, then looks the rest up among the Secret's values (KeySources::Source::getKey,
		// source/extensions/filters/http/api_key_auth/api_key_auth.cc).
		if !admitted[strings.TrimPrefix(up.header("authorization"), "Bearer ")] {
			return fmt.Errorf("model cluster %s's Tier Two does not admit the key Tier One sends (its SecurityPolicy's Secrets hold %d other keys)", mc.Name, len(admitted))
		}
		return nil
	}
	extra = func(up upstreamRequest) error {
		model := up.header(modelHeader)
		var body map[string]any
		_ = json.Unmarshal(up.Body, &body)
		for _, route := range ofKind(objs, "HTTPRoute") {
			rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
			for _, rule := range rules {
				if dig(rule, "matches", 0, "headers", 0, "value") != model ||
					!strings.HasPrefix(up.Path, fmt.Sprint(dig(rule, "matches", 0, "path", "value"))) {
					continue
				}
				refs, _ := dig(rule, "backendRefs").([]any)
				for _, ref := range refs {
					isvc := find(objs, "InferenceService", strings.TrimSuffix(fmt.Sprint(dig(ref, "name")), "-predictor"))
					if isvc == nil {
						return fmt.Errorf("Tier Two routes %s to %v, which is no InferenceService's predictor", model, dig(ref, "name"))
					}
					if !bytes.Contains(mustJSON(isvc.Object), []byte(`"--model_name=`+fmt.Sprint(body["model"])+`"`)) {
						return fmt.Errorf("upstream model %q is not the name InferenceService %s serves", body["model"], isvc.GetName())
					}
				}
				return nil
			}
		}
		return fmt.Errorf("no Tier Two HTTPRoute of %s matches %s with %s: %q", mc.Name, up.Path, modelHeader, model)
	}
	return cred, extra
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// result is one case × column.
type result struct {
	Row, Backend, Model string
	Col                 column
	NA                  string
	Err                 error
}

// runCase sends the column's client request for the case and checks everything on the way.
func runCase(ctx context.Context, c extprocv3.ExternalProcessorClient, bc *backendCase, col column, requestID string) result {
	res := result{Row: bc.Row, Backend: bc.Backend, Model: bc.Model, Col: col}
	exp := expect(bc, col)
	if exp.NA != "" {
		res.NA = exp.NA
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := clientRequest{Path: string(col.Endpoint), Headers: clientHeaders(col), Body: clientBody(col, bc.Model)}
	var api *upstreamAPI
	reply := func(up upstreamRequest) (providerReply, error) {
		for i := range exp.Alts {
			if exp.Alts[i].Match(up.Path) {
				api = &exp.Alts[i]
				break
			}
		}
		if api == nil {
			var want []string
			for _, a := range exp.Alts {
				want = append(want, a.PathShape+" ("+a.Name+")")
			}
			return providerReply{}, fmt.Errorf("upstream path %s, want %s", up.Path, strings.Join(want, " or "))
		}
		if err := checkUpstream(bc, api, up); err != nil {
			return providerReply{}, &apiError{API: api.Name, Err: err}
		}
		return api.Reply(up), nil
	}
	ex, err := exchange(ctx, c, req, bc.Target, requestID, reply)
	switch {
	case err != nil:
		res.Err = err
	case ex.ModelHeader != bc.Model:
		res.Err = fmt.Errorf("the router phase set %s %q, want %q: the route would not match", modelHeader, ex.ModelHeader, bc.Model)
	case ex.LocalReply != nil:
		res.Err = fmt.Errorf("the gateway answered the client %d itself: %s", ex.LocalReply.Status, innermost(ex.LocalReply.Body))
	default:
		res.Err = checkAnswer(col, ex)
	}
	return res
}

// apiError is a check of the upstream request that failed, for the API the request went to.
type apiError struct {
	API string
	Err error
}

func (e *apiError) Error() string { return e.API + ": " + e.Err.Error() }
func (e *apiError) Unwrap() error { return e.Err }

func checkUpstream(bc *backendCase, api *upstreamAPI, up upstreamRequest) error {
	if up.Method != "POST" {
		return fmt.Errorf("upstream method %s, want POST", up.Method)
	}
	if api.CheckPath != nil {
		if err := api.CheckPath(up.Path); err != nil {
			return err
		}
	}
	if !slices.Contains(api.Hosts, up.Host) {
		return fmt.Errorf("upstream host %s (the rendered Backend), want %s", up.Host, strings.Join(api.Hosts, " or "))
	}
	if bc.Provider != nil && !bc.TLSVerified {
		return fmt.Errorf("no BackendTLSPolicy verifies %s", up.Host)
	}
	if err := api.Cred(up); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	var body map[string]any
	if err := json.Unmarshal(up.Body, &body); err != nil {
		return fmt.Errorf("upstream body is not JSON: %v", err)
	}
	if err := api.Body(body); err != nil {
		return err
	}
	if api.Extra != nil {
		return api.Extra(up)
	}
	return nil
}

// checkAnswer checks what the client gets back, in the client's API, and the token usage the gateway
// reports for rate limiting.
func checkAnswer(col column, ex *exchangeResult) error {
	if ex.ClientStatus != 200 {
		return fmt.Errorf("the client gets status %d: %s", ex.ClientStatus, compact(string(ex.ClientBody)))
	}
	if col.Stream && !strings.HasPrefix(ex.ClientHeaders["content-type"], "text/event-stream") {
		return fmt.Errorf("the client gets a stream as %q, want text/event-stream", ex.ClientHeaders["content-type"])
	}
	var err error
	in, out := inputTokens, outputTokens
	switch col.Endpoint {
	case epChat:
		err = checkOpenAIChat(ex.ClientBody, col.Stream)
	case epMessages:
		err = checkAnthropicMessage(ex.ClientBody, col.Stream)
	case epEmbeddings:
		in, out = embedTokens, 0
		err = checkOpenAIEmbeddings(ex.ClientBody)
	}
	if err != nil {
		return err
	}
	for k, want := range map[string]int{"llm_input_token": in, "llm_output_token": out, "llm_total_token": in + out} {
		got, ok := ex.Metadata[k].(float64)
		if !ok || int(got) != want {
			return fmt.Errorf("reported token usage %s=%v, want %d (the provider's usage)", k, ex.Metadata[k], want)
		}
	}
	return nil
}

func checkOpenAIChat(body []byte, stream bool) error {
	if !stream {
		var r map[string]any
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("the client's answer is not JSON: %s", compact(string(body)))
		}
		if r["object"] != "chat.completion" || dig(r, "choices", 0, "message", "role") != "assistant" ||
			dig(r, "choices", 0, "message", "content") != fullReplyText || dig(r, "choices", 0, "finish_reason") != "stop" {
			return fmt.Errorf("the client's answer is not the provider's as an OpenAI chat completion: %s", compact(r))
		}
		for k, want := range map[string]int{"prompt_tokens": inputTokens, "completion_tokens": outputTokens, "total_tokens": inputTokens + outputTokens} {
			if got, _ := dig(r, "usage", k).(float64); int(got) != want {
				return fmt.Errorf("the client's answer has usage.%s %v, want %d", k, dig(r, "usage", k), want)
			}
		}
		return nil
	}
	var text strings.Builder
	stopped, done := false, false
	for _, ev := range sseEvents(body) {
		data := ev["data"]
		if data == "[DONE]" {
			done = true
			continue
		}
		var chunk map[string]any
		if err := json.Unmarshal([]byte(data), &chunk); err != nil || chunk["object"] != "chat.completion.chunk" {
			return fmt.Errorf("the client's stream has a chunk that is no OpenAI chat.completion.chunk: %s", compact(data))
		}
		if s, ok := dig(chunk, "choices", 0, "delta", "content").(string); ok {
			text.WriteString(s)
		}
		if dig(chunk, "choices", 0, "finish_reason") == "stop" {
			stopped = true
		}
	}
	switch {
	case text.String() != fullReplyText:
		return fmt.Errorf("the client's stream says %q, want the provider's %q", text.String(), fullReplyText)
	case !stopped:
		return errors.New(`the client's stream has no finish_reason "stop"`)
	case !done:
		return errors.New("the client's stream does not end with data: [DONE]")
	}
	return nil
}

func checkAnthropicMessage(body []byte, stream bool) error {
	if !stream {
		var r map[string]any
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("the client's answer is not JSON: %s", compact(string(body)))
		}
		if r["type"] != "message" || r["role"] != "assistant" || dig(r, "content", 0, "text") != fullReplyText || r["stop_reason"] != "end_turn" {
			return fmt.Errorf("the client's answer is not the provider's as an Anthropic message: %s", compact(r))
		}
		if in, _ := dig(r, "usage", "input_tokens").(float64); int(in) != inputTokens {
			return fmt.Errorf("the client's answer has usage.input_tokens %v, want %d", dig(r, "usage", "input_tokens"), inputTokens)
		}
		if out, _ := dig(r, "usage", "output_tokens").(float64); int(out) != outputTokens {
			return fmt.Errorf("the client's answer has usage.output_tokens %v, want %d", dig(r, "usage", "output_tokens"), outputTokens)
		}
		return nil
	}
	var text strings.Builder
	stopped := false
	for _, ev := range sseEvents(body) {
		var data map[string]any
		if err := json.Unmarshal([]byte(ev["data"]), &data); err != nil {
			return fmt.Errorf("the client's stream has an event that is not JSON: %s", compact(ev["data"]))
		}
		switch data["type"] {
		case "content_block_delta":
			if s, ok := dig(data, "delta", "text").(string); ok {
				text.WriteString(s)
			}
		case "message_stop":
			stopped = true
		}
	}
	if text.String() != fullReplyText {
		return fmt.Errorf("the client's stream says %q, want the provider's %q", text.String(), fullReplyText)
	}
	if !stopped {
		return errors.New("the client's stream has no message_stop event")
	}
	return nil
}

func checkOpenAIEmbeddings(body []byte) error {
	var r map[string]any
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("the client's answer is not JSON: %s", compact(string(body)))
	}
	vec, _ := dig(r, "data", 0, "embedding").([]any)
	var got []float64
	for _, v := range vec {
		f, _ := v.(float64)
		got = append(got, f)
	}
	if r["object"] != "list" || !slices.Equal(got, replyVector) {
		return fmt.Errorf("the client's answer is not the provider's embedding as an OpenAI list: %s", compact(r))
	}
	if pt, _ := dig(r, "usage", "prompt_tokens").(float64); int(pt) != embedTokens {
		return fmt.Errorf("the client's answer has usage.prompt_tokens %v, want %d", dig(r, "usage", "prompt_tokens"), embedTokens)
	}
	return nil
}

// sseEvents splits a server-sent event stream into events (field -> value; data lines joined).
func sseEvents(b []byte) []map[string]string {
	var out []map[string]string
	norm := strings.ReplaceAll(string(b), "\r\n", "\n")
	for _, block := range strings.Split(norm, "\n\n") {
		ev := map[string]string{}
		for _, line := range strings.Split(block, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || k == "" {
				continue
			}
			v = strings.TrimPrefix(v, " ")
			if k == "data" && ev["data"] != "" {
				v = ev["data"] + "\n" + v
			}
			ev[k] = v
		}
		if _, ok := ev["data"]; ok {
			out = append(out, ev)
		}
	}
	return out
}

// reason is a failure as the table shows it: deterministic (no request-specific names) and short.
var perRouteName = regexp.MustCompile(`\S+/route/\S+/rule/\d+/ref/\d+`)

func reason(err error) string {
	s := perRouteName.ReplaceAllString(err.Error(), "<backend>")
	s, _, _ = strings.Cut(s, "\n")
	const limit = 220
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}
