package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// Envoy, as far as Envoy AI Gateway's external processor sees it. Envoy AI Gateway configures two ext_proc
// filters on the Tier One proxy (internal/extensionserver/post_translate_modify.go):
//   - the router-level filter: request headers, then the buffered body; it answers with the model header
//     Envoy then re-matches the route on (clear_route_cache), and it also handles the response (headers,
//     then the body, buffered or, when the processor overrides the mode, streamed);
//   - the upstream filter, run once the route picked a backend: request headers only, with the
//     attributes that name the backend; it answers CONTINUE_AND_REPLACE with the upstream path,
//     credentials and translated body. The router stream stays open meanwhile: the processor keeps the
//     request's state there (internal/extproc/server.go).
// exchange drives both streams exactly in that order for one client request.

// Attribute paths of the upstream filter (internal/internalapi/internalapi.go).
const (
	attrBackendName  = "xds.upstream_host_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']"
	attrUpstreamHost = "xds.upstream_host_metadata.filter_metadata['aigateway.envoy.io']['upstream_host']"
	attrRouteName    = "xds.route_metadata.filter_metadata['aigateway.envoy.io']['aigw_route_name']"
	// aigwMetadataNamespace is where the processor reports token usage (llmRequestCosts).
	aigwMetadataNamespace = "io.envoy.ai_gateway"
	// modelHeader is the header the router phase sets from the body's model, for route matching.
	modelHeader = "x-ai-eg-model"
)

// clientRequest is what a client sends to Tier One.
type clientRequest struct {
	Path    string
	Headers map[string]string
	Body    []byte
}

// upstreamRequest is what Envoy would send to the backend: the request after the processor's mutations.
type upstreamRequest struct {
	Method, Host, Path string
	Headers            map[string]string // lower-case names, pseudo-headers excluded
	Body               []byte
}

func (u upstreamRequest) header(name string) string { return u.Headers[strings.ToLower(name)] }

// providerReply is the backend's answer: one chunk, or the chunks of a stream as they arrive.
type providerReply struct {
	Status      int
	ContentType string
	Chunks      [][]byte
}

// target is the backend the route picked, as Envoy's xDS metadata names it.
type target struct {
	BackendName  string // <namespace>/<AIServiceBackend>/route/<AIGatewayRoute>/rule/<i>/ref/<j>
	RouteName    string // <namespace>/<AIGatewayRoute>
	UpstreamHost string // the Backend's host name
	Authority    string // host:port Envoy connects to
}

// exchangeResult is everything the client and the backend would have seen.
type exchangeResult struct {
	ModelHeader string // the router phase's x-ai-eg-model
	Upstream    *upstreamRequest
	// LocalReply is set when the processor answered the client itself (ImmediateResponse).
	LocalReply *localReply
	// FilterReply is set when a filter after the router phase answered instead of the backend (see gate).
	FilterReply    *providerReply
	ClientStatus   int
	ClientHeaders  map[string]string
	ClientBody     []byte
	StreamedToUser bool           // the processor switched the response body to streamed mode
	Metadata       map[string]any // the io.envoy.ai_gateway dynamic metadata, merged over the exchange
}

type localReply struct {
	Status int
	Body   string
}

// errExtProc wraps the processor's gRPC error: Envoy (failure_mode_allow false) answers the client 500.
type errExtProc struct {
	phase string
	err   error
}

func (e *errExtProc) Error() string {
	return fmt.Sprintf("the external processor failed the %s (Envoy answers 500): %s", e.phase, e.cause())
}

// cause is the processor's own message, without gRPC's wrapping.
func (e *errExtProc) cause() string {
	msg := e.err.Error()
	if s, ok := status.FromError(e.err); ok {
		msg = s.Message()
	}
	return innermost(msg)
}

// innermost is the last "desc = " part of nested gRPC messages: the cause, without the wrapping.
func innermost(msg string) string {
	if i := strings.LastIndex(msg, "desc = "); i >= 0 {
		return msg[i+len("desc = "):]
	}
	return msg
}

type processStream = extprocv3.ExternalProcessor_ProcessClient

// exchange sends one client request through the processor and the backend's reply back.
func exchange(ctx context.Context, c extprocv3.ExternalProcessorClient, req clientRequest, tgt target, requestID string,
	reply func(upstreamRequest) (providerReply, error),
) (*exchangeResult, error) {
	pass := func(map[string]string) (target, *providerReply, error) { return tgt, nil, nil }
	return exchangeThrough(ctx, c, req, requestID, pass, reply)
}

