package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// results are everything one run measured; BENCH_OUT receives them as JSON.
type results struct {
	Commit      string        `json:"commit"`
	Machine     string        `json:"machine"`
	Started     string        `json:"started"`
	Finished    string        `json:"finished"`
	Params      config        `json:"params"`
	Convergence []convergence `json:"convergence"`
	Phases      []phase       `json:"phases"`
	Memory      []memoryPoint `json:"memory"`
	// MemoryRatio is after the unrelated objects over before.
	MemoryRatio memoryRatio `json:"memory_ratio"`
	// UnrelatedSeconds is how long creating the unrelated objects of each kind took.
	UnrelatedSeconds map[string]float64 `json:"unrelated_seconds_by_kind"`
	Latency          []latency          `json:"edit_latency"`
	Fleet            *fleetResult       `json:"fleet,omitempty"`
	TeamModels       *teamModelsResult  `json:"team_models,omitempty"`
	DriverWrites     int64              `json:"driver_status_writes"`
	DriverErrors     int64              `json:"driver_errors"`
	Notes            []string           `json:"notes,omitempty"`
}

// convergence is one platform size against its baseline.
type convergence struct {
	Models          int     `json:"models"`
	Children        int     `json:"children"`
	BaselineSeconds float64 `json:"baseline_seconds"`
	// BareBaselineSeconds is the baseline with no controller writing statuses meanwhile.
	BareBaselineSeconds float64 `json:"bare_baseline_seconds"`
	OperatorSeconds     float64 `json:"operator_seconds"`
	// Ratio is operator over baseline, measured in the same run; BareRatio over the bare baseline.
	Ratio               float64 `json:"ratio"`
	BareRatio           float64 `json:"bare_ratio"`
	ReadySeconds        float64 `json:"ready_seconds"`
	Writes              int     `json:"writes"`
	WritesPerChild      float64 `json:"writes_per_child"`
	ChildWritesPerChild float64 `json:"child_writes_per_child"`
}

// perChild picks what a check compares: the writes to the children per child, when the run and the
// baseline both have them, else all writes per child. The platform's own writes (finalizer, status, and
// a status patch retried after a conflict with a cache that was behind) vary with the machine's load;
// the children's do not.
func perChild(total, child, baseTotal, baseChild float64) (got, was float64, what string) {
	if child > 0 && baseChild > 0 {
		return child, baseChild, "child writes per child"
	}
	return total, baseTotal, "writes per child"
}

// baselineFile is test/bench/baseline.json: a bench-check run's results and the tolerances a later run
// is held to.
type baselineFile struct {
	Comment    string     `json:"comment"`
	Tolerances tolerances `json:"tolerances"`
	Results    results    `json:"results"`
}

type tolerances struct {
	// A convergence ratio passes when at most the baseline's times RatioFactor, or at most RatioCap.
	RatioFactor float64 `json:"convergence_ratio_factor"`
	RatioCap    float64 `json:"convergence_ratio_cap"`
	// Writes per child (convergence, fleet) may exceed the baseline's by WritesPerChildSlack.
	WritesPerChildSlack float64 `json:"writes_per_child_slack"`
	// The writes of the other phases (edit, upstream status changes, restarts) may exceed the
	// baseline's by PhaseWritesSlack.
	PhaseWritesSlack int `json:"phase_writes_slack"`
	// SteadyWritesMax is the most writes allowed in steady state.
	SteadyWritesMax int `json:"steady_writes_max"`
	// MemoryRatioMax bounds heap in use after the unrelated objects over before (both read after a GC).
	MemoryRatioMax float64 `json:"memory_ratio_max"`
}

var defaultTolerances = tolerances{RatioFactor: 1.5, RatioCap: 5, WritesPerChildSlack: 0.05, PhaseWritesSlack: 2, SteadyWritesMax: 0, MemoryRatioMax: 1.10}

