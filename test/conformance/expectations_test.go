package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// What each provider's own API expects, written from the providers' documentation, not from the gateway:
// for each provider type and client endpoint, the upstream request a working gateway sends (host, path,
// credential, body schema, model) and the answer the provider gives back. Where a provider offers two
// ways in (Anthropic's native Messages API and its OpenAI-compatible API), both are listed and either
// passes. A provider without the API at all (embeddings at Anthropic) is "n/a", not a failure.

// endpoint is the API a client calls at Tier One.
type endpoint string

const (
	epChat       endpoint = "/v1/chat/completions"
	epEmbeddings endpoint = "/v1/embeddings"
	// epMessages is Anthropic's Messages API, served under Envoy AI Gateway's default "anthropic" prefix.
	epMessages endpoint = "/anthropic/v1/messages"
)

// column is one column of the table: an endpoint, plain or streamed.
type column struct {
	Endpoint endpoint
	Stream   bool
	// NoMaxTokens: the client leaves max_tokens out, as the OpenAI API allows and many clients do.
	NoMaxTokens bool
}

var columns = []column{
	{Endpoint: epChat}, {Endpoint: epChat, Stream: true}, {Endpoint: epChat, NoMaxTokens: true},
	{Endpoint: epEmbeddings}, {Endpoint: epMessages}, {Endpoint: epMessages, Stream: true},
}

func (c column) String() string {
	s := map[endpoint]string{epChat: "chat completions", epEmbeddings: "embeddings", epMessages: "Anthropic messages"}[c.Endpoint]
	if c.Stream {
		s += " (stream)"
	}
	if c.NoMaxTokens {
		s += ", no max_tokens"
	}
	return s
}

// knownUpstream are the failures that no object the operator can write avoids, by row and column: the
// test checks that they still fail exactly so (and fails once they do not), and the table says what a
// client must do instead.
var knownUpstream = map[string]map[string]struct{ fails, why string }{
	string(platformv1.ProviderGCPAnthropic): {
		"chat completions, no max_tokens": {
			fails: "upstream max_tokens 0",
			why: "internal/translator/anthropic_helper.go sends max_tokens 0 when the client sends none, and a body " +
				"mutation would overwrite the clients' own value: clients must send max_tokens to Claude on Vertex AI",
		},
	},
}

// wantMaxTokens says whether the upstream request must carry the client's max_tokens.
func (c column) wantMaxTokens() bool {
	return c.Endpoint == epMessages || (c.Endpoint == epChat && !c.NoMaxTokens)
}

// modelEndpoints says what each model of testdata/platform.yaml is asked: chat models are asked for chat
// completions, Claude models also through Anthropic's Messages API, embedding models for embeddings.
// Every model of the platform must be listed (a new model without a kind fails the test).
var modelEndpoints = map[string][]endpoint{
	"gpt-4o":                       {epChat},
	"gpt-4o-mini":                  {epChat},
	"claude-sonnet":                {epChat, epMessages},
	"claude-haiku":                 {epChat, epMessages},
	"us.amazon.nova-micro-v1:0":    {epChat},
	"gemini-2.5-flash":             {epChat},
	"command-a":                    {epChat},
	"llama-3.1-8b":                 {epChat},
	"mixtral-8x7b":                 {epChat},
	"qwen2.5-7b":                   {epChat},
	"text-embedding-3-small":       {epEmbeddings},
	"amazon.titan-embed-text-v2:0": {epEmbeddings},
	"text-embedding-005":           {epEmbeddings},
	"embed-v4.0":                   {epEmbeddings},
	"nomic-embed-text":             {epEmbeddings},
	"bge-small-en":                 {epEmbeddings},
}

// tierTwoRow is the table row of the Tier One -> Tier Two link.
const tierTwoRow = "Tier Two link (self-hosted model)"

// notOffered says, per row, the endpoints the provider has no API for, or that the platform does not
// exercise there, and why; the table shows them as such instead of as a result.
var notOffered = map[string]map[endpoint]string{
	string(platformv1.ProviderAnthropic):    {epEmbeddings: "Anthropic has no embeddings API"},
	string(platformv1.ProviderGCPAnthropic): {epEmbeddings: "Anthropic models have no embeddings"},
}

