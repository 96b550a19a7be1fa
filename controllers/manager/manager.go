// Package manager builds the operator's controller-runtime manager from its command-line flags. The
// binary (main.go) and the install test share it, so that the test runs the operator exactly as the
// Deployment in config/manager starts it: same flags, same metrics protection, same leader election.
package manager

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
)

// LeaderElectionID names the Lease the replicas compete for.
const LeaderElectionID = "genai-platform-operator.platform.genai.dev"

// Config is the manager's command-line configuration.
type Config struct {
	MetricsAddr   string
	ProbeAddr     string
	LeaderElect   bool
	SecureMetrics bool
	// LeaderElectionNamespace holds the Lease; empty: the pod's own namespace (in a cluster).
	LeaderElectionNamespace string
	// Controller tunes the controller; the zero value is right for production.
	Controller controllers.Options
	// QPS and Burst limit the manager's requests on the client side; a negative QPS leaves the limiting
	// to the API server's priority and fairness (controller-runtime's default).
	QPS   float64
	Burst int
}

// BindFlags registers the manager's flags on fs.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8443", "Address the metrics endpoint binds to; 0 disables it.")
	fs.StringVar(&c.ProbeAddr, "health-probe-bind-address", ":8081", "Address the health probes bind to.")
	fs.BoolVar(&c.LeaderElect, "leader-elect", false, "Elect a leader, so that only one replica reconciles.")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease. Empty: the pod's own namespace (required when running outside a cluster).")
	fs.BoolVar(&c.SecureMetrics, "metrics-secure", false, "Serve metrics over HTTPS with authentication and authorization.")
	fs.IntVar(&c.Controller.ApplyWorkers, "apply-workers", apply.DefaultWorkers, "Writes to one cluster a reconcile sends at a time (Namespaces first, then Secrets, then the rest).")
	fs.Float64Var(&c.QPS, "kube-api-qps", -1, "Requests per second the manager may send to its API server; negative: no client-side limit, the API server's priority and fairness governs.")
	fs.IntVar(&c.Burst, "kube-api-burst", 0, "Burst above --kube-api-qps; 0: twice the QPS, when a QPS is set.")
	fs.DurationVar(&c.Controller.KeyRotationGrace, "key-rotation-grace", controllers.DefaultKeyRotationGrace,
		"How long Tier Two keeps admitting a Tier One key after Tier One switched to the next: at least the time a changed Secret takes to reach a pod's mounted files (kubelet sync period + Secret cache TTL).")
	fs.Func("model-namespaces", "Comma-separated namespaces (shell patterns, e.g. genai-models,team-*) of this cluster where any GenAIPlatform may place a model cluster. Without it a platform writes only into its own namespace and namespaces labelled "+platformv1.LabelAllowedPlatformNamespace+"=<its namespace>.",
		func(v string) error {
			for _, pattern := range strings.Split(v, ",") {
				if pattern = strings.TrimSpace(pattern); pattern == "" {
					continue
				}
				if _, err := path.Match(pattern, ""); err != nil {
					return fmt.Errorf("namespace pattern %q: %w", pattern, err)
				}
				c.Controller.ModelNamespaces = append(c.Controller.ModelNamespaces, pattern)
			}
			return nil
		})
}

// MetricsOptions serves metrics over plain HTTP (local runs), or, with --metrics-secure (the Deployment),
// over HTTPS to authenticated callers allowed to get /metrics: the API server checks each caller's token
// (TokenReview) and permission (SubjectAccessReview). HTTP/2 is off on the secure endpoint: a scraper
// has no use for it, and that keeps the endpoint out of HTTP/2's stream-reset attacks (CVE-2023-44487,
// CVE-2023-39325).
func MetricsOptions(addr string, secure bool) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr, SecureServing: secure}
	if secure {
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
		opts.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	return opts
}

// New returns the operator's manager with the GenAIPlatform controller and the health checks added.
func New(cfg *rest.Config, c Config) (ctrl.Manager, error) {
	// Every request to the API server goes through the outage monitor, so that platforms can tell in
	// their status when the operator could not reach it.
	cfg = rest.CopyConfig(cfg)
	if c.QPS != 0 {
		cfg.QPS, cfg.Burst = float32(c.QPS), c.Burst
		if cfg.Burst <= 0 && c.QPS > 0 {
			cfg.Burst = int(2 * c.QPS)
		}
	}
	c.Controller.APIServerOutages = controllers.NewAPIServerOutages()
	cfg.Wrap(c.Controller.APIServerOutages.Wrap)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  controllers.NewScheme(),
		Cache:                   controllers.CacheOptions(),
		Metrics:                 MetricsOptions(c.MetricsAddr, c.SecureMetrics),
		HealthProbeBindAddress:  c.ProbeAddr,
		LeaderElection:          c.LeaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: c.LeaderElectionNamespace,
		// A graceful stop gives the Lease up at once, so that the next leader starts within seconds rather
		// than after the lease expires. main exits as soon as the manager stops, as this requires.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.Setup(mgr, c.Controller); err != nil {
		return nil, fmt.Errorf("setting up the controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("caches", CachesSynced(mgr.GetCache())); err != nil {
		return nil, fmt.Errorf("adding the readiness check: %w", err)
	}
	return mgr, nil
}

// CachesSynced is a readiness check that fails until the manager's caches have synced: a replica that
// cannot see its objects yet (a slow or unreachable API server) is not ready.
func CachesSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the manager's caches have not synced")
		}
		return nil
	}
}