// publish prints the report, writes the JSON, and, with a baseline, compares (or, with
// BENCH_UPDATE_BASELINE=1, rewrites the baseline).
func (b *bench) publish() {
	t := b.t
	var checks []check
	if b.cfg.Baseline != "" && !b.cfg.Update {
		checks = compare(b.res, b.readBaseline())
	}
	report := markdown(b.res, checks)
	fmt.Println(report)
	if b.cfg.Report != "" {
		writeFile(t, b.cfg.Report, []byte(report))
	}
	if b.cfg.Out != "" {
		j, _ := json.MarshalIndent(b.res, "", "  ")
		writeFile(t, b.cfg.Out, append(j, '\n'))
	}
	if b.cfg.Baseline != "" && b.cfg.Update {
		j, _ := json.MarshalIndent(baselineFile{
			Comment:    "make bench-check's reference run (BENCH_UPDATE_BASELINE=1 make bench-check rewrites it); tolerances are edited by hand",
			Tolerances: defaultTolerances, Results: b.res}, "", "  ")
		writeFile(t, b.cfg.Baseline, append(j, '\n'))
		t.Logf("baseline written to %s", b.cfg.Baseline)
	}
	for _, c := range checks {
		if !c.ok {
			r := fmt.Sprintf("%s: %s, limit %s", c.name, c.got, c.limit)
			b.regressions = append(b.regressions, r)
			t.Errorf("regression: %s", r)
		}
	}
}

func (b *bench) readBaseline() baselineFile {
	b.t.Helper()
	raw, err := os.ReadFile(b.cfg.Baseline)
	if err != nil {
		b.t.Fatalf("reading the baseline: %v", err)
	}
	var base baselineFile
	if err := json.Unmarshal(raw, &base); err != nil {
		b.t.Fatalf("%s: %v", b.cfg.Baseline, err)
	}
	return base
}

// ratioLimit is the highest convergence ratio the baseline file allows a platform of n models (false:
// no baseline to compare with, or none of that size).
func (b *bench) ratioLimit(n int) (float64, bool) {
	if b.cfg.Baseline == "" || b.cfg.Update {
		return 0, false
	}
	base := b.readBaseline()
	for _, bc := range base.Results.Convergence {
		if bc.Models == n {
			return base.Tolerances.ratioLimit(bc.Ratio), true
		}
	}
	return 0, false
}

// ratioLimit: the baseline's ratio times the factor, or the cap when that is higher.
func (tol tolerances) ratioLimit(baseline float64) float64 {
	return max(baseline*tol.RatioFactor, tol.RatioCap)
}

// maxOtherWritesPerModel: a team model's route, and the platform's status, written again after a
// conflict.
const maxOtherWritesPerModel = 3.0

// maxModelStatusWrites bounds a team-models phase's GenAIModel status writes: each model's status is
// written when it is attached and when its route is accepted; and each later patch of its route (another
// model joining it) can make it wait for that generation's acceptance and be Ready again, two writes more.
// Over all models that is at most 2 x models x (1 + route patches beyond the routes' first). A CI run
// measured 43 for 20 models in 2 routes patched 3 times, past the 2 per model bound this replaces.
func maxModelStatusWrites(t *teamModelsResult) int {
	later := max(0, t.Requests["patch aigatewayroutes"]-t.Routes)
	return 2 * t.Models * (1 + later)
}

func writeFile(t interface{ Fatal(...any) }, path string, b []byte) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// check is one comparison with the baseline.
type check struct {
	name, got, limit string
	ok               bool
}

