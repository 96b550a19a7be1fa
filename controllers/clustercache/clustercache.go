// Package clustercache keeps, for every remote model cluster, one client and one informer cache, built from
// the kubeconfig Secret the platform names, replaced when that kubeconfig changes and stopped when the
// cluster leaves the spec.
//
// The shape follows Cluster API's controllers/clustercache rather than sigs.k8s.io/multicluster-runtime:
// the set of clusters here is not discovered by a provider but named in each GenAIPlatform's spec, one
// platform's clusters must not affect another's, and the reconciler needs to know, per cluster and per
// reconcile, whether it is reachable right now (to stop routing to it) — which is what Cluster API's
// accessor with its health probe gives. multicluster-runtime would bring a second manager abstraction
// (mcmanager, per-cluster controllers) for what is, here, one controller writing to N clusters.
//
// Per cluster:
//   - a health probe (GET /readyz) runs every HealthInterval; a change of health enqueues the platform, so
//     an unreachable cluster is noticed, and a recovered one reconciled, without polling the platform;
//   - informers start only once the cluster answered, only for the operator's kinds the cluster serves, and
//     only for objects carrying the operator's labels, so the cache never holds other people's objects;
//   - every informer event enqueues the platform named by the object's labels (watches, not polling);
//   - requests carry per-call deadlines (RequestTimeout), so a slow cluster cannot hold a worker.
package clustercache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/genai-platform/genai-platform-operator/controllers/apply"
)

// Key names one model cluster of one platform. Two platforms naming the same kubeconfig get two
// accessors: their lifecycles (rotation, removal, deletion) are independent.
type Key struct {
	Platform types.NamespacedName
	Cluster  string
}

func (k Key) String() string { return k.Platform.String() + "/" + k.Cluster }

// ErrInvalidKubeconfig marks a kubeconfig that cannot be turned into a client.
var ErrInvalidKubeconfig = errors.New("invalid kubeconfig")

// Options configure a ClusterCache; zero durations take the defaults.
type Options struct {
	Scheme *runtime.Scheme
	// Kinds are the kinds the operator reads and writes in a model cluster; each is watched once the
	// cluster serves it.
	Kinds []client.Object
	// Selector is what every cached object carries (the operator's labels).
	Selector labels.Selector
	// PlatformLabels maps a platform to labels that name it, for the health-change events (they are
	// mapped back to the platform by the same function as every child event).
	PlatformLabels func(types.NamespacedName) map[string]string
	// RequestTimeout bounds each request to a remote API server; default 10 s.
	RequestTimeout time.Duration
	// HealthInterval is how often each cluster is probed; default 10 s.
	HealthInterval time.Duration
	// ApplyWorkers is how many writes each cluster's Applier sends at a time; zero: apply.DefaultWorkers.
	ApplyWorkers int
	Log          logr.Logger
}

// ClusterCache holds the accessors of every remote model cluster of every platform.
type ClusterCache struct {
	opts   Options
	events chan event.GenericEvent

	mu       sync.Mutex
	clusters map[Key]*Cluster
}

// New returns an empty ClusterCache.
func New(opts Options) *ClusterCache {
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.HealthInterval == 0 {
		opts.HealthInterval = 10 * time.Second
	}
	return &ClusterCache{opts: opts, events: make(chan event.GenericEvent, 1024), clusters: map[Key]*Cluster{}}
}

// Events carries remote objects (and health changes, as objects labelled with their platform) for the
// controller to map to platforms.
func (c *ClusterCache) Events() <-chan event.GenericEvent { return c.events }

// RequestTimeout is the deadline the reconciler gives each remote step.
func (c *ClusterCache) RequestTimeout() time.Duration { return c.opts.RequestTimeout }

// Connect returns the accessor of key, built from kubeconfig. An accessor built from the same kubeconfig
// is reused; a changed kubeconfig (a rotated credential, a moved endpoint) replaces it.
func (c *ClusterCache) Connect(key Key, kubeconfig []byte) (*Cluster, error) {
	sum := sha256.Sum256(kubeconfig)
	hash := hex.EncodeToString(sum[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clusters[key]; ok {
		if cl.hash == hash {
			return cl, nil
		}
		c.opts.Log.Info("model cluster kubeconfig changed: replacing its client and cache", "cluster", key.String())
		// Stopping waits for the old informers; the other clusters' callers need not wait with it.
		go cl.stop()
		delete(c.clusters, key)
	}
	cl, err := c.newCluster(key, hash, kubeconfig)
	if err != nil {
		return nil, err
	}
	c.clusters[key] = cl
	return cl, nil
}

// Get returns the accessor of key, or nil. Cleanup uses it when the kubeconfig Secret is already gone.
func (c *ClusterCache) Get(key Key) *Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clusters[key]
}

// ClustersOf lists the accessors of one platform.
func (c *ClusterCache) ClustersOf(platform types.NamespacedName) []Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Key
	for k := range c.clusters {
		if k.Platform == platform {
			out = append(out, k)
		}
	}
	return out
}