// gate is what Envoy does between the router-level processor and the upstream filter: it re-matches the
// route on the headers the router phase left (it may change them, as filters do) and runs the filters
// after the processor. It returns the backend the route picked, or the reply a filter answered the client
// with instead; that reply then goes back through the router-level processor as a response.
type gate func(headers map[string]string) (target, *providerReply, error)

// exchangeThrough is exchange with the filters between the router phase and the upstream filter.
func exchangeThrough(ctx context.Context, c extprocv3.ExternalProcessorClient, req clientRequest, requestID string,
	through gate, reply func(upstreamRequest) (providerReply, error),
) (*exchangeResult, error) {
	res := &exchangeResult{Metadata: map[string]any{}}
	headers := map[string]string{
		":method": "POST", ":path": req.Path, ":scheme": "http", ":authority": gatewayHostname,
		"content-type": "application/json", "x-request-id": requestID, "user-agent": "genai-conformance/1.0",
		"content-length": strconv.Itoa(len(req.Body)),
	}
	for k, v := range req.Headers {
		headers[strings.ToLower(k)] = v
	}

	// The router-level filter: request headers, then the buffered body.
	router, err := c.Process(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = router.CloseSend() }()
	resp, err := roundTrip(router, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(headers)},
	}})
	if err != nil {
		return nil, &errExtProc{"request headers", err}
	}
	if lr := res.local(resp); lr {
		return res, nil
	}
	if err := applyCommon(resp.GetRequestHeaders().GetResponse(), headers, nil); err != nil {
		return nil, err
	}
	body := req.Body
	resp, err = roundTrip(router, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: req.Body, EndOfStream: true},
	}})
	if err != nil {
		return nil, &errExtProc{"request body", err}
	}
	if lr := res.local(resp); lr {
		return res, nil
	}
	if resp.GetRequestBody() == nil {
		return nil, fmt.Errorf("the processor answered %T to the request body", resp.GetResponse())
	}
	if err := applyCommon(resp.GetRequestBody().GetResponse(), headers, &body); err != nil {
		return nil, err
	}
	res.ModelHeader = headers[modelHeader]

	// Envoy re-matches the route on the new headers, runs the filters after the processor and picks the
	// backend; then the upstream filter runs.
	tgt, filterReply, err := through(headers)
	if err != nil {
		return res, err
	}
	if filterReply != nil {
		res.FilterReply = filterReply
		return res, respond(router, res, *filterReply)
	}
	upstream, err := c.Process(ctx)
	if err != nil {
		return nil, err
	}
	attrs, err := structpb.NewStruct(map[string]any{
		attrBackendName: tgt.BackendName, attrUpstreamHost: tgt.UpstreamHost, attrRouteName: tgt.RouteName,
	})
	if err != nil {
		return nil, err
	}
	upHeaders := map[string]string{}
	for k, v := range headers {
		upHeaders[k] = v
	}
	resp, err = roundTrip(upstream, &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_RequestHeaders{
			RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(upHeaders)},
		},
		Attributes: map[string]*structpb.Struct{"envoy.filters.http.ext_proc": attrs},
	})
	if err != nil {
		_ = upstream.CloseSend()
		return nil, &errExtProc{"upstream request", err}
	}
	mergeMetadata(res.Metadata, resp.GetDynamicMetadata())
	if lr := res.local(resp); lr {
		_ = upstream.CloseSend()
		return res, nil
	}
	common := resp.GetRequestHeaders().GetResponse()
	if resp.GetRequestHeaders() == nil {
		_ = upstream.CloseSend()
		return nil, fmt.Errorf("the processor answered %T to the upstream request headers", resp.GetResponse())
	}
	upBody := body
	if err := applyCommon(common, upHeaders, &upBody); err != nil {
		return nil, err
	}
	if common.GetStatus() != extprocv3.CommonResponse_CONTINUE_AND_REPLACE && common.GetBodyMutation() != nil {
		return nil, errors.New("the upstream phase mutated the body without CONTINUE_AND_REPLACE: Envoy would ignore it")
	}
	// The upstream filter skips the response (processing mode): Envoy half-closes its stream.
	if err := upstream.CloseSend(); err != nil {
		return nil, err
	}
	if _, err := upstream.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return nil, &errExtProc{"upstream stream end", err}
	}
	up := &upstreamRequest{Method: upHeaders[":method"], Path: upHeaders[":path"], Host: tgt.Authority, Headers: map[string]string{}, Body: upBody}
	if a := upHeaders[":authority"]; a != gatewayHostname {
		up.Host = a // the processor rewrote the authority itself
	}
	for k, v := range upHeaders {
		if !strings.HasPrefix(k, ":") {
			up.Headers[k] = v
		}
	}
	res.Upstream = up

	// The backend answers; the response goes through the router-level filter.
	pr, err := reply(*up)
	if err != nil {
		return res, err
	}
	return res, respond(router, res, pr)
}

