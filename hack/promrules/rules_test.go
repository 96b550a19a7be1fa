// Package promrules evaluates the operator's shipped alert rules (config/prometheus/rules.yaml) with
// Prometheus's own rule engine, as promtool's rule tests do, on series shaped like the operator's metrics.
// It is a module of its own so that Prometheus stays out of the operator's dependencies.
package promrules

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"sigs.k8s.io/yaml"
)

type ruleFile struct {
	Spec struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
				For   string `json:"for"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// alertRules reads the shipped PrometheusRule's alerts, by name.
func alertRules(t *testing.T) map[string]*rules.AlertingRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil { // the strict shape is checked by controllers.TestPrometheusRules
		t.Fatal(err)
	}
	p := parser.NewParser(promqltest.TestParserOpts)
	out := map[string]*rules.AlertingRule{}
	for _, g := range f.Spec.Groups {
		for _, r := range g.Rules {
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("alert %s: %v", r.Alert, err)
			}
			hold, err := time.ParseDuration(r.For)
			if err != nil {
				t.Fatalf("alert %s: for %q: %v", r.Alert, r.For, err)
			}
			out[r.Alert] = rules.NewAlertingRule(r.Alert, expr, hold, 0, labels.EmptyLabels(), labels.EmptyLabels(), labels.EmptyLabels(), "", false, slog.New(slog.DiscardHandler))
		}
	}
	return out
}

// TestAlertRules plays series shaped like the operator's metrics, one sample a minute, through each alert
// with Prometheus's rule engine, and checks the minutes it fires.
func TestAlertRules(t *testing.T) {
	alerts := alertRules(t)
	for _, tc := range []struct {
		alert  string
		series string
		// firing says, per minute from 0, whether the alert fires then.
		firing map[int]bool
	}{{
		alert: "GenAIPlatformNeedsAHuman",
		// Stalled from minute 2 to minute 12, then fixed: it fires once it has lasted 5 minutes, and
		// resolves with the fix (the gauge drops to 0 on the next reconcile).
		series: `genai_platform_condition{namespace="ai",name="p",type="Stalled",status="True"} 0 0 1 1 1 1 1 1 1 1 1 1 1 0 0 0
genai_platform_condition{namespace="ai",name="p",type="Stalled",status="False"} 1 1 0 0 0 0 0 0 0 0 0 0 0 1 1 1`,
		firing: map[int]bool{1: false, 6: false, 7: true, 12: true, 14: false},
	}, {
		alert: "GenAIPlatformNotReady",
		series: `genai_platform_condition{namespace="ai",name="p",type="Ready",status="True"} 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
genai_platform_condition{namespace="ai",name="q",type="Ready",status="True"} 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1`,
		firing: map[int]bool{10: false, 16: true, 19: true},
	}, {
		alert: "GenAIPlatformModelsDown",
		series: `genai_platform_models_ready{namespace="ai",name="p"} 3 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 3 3
genai_platform_models_total{namespace="ai",name="p"} 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3`,
		firing: map[int]bool{5: false, 16: true, 17: true, 19: false},
	}} {
		t.Run(tc.alert, func(t *testing.T) {
			rule := alerts[tc.alert]
			if rule == nil {
				t.Fatalf("rules.yaml has no alert %s", tc.alert)
			}
			// A fresh rule: its pending/firing state starts empty.
			rule = rules.NewAlertingRule(rule.Name(), rule.Query(), rule.HoldDuration(), 0, labels.EmptyLabels(), labels.EmptyLabels(), labels.EmptyLabels(), "", false, slog.New(slog.DiscardHandler))
			storage := promqltest.LoadedStorage(t, "load 1m\n  "+indent(tc.series))
			engine := promqltest.NewTestEngine(t, false, 0, 100000)
			query := rules.EngineQueryFunc(engine, storage)
			start := time.Unix(0, 0).UTC()
			last := 0
			for m := range tc.firing {
				last = max(last, m)
			}
			for m := 0; m <= last; m++ {
				if _, err := rule.Eval(context.Background(), 0, start.Add(time.Duration(m)*time.Minute), query, nil, 0); err != nil {
					t.Fatalf("minute %d: %v", m, err)
				}
				want, checked := tc.firing[m]
				if !checked {
					continue
				}
				firing := false
				for _, a := range rule.ActiveAlerts() {
					if a.State == rules.StateFiring {
						firing = true
						if a.Labels.Get("name") != "p" {
							t.Errorf("minute %d: fires for %v, want platform p only", m, a.Labels)
						}
					}
				}
				if firing != want {
					t.Errorf("minute %d: firing %v, want %v", m, firing, want)
				}
			}
		})
	}
}

func indent(s string) string {
	out := ""
	for i, line := range splitLines(s) {
		if i > 0 {
			out += "\n  "
		}
		out += line
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
