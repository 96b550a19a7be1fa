package controllers

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// secretValues are the user Secrets the platforms read (provider credentials, client keys, tenants'
// own keys, model download tokens), as last read from the API server, by namespace and name. A reconcile
// reads a Secret again only when its namespace's metadata informer (secretWatches) shows another
// resourceVersion than the one read: with hundreds of tenants that bring their own keys, every reconcile
// would otherwise send as many GETs. The values are those the operator copies into its own Secrets
// anyway; they are not in the manager's cache, and an entry not used for secretValueTTL is dropped.
type secretValues struct {
	mu    sync.Mutex
	byKey map[types.NamespacedName]secretValue
}

type secretValue struct {
	secret *corev1.Secret
	used   time.Time
}

// secretValueTTL is how long a Secret no platform reads any more stays remembered.
const secretValueTTL = 10 * time.Minute

// get returns the Secret as read at resourceVersion rv, if that is the version remembered.
func (v *secretValues) get(key types.NamespacedName, rv string, now time.Time) (*corev1.Secret, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.byKey[key]
	if !ok || e.secret.ResourceVersion != rv {
		return nil, false
	}
	e.used = now
	v.byKey[key] = e
	return e.secret, true
}

func (v *secretValues) set(key types.NamespacedName, s *corev1.Secret, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byKey == nil {
		v.byKey = map[types.NamespacedName]secretValue{}
	}
	for k, e := range v.byKey {
		if now.Sub(e.used) > secretValueTTL {
			delete(v.byKey, k)
		}
	}
	v.byKey[key] = secretValue{secret: s, used: now}
}

func (v *secretValues) forget(key types.NamespacedName) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.byKey, key)
}

// readUserSecret reads a Secret the platform references: from what was last read when the Secret's
// metadata informer shows the same resourceVersion, else from the API server. The informer's event for
// a change brings a reconcile of its own, which reads the new version.
func (r *GenAIPlatformReconciler) readUserSecret(ctx context.Context, key types.NamespacedName, s *corev1.Secret) error {
	now := time.Now()
	if r.secrets != nil {
		if rv, ok := r.secrets.resourceVersion(ctx, key); ok {
			if got, ok := r.secretValues.get(key, rv, now); ok {
				got.DeepCopyInto(s)
				return nil
			}
		}
	}
	if err := r.APIReader.Get(ctx, key, s); err != nil {
		if apierrors.IsNotFound(err) {
			r.secretValues.forget(key)
		}
		return err
	}
	r.secretValues.set(key, s.DeepCopy(), now)
	return nil
}
