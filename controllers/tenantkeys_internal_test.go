package controllers

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

// TestTenantKeyRotationKeepsEveryOldKeyForTheGracePeriod drives a tenant's generated keys, reconcile by
// reconcile (every 20 s, and whenever a grace period ends, as the reconciler requeues), through three
// hours of rotation requests at random moments, some closer together than the grace period. Every key
// taken out of use stays accepted for the whole grace period after it was replaced, and every request is
// acted upon within one grace period: a request that comes while old keys are still accepted waits
// (status keyRotation.pending) instead of dropping them.
func TestTenantKeyRotationKeepsEveryOldKeyForTheGracePeriod(t *testing.T) {
	const grace = 3 * time.Minute
	rng := rand.New(rand.NewPCG(7, 7))
	n := 0
	newKey := func() string { n++; return fmt.Sprintf("k%d", n) }
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := start

	g, rot, due := tenantKeysStep(facts.GeneratedTenantKeys{Current: map[string][]byte{}}, false, "", 2, now, grace, newKey)
	if rot != nil || len(g.Current) != 2 || !due.IsZero() {
		t.Fatalf("first keys: %+v, rotation %+v, due %v", g, rot, due)
	}
	retired := map[string]time.Time{} // key -> when it stopped being current
	requested, requestedAt := "", time.Time{}
	acted, deferred := 0, 0
	for step := 0; now.Before(start.Add(3 * time.Hour)); step++ {
		next := now.Add(20 * time.Second)
		if !due.IsZero() && due.Before(next) {
			next = due
		}
		now = next
		if rng.IntN(12) == 0 {
			requested, requestedAt = fmt.Sprint(step), now
		}
		before := g.Current
		g, rot, due = tenantKeysStep(g, true, requested, 2, now, grace, newKey)
		for name, v := range before {
			if string(g.Current[name]) != string(v) {
				retired[string(v)] = now
			}
		}
		accepted := map[string]bool{}
		for _, v := range g.Current {
			accepted[string(v)] = true
		}
		for _, v := range g.Previous {
			accepted[string(v)] = true
		}
		for k, at := range retired {
			if now.Sub(at) < grace && !accepted[k] {
				t.Fatalf("at %v key %s, replaced at %v, is no longer accepted: the grace period is %v", now.Sub(start), k, at.Sub(start), grace)
			}
		}
		switch {
		case requested != "" && g.Token == requested && rot != nil && rot.Token == requested:
			if requestedAt.Equal(now) {
				acted++
			}
		case requested != "":
			if rot == nil || rot.Pending != requested || rot.PreviousKeysUntil == nil || !rot.PreviousKeysUntil.Time.Equal(due) {
				t.Fatalf("at %v request %s waits, but the status says %+v (due %v)", now.Sub(start), requested, rot, due)
			}
			if now.Sub(requestedAt) >= grace {
				t.Fatalf("at %v request %s, made at %v, still waits", now.Sub(start), requested, requestedAt.Sub(start))
			}
			deferred++
		}
	}
	if acted == 0 || deferred == 0 {
		t.Fatalf("the walk saw %d rotations acted upon at once and %d reconciles with one waiting: it should see both", acted, deferred)
	}
	t.Logf("%d keys made, %d rotations acted upon at once, %d reconciles with a rotation waiting", n, acted, deferred)
}