// notExercised is the cell of an endpoint no case covers in a row: Anthropic's Messages API is only
// asked of Claude models.
const notExercised = "—"

// The client requests, as OpenAI and Anthropic SDKs send them. The Messages API requires max_tokens, so
// Anthropic clients always send it; OpenAI clients may leave it out (the "no max_tokens" column).
const (
	systemPrompt   = "You are terse."
	userPrompt     = "Say hello."
	embeddingInput = "The quick brown fox."
	maxTokens      = 64
)

func clientBody(col column, model string) []byte {
	msgs := []map[string]any{{"role": "system", "content": systemPrompt}, {"role": "user", "content": userPrompt}}
	var b map[string]any
	switch col.Endpoint {
	case epChat:
		b = map[string]any{"model": model, "messages": msgs, "temperature": 0.2}
		if col.Stream {
			b["stream"] = true
		}
		if !col.NoMaxTokens {
			b["max_tokens"] = maxTokens
		}
	case epEmbeddings:
		b = map[string]any{"model": model, "input": embeddingInput}
	case epMessages:
		b = map[string]any{"model": model, "max_tokens": maxTokens, "system": systemPrompt,
			"messages": []map[string]any{{"role": "user", "content": userPrompt}}}
		if col.Stream {
			b["stream"] = true
		}
	}
	out, _ := json.Marshal(b)
	return out
}

func clientHeaders(col column) map[string]string {
	if col.Endpoint == epMessages {
		return map[string]string{"anthropic-version": "2023-06-01"}
	}
	return nil
}

// The answer every fake provider gives, in its own format, and what the client must get back.
var (
	replyText     = []string{"Hello! ", "I am conformance."}
	replyVector   = []float64{0.125, -0.25, 0.5}
	inputTokens   = 13
	outputTokens  = 8
	embedTokens   = 5
	fullReplyText = strings.Join(replyText, "")
	// An Azure OpenAI data-plane API version; a GA one has no -preview suffix.
	azureVersion   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)
	gaAzureVersion = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// upstreamAPI is one way a provider accepts the request.
type upstreamAPI struct {
	Name string
	// PathShape shows the expected path in messages.
	PathShape string
	// Match says whether the upstream path is this API's; CheckPath then checks the rest of it.
	Match     func(path string) bool
	CheckPath func(path string) error
	Hosts     []string // host:port, any of
	Cred      func(up upstreamRequest) error
	Body      func(b map[string]any) error
	Extra     func(up upstreamRequest) error
	Reply     func(up upstreamRequest) providerReply
}

// expectation is what a case must produce: one of Alts, or nothing because the provider has no such
// API (NA).
type expectation struct {
	NA   string
	Alts []upstreamAPI
}

// backendCase is one model × one of its backends.
type backendCase struct {
	Row           string // provider type, or tierTwoRow
	Backend       string // provider name, or "cluster:<name>"
	Model         string // what the client asks for
	UpstreamModel string // what the provider must be asked for (the route's model override)
	Provider      *platformv1.ProviderSpec
	Target        target
	Cred          func(up upstreamRequest) error // the credential the provider must get
	TLSVerified   bool                           // a BackendTLSPolicy verifies the Backend's host name
	LinkHosts     []string                       // Tier Two: where the spec says the cluster's gateway is
	Extra         func(up upstreamRequest) error // link-specific checks (Tier Two routing)
}

