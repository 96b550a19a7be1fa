package bench

import (
	"strings"
	"testing"
)

// TestCompare is bench-check's verdict on made-up results against the committed baseline's tolerances:
// a ratio within the factor or the cap passes, past both fails; team models are bounded per model, so
// that how many reconciles their arrival falls into does not decide; a write loop does.
func TestCompare(t *testing.T) {
	tol := defaultTolerances
	base := baselineFile{Tolerances: tol, Results: results{
		Convergence: []convergence{{Models: 10, Ratio: 2}, {Models: 50, Ratio: 4}},
		TeamModels:  &teamModelsResult{Models: 20, Writes: 26, ModelStatusWrites: 20},
	}}
	verdict := func(r results) map[string]bool {
		out := map[string]bool{}
		for _, c := range compare(r, base) {
			out[c.name] = c.ok
		}
		return out
	}
	cases := []struct {
		name  string
		r     results
		check string
		ok    bool
	}{
		{"within the factor", results{Convergence: []convergence{{Models: 10, Ratio: 2.9}}}, "convergence ratio, 10 models", true},
		{"past the factor, within the cap", results{Convergence: []convergence{{Models: 10, Ratio: 4.9}}}, "convergence ratio, 10 models", true},
		{"past both", results{Convergence: []convergence{{Models: 10, Ratio: 5.1}}}, "convergence ratio, 10 models", false},
		{"past the cap, within the factor", results{Convergence: []convergence{{Models: 50, Ratio: 5.9}}}, "convergence ratio, 50 models", true},
		{"team models, many reconciles", results{TeamModels: &teamModelsResult{Models: 20, Writes: 75, ModelStatusWrites: 35}}, "other writes per model, team models", true},
		{"team models, a write loop", results{TeamModels: &teamModelsResult{Models: 20, Writes: 140, ModelStatusWrites: 35}}, "other writes per model, team models", false},
		{"team models, statuses written three times, no later route patch", results{TeamModels: &teamModelsResult{Models: 20, Routes: 2, Writes: 66, ModelStatusWrites: 60, Requests: map[string]int{"patch aigatewayroutes": 2}}}, "GenAIModel status writes, team models", false},
		{"team models, a later route patch", results{TeamModels: &teamModelsResult{Models: 20, Routes: 2, Writes: 49, ModelStatusWrites: 43, Requests: map[string]int{"patch aigatewayroutes": 3}}}, "GenAIModel status writes, team models", true},
		{"team models, a status write loop", results{TeamModels: &teamModelsResult{Models: 20, Routes: 2, Writes: 406, ModelStatusWrites: 400, Requests: map[string]int{"patch aigatewayroutes": 3}}}, "GenAIModel status writes, team models", false},
	}
	for _, c := range cases {
		got, found := verdict(c.r)[c.check]
		if !found {
			t.Errorf("%s: no check %q", c.name, c.check)
			continue
		}
		if got != c.ok {
			t.Errorf("%s: %q ok=%v, want %v", c.name, c.check, got, c.ok)
		}
	}
	// With no GC cycle seen, the memory check fails rather than passing unmeasured.
	for _, c := range compare(results{}, base) {
		if strings.HasPrefix(c.name, "heap") && c.ok {
			t.Errorf("%s passed with no memory reading", c.name)
		}
	}
}