func compare(r results, base baselineFile) []check {
	tol := base.Tolerances
	var out []check
	add := func(name string, ok bool, got, limit string) {
		out = append(out, check{name: name, got: got, limit: limit, ok: ok})
	}
	same := fmt.Sprint(r.Params.Models, r.Params.Unrelated, r.Params.FleetPlatforms, r.Params.FleetModels) ==
		fmt.Sprint(base.Results.Params.Models, base.Results.Params.Unrelated, base.Results.Params.FleetPlatforms, base.Results.Params.FleetModels)
	variant := func(c config) string {
		return fmt.Sprintf("models %v, %d unrelated, fleet %dx%d", c.Models, c.Unrelated, c.FleetPlatforms, c.FleetModels)
	}
	add("same variant as the baseline", same, variant(r.Params), variant(base.Results.Params))
	for _, c := range r.Convergence {
		for _, bc := range base.Results.Convergence {
			if bc.Models != c.Models {
				continue
			}
			ok := c.Ratio <= tol.ratioLimit(bc.Ratio)
			l := fmt.Sprintf("%.2f (baseline %.2f x %.1f)", bc.Ratio*tol.RatioFactor, bc.Ratio, tol.RatioFactor)
			if tol.RatioCap > 0 {
				l += fmt.Sprintf(" or %.2f", tol.RatioCap)
			}
			add(fmt.Sprintf("convergence ratio, %d models", c.Models), ok, fmt.Sprintf("%.2f", c.Ratio), l)
			got, was, what := perChild(c.WritesPerChild, c.ChildWritesPerChild, bc.WritesPerChild, bc.ChildWritesPerChild)
			add(fmt.Sprintf("%s, convergence of %d models", what, c.Models), got <= was+tol.WritesPerChildSlack+1e-9,
				fmt.Sprintf("%.3f", got), fmt.Sprintf("%.3f (baseline %.3f + %.2f)", was+tol.WritesPerChildSlack, was, tol.WritesPerChildSlack))
		}
	}
	if r.Fleet != nil && base.Results.Fleet != nil {
		bf := base.Results.Fleet
		got, was, what := perChild(r.Fleet.WritesPerChild, r.Fleet.ChildWritesPerChild, bf.WritesPerChild, bf.ChildWritesPerChild)
		add(what+", fleet", got <= was+tol.WritesPerChildSlack+1e-9,
			fmt.Sprintf("%.3f", got), fmt.Sprintf("%.3f (baseline %.3f + %.2f)", was+tol.WritesPerChildSlack, was, tol.WritesPerChildSlack))
	}
	for _, p := range r.Phases {
		switch {
		case strings.HasPrefix(p.Name, "steady state"):
			add("writes in "+p.Name, p.Writes <= tol.SteadyWritesMax, fmt.Sprint(p.Writes), fmt.Sprint(tol.SteadyWritesMax))
		case strings.HasPrefix(p.Name, "convergence"), strings.HasPrefix(p.Name, "fleet"), strings.HasPrefix(p.Name, "team models"):
		default:
			for _, bp := range base.Results.Phases {
				if bp.Name == p.Name {
					add("writes in "+p.Name, p.Writes <= bp.Writes+tol.PhaseWritesSlack, fmt.Sprint(p.Writes),
						fmt.Sprintf("%d (baseline %d + %d)", bp.Writes+tol.PhaseWritesSlack, bp.Writes, tol.PhaseWritesSlack))
				}
			}
		}
	}
	// Team models arrive while the platform reconciles, and how many reconciles they fall into depends on
	// the timing (the same 20 models took from 25 to 49 writes in all). So both counts are bounded by the
	// design's worst case (maxModelStatusWrites, maxOtherWritesPerModel): each model arriving in a
	// reconcile of its own; for it, its route (models never move between routes) and the platform's
	// status, written again after a conflict with a cache that was behind. A write loop goes past these
	// at once; the steady-state and edit phases catch a write of what did not change.
	if t := r.TeamModels; t != nil && t.Models > 0 {
		limit := maxModelStatusWrites(t)
		add("GenAIModel status writes, team models", t.ModelStatusWrites <= limit,
			fmt.Sprint(t.ModelStatusWrites), fmt.Sprintf("%d (2 x %d models x (1 + %d later route patches))", limit, t.Models, limit/(2*t.Models)-1))
		other := float64(t.Writes-t.ModelStatusWrites) / float64(t.Models)
		add("other writes per model, team models", other <= maxOtherWritesPerModel,
			fmt.Sprintf("%.2f", other), fmt.Sprintf("%.2f", maxOtherWritesPerModel))
	}
	if n := len(r.Memory); n >= 2 && r.Memory[n-1].AfterGC && r.Memory[n-2].AfterGC {
		add("heap in use after unrelated objects / before", r.MemoryRatio.HeapInuse <= tol.MemoryRatioMax,
			fmt.Sprintf("%.3f", r.MemoryRatio.HeapInuse), fmt.Sprintf("%.2f", tol.MemoryRatioMax))
	} else {
		add("heap read after a GC, before and after the unrelated objects", false, "no GC cycle seen", "a GC cycle before each reading")
	}
	return out
}

