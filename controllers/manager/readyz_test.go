package manager

import (
	"context"
	"net/http/httptest"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// syncState stands for a cache whose informers have or have not synced: a real one that never syncs needs
// an API server that never answers, which the install test does not have.
type syncState struct {
	cache.Cache
	synced bool
}

func (s syncState) WaitForCacheSync(ctx context.Context) bool { return s.synced }

// TestReadyzFollowsCacheSync: /readyz fails while the manager's caches have not synced.
func TestReadyzFollowsCacheSync(t *testing.T) {
	req := httptest.NewRequest("GET", "/readyz", nil)
	if err := CachesSynced(syncState{synced: false})(req); err == nil {
		t.Error("ready with caches not synced")
	}
	if err := CachesSynced(syncState{synced: true})(req); err != nil {
		t.Errorf("not ready with caches synced: %v", err)
	}
}
