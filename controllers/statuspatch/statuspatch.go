// Package statuspatch writes the status of objects whose status only the operator writes (GenAIModels,
// GenAITenants, hundreds of them per platform) when it changed, and only then, even when the cache is a
// moment behind the operator's own last write.
//
// The object read from the cache may not show the status the operator wrote a moment ago. Compared with
// that stale status, a new status equal to it would be taken for no change and not written, leaving the
// last write (which said something else) in place until some other event; and a patch computed against
// it could miss fields. So the last status written, and the resourceVersion its write gave the object,
// are remembered until the cache shows them, and a write is compared with that instead.
package statuspatch

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Memory is the last status written per object, until the cache shows it. The zero value is ready.
type Memory struct {
	mu    sync.Mutex
	byKey map[string]written
}

type written struct {
	resourceVersion string
	status          []byte // as JSON, the form the API server keeps
}

// Write patches obj's status, computed by the caller on a copy of before (the object as the cache shows
// it), when it differs from the status the API server holds as far as the operator knows: the status
// it wrote last when the cache does not show that write yet, else before's. status returns a pointer to
// an object's status field. It reports whether a patch was sent.
func Write[T client.Object](ctx context.Context, c client.Client, m *Memory, before, obj T, status func(T) any) (bool, error) {
	key := fmt.Sprintf("%T/%s/%s", obj, obj.GetNamespace(), obj.GetName())
	base := before
	if w, ok := m.get(key); ok {
		if CacheOlder(before.GetResourceVersion(), w.resourceVersion) {
			b, ok := before.DeepCopyObject().(T)
			if ok {
				st := reflect.ValueOf(status(b)).Elem()
				st.SetZero()
				// Only the status differs from before: the patch carries no resourceVersion (no lock: only
				// the operator writes this status).
				if err := json.Unmarshal(w.status, status(b)); err == nil {
					base = b
				}
			}
		} else {
			m.forget(key) // the cache shows the write (or a later one): no need to remember it
		}
	}
	now, err := json.Marshal(status(obj))
	if err != nil {
		return false, err
	}
	was, err := json.Marshal(status(base))
	if err != nil {
		return false, err
	}
	if string(now) == string(was) {
		return false, nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return true, client.IgnoreNotFound(err)
	}
	m.set(key, written{resourceVersion: obj.GetResourceVersion(), status: now})
	return true, nil
}

// CacheOlder says whether the cached resourceVersion is older than the one the operator's write gave
// the object. A newer one (someone else wrote since) is the base of the next patch, so that what they
// wrote is not taken for the operator's; when the two cannot be compared, neither is taken for older.
func CacheOlder(cached, written string) bool {
	c, err := resourceversion.CompareResourceVersion(cached, written)
	return err == nil && c < 0
}

// Len is how many writes are remembered: those the cache did not show when last looked at.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byKey)
}

func (m *Memory) get(key string) (written, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.byKey[key]
	return w, ok
}

func (m *Memory) set(key string, w written) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byKey == nil {
		m.byKey = map[string]written{}
	}
	m.byKey[key] = w
}

func (m *Memory) forget(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byKey, key)
}
