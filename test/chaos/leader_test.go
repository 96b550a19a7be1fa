package chaos

import (
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// partition is a TCP proxy between one replica and the API server that can be cut: while cut, it drops
// every open connection and holds new ones without an answer, as a network partition does.
type partition struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	cut     bool
	open    map[net.Conn]bool
	release chan struct{}
}

func newPartition(t *testing.T, target string) *partition {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &partition{ln: ln, target: target, open: map[net.Conn]bool{}, release: make(chan struct{})}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *partition) serve(c net.Conn) {
	p.mu.Lock()
	cut, release := p.cut, p.release
	p.mu.Unlock()
	if cut {
		<-release // held, unanswered, until the partition heals
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.open[c], p.open[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

func (p *partition) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut == cut {
		return
	}
	p.cut = cut
	if cut {
		for c := range p.open {
			_ = c.Close()
		}
		p.open = map[net.Conn]bool{}
		return
	}
	close(p.release)
	p.release = make(chan struct{})
}

// replica is one operator replica with its own identity (so that the audit log tells them apart) and its
// own way to the API server.
type replica struct {
	*operator
	name string
	net  *partition
}

// acquisitions counts the times the replica's log says it became the leader.
func (r *replica) acquisitions() int {
	b, err := os.ReadFile(r.Log)
	if err != nil {
		return 0
	}
	return strings.Count(strings.ToLower(string(b)), "successfully acquired lease")
}

// auditPolicy records the metadata of every write the replicas send.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [replica-a, replica-b]
  verbs: [create, update, patch, delete, deletecollection]
- level: None
`

// writers reads the audit log: each replica's writes in time order, leases left out (both replicas
// write them while competing).
func writers(t *testing.T, path string) []testenv.AuditEvent {
	t.Helper()
	events, err := testenv.ReadAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []testenv.AuditEvent
	for _, e := range events {
		if e.ObjectRef.Resource == "leases" || e.ObjectRef.Resource == "events" {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Received.Before(&out[j].Received) })
	return out
}

// TestLeaderElection: two replicas elect a leader. The leader is SIGKILLed: the other takes over once the
// Lease expires. The new leader is then cut off from the API server (connections dropped, new ones never
// answered): it gives up leadership and exits when it cannot renew, and the other takes over. Finally a
// graceful stop releases the Lease and the handover takes seconds. The API server's audit log shows the
// replicas' writes in turns: never one replica writing while the other leads.
func TestLeaderElection(t *testing.T) {
	var auditLog string
	c := newCluster(t, func(env *envtest.Environment) {
		var err error
		if auditLog, err = testenv.ConfigureAuditLog(env, t.TempDir(), auditPolicy); err != nil {
			t.Fatal(err)
		}
	})
	admin, ctx := c.admin, t.Context()
	const ns = "leader"
	c.namespace(t, ns)
	newReplica := func(name string) *replica {
		p := c.partition(t)
		return &replica{name: name, net: p, operator: c.operator(t, name, p, "--leader-elect", "--leader-election-namespace="+ns)}
	}
	a, b := newReplica("replica-a"), newReplica("replica-b")
	// leaderAfter waits for one of the candidates to acquire the Lease once more than it had when the
	// action began (the log is polled every 50 ms: the time is when the acquisition was seen).
	snapshot := func() map[*replica]int { return map[*replica]int{a: a.acquisitions(), b: b.acquisitions()} }
	leaderAfter := func(since time.Time, before map[*replica]int, candidates ...*replica) (*replica, time.Duration) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			for _, r := range candidates {
				if r.acquisitions() > before[r] {
					return r, time.Since(since)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no replica acquired the Lease within a minute of %v", since.Format(time.TimeOnly))
		return nil, 0
	}
	// edit makes the leader write (a model added: children and status), so that the audit log has turns.
	p := c.platform(t, ns, "elected", 5, 0)
	models := 5
	edit := func() {
		t.Helper()
		models++
		c.setModels(t, p, models, 0)
		testenv.Eventually(t, time.Minute, func() error {
			if err := admin.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
				return err
			}
			if p.Status.ObservedGeneration != p.Generation {
				return fmt.Errorf("generation %d not reconciled (observed %d)", p.Generation, p.Status.ObservedGeneration)
			}
			return nil
		})
	}

	start, before := time.Now(), snapshot()
	a.Start(t)
	b.Start(t)
	leader, _ := leaderAfter(start, before, a, b)
	follower := map[*replica]*replica{a: b, b: a}[leader]
	edit()

	// 1. SIGKILL: the Lease is not released; the other replica takes over once it expires (15 s).
	killedAt, before := time.Now(), snapshot()
	leader.Kill()
	next, failover := leaderAfter(killedAt, before, follower)
	edit()
	t.Logf("leader %s killed (SIGKILL): %s took over in %v", leader.name, next.name, failover.Round(time.Millisecond))
	if failover > 25*time.Second {
		t.Errorf("failover after a SIGKILL took %v; the Lease lasts 15 s, retried every 2 s", failover)
	}
	leader.Start(t) // back, as a follower
	leader, follower = next, leader

	// 2. Partition: the leader cannot renew; it stops leading and exits, the other takes over.
	cutAt, before := time.Now(), snapshot()
	leader.net.setCut(true)
	next, failover = leaderAfter(cutAt, before, follower)
	edit()
	t.Logf("leader %s partitioned: %s took over in %v", leader.name, next.name, failover.Round(time.Millisecond))
	exited := make(chan error, 1)
	go func() { exited <- leader.Cmd.Wait() }()
	select {
	case <-exited:
		leader.Cmd = nil
	case <-time.After(30 * time.Second):
		t.Errorf("the partitioned replica %s still runs 30 s after it lost the Lease", leader.name)
	}
	leader.net.setCut(false)
	leader.Start(t)
	leader, follower = next, leader

	// 3. Graceful stop: the Lease is released at once; the handover takes seconds, not the Lease's 15.
	stopAt, before := time.Now(), snapshot()
	if err := leader.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next, handover := leaderAfter(stopAt, before, follower)
	edit()
	t.Logf("leader %s stopped gracefully: %s took over in %v", leader.name, next.name, handover.Round(time.Millisecond))
	if handover > 8*time.Second {
		t.Errorf("handover after a graceful stop took %v: the Lease was not released", handover)
	}

	// The audit log: the replicas wrote in turns, one turn per leadership, never interleaved.
	testenv.Eventually(t, 10*time.Second, func() error {
		events := writers(t, auditLog)
		var turns []string
		for _, e := range events {
			if len(turns) == 0 || turns[len(turns)-1] != e.User.Username {
				turns = append(turns, e.User.Username)
			}
		}
		// Leaders, in order: the first, the one after the kill, the one after the partition, the one after
		// the graceful stop: at most four turns.
		if len(turns) > 4 {
			return fmt.Errorf("writes from the two replicas interleave: %d turns %v", len(turns), turns)
		}
		if len(turns) < 4 {
			return fmt.Errorf("%d turns of writes %v; want one per leadership (4)", len(turns), turns)
		}
		t.Logf("audit log: %d writes in %d turns %v, none interleaved", len(events), len(turns), turns)
		return nil
	})
}
