package render

import (
	"net/url"
	"strconv"

	"k8s.io/utils/ptr"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// accessLogFormat is one JSON line per request with what a platform team asks first: which client, which
// model, which backend, how many tokens, how long. Token counts come from Envoy AI Gateway's dynamic
// metadata (the llmRequestCosts keys), the model from the header it sets.
var accessLogFormat = map[string]string{
	"start_time":        "%START_TIME%",
	"method":            "%REQ(:METHOD)%",
	"path":              "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
	"response_code":     "%RESPONSE_CODE%",
	"duration_ms":       "%DURATION%",
	"client_id":         "%REQ(" + DefaultClientIDHeader + ")%",
	"model":             "%REQ(" + ModelHeader + ")%",
	"backend":           "%UPSTREAM_CLUSTER%",
	"upstream_host":     "%UPSTREAM_HOST%",
	"input_tokens":      "%DYNAMIC_METADATA(" + AIGatewayMetadataNamespace + ":llm_input_token)%",
	"output_tokens":     "%DYNAMIC_METADATA(" + AIGatewayMetadataNamespace + ":llm_output_token)%",
	"total_tokens":      "%DYNAMIC_METADATA(" + AIGatewayMetadataNamespace + ":llm_total_token)%",
	"response_flags":    "%RESPONSE_FLAGS%",
	"x_request_id":      "%REQ(X-REQUEST-ID)%",
	"upstream_failure":  "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
	"bytes_received":    "%BYTES_RECEIVED%",
	"bytes_sent":        "%BYTES_SENT%",
	"downstream_remote": "%DOWNSTREAM_REMOTE_ADDRESS%",
}

// proxyTelemetry is the Tier One proxy's tracing, access logs and Prometheus metrics from
// spec.observability. Prometheus metrics are always exposed (Envoy Gateway's default, kept explicit).
func proxyTelemetry(p *platformv1.GenAIPlatform) *egv1a1.ProxyTelemetry {
	t := &egv1a1.ProxyTelemetry{Metrics: &egv1a1.ProxyMetrics{Prometheus: &egv1a1.ProxyPrometheusProvider{}}}
	o := p.Spec.Observability
	if o == nil {
		return t
	}
	if o.Tracing != nil {
		if host, port, ok := hostPort(o.Tracing.OTLPEndpoint); ok {
			t.Tracing = &egv1a1.ProxyTracing{
				//lint:ignore SA1019 host and port need no Backend object; backendRefs would add a child kind for one address
				Provider: egv1a1.TracingProvider{Type: egv1a1.TracingProviderTypeOpenTelemetry, Host: ptr.To(host), Port: port},
			}
			t.Tracing.SamplingFraction = samplingFraction(o.Tracing.SamplingRatio)
			t.Tracing.Tags = spanTags(p)
		}
	}
	if o.AccessLog != nil && o.AccessLog.Enabled {
		format := egv1a1.ProxyAccessLogFormatTypeJSON
		logFormat := make(map[string]string, len(accessLogFormat))
		for k, v := range accessLogFormat {
			logFormat[k] = v
		}
		logFormat["client_id"] = "%REQ(" + ClientIDHeader(p) + ")%"
		// The tenant is the client id's prefix ("<tenant>.<key>"); a JWT client's is its tenant claim.
		if tenantClaim(p) != "" {
			logFormat["tenant_claim"] = "%REQ(" + TenantClaimHeader + ")%"
		}
		if p.Spec.Gateway.Costs != nil {
			logFormat["cost"] = "%DYNAMIC_METADATA(" + AIGatewayMetadataNamespace + ":" + CostMetadataKey + ")%"
		}
		t.AccessLog = &egv1a1.ProxyAccessLog{Settings: []egv1a1.ProxyAccessLogSetting{{
			Format: &egv1a1.ProxyAccessLogFormat{Type: &format, JSON: logFormat},
			Sinks:  []egv1a1.ProxyAccessLogSink{{Type: egv1a1.ProxyAccessLogSinkTypeFile, File: &egv1a1.FileEnvoyProxyAccessLog{Path: "/dev/stdout"}}},
		}}}
	}
	return t
}

// spanTags attribute each Tier One span to its client and tenant (the client id is "<tenant>.<key>" for
// a tenant's key), from the headers Envoy's authentication filters set. Nil without client auth.
func spanTags(p *platformv1.GenAIPlatform) map[string]string {
	if p.Spec.Gateway.ClientAuth == nil {
		return nil
	}
	tags := map[string]string{"genai.client.id": "%REQ(" + ClientIDHeader(p) + ")%"}
	if tenantClaim(p) != "" {
		tags["genai.tenant.claim"] = "%REQ(" + TenantClaimHeader + ")%"
	}
	return tags
}

// hostPort splits an OTLP endpoint (http://collector.monitoring:4317) into host and port.
func hostPort(endpoint string) (string, int32, bool) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return "", 0, false
	}
	port := int64(4317)
	if u.Port() != "" {
		if port, err = strconv.ParseInt(u.Port(), 10, 32); err != nil {
			return "", 0, false
		}
	}
	return u.Hostname(), int32(port), true
}

// samplingFraction turns a ratio ("0.1") into a fraction of 10000, precise to 0.01 %.
func samplingFraction(ratio string) *gwapiv1.Fraction {
	r := 1.0
	if ratio != "" {
		if v, err := strconv.ParseFloat(ratio, 64); err == nil {
			r = v
		}
	}
	den := int32(10000)
	return &gwapiv1.Fraction{Numerator: int32(r*float64(den) + 0.5), Denominator: &den}
}