// expect is the expectation of a case for a column.
func expect(bc *backendCase, col column) expectation {
	m := bc.UpstreamModel
	if bc.Provider == nil { // the Tier One -> Tier Two link: vLLM's OpenAI-compatible server behind Tier Two
		hosts := bc.LinkHosts
		switch col.Endpoint {
		case epChat:
			a := openAIChat("Tier Two (vLLM OpenAI API) chat completions", hosts, "/v1", m, true, col, bc.Cred)
			a.Extra = bc.Extra
			return expectation{Alts: []upstreamAPI{a}}
		case epEmbeddings:
			a := openAIEmbeddings("Tier Two (vLLM OpenAI API) embeddings", hosts, "/v1", m, true, bc.Cred)
			a.Extra = bc.Extra
			return expectation{Alts: []upstreamAPI{a}}
		}
		return expectation{NA: notExercised}
	}
	pr := bc.Provider
	if na := notOffered[string(pr.Type)][col.Endpoint]; na != "" {
		return expectation{NA: na}
	}
	hosts := expectedHosts(pr)
	switch pr.Type {
	case platformv1.ProviderOpenAI:
		switch col.Endpoint {
		case epChat:
			return expectation{Alts: []upstreamAPI{openAIChat("OpenAI chat completions", hosts, "/v1", m, true, col, bc.Cred)}}
		case epEmbeddings:
			return expectation{Alts: []upstreamAPI{openAIEmbeddings("OpenAI embeddings", hosts, "/v1", m, true, bc.Cred)}}
		}
	case platformv1.ProviderOpenAICompatible:
		prefix := pr.PathPrefix
		if prefix == "" {
			prefix = "/v1"
		}
		switch col.Endpoint {
		case epChat:
			return expectation{Alts: []upstreamAPI{openAIChat("OpenAI-compatible chat completions", hosts, prefix, m, true, col, bc.Cred)}}
		case epEmbeddings:
			return expectation{Alts: []upstreamAPI{openAIEmbeddings("OpenAI-compatible embeddings", hosts, prefix, m, true, bc.Cred)}}
		}
	case platformv1.ProviderAzureOpenAI:
		switch col.Endpoint {
		case epChat:
			a := openAIChat("Azure OpenAI chat completions", hosts, "", m, false, col, bc.Cred)
			azurePath(&a, m, "chat/completions", pr.APIVersion)
			return expectation{Alts: []upstreamAPI{a}}
		case epEmbeddings:
			a := openAIEmbeddings("Azure OpenAI embeddings", hosts, "", m, false, bc.Cred)
			azurePath(&a, m, "embeddings", pr.APIVersion)
			return expectation{Alts: []upstreamAPI{a}}
		}
	case platformv1.ProviderAnthropic:
		// Anthropic's OpenAI SDK compatibility (https://docs.anthropic.com/en/api/openai-sdk): base URL
		// https://api.anthropic.com/v1/, the API key as a bearer token (or x-api-key).
		compat := openAIChat("Anthropic OpenAI-compatible chat completions", hosts, "/v1", m, true, col, anyOf(bc.Cred, bearerFrom(bc.Cred)))
		switch col.Endpoint {
		case epChat:
			return expectation{Alts: []upstreamAPI{compat}}
		case epMessages:
			return expectation{Alts: []upstreamAPI{anthropicMessages(hosts, m, col, bc.Cred), compat}}
		}
	case platformv1.ProviderCohere:
		// Cohere's Compatibility API (https://docs.cohere.com/docs/compatibility-api): OpenAI's chat
		// completions and embeddings under /compatibility/v1, the API key as a bearer token.
		switch col.Endpoint {
		case epChat:
			return expectation{Alts: []upstreamAPI{openAIChat("Cohere Compatibility API chat completions", hosts, "/compatibility/v1", m, true, col, bc.Cred)}}
		case epEmbeddings:
			return expectation{Alts: []upstreamAPI{openAIEmbeddings("Cohere Compatibility API embeddings", hosts, "/compatibility/v1", m, true, bc.Cred)}}
		}
	case platformv1.ProviderAWSBedrock:
		switch col.Endpoint {
		case epChat, epMessages:
			return expectation{Alts: []upstreamAPI{bedrockConverse(hosts, m, col, bc.Cred)}}
		case epEmbeddings:
			return expectation{Alts: []upstreamAPI{bedrockTitanEmbeddings(hosts, m, bc.Cred)}}
		}
	case platformv1.ProviderGCPVertexAI:
		switch col.Endpoint {
		case epChat:
			return expectation{Alts: []upstreamAPI{vertexGemini(hosts, pr.GCP, m, col, bc.Cred)}}
		case epEmbeddings:
			return expectation{Alts: []upstreamAPI{vertexEmbeddings(hosts, pr.GCP, m, bc.Cred)}}
		}
	case platformv1.ProviderGCPAnthropic:
		switch col.Endpoint {
		case epChat, epMessages:
			version := pr.APIVersion
			if version == "" {
				version = "vertex-2023-10-16" // the only version Vertex AI's Anthropic models accept
			}
			return expectation{Alts: []upstreamAPI{vertexAnthropic(hosts, pr.GCP, m, version, col, bc.Cred)}}
		}
	}
	return expectation{NA: notExercised}
}

