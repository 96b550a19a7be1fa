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

// scrape returns the operator's metrics.
func scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// metricValue reads one series' value from a scrape (-1 when absent).
func metricValue(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// TestStalledPlatformIsRecheckedAndGauged: a Stalled platform shows in the condition gauge
// (genai_platform_condition{type="Stalled",status="True"} 1), and the operator looks at it again with no
// event to wake it (every 10 s at first), so that a fix nobody announced is seen and an alert on the gauge
// resolves when the platform recovers: here, once the missing Secret appears the gauge drops to 0.
func TestStalledPlatformIsRecheckedAndGauged(t *testing.T) {
	ns := newNamespace(t)
	p := createPlatform(t, ns, "stuck", `
gateway: {listener: {protocol: HTTP}}
providers: [{name: a, type: OpenAI, credentials: {secretRef: {name: later}}}]
models: [{name: m, routes: [{provider: a}]}]
`)
	labels := func(typ, status string) string {
		return fmt.Sprintf(`genai_platform_condition{name="%s",namespace="%s",status="%s",type="%s"}`, p.Name, ns, status, typ)
	}
	reconciled := fmt.Sprintf(`genai_platform_reconciles_total{name="%s",namespace="%s"}`, p.Name, ns)
	var before float64
	eventually(t, 20*time.Second, func() error {
		body := scrape(t)
		if v := metricValue(body, labels("Stalled", "True")); v != 1 {
			return fmt.Errorf("Stalled=True gauge %v", v)
		}
		if v := metricValue(body, labels("Ready", "False")); v != 1 {
			return fmt.Errorf("Ready=False gauge %v", v)
		}
		before = metricValue(body, reconciled)
		return nil
	})
	// No event touches the platform; the recheck comes by itself.
	eventually(t, 25*time.Second, func() error {
		if after := metricValue(scrape(t), reconciled); after <= before {
			return fmt.Errorf("reconciles %v, still %v: a Stalled platform is never looked at again", after, before)
		}
		return nil
	})
	createSecret(t, ns, "later", map[string]string{"apiKey": "k"})
	eventually(t, 20*time.Second, func() error {
		if v := metricValue(scrape(t), labels("Stalled", "True")); v != 0 {
			return fmt.Errorf("Stalled=True gauge %v after the fix", v)
		}
		return nil
	})
}