// markdown is the report.
func markdown(r results, checks []check) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("## Operator benchmark")
	p("")
	p("- commit: %s", r.Commit)
	p("- machine: %s", r.Machine)
	p("- run: %s to %s", r.Started, r.Finished)
	p("- parameters: models %v, steady state %.0fs, %d unrelated objects per kind, %d edits per worker setting, fleet %dx%d",
		r.Params.Models, r.Params.SteadySeconds, r.Params.Unrelated, r.Params.Edits, r.Params.FleetPlatforms, r.Params.FleetModels)
	p("- status driver: %d status writes, %d failed (retried)", r.DriverWrites, r.DriverErrors)
	p("")
	p("### Convergence against the sequential server-side-apply baseline")
	p("")
	p("| models | children | baseline SSA, controllers on (s) | baseline SSA, alone (s) | operator converged (s) | operator / baseline | operator / baseline alone | operator Ready (s) | operator writes | writes per child | child writes per child |")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range r.Convergence {
		p("| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %d | %.3f | %.3f |", c.Models, c.Children, c.BaselineSeconds, c.BareBaselineSeconds, c.OperatorSeconds,
			c.Ratio, c.BareRatio, secs(c.ReadySeconds), c.Writes, c.WritesPerChild, c.ChildWritesPerChild)
	}
	p("")
	p("### Operator requests by phase (audit log, user %s)", operatorUser)
	p("")
	p("| phase | active (s) | children | writes | writes per child | events | reads | reconciles |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, ph := range r.Phases {
		wpc := "-"
		if ph.Children > 0 {
			wpc = fmt.Sprintf("%.3f", ph.WritesPerChild)
		}
		p("| %s | %.1f | %d | %d | %s | %d | %d | %.0f |", ph.Name, ph.Seconds, ph.Children, ph.Writes, wpc, ph.Events, ph.Reads, ph.Reconciles)
	}
	p("")
	p("Requests by verb and resource:")
	p("")
	p("| phase | requests (verb resource: count) |")
	p("|---|---|")
	for _, ph := range r.Phases {
		var parts []string
		for _, k := range sortedKeys(ph.Requests) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, ph.Requests[k]))
		}
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		p("| %s | %s |", ph.Name, strings.Join(parts, ", "))
	}
	p("")
	if t := r.TeamModels; t != nil {
		p("### Team-owned models on one platform")
		p("")
		p("| GenAIModels | namespaces | converged (s) | AIGatewayRoutes | most rules in one | operator writes | of them GenAIModel statuses |")
		p("|---:|---:|---:|---:|---:|---:|---:|")
		p("| %d | %d | %.1f | %d | %d | %d | %d |", t.Models, t.Namespaces, t.ConvergedSeconds, t.Routes, t.MaxRules, t.Writes, t.ModelStatusWrites)
		p("")
		p("Memory with them: RSS %.1f MB, heap in use %.1f MB, live heap %d MB.", float64(t.Memory.RSSBytes)/1e6, float64(t.Memory.HeapInuseBytes)/1e6, t.Memory.LiveHeapMB)
		p("")
	}
	p("### Memory (smallest of three readings, each right after a GC cycle the benchmark brought about)")
	p("")
	p("| point | RSS (MB) | heap in use (MB) | live heap marked by the GC (MB) | after a GC | nudges |")
	p("|---|---:|---:|---:|---|---:|")
	for _, m := range r.Memory {
		p("| %s | %.1f | %.1f | %d | %v | %d |", m.Point, mb(m.RSSBytes), mb(m.HeapInuseBytes), m.LiveHeapMB, m.AfterGC, m.Nudges)
	}
	p("")
	if len(r.UnrelatedSeconds) > 0 {
		var parts []string
		total := 0.0
		for _, k := range unrelatedKinds() {
			parts = append(parts, fmt.Sprintf("%s %.0fs", k.GVK.Kind, r.UnrelatedSeconds[k.GVK.Kind]))
			total += r.UnrelatedSeconds[k.GVK.Kind]
		}
		p("Creating the %d unrelated objects per kind took %.0fs: %s.", r.Params.Unrelated, total, strings.Join(parts, ", "))
		p("")
	}
	p("After the unrelated objects / before: heap in use %.3f, live heap %.3f, RSS %.3f (target: heap within 10%%, ratio <= 1.10).",
		r.MemoryRatio.HeapInuse, r.MemoryRatio.LiveHeap, r.MemoryRatio.RSS)
	p("")
	p("### Spec edit to child updated (a route weight, until the AIGatewayRoute shows it)")
	p("")
	p("| apply workers | edits | p50 (ms) | p99 (ms) | max (ms) |")
	p("|---|---:|---:|---:|---:|")
	for _, l := range r.Latency {
		w := fmt.Sprint(l.Workers)
		if l.Workers == 0 {
			w = "default (no --apply-workers flag)"
		}
		p("| %s | %d | %.0f | %.0f | %.0f |", w, l.Edits, l.P50ms, l.P99ms, l.MaxMs)
	}
	if f := r.Fleet; f != nil {
		p("")
		p("### Fleet: platforms created at once")
		p("")
		p("| platforms x models | children | all converged (s) | all Ready (s) | operator writes | writes per child |")
		p("|---|---:|---:|---:|---:|---:|")
		p("| %d x %d | %d | %.1f | %s | %d | %.2f |", f.Platforms, f.ModelsEach, f.Children, f.ConvergedSeconds, secs(f.ReadySeconds), f.Writes, f.WritesPerChild)
	}
	if len(r.Notes) > 0 {
		p("")
		p("### Notes")
		p("")
		for _, n := range r.Notes {
			p("- %s", n)
		}
	}
	if len(checks) > 0 {
		p("")
		p("### Check against test/bench/baseline.json")
		p("")
		p("| check | measured | limit | result |")
		p("|---|---:|---|---|")
		for _, c := range checks {
			res := "ok"
			if !c.ok {
				res = "**REGRESSION**"
			}
			p("| %s | %s | %s | %s |", c.name, c.got, c.limit, res)
		}
	}
	return b.String()
}

func secs(s float64) string {
	if s == 0 {
		return "not Ready"
	}
	return fmt.Sprintf("%.2f", s)
}

// commit is the checked-out commit, read from .git (no git command).
func commit() string {
	root := testenv.ProjectRoot()
	head, err := os.ReadFile(filepath.Join(root, ".git", "HEAD"))
	if err != nil {
		return "unknown"
	}
	ref := strings.TrimSpace(string(head))
	if !strings.HasPrefix(ref, "ref: ") {
		return short(ref)
	}
	name := strings.TrimPrefix(ref, "ref: ")
	if b, err := os.ReadFile(filepath.Join(root, ".git", name)); err == nil {
		return short(strings.TrimSpace(string(b)))
	}
	if b, err := os.ReadFile(filepath.Join(root, ".git", "packed-refs")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[1] == name {
				return short(f[0])
			}
		}
	}
	return "unknown"
}

func short(s string) string {
	return s[:min(len(s), 7)] + " (work tree as it was, uncommitted changes included)"
}

// machine describes the CPU and memory.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				var kb float64
				fmt.Sscan(f[1], &kb)
				mem = fmt.Sprintf(", %.0f GiB RAM", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s/%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH)
}