// expectedHosts is where the provider's API is (host:port), from its documentation.
func expectedHosts(pr *platformv1.ProviderSpec) []string {
	port := pr.Port
	if port == 0 {
		port = 443
	}
	hp := func(h string) string { return fmt.Sprintf("%s:%d", h, port) }
	if pr.Hostname != "" {
		return []string{hp(pr.Hostname)}
	}
	switch pr.Type {
	case platformv1.ProviderOpenAI:
		return []string{hp("api.openai.com")}
	case platformv1.ProviderAnthropic:
		return []string{hp("api.anthropic.com")}
	case platformv1.ProviderCohere:
		// api.cohere.ai is the host of Cohere's documented Compatibility API base URL; api.cohere.com serves
		// the same API.
		return []string{hp("api.cohere.com"), hp("api.cohere.ai")}
	case platformv1.ProviderAWSBedrock:
		return []string{hp("bedrock-runtime." + pr.AWS.Region + ".amazonaws.com")}
	case platformv1.ProviderGCPVertexAI, platformv1.ProviderGCPAnthropic:
		// Vertex AI's global endpoint has no region in its host name
		// (https://cloud.google.com/vertex-ai/generative-ai/docs/learn/locations#global-endpoint).
		if pr.GCP.Region == "global" {
			return []string{hp("aiplatform.googleapis.com")}
		}
		return []string{hp(pr.GCP.Region + "-aiplatform.googleapis.com")}
	}
	return nil
}

func exactPath(a *upstreamAPI, p string) {
	a.PathShape = p
	a.Match = func(got string) bool { return got == p }
}

// decodedPath matches a path that decodes to p: Bedrock's model IDs hold ':' (and ARNs '/'), which a
// client may send percent-encoded or not.
func decodedPath(a *upstreamAPI, p string) {
	a.PathShape = p
	a.Match = func(got string) bool {
		d, err := url.PathUnescape(got)
		return err == nil && d == p
	}
}

// azurePath: /openai/deployments/<deployment>/<op>?api-version=<version>; the version is required by
// Azure OpenAI (https://learn.microsoft.com/azure/ai-services/openai/reference).
func azurePath(a *upstreamAPI, deployment, op, version string) {
	base := "/openai/deployments/" + deployment + "/" + op
	want := version
	if want == "" {
		want = "<a GA version>"
	}
	a.PathShape = base + "?api-version=" + want
	a.Match = func(got string) bool { p, _, _ := strings.Cut(got, "?"); return p == base }
	a.CheckPath = func(got string) error {
		_, q, _ := strings.Cut(got, "?")
		vals, err := url.ParseQuery(q)
		if err != nil {
			return fmt.Errorf("upstream query %q: %v", q, err)
		}
		v := vals.Get("api-version")
		switch {
		case v == "":
			return fmt.Errorf("upstream path %s has an empty api-version: Azure OpenAI answers 404 without one", got)
		case version != "" && v != version:
			return fmt.Errorf("upstream api-version %q, want the provider's apiVersion %q", v, version)
		case !azureVersion.MatchString(v):
			return fmt.Errorf("upstream api-version %q is not an Azure OpenAI API version", v)
		case version == "" && !gaAzureVersion.MatchString(v):
			return fmt.Errorf("upstream api-version %q: without an apiVersion in the spec, the default must be a GA version", v)
		}
		return nil
	}
}

// openAIChat is OpenAI's chat completions API under prefix. modelInBody is false for Azure OpenAI, which
// takes the deployment from the path and ignores the body's model.
func openAIChat(name string, hosts []string, prefix, model string, modelInBody bool, col column, cred func(upstreamRequest) error) upstreamAPI {
	a := upstreamAPI{Name: name, Hosts: hosts, Cred: cred}
	exactPath(&a, path.Join("/", prefix, "chat/completions"))
	a.Body = func(b map[string]any) error {
		if err := wantString(b, "model", model); err != nil && modelInBody {
			return err
		}
		if err := wantOpenAIMessages(b); err != nil {
			return err
		}
		if err := wantStream(b, col.Stream); err != nil {
			return err
		}
		if col.wantMaxTokens() {
			mt, ok := number(b, "max_tokens")
			if !ok {
				mt, ok = number(b, "max_completion_tokens")
			}
			if !ok || mt != maxTokens {
				return fmt.Errorf("upstream max_tokens %v, want the client's %d", b["max_tokens"], maxTokens)
			}
		}
		return nil
	}
	a.Reply = func(up upstreamRequest) providerReply { return openAIChatReply(up, model) }
	return a
}

