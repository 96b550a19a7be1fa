package controllers_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	sigyaml "sigs.k8s.io/yaml"

	"github.com/genai-platform/genai-platform-operator/controllers"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// prometheusRule is the part of the Prometheus Operator's PrometheusRule the shipped file uses, parsed
// strictly so that a misspelt field fails.
type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// TestPrometheusRules: the shipped alert rules name only series the operator serves, with label values it
// writes (condition types and statuses), so that no alert silently watches nothing.
func TestPrometheusRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.ProjectRoot(), "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var r prometheusRule
	if err := sigyaml.UnmarshalStrict(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.APIVersion != "monitoring.coreos.com/v1" || r.Kind != "PrometheusRule" || len(r.Spec.Groups) == 0 {
		t.Fatalf("not a PrometheusRule: %s %s", r.APIVersion, r.Kind)
	}
	names := controllers.MetricNames()
	metric := regexp.MustCompile(`genai_platform_[a-z_]+`)
	matcher := regexp.MustCompile(`(\w+)="([^"]*)"`)
	alerts := 0
	for _, g := range r.Spec.Groups {
		for _, rule := range g.Rules {
			alerts++
			used := metric.FindAllString(rule.Expr, -1)
			if rule.Alert == "" || len(used) == 0 {
				t.Errorf("rule %q (%s) names no operator metric", rule.Alert, rule.Expr)
			}
			for _, m := range used {
				if !slices.Contains(names, m) {
					t.Errorf("alert %s: the operator serves no %s (it serves %v)", rule.Alert, m, names)
				}
			}
			for _, mm := range matcher.FindAllStringSubmatch(rule.Expr, -1) {
				switch mm[1] {
				case "type":
					if !slices.Contains(controllers.ConditionTypes(), mm[2]) {
						t.Errorf("alert %s: no condition type %q", rule.Alert, mm[2])
					}
				case "status":
					if !slices.Contains([]string{"True", "False", "Unknown"}, mm[2]) {
						t.Errorf("alert %s: no status %q", rule.Alert, mm[2])
					}
				}
			}
			if strings.Count(rule.Expr, "(") != strings.Count(rule.Expr, ")") {
				t.Errorf("alert %s: unbalanced parentheses in %s", rule.Alert, rule.Expr)
			}
		}
	}
	if alerts < 3 {
		t.Errorf("%d alerts", alerts)
	}
}