// respond sends a response through the router-level filter, as Envoy does, and records what the client
// gets.
func respond(router processStream, res *exchangeResult, pr providerReply) error {
	respHeaders := map[string]string{":status": strconv.Itoa(pr.Status), "content-type": pr.ContentType}
	resp, err := roundTrip(router, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap(respHeaders)},
	}})
	if err != nil {
		return &errExtProc{"response headers", err}
	}
	if lr := res.local(resp); lr {
		return nil
	}
	if err := applyCommon(resp.GetResponseHeaders().GetResponse(), respHeaders, nil); err != nil {
		return err
	}
	streamed := resp.GetModeOverride().GetResponseBodyMode() == extprocfilterv3.ProcessingMode_STREAMED
	res.StreamedToUser = streamed
	var chunks []*extprocv3.HttpBody
	if streamed {
		// Envoy passes each chunk on as it arrives; an HTTP/1.1 chunked body ends with an empty chunk.
		for _, ch := range pr.Chunks {
			chunks = append(chunks, &extprocv3.HttpBody{Body: ch})
		}
		chunks = append(chunks, &extprocv3.HttpBody{EndOfStream: true})
	} else {
		// Buffered: Envoy sends the whole body at once.
		var all []byte
		for _, ch := range pr.Chunks {
			all = append(all, ch...)
		}
		chunks = append(chunks, &extprocv3.HttpBody{Body: all, EndOfStream: true})
	}
	var clientBody []byte
	for _, ch := range chunks {
		resp, err = roundTrip(router, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: ch}})
		if err != nil {
			return &errExtProc{"response body", err}
		}
		mergeMetadata(res.Metadata, resp.GetDynamicMetadata())
		if lr := res.local(resp); lr {
			return nil
		}
		if resp.GetResponseBody() == nil {
			return fmt.Errorf("the processor answered %T to a response body chunk", resp.GetResponse())
		}
		out := ch.Body
		if err := applyCommon(resp.GetResponseBody().GetResponse(), respHeaders, &out); err != nil {
			return err
		}
		clientBody = append(clientBody, out...)
	}
	res.ClientStatus, _ = strconv.Atoi(respHeaders[":status"])
	res.ClientHeaders = respHeaders
	res.ClientBody = clientBody
	return nil
}

// local records an ImmediateResponse: the processor answered the client itself.
func (r *exchangeResult) local(resp *extprocv3.ProcessingResponse) bool {
	ir := resp.GetImmediateResponse()
	if ir == nil {
		return false
	}
	r.LocalReply = &localReply{Status: int(ir.GetStatus().GetCode()), Body: string(ir.GetBody())}
	return true
}

func roundTrip(s processStream, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	if err := s.Send(req); err != nil {
		// The server ended the stream: its status is what Recv reports.
		if _, rerr := s.Recv(); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	return s.Recv()
}

func headerMap(h map[string]string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for k, v := range h {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	return m
}

// applyCommon applies a CommonResponse's header and body mutations as Envoy does.
func applyCommon(c *extprocv3.CommonResponse, headers map[string]string, body *[]byte) error {
	if c == nil {
		return nil
	}
	for _, r := range c.GetHeaderMutation().GetRemoveHeaders() {
		delete(headers, strings.ToLower(r))
	}
	for _, s := range c.GetHeaderMutation().GetSetHeaders() {
		k := strings.ToLower(s.GetHeader().GetKey())
		v := s.GetHeader().GetValue()
		if raw := s.GetHeader().GetRawValue(); len(raw) > 0 {
			v = string(raw)
		}
		if s.GetAppendAction() == corev3.HeaderValueOption_ADD_IF_ABSENT {
			if _, ok := headers[k]; ok {
				continue
			}
		}
		headers[k] = v
	}
	if bm := c.GetBodyMutation(); bm != nil {
		if body == nil {
			return errors.New("a body mutation on a headers-only message")
		}
		switch m := bm.GetMutation().(type) {
		case *extprocv3.BodyMutation_Body:
			*body = m.Body
		case *extprocv3.BodyMutation_ClearBody:
			if m.ClearBody {
				*body = nil
			}
		}
	}
	return nil
}

func mergeMetadata(into map[string]any, md *structpb.Struct) {
	ns := md.GetFields()[aigwMetadataNamespace].GetStructValue()
	for k, v := range ns.GetFields() {
		into[k] = v.AsInterface()
	}
}