func openAIEmbeddings(name string, hosts []string, prefix, model string, modelInBody bool, cred func(upstreamRequest) error) upstreamAPI {
	a := upstreamAPI{Name: name, Hosts: hosts, Cred: cred}
	exactPath(&a, path.Join("/", prefix, "embeddings"))
	a.Body = func(b map[string]any) error {
		if err := wantString(b, "model", model); err != nil && modelInBody {
			return err
		}
		return wantString(b, "input", embeddingInput)
	}
	a.Reply = func(upstreamRequest) providerReply {
		return jsonReply(map[string]any{"object": "list", "model": model,
			"data":  []any{map[string]any{"object": "embedding", "index": 0, "embedding": replyVector}},
			"usage": map[string]any{"prompt_tokens": embedTokens, "total_tokens": embedTokens}})
	}
	return a
}

// anthropicMessages is Anthropic's native Messages API (https://docs.anthropic.com/en/api/messages): the
// key in x-api-key.
func anthropicMessages(hosts []string, model string, col column, cred func(upstreamRequest) error) upstreamAPI {
	a := upstreamAPI{Name: "Anthropic Messages API", Hosts: hosts, Cred: cred}
	exactPath(&a, "/v1/messages")
	a.Body = func(b map[string]any) error {
		if err := wantString(b, "model", model); err != nil {
			return err
		}
		return wantAnthropicBody(b, col)
	}
	a.Extra = func(up upstreamRequest) error {
		if up.header("anthropic-version") == "" {
			return errors.New("no anthropic-version header: the Messages API requires it")
		}
		return nil
	}
	a.Reply = func(up upstreamRequest) providerReply { return anthropicReply(up, model) }
	return a
}

// bedrockConverse is Bedrock's Converse API
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html), SigV4-signed.
func bedrockConverse(hosts []string, model string, col column, cred func(upstreamRequest) error) upstreamAPI {
	op := "converse"
	if col.Stream {
		op = "converse-stream"
	}
	a := upstreamAPI{Name: "Bedrock Converse API", Hosts: hosts, Cred: cred}
	decodedPath(&a, "/model/"+model+"/"+op)
	a.Body = func(b map[string]any) error {
		msgs, _ := b["messages"].([]any)
		if len(msgs) != 1 || dig(msgs[0], "role") != "user" || dig(msgs[0], "content", 0, "text") != userPrompt {
			return fmt.Errorf("upstream messages %s, want the user's message as Converse content blocks", compact(b["messages"]))
		}
		if dig(b, "system", 0, "text") != systemPrompt {
			return fmt.Errorf("upstream system %s, want the system prompt as a Converse system block", compact(b["system"]))
		}
		if col.wantMaxTokens() {
			if mt, _ := dig(b, "inferenceConfig", "maxTokens").(float64); mt != maxTokens {
				return fmt.Errorf("upstream inferenceConfig.maxTokens %v, want the client's %d", dig(b, "inferenceConfig", "maxTokens"), maxTokens)
			}
		}
		return nil
	}
	a.Reply = func(upstreamRequest) providerReply {
		usage := map[string]any{"inputTokens": inputTokens, "outputTokens": outputTokens, "totalTokens": inputTokens + outputTokens}
		if !col.Stream {
			return jsonReply(map[string]any{"output": map[string]any{"message": map[string]any{"role": "assistant",
				"content": []any{map[string]any{"text": fullReplyText}}}},
				"stopReason": "end_turn", "usage": usage, "metrics": map[string]any{"latencyMs": 120}})
		}
		r := providerReply{Status: 200, ContentType: "application/vnd.amazon.eventstream"}
		add := func(ev string, payload map[string]any) {
			b, _ := json.Marshal(payload)
			r.Chunks = append(r.Chunks, awsEventStreamFrame(ev, b))
		}
		add("messageStart", map[string]any{"role": "assistant"})
		for _, t := range replyText {
			add("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": t}})
		}
		add("contentBlockStop", map[string]any{"contentBlockIndex": 0})
		add("messageStop", map[string]any{"stopReason": "end_turn"})
		add("metadata", map[string]any{"usage": usage, "metrics": map[string]any{"latencyMs": 120}})
		return r
	}
	return a
}

