package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// secretWatches tells the platforms when a user Secret they read changes, without holding other
// people's Secrets: a metadata-only informer (name, namespace, resourceVersion; never data) per
// namespace that holds a platform or a GenAIModel attached to one, started the first time a reconcile
// needs it. A cluster-wide informer would hold every Secret of the cluster: 10,000 other teams' Secrets
// cost a cluster-wide watch about 4 MB of live heap (docs/benchmarks.md); these cost nothing.
//
// A namespace's informer runs until the operator stops, also after its last platform is gone: a
// namespace's Secret names weigh little, and the platforms of a namespace tend to come back.
type secretWatches struct {
	config  *rest.Config
	scheme  *runtime.Scheme
	mapper  meta.RESTMapper
	handler handler.TypedEventHandler[*metav1.PartialObjectMetadata, reconcile.Request]

	mu         sync.Mutex
	controller controller.Controller // set once the controller is built
	ctx        context.Context       // the manager's, set by Start: the informers live as long
	watched    map[string]watchedSecrets
}

// watchedSecrets is one namespace's Secret cache and its one informer.
type watchedSecrets struct {
	cache    cache.Cache
	informer cache.Informer
}

// Start records the manager's context for the informers, and waits for it to end (a Runnable).
func (s *secretWatches) Start(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	<-ctx.Done()
	return nil
}

// NeedLeaderElection: every replica watches, so that a new leader starts with warm caches.
func (s *secretWatches) NeedLeaderElection() bool { return false }

// ensure makes sure the Secrets of namespace ns are watched, and that the watch has listed them
// (so that a change after this call is seen), before the caller reads any of them.
func (s *secretWatches) ensure(ctx context.Context, ns string) error {
	s.mu.Lock()
	w, ok := s.watched[ns]
	if !ok {
		if s.ctx == nil || s.controller == nil {
			s.mu.Unlock()
			return errors.New("the Secret watches are not started yet")
		}
		c, err := cache.New(s.config, cache.Options{
			Scheme: s.scheme, Mapper: s.mapper, DefaultTransform: slimMetadata,
			DefaultNamespaces: map[string]cache.Config{ns: {}},
		})
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("watching the Secrets of namespace %s: %w", ns, err)
		}
		obj := partialMetadata(corev1.SchemeGroupVersion.WithKind("Secret"))
		// The informer exists before the cache starts, so that the cache starts it.
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("watching the Secrets of namespace %s: %w", ns, err)
		}
		go func(ctx context.Context) { _ = c.Start(ctx) }(s.ctx)
		if err := s.controller.Watch(source.Kind(c, obj, s.handler)); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("watching the Secrets of namespace %s: %w", ns, err)
		}
		w = watchedSecrets{cache: c, informer: inf}
		s.watched[ns] = w
	}
	s.mu.Unlock()
	// The first list of a namespace's Secrets takes milliseconds: polled as often, not at client-go's
	// WaitForCacheSync interval (100 ms), which every new platform's first reconcile would wait through.
	for !w.informer.HasSynced() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Secrets of namespace %s are not listed yet: %w", ns, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// resourceVersion is a Secret's resourceVersion as its namespace's metadata informer shows it; false when
// the namespace is not watched or the informer has not seen the Secret.
func (s *secretWatches) resourceVersion(ctx context.Context, key types.NamespacedName) (string, bool) {
	s.mu.Lock()
	w, ok := s.watched[key.Namespace]
	s.mu.Unlock()
	if !ok {
		return "", false
	}
	obj := partialMetadata(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := w.cache.Get(ctx, key, obj); err != nil {
		return "", false
	}
	return obj.GetResourceVersion(), true
}
