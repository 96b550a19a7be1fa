package controllers_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetricsEndpointServesPlatformGauges scrapes the operator's metrics endpoint: per-platform gauges
// (ready, models ready/total, clusters) and the error counter by reason are there, with the right values.
func TestMetricsEndpointServesPlatformGauges(t *testing.T) {
	ns := newNamespace(t)
	p := createPlatform(t, ns, "metered", `
gateway: {listener: {protocol: HTTP}}
providers: [{name: a, type: OpenAI, credentials: {secretRef: {name: missing}}}, {name: b, type: OpenAICompatible, hostname: b.example}]
modelClusters: [{name: east, namespace: `+ns+`-m, address: {hostname: e.example}, nodePools: [{name: p}]}]
models:
- {name: one, routes: [{provider: b}]}
- {name: two, routes: [{provider: a}]}
- {name: three, selfHosted: {storageUri: 'hf://x/y', placements: [{cluster: east, nodePool: p}]}}
`)
	labels := fmt.Sprintf(`{name="%s",namespace="%s"}`, p.Name, ns)
	want := []string{
		"genai_platform_ready" + labels + " 0",
		"genai_platform_models_total" + labels + " 3",
		"genai_platform_models_ready" + labels + " 0",
		"genai_platform_model_clusters_total" + labels + " 1",
		"genai_platform_model_clusters_ready" + labels + " 0",
		fmt.Sprintf(`genai_platform_reconcile_errors_total{name="%s",namespace="%s",reason="SecretNotFound"}`, p.Name, ns),
	}
	eventually(t, 20*time.Second, func() error {
		resp, err := http.Get(metricsURL)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, w := range want {
			if !strings.Contains(string(body), w) {
				return fmt.Errorf("metrics lack %q", w)
			}
		}
		return nil
	})
}