// Disconnect stops the accessor of key: its informers (and so their watches) and its health probe.
func (c *ClusterCache) Disconnect(key Key) {
	c.mu.Lock()
	cl := c.clusters[key]
	delete(c.clusters, key)
	c.mu.Unlock()
	if cl != nil {
		cl.stop()
	}
}

// Start implements manager.Runnable: it stops every accessor when the manager stops.
func (c *ClusterCache) Start(ctx context.Context) error {
	<-ctx.Done()
	c.mu.Lock()
	all := c.clusters
	c.clusters = map[Key]*Cluster{}
	c.mu.Unlock()
	for _, cl := range all {
		cl.stop()
	}
	return nil
}

// Len is the number of live accessors.
func (c *ClusterCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.clusters)
}

// Cluster is one remote cluster's accessor.
type Cluster struct {
	Key Key
	// Client reads the operator's objects from the cluster's cache and writes to its API server.
	Client client.Client
	// Reader reads from the API server: for objects the operator may not own (a namespace).
	Reader client.Reader
	// Applier applies and prunes in this cluster, with its own no-diff memory.
	Applier *apply.Applier

	owner  *ClusterCache
	hash   string
	cache  cache.Cache
	mapper meta.RESTMapper
	probe  *http.Client
	host   string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	healthy bool
	probed  bool
	lastErr error
	watched map[schema.GroupVersionKind]bool
}

// untrusted says what a kubeconfig from a user's Secret may not do inside the operator's pod: run a
// program (exec, auth-provider plugins), or read the pod's files (a token, certificate or key by path,
// such as the operator's own service account token, which would then be sent to the user's server).
// Only inline credentials are used.
func untrusted(kubeconfig []byte) error {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return err
	}
	for name, u := range cfg.AuthInfos {
		switch {
		case u.Exec != nil:
			return fmt.Errorf("user %q runs an exec credential plugin (%s): not allowed from a Secret; use a token or a client certificate", name, u.Exec.Command)
		case u.AuthProvider != nil:
			return fmt.Errorf("user %q uses the %s auth-provider plugin: not allowed from a Secret; use a token or a client certificate", name, u.AuthProvider.Name)
		case u.TokenFile != "" || u.ClientCertificate != "" || u.ClientKey != "":
			return fmt.Errorf("user %q reads its credentials from files of the operator's pod: give them inline (token, client-certificate-data, client-key-data)", name)
		}
	}
	for name, cl := range cfg.Clusters {
		if cl.CertificateAuthority != "" {
			return fmt.Errorf("cluster %q reads its CA from a file of the operator's pod: give certificate-authority-data", name)
		}
	}
	return nil
}

// noRedirects refuses to follow an API server's redirect: a user's server could otherwise send the
// operator's requests to an address of the operator's own network.
func noRedirects(hc *http.Client) *http.Client {
	hc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		return fmt.Errorf("the API server redirected to %s: redirects are not followed", req.URL.Host)
	}
	return hc
}

func (c *ClusterCache) newCluster(key Key, hash string, kubeconfig []byte) (*Cluster, error) {
	if err := untrusted(kubeconfig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKubeconfig, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKubeconfig, err)
	}
	cfg.UserAgent = "genai-platform-operator"
	cfg.QPS, cfg.Burst = 20, 40
	// Informers' watches are long requests: their client has no overall timeout. Every other request
	// (discovery, writes, uncached reads, the probe) goes through a client that gives up after
	// RequestTimeout, so a cluster that accepts connections and never answers cannot hold a worker.
	bounded := rest.CopyConfig(cfg)
	bounded.Timeout = c.opts.RequestTimeout
	boundedHTTP, err := rest.HTTPClientFor(bounded)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKubeconfig, err)
	}
	watchHTTP, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKubeconfig, err)
	}
	boundedHTTP, watchHTTP = noRedirects(boundedHTTP), noRedirects(watchHTTP)
	mapper, err := apiutil.NewDynamicRESTMapper(bounded, boundedHTTP)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKubeconfig, err)
	}
	ca, err := cache.New(cfg, cache.Options{
		HTTPClient:                  watchHTTP,
		Scheme:                      c.opts.Scheme,
		Mapper:                      mapper,
		DefaultLabelSelector:        c.opts.Selector,
		DefaultTransform:            cache.TransformStripManagedFields(),
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return nil, err
	}
	cl, err := client.New(bounded, client.Options{HTTPClient: boundedHTTP, Scheme: c.opts.Scheme, Mapper: mapper, Cache: &client.CacheOptions{Reader: ca}})
	if err != nil {
		return nil, err
	}
	reader, err := client.New(bounded, client.Options{HTTPClient: boundedHTTP, Scheme: c.opts.Scheme, Mapper: mapper})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &Cluster{
		Key: key, Client: cl, Reader: reader, Applier: apply.New(cl, c.opts.Scheme, c.opts.ApplyWorkers),
		owner: c, hash: hash, cache: ca, mapper: mapper, probe: boundedHTTP, host: strings.TrimSuffix(bounded.Host, "/"),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), watched: map[schema.GroupVersionKind]bool{},
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := ca.Start(ctx); err != nil {
			c.opts.Log.Error(err, "model cluster cache stopped", "cluster", key.String())
		}
	}()
	go func() { defer wg.Done(); out.healthLoop() }()
	go func() { wg.Wait(); close(out.done) }()
	return out, nil
}

