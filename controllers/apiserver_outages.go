package controllers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// outageMinimum is the shortest loss of the API server reported as an outage: a single refused or reset
// connection is retried by the clients at once and is nobody's concern.
const outageMinimum = 2 * time.Second

var (
	apiServerUnreachable = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "genai_operator_apiserver_unreachable",
		Help: "1 while the operator's requests to its own API server get no answer, else 0.",
	})
	apiServerOutages = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "genai_operator_apiserver_outages_total",
		Help: "Times the operator lost its own API server for at least two seconds.",
	})
)

func init() { metrics.Registry.MustRegister(apiServerUnreachable, apiServerOutages) }

// APIServerOutages follows every request the manager makes to its own API server, through its
// transport (rest.Config.Wrap), and tells when the API server stopped answering and when it came back.
// An outage cannot be written into any status while it lasts; once it has ended, every platform is
// reconciled and records it (status.lastAPIServerOutage), so that status shows why a change made during
// the outage took effect late.
type APIServerOutages struct {
	Clock func() time.Time // nil: time.Now

	mu       sync.Mutex
	since    time.Time // when the first failed request of the current outage was sent; zero while none failed
	failed   int64
	message  string
	last     *platformv1.APIServerOutage
	recovery chan struct{}
}

// NewAPIServerOutages returns a monitor to wrap the manager's transport with.
func NewAPIServerOutages() *APIServerOutages {
	return &APIServerOutages{recovery: make(chan struct{}, 1)}
}

// Wrap is a rest.Config WrapTransport.
func (o *APIServerOutages) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		sent := o.now()
		resp, err := rt.RoundTrip(req)
		switch {
		case err != nil && req.Context().Err() != nil:
			// Cancelled by its caller (a watch closed, the manager stopping): not the API server's doing.
		case err != nil:
			o.failure(sent, err.Error())
		case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
			o.failure(sent, resp.Status)
		default:
			o.answered()
		}
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (o *APIServerOutages) now() time.Time {
	if o.Clock != nil {
		return o.Clock()
	}
	return time.Now()
}

// failure counts a request sent at sent that got no answer: an outage starts when its first such request
// was sent (a blocked API server makes each wait for a timeout before it fails).
func (o *APIServerOutages) failure(sent time.Time, message string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() || sent.Before(o.since) {
		o.since = sent
		apiServerUnreachable.Set(1)
	}
	o.failed++
	o.message = message
}

func (o *APIServerOutages) answered() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return
	}
	end := o.now()
	if end.Sub(o.since) >= outageMinimum {
		o.last = &platformv1.APIServerOutage{
			Start: metav1.NewTime(o.since), End: metav1.NewTime(end),
			FailedRequests: o.failed, Message: truncate(o.message, 512),
		}
		apiServerOutages.Inc()
		select {
		case o.recovery <- struct{}{}:
		default: // a recovery is already waiting to be told
		}
	}
	o.since, o.failed, o.message = time.Time{}, 0, ""
	apiServerUnreachable.Set(0)
}

// Last is the last outage that has ended, if any.
func (o *APIServerOutages) Last() *platformv1.APIServerOutage {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last.DeepCopy()
}

// reconcileAllAfterRecovery is a watch source: after each outage it enqueues every platform, so that
// each records the outage even if nothing about it changed meanwhile.
func (o *APIServerOutages) reconcileAllAfterRecovery(c client.Reader) source.Source {
	return source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-o.recovery:
				}
				var list platformv1.GenAIPlatformList
				if err := c.List(ctx, &list); err != nil {
					continue
				}
				for i := range list.Items {
					q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: list.Items[i].Namespace, Name: list.Items[i].Name}})
				}
			}
		}()
		return nil
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