// bedrockTitanEmbeddings is InvokeModel with Amazon Titan Text Embeddings' body.
func bedrockTitanEmbeddings(hosts []string, model string, cred func(upstreamRequest) error) upstreamAPI {
	a := upstreamAPI{Name: "Bedrock InvokeModel (Titan embeddings)", Hosts: hosts, Cred: cred}
	decodedPath(&a, "/model/"+model+"/invoke")
	a.Body = func(b map[string]any) error { return wantString(b, "inputText", embeddingInput) }
	a.Reply = func(upstreamRequest) providerReply {
		return jsonReply(map[string]any{"embedding": replyVector, "inputTextTokenCount": embedTokens})
	}
	return a
}

func vertexModelPath(gcp *platformv1.GCPProviderSpec, publisher, model, method string) string {
	return fmt.Sprintf("/v1/projects/%s/locations/%s/publishers/%s/models/%s:%s", gcp.ProjectName, gcp.Region, publisher, model, method)
}

// vertexGemini is Vertex AI's generateContent (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference).
func vertexGemini(hosts []string, gcp *platformv1.GCPProviderSpec, model string, col column, cred func(upstreamRequest) error) upstreamAPI {
	p := vertexModelPath(gcp, "google", model, "generateContent")
	if col.Stream {
		p = vertexModelPath(gcp, "google", model, "streamGenerateContent") + "?alt=sse"
	}
	a := upstreamAPI{Name: "Vertex AI generateContent", Hosts: hosts, Cred: cred}
	exactPath(&a, p)
	a.Body = func(b map[string]any) error {
		if dig(b, "contents", 0, "role") != "user" || dig(b, "contents", 0, "parts", 0, "text") != userPrompt {
			return fmt.Errorf("upstream contents %s, want the user's message", compact(b["contents"]))
		}
		if dig(b, "systemInstruction", "parts", 0, "text") != systemPrompt {
			return fmt.Errorf("upstream systemInstruction %s, want the system prompt", compact(b["systemInstruction"]))
		}
		if col.wantMaxTokens() {
			if mt, _ := dig(b, "generationConfig", "maxOutputTokens").(float64); mt != maxTokens {
				return fmt.Errorf("upstream generationConfig.maxOutputTokens %v, want the client's %d", dig(b, "generationConfig", "maxOutputTokens"), maxTokens)
			}
		}
		return nil
	}
	a.Reply = func(upstreamRequest) providerReply {
		usage := map[string]any{"promptTokenCount": inputTokens, "candidatesTokenCount": outputTokens, "totalTokenCount": inputTokens + outputTokens}
		if !col.Stream {
			return jsonReply(map[string]any{"modelVersion": model, "usageMetadata": usage,
				"candidates": []any{map[string]any{"index": 0, "finishReason": "STOP",
					"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": fullReplyText}}}}}})
		}
		r := providerReply{Status: 200, ContentType: "text/event-stream"}
		for i, t := range replyText {
			cand := map[string]any{"index": 0, "content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": t}}}}
			ev := map[string]any{"modelVersion": model, "candidates": []any{cand}}
			if i == len(replyText)-1 {
				cand["finishReason"] = "STOP"
				ev["usageMetadata"] = usage
			}
			b, _ := json.Marshal(ev)
			r.Chunks = append(r.Chunks, []byte("data: "+string(b)+"\r\n\r\n"))
		}
		return r
	}
	return a
}

// vertexEmbeddings is Vertex AI's text embeddings predict
// (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api).
func vertexEmbeddings(hosts []string, gcp *platformv1.GCPProviderSpec, model string, cred func(upstreamRequest) error) upstreamAPI {
	a := upstreamAPI{Name: "Vertex AI predict (text embeddings)", Hosts: hosts, Cred: cred}
	exactPath(&a, vertexModelPath(gcp, "google", model, "predict"))
	a.Body = func(b map[string]any) error {
		if dig(b, "instances", 0, "content") != embeddingInput {
			return fmt.Errorf("upstream instances %s, want the input as instances[0].content", compact(b["instances"]))
		}
		return nil
	}
	a.Reply = func(upstreamRequest) providerReply {
		return jsonReply(map[string]any{"predictions": []any{map[string]any{"embeddings": map[string]any{
			"values": replyVector, "statistics": map[string]any{"token_count": embedTokens, "truncated": false}}}}})
	}
	return a
}

