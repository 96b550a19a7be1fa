package bench

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// The users of the benchmark, each with its own identity in the audit log.
const (
	operatorUser = "bench-operator"
	driverUser   = "bench-driver"
	baselineUser = "bench-baseline"
)

// auditPolicy records the metadata of every request of the operator, the status driver and the
// baseline; the benchmark's own admin requests (platforms, unrelated objects) are not recorded.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [` + operatorUser + `, ` + driverUser + `, ` + baselineUser + `]
- level: None
`

// request is one request of the audit log, counted once: at ResponseComplete, or, for a watch (which
// lasts), when it starts.
type request struct {
	user, verb, resource string
	at                   time.Time
}

// write says whether a verb changes something.
func write(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// bookkeeping are the resources whose writes are not the operator's output: Events and leader election
// Leases. They are shown in the request tables but not counted as writes.
func bookkeeping(resource string) bool {
	return strings.HasPrefix(resource, "events") || strings.HasPrefix(resource, "leases")
}

// auditCollector reads the audit log as it grows.
type auditCollector struct {
	log testenv.AuditLog
	mu  sync.Mutex
	all []request
}

func (a *auditCollector) sync() error {
	events, err := a.log.Next()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range events {
		counted := (e.Verb == "watch" && e.Stage == "ResponseStarted") || (e.Verb != "watch" && e.Stage == "ResponseComplete")
		if !counted {
			continue
		}
		res := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			res += "/" + e.ObjectRef.Subresource
		}
		if res == "" {
			res = "(non-resource)"
		}
		a.all = append(a.all, request{user: e.User.Username, verb: e.Verb, resource: res, at: e.Received.Time})
	}
	return nil
}

// run syncs every 200 ms until ctx ends.
func (a *auditCollector) run(ctx context.Context) {
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = a.sync()
			}
		}
	}()
}

// counts are one user's requests in a window.
type counts struct {
	// ByVerbResource: "verb resource" -> requests.
	ByVerbResource map[string]int
	// Writes are create/update/patch/delete requests, Events and Leases left out; Bookkeeping are those.
	// PlatformWrites are the Writes to the platforms themselves (finalizer, status): Writes less these
	// are the writes to children.
	Writes, Bookkeeping, Reads, PlatformWrites int
}

// window counts a user's requests received in [from, to).
func (a *auditCollector) window(user string, from, to time.Time) counts {
	_ = a.sync()
	a.mu.Lock()
	defer a.mu.Unlock()
	c := counts{ByVerbResource: map[string]int{}}
	for _, r := range a.all {
		if r.user != user || r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		c.ByVerbResource[r.verb+" "+r.resource]++
		switch {
		case write(r.verb) && bookkeeping(r.resource):
			c.Bookkeeping++
		case write(r.verb):
			c.Writes++
			if strings.HasPrefix(r.resource, "genaiplatforms") {
				c.PlatformWrites++
			}
		default:
			c.Reads++
		}
	}
	return c
}

// lastWrite is the time of a user's last write (any resource) received after from; from when none.
func (a *auditCollector) lastWrite(user string, from time.Time) time.Time {
	_ = a.sync()
	a.mu.Lock()
	defer a.mu.Unlock()
	last := from
	for _, r := range a.all {
		if r.user == user && write(r.verb) && r.at.After(last) {
			last = r.at
		}
	}
	return last
}

// sortedKeys are a count map's keys, largest count first.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
