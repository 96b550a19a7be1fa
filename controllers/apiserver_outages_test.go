package controllers

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// The transport-level rules of an outage: failures to connect or 502/503/504 start one, any other
// answer ends it, a loss shorter than outageMinimum is not one, and a request its caller cancelled is
// no failure. (test/chaos/outage_test.go shows the whole path against a real, blocked API server.)
func TestAPIServerOutages(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	o := NewAPIServerOutages()
	o.Clock = func() time.Time { return now }
	var next func() (*http.Response, error)
	rt := o.Wrap(roundTripper(func(*http.Request) (*http.Response, error) { return next() }))
	send := func(ctx context.Context, resp *http.Response, err error) {
		t.Helper()
		next = func() (*http.Response, error) { return resp, err }
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://apiserver/api", nil)
		_, _ = rt.RoundTrip(req)
	}
	ok := &http.Response{StatusCode: http.StatusOK, Status: "200 OK"}
	refused := errors.New("dial tcp 10.0.0.1:6443: connect: connection refused")

	send(t.Context(), ok, nil)
	send(t.Context(), nil, refused)
	now = now.Add(time.Second)
	send(t.Context(), ok, nil)
	if o.Last() != nil {
		t.Fatalf("a one-second loss is reported as an outage: %+v", o.Last())
	}

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	send(cancelled, nil, context.Canceled)
	now = now.Add(time.Minute)
	send(t.Context(), ok, nil)
	if o.Last() != nil {
		t.Fatalf("a request its caller cancelled is reported as an outage: %+v", o.Last())
	}

	start := now
	send(t.Context(), nil, refused)
	now = now.Add(30 * time.Second)
	send(t.Context(), &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable"}, nil)
	if o.Last() != nil {
		t.Fatal("an outage is reported before it ends")
	}
	now = now.Add(15 * time.Second)
	send(t.Context(), &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found"}, nil)
	want := &platformv1.APIServerOutage{Start: metav1.NewTime(start), End: metav1.NewTime(now), FailedRequests: 2, Message: "503 Service Unavailable"}
	got := o.Last()
	if got == nil || *got != *want {
		t.Fatalf("outage = %+v, want %+v", got, want)
	}
	select {
	case <-o.recovery:
	default:
		t.Fatal("the end of the outage does not ask for every platform to be reconciled")
	}

	// Status keeps the latest outage: an older one (a replica that saw an earlier one) does not replace it.
	p := &platformv1.GenAIPlatform{}
	st := status.Compute(status.Input{Platform: p, APIServerOutage: got})
	if st.LastAPIServerOutage == nil || *st.LastAPIServerOutage != *want {
		t.Fatalf("status.lastAPIServerOutage = %+v, want %+v", st.LastAPIServerOutage, want)
	}
	p.Status = st
	older := want.DeepCopy()
	older.End = metav1.NewTime(start.Add(time.Second))
	if st := status.Compute(status.Input{Platform: p, APIServerOutage: older}); *st.LastAPIServerOutage != *want {
		t.Fatalf("an older outage replaced the recorded one: %+v", st.LastAPIServerOutage)
	}
}