// vertexAnthropic is Claude on Vertex AI (https://docs.anthropic.com/en/api/claude-on-vertex-ai): the
// Messages body with anthropic_version instead of model, at :rawPredict / :streamRawPredict.
func vertexAnthropic(hosts []string, gcp *platformv1.GCPProviderSpec, model, version string, col column, cred func(upstreamRequest) error) upstreamAPI {
	method := "rawPredict"
	if col.Stream {
		method = "streamRawPredict"
	}
	a := upstreamAPI{Name: "Vertex AI Anthropic rawPredict", Hosts: hosts, Cred: cred}
	exactPath(&a, vertexModelPath(gcp, "anthropic", model, method))
	a.Body = func(b map[string]any) error {
		if err := wantString(b, "anthropic_version", version); err != nil {
			return err
		}
		return wantAnthropicBody(b, col)
	}
	a.Reply = func(up upstreamRequest) providerReply { return anthropicReply(up, model) }
	return a
}

// wantAnthropicBody checks a Messages API body: the system prompt, the user's message, max_tokens (which
// Anthropic requires, at least 1) and the stream flag.
func wantAnthropicBody(b map[string]any, col column) error {
	if sys := b["system"]; sys != systemPrompt && dig(sys, 0, "text") != systemPrompt {
		return fmt.Errorf("upstream system %s, want the system prompt", compact(sys))
	}
	msgs, _ := b["messages"].([]any)
	if len(msgs) != 1 || dig(msgs[0], "role") != "user" ||
		(dig(msgs[0], "content") != userPrompt && dig(msgs[0], "content", 0, "text") != userPrompt) {
		return fmt.Errorf("upstream messages %s, want the user's message", compact(b["messages"]))
	}
	mt, _ := number(b, "max_tokens")
	switch {
	case col.wantMaxTokens():
		if mt != maxTokens {
			return fmt.Errorf("upstream max_tokens %v, want the client's %d", b["max_tokens"], maxTokens)
		}
	case mt < 1:
		return fmt.Errorf("upstream max_tokens %v: the client sent none and Anthropic refuses a request without max_tokens >= 1", b["max_tokens"])
	}
	return wantStream(b, col.Stream)
}

func wantOpenAIMessages(b map[string]any) error {
	msgs, _ := b["messages"].([]any)
	if len(msgs) != 2 || dig(msgs[0], "role") != "system" || dig(msgs[0], "content") != systemPrompt ||
		dig(msgs[1], "role") != "user" || dig(msgs[1], "content") != userPrompt {
		return fmt.Errorf("upstream messages %s, want the client's", compact(b["messages"]))
	}
	return nil
}

func wantStream(b map[string]any, stream bool) error {
	if got, _ := b["stream"].(bool); got != stream {
		return fmt.Errorf("upstream stream=%v, want %v", got, stream)
	}
	return nil
}

func wantString(b map[string]any, key, want string) error {
	if got, _ := b[key].(string); got != want {
		return fmt.Errorf("upstream %s %q, want %q", key, got, want)
	}
	return nil
}

func number(b map[string]any, key string) (float64, bool) {
	f, ok := b[key].(float64)
	return f, ok
}

// dig walks JSON (maps by key, slices by index); nil when absent.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func jsonReply(v any) providerReply {
	b, _ := json.Marshal(v)
	return providerReply{Status: 200, ContentType: "application/json", Chunks: [][]byte{b}}
}

