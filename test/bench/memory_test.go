package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

var httpClient = &http.Client{Timeout: 10 * time.Second}

// metrics scrapes the operator's metrics endpoint into name{labels} -> value.
func metrics(port int) (map[string]float64, error) {
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

// sum adds the values of every series of a metric.
func sum(m map[string]float64, name string) float64 {
	total := 0.0
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
		}
	}
	return total
}

// rss is a process's resident set size (VmRSS), in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// gcLine matches a GODEBUG=gctrace=1 line: "gc 12 @3.1s 1%: ..., 9->9->5 MB, 10 MB goal, ...": the heap
// at the start and the end of the cycle, and the live heap it marked.
var gcLine = regexp.MustCompile(`(?m)^gc \d+ @[0-9.]+s [0-9]+%: .*?, (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// gcTrace follows the GC cycles in the operator's log (its stderr, with GODEBUG=gctrace=1), across
// restarts: Cycles counts every cycle seen, LiveMB is the last one's live heap.
type gcTrace struct {
	log    string
	offset int64
	Cycles int
	LiveMB int
}

func (g *gcTrace) poll() error {
	f, err := os.Open(g.log)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(g.offset, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	end := strings.LastIndexByte(string(b), '\n') + 1
	g.offset += int64(end)
	for _, m := range gcLine.FindAllStringSubmatch(string(b[:end]), -1) {
		g.Cycles++
		g.LiveMB, _ = strconv.Atoi(m[3])
	}
	return nil
}

// memoryPoint is the operator's memory at one point of the benchmark.
type memoryPoint struct {
	Point          string `json:"point"`
	RSSBytes       int64  `json:"rss_bytes"`
	HeapInuseBytes int64  `json:"heap_inuse_bytes"`
	// LiveHeapMB is the live heap the GC cycle marked (gctrace, whole MB).
	LiveHeapMB int `json:"live_heap_mb"`
	// AfterGC: the figures were read right after a GC cycle that began after the point was reached;
	// false: no cycle came within three minutes, and they include garbage.
	AfterGC bool `json:"after_gc"`
	// Nudges is how many Secrets it took to bring that cycle about.
	Nudges int `json:"nudges"`
}

// forceGCAndRead brings about a GC cycle in the operator and reads its memory right after it. The
// operator has no endpoint that runs the GC, so the benchmark makes it allocate: it creates and deletes,
// one after the other, a Secret with a 64 KiB value and a 64 KiB annotation, labelled as the
// operator's (no platform's). The operator's informers decode it on creation and on deletion (its
// metadata-only Secret informer, which watches every Secret, decodes the annotation and drops it; once a
// platform was reconciled, its labelled-Secret informer decodes it all) and keep nothing of it once it
// is deleted: garbage, until the heap reaches its goal and a cycle runs (seen in the GODEBUG=gctrace=1
// output). A second later (the sweep), it scrapes go_memstats_heap_inuse_bytes and reads VmRSS. At most
// one nudge Secret (well under 1 MB decoded) may be live during the cycle. It keeps the smallest of three
// such readings.
func (b *bench) forceGCAndRead(point string) memoryPoint {
	b.t.Helper()
	// Three cycles, the smallest reading kept: what one reading catches of the moment (a nudge in flight,
	// a span not yet swept, an informer's burst) only adds.
	var mp memoryPoint
	for i := range 3 {
		r := b.gcAndRead(point)
		if i == 0 || r.HeapInuseBytes < mp.HeapInuseBytes {
			mp.HeapInuseBytes = r.HeapInuseBytes
		}
		if i == 0 || r.LiveHeapMB < mp.LiveHeapMB {
			mp.LiveHeapMB = r.LiveHeapMB
		}
		mp.Point, mp.RSSBytes, mp.AfterGC, mp.Nudges = point, r.RSSBytes, (i == 0 || mp.AfterGC) && r.AfterGC, mp.Nudges+r.Nudges
	}
	b.logf("memory %s: RSS %.1f MB, heap in use %.1f MB, live heap %d MB (smallest of 3 readings after a GC: %v, %d nudges)",
		point, mb(mp.RSSBytes), mb(mp.HeapInuseBytes), mp.LiveHeapMB, mp.AfterGC, mp.Nudges)
	return mp
}

// gcAndRead is one reading of forceGCAndRead.
func (b *bench) gcAndRead(point string) memoryPoint {
	b.t.Helper()
	if b.gc == nil || b.gc.log != b.op.Log {
		b.gc = &gcTrace{log: b.op.Log}
	}
	// The nudge is a 64 KiB annotation on a namespace that both of the operator's namespace informers
	// take (its managed-by label; the label allowing a platform, here one that does not exist), so that
	// it works before any platform has started the operator's child informers. Each nudge changes the
	// annotation: one watch event, decoded and dropped.
	nudge := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench-gc", Labels: map[string]string{
		platformv1.LabelManagedBy: platformv1.ManagedByValue, platformv1.LabelAllowedPlatformNamespace: "no-platform-here"}}}
	if err := b.admin.Create(b.ctx, nudge); err != nil && !apierrors.IsAlreadyExists(err) {
		b.t.Fatal(err)
	}
	_ = b.gc.poll()
	mark := b.gc.Cycles
	mp := memoryPoint{Point: point}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if _ = b.gc.poll(); b.gc.Cycles > mark {
			mp.AfterGC = true
			break
		}
		annotation := strings.Repeat(string(rune('a'+mp.Nudges%26)), 64<<10)
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{"bench/nudge": annotation}}})
		if err != nil {
			b.t.Fatal(err)
		}
		if err := b.admin.Patch(b.ctx, nudge, client.RawPatch(types.MergePatchType, patch)); err != nil {
			b.t.Fatal(err)
		}
		mp.Nudges++
	}
	// The sweeper frees the cycle's dead spans in the background: until it has, they still count as in
	// use. An idle operator allocates little meanwhile.
	time.Sleep(time.Second)
	m, err := metrics(b.metricsPort)
	if err != nil {
		b.t.Fatalf("scraping the operator's metrics: %v", err)
	}
	mp.HeapInuseBytes = int64(m["go_memstats_heap_inuse_bytes"])
	if mp.RSSBytes, err = rss(b.op.Cmd.Process.Pid); err != nil {
		b.t.Fatal(err)
	}
	mp.LiveHeapMB = b.gc.LiveMB
	return mp
}

// memoryRatio compares the memory after unrelated objects with the memory before.
type memoryRatio struct {
	HeapInuse float64 `json:"heap_inuse"`
	LiveHeap  float64 `json:"live_heap"`
	RSS       float64 `json:"rss"`
}

func ratios(before, after memoryPoint) memoryRatio {
	r := memoryRatio{HeapInuse: float64(after.HeapInuseBytes) / float64(before.HeapInuseBytes), RSS: float64(after.RSSBytes) / float64(before.RSSBytes)}
	if before.LiveHeapMB > 0 {
		r.LiveHeap = float64(after.LiveHeapMB) / float64(before.LiveHeapMB)
	}
	return r
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
