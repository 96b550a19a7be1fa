package controllers

import (
	"testing"
	"time"

	"github.com/genai-platform/genai-platform-operator/controllers/certs"
)

// TestLinkCALifecycle walks the operator CA of a link through ten years, reconcile by reconcile: the
// serving certificate is renewed before it expires, the CA is rotated in two steps, and at every step the
// certificate Tier Two serves is accepted by Tier One's trust bundle, whether Tier One has caught up with
// the step or still holds the previous bundle (its proxies lag behind the Secret).
func TestLinkCALifecycle(t *testing.T) {
	const grace = 3 * time.Minute
	names := []string{"east.tier-two.genai.internal", "tier2.east.example"}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lt, err := advanceLinkCA(nil, nil, names, now, grace)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := certs.Verify(lt.TrustBundle, lt.ServingCert, n, now); err != nil {
			t.Fatalf("fresh link, %s: %v", n, err)
		}
	}
	if want := now.Add(-time.Hour).Add(2 * (linkServingValidity + time.Hour) / 3); lt.RenewAt.Sub(want).Abs() > time.Second {
		t.Errorf("first renewal at %v, want two thirds into the serving certificate's life, %v", lt.RenewAt, want)
	}

	servingRenewals, caRotations := 0, 0
	end := now.Add(10 * 365 * 24 * time.Hour)
	for steps := 0; now.Before(end); steps++ {
		if steps > 500 {
			t.Fatal("more than 500 renewals in ten years")
		}
		prev := lt
		now = lt.RenewAt
		if lt, err = advanceLinkCA(prev.State, prev.StateAnnotations, names, now, grace); err != nil {
			t.Fatal(err)
		}
		if !lt.RenewAt.After(now) {
			t.Fatalf("at %v the next step is due at %v: no progress", now, lt.RenewAt)
		}
		// Tier One caught up, or still on the previous bundle; Tier Two caught up, or still serving the
		// previous certificate: every pairing is accepted.
		for _, bundle := range [][]byte{prev.TrustBundle, lt.TrustBundle} {
			for _, serving := range [][]byte{prev.ServingCert, lt.ServingCert} {
				if err := certs.Verify(bundle, serving, names[0], now); err != nil {
					t.Fatalf("at %v (step %d): Tier One would refuse Tier Two: %v", now, steps, err)
				}
			}
		}
		if string(prev.ServingCert) != string(lt.ServingCert) {
			servingRenewals++
		}
		if string(prev.State[keyCACert]) != string(lt.State[keyCACert]) {
			caRotations++
			if prev.State[keyNextCACert] == nil {
				t.Fatalf("at %v the CA changed without being staged first", now)
			}
		}
	}
	// 90-day certificates renewed at 60 days: about 60 renewals in ten years; the CA (10 years, rotated at
	// two thirds) once.
	if servingRenewals < 55 || caRotations != 1 {
		t.Errorf("in ten years: %d serving renewals (want about 60), %d CA rotations (want 1)", servingRenewals, caRotations)
	}
	t.Logf("ten years: %d serving certificate renewals, %d staged CA rotation", servingRenewals, caRotations)
}

// TestLinkCAReplacedWhenUnusable: a CA that is expired or unreadable cannot be kept trusting: it is
// replaced at once, and the serving certificate with it.
func TestLinkCAReplacedWhenUnusable(t *testing.T) {
	names := []string{"east.tier-two.genai.internal"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lt, err := advanceLinkCA(nil, nil, names, start, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for name, state := range map[string]func() (map[string][]byte, time.Time){
		"expired":    func() (map[string][]byte, time.Time) { return lt.State, start.Add(11 * 365 * 24 * time.Hour) },
		"unreadable": func() (map[string][]byte, time.Time) { return map[string][]byte{keyCACert: []byte("garbage")}, start },
	} {
		t.Run(name, func(t *testing.T) {
			data, at := state()
			got, err := advanceLinkCA(data, nil, names, at, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.State[keyCACert]) == string(lt.State[keyCACert]) || got.State[keyNextCACert] != nil {
				t.Error("the CA was kept or staged, not replaced")
			}
			if err := certs.Verify(got.TrustBundle, got.ServingCert, names[0], at); err != nil {
				t.Error(err)
			}
		})
	}
}