// openAIChatReply answers as OpenAI does; a stream reports usage only when the request asked for it
// (stream_options.include_usage), as OpenAI does.
func openAIChatReply(up upstreamRequest, model string) providerReply {
	var req map[string]any
	_ = json.Unmarshal(up.Body, &req)
	usage := map[string]any{"prompt_tokens": inputTokens, "completion_tokens": outputTokens, "total_tokens": inputTokens + outputTokens}
	base := map[string]any{"id": "chatcmpl-conformance", "created": 1750000000, "model": model}
	if stream, _ := req["stream"].(bool); !stream {
		b := clone(base)
		b["object"] = "chat.completion"
		b["choices"] = []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": fullReplyText}}}
		b["usage"] = usage
		return jsonReply(b)
	}
	r := providerReply{Status: 200, ContentType: "text/event-stream"}
	add := func(choices []any, extra map[string]any) {
		c := clone(base)
		c["object"] = "chat.completion.chunk"
		c["choices"] = choices
		for k, v := range extra {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		r.Chunks = append(r.Chunks, []byte("data: "+string(b)+"\n\n"))
	}
	add([]any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": ""}, "finish_reason": nil}}, nil)
	for _, t := range replyText {
		add([]any{map[string]any{"index": 0, "delta": map[string]any{"content": t}, "finish_reason": nil}}, nil)
	}
	add([]any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}}, nil)
	if dig(req, "stream_options", "include_usage") == true {
		add([]any{}, map[string]any{"usage": usage})
	}
	r.Chunks = append(r.Chunks, []byte("data: [DONE]\n\n"))
	return r
}

// anthropicReply answers as the Messages API does, streaming its server-sent events when asked.
func anthropicReply(up upstreamRequest, model string) providerReply {
	var req map[string]any
	_ = json.Unmarshal(up.Body, &req)
	if stream, _ := req["stream"].(bool); !stream {
		return jsonReply(map[string]any{"id": "msg_conformance", "type": "message", "role": "assistant", "model": model,
			"content": []any{map[string]any{"type": "text", "text": fullReplyText}}, "stop_reason": "end_turn", "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": inputTokens, "output_tokens": outputTokens}})
	}
	r := providerReply{Status: 200, ContentType: "text/event-stream"}
	add := func(ev string, data map[string]any) {
		data["type"] = ev
		b, _ := json.Marshal(data)
		r.Chunks = append(r.Chunks, []byte("event: "+ev+"\ndata: "+string(b)+"\n\n"))
	}
	add("message_start", map[string]any{"message": map[string]any{"id": "msg_conformance", "type": "message", "role": "assistant",
		"model": model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": inputTokens, "output_tokens": 1}}})
	add("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	add("ping", map[string]any{})
	for _, t := range replyText {
		add("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": t}})
	}
	add("content_block_stop", map[string]any{"index": 0})
	add("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": outputTokens}})
	add("message_stop", map[string]any{})
	return r
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Credential checks. Values are never printed: a mismatch names the header and, at most, fingerprints.

func bearer(key string) func(upstreamRequest) error { return headerIs("authorization", "Bearer "+key) }

func headerIs(name, want string) func(upstreamRequest) error {
	return func(up upstreamRequest) error {
		got := up.header(name)
		switch {
		case got == "":
			return fmt.Errorf("no %s header", name)
		case got != want:
			return fmt.Errorf("%s header does not carry the managed Secret's credential (fingerprint %s, want %s)", name, fingerprint(got), fingerprint(want))
		}
		return nil
	}
}

// noCredential: a provider without credentials gets none of the gateway's.
func noCredential(up upstreamRequest) error {
	for _, h := range []string{"authorization", "api-key", "x-api-key"} {
		if up.header(h) != "" {
			return fmt.Errorf("a %s header, but the provider has no credentials", h)
		}
	}
	return nil
}

// anyOf passes when one of the checks does.
func anyOf(checks ...func(upstreamRequest) error) func(upstreamRequest) error {
	return func(up upstreamRequest) error {
		var errs []string
		for _, c := range checks {
			if c == nil {
				continue
			}
			err := c(up)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return errors.New(strings.Join(errs, "; or "))
	}
}

// bearerFrom turns an x-api-key check into the same key as a bearer token (Anthropic's OpenAI-compatible
// API accepts both).
func bearerFrom(xAPIKey func(upstreamRequest) error) func(upstreamRequest) error {
	return func(up upstreamRequest) error {
		a := up.header("authorization")
		if !strings.HasPrefix(a, "Bearer ") {
			return errors.New("no Authorization: Bearer header")
		}
		probe := upstreamRequest{Headers: map[string]string{"x-api-key": strings.TrimPrefix(a, "Bearer ")}}
		return xAPIKey(probe)
	}
}