// Health reports whether the cluster answered its last probe, and why not. Before the first probe
// completes it reports unhealthy with a "not probed yet" error.
func (cl *Cluster) Health() (bool, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if !cl.probed {
		return false, errors.New("not probed yet")
	}
	return cl.healthy, cl.lastErr
}

// WaitProbed waits (bounded by ctx) for the first probe, so a new accessor answers Health truthfully.
func (cl *Cluster) WaitProbed(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		cl.mu.Lock()
		probed := cl.probed
		cl.mu.Unlock()
		if probed {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-cl.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Served says whether the cluster serves gvk.
func (cl *Cluster) Served(gvk schema.GroupVersionKind) (bool, error) {
	if _, err := cl.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		if meta.IsNoMatchError(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Sync starts the informers of the kinds the cluster serves (once each) and waits, bounded by ctx, for
// the cache to be in sync. It returns the served kinds.
func (cl *Cluster) Sync(ctx context.Context) (map[schema.GroupVersionKind]bool, error) {
	served := map[schema.GroupVersionKind]bool{}
	for _, obj := range cl.owner.opts.Kinds {
		gvk, err := apiutil.GVKForObject(obj, cl.owner.opts.Scheme)
		if err != nil {
			return nil, err
		}
		ok, err := cl.Served(gvk)
		if err != nil {
			return nil, fmt.Errorf("discovering %s: %w", gvk.Kind, err)
		}
		if !ok {
			continue
		}
		served[gvk] = true
		if err := cl.watch(ctx, gvk, obj); err != nil {
			return nil, err
		}
	}
	if !cl.cache.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the cluster's cache did not sync: %w", context.Cause(ctx))
	}
	return served, nil
}

func (cl *Cluster) watch(ctx context.Context, gvk schema.GroupVersionKind, obj client.Object) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.watched[gvk] {
		return nil
	}
	inf, err := cl.cache.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("watching %s: %w", gvk.Kind, err)
	}
	send := func(o any) {
		if tomb, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = tomb.Obj
		}
		if co, ok := o.(client.Object); ok {
			cl.emit(co)
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    send,
		UpdateFunc: func(_, n any) { send(n) },
		DeleteFunc: send,
	}); err != nil {
		return err
	}
	cl.watched[gvk] = true
	return nil
}

func (cl *Cluster) emit(obj client.Object) {
	select {
	case cl.owner.events <- event.GenericEvent{Object: obj}:
	case <-cl.ctx.Done():
	}
}

// healthLoop probes the cluster at once and then every HealthInterval; a change of health enqueues the
// platform.
func (cl *Cluster) healthLoop() {
	t := time.NewTicker(cl.owner.opts.HealthInterval)
	defer t.Stop()
	for {
		err := cl.probeOnce()
		cl.mu.Lock()
		// The first probe is awaited by whoever connected (WaitProbed): only later changes are news.
		changed := cl.probed && cl.healthy != (err == nil)
		first := !cl.probed
		cl.probed, cl.healthy, cl.lastErr = true, err == nil, err
		cl.mu.Unlock()
		if first && err != nil {
			cl.owner.opts.Log.Info("model cluster does not answer", "cluster", cl.Key.String(), "error", err.Error())
		}
		if changed {
			cl.owner.opts.Log.Info("model cluster health changed", "cluster", cl.Key.String(), "healthy", err == nil, "error", errString(err))
			if cl.owner.opts.PlatformLabels != nil {
				m := &metav1.PartialObjectMetadata{}
				m.SetLabels(cl.owner.opts.PlatformLabels(cl.Key.Platform))
				cl.emit(m)
			}
		}
		select {
		case <-cl.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (cl *Cluster) probeOnce() error {
	ctx, cancel := context.WithTimeout(cl.ctx, cl.owner.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.host+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := cl.probe.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %s", resp.Status)
	}
	return nil
}

// Done is closed once the accessor's informers and probe have stopped.
func (cl *Cluster) Done() <-chan struct{} { return cl.done }

func (cl *Cluster) stop() {
	cl.cancel()
	select {
	case <-cl.done:
	case <-time.After(30 * time.Second):
		cl.owner.opts.Log.Info("model cluster accessor slow to stop", "cluster", cl.Key.String())
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
