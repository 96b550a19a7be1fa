// Package apply writes desired objects with server-side apply under one field owner, skips the request
// when the object is already as last applied, and prunes by label what is no longer desired.
//
// The no-diff skip follows Cluster API's SSA cache: after a successful apply the operator remembers the hash
// of what it sent and the resourceVersion the server returned. When the same desired object meets the same
// resourceVersion again, nothing can have changed on either side, so no request is sent. Any edit of the
// live object (by hand, by another controller) changes its resourceVersion and triggers a re-apply, which
// is how hand-made changes are repaired.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// FieldOwner is the one field manager the operator writes with.
const FieldOwner = "genai-platform-operator"

// Applier applies and prunes objects in one cluster.
type Applier struct {
	// Client writes to the API server; its reads should come from an informer cache so that the no-diff
	// check costs no request.
	Client client.Client
	Scheme *runtime.Scheme

	mu      sync.Mutex
	applied map[objectKey]appliedRecord
}

type objectKey struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

type appliedRecord struct {
	hash            string
	resourceVersion string
	generation      int64
}

// New returns an Applier for one cluster.
func New(c client.Client, scheme *runtime.Scheme) *Applier {
	return &Applier{Client: c, Scheme: scheme, applied: map[objectKey]appliedRecord{}}
}

// Apply makes the live object match desired for every field desired sets. It returns whether a request
// was sent. desired is not modified.
func (a *Applier) Apply(ctx context.Context, desired client.Object) (bool, error) {
	u, gvk, err := a.toApplyPatch(desired)
	if err != nil {
		return false, err
	}
	hash, err := hashOf(u)
	if err != nil {
		return false, err
	}
	key := objectKey{gvk: gvk, namespace: u.GetNamespace(), name: u.GetName()}

	live, err := a.newObject(gvk)
	if err != nil {
		return false, err
	}
	switch err := a.Client.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, live); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("reading %s %s: %w", gvk.Kind, key.name, err)
	default:
		if a.unchanged(key, hash, live.GetResourceVersion()) {
			return false, nil
		}
	}

	if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return true, fmt.Errorf("applying %s %s: %w", gvk.Kind, key.name, err)
	}
	a.remember(key, appliedRecord{hash: hash, resourceVersion: u.GetResourceVersion(), generation: u.GetGeneration()})
	return true, nil
}

// Delete removes an object (already gone is fine) and forgets its record.
func (a *Applier) Delete(ctx context.Context, obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, a.Scheme)
	if err != nil {
		return err
	}
	if err := a.Client.Delete(ctx, obj, client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	a.mu.Lock()
	delete(a.applied, objectKey{gvk: gvk, namespace: obj.GetNamespace(), name: obj.GetName()})
	a.mu.Unlock()
	return nil
}

// Prune deletes every object of list's kind that carries the selector's labels but is not in keep (keyed
// by Key). It returns how many it deleted.
func (a *Applier) Prune(ctx context.Context, list client.ObjectList, selector client.MatchingLabels, keep map[string]bool) (int, error) {
	if err := a.Client.List(ctx, list, selector); err != nil {
		return 0, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, item := range items {
		obj, ok := item.(client.Object)
		if !ok {
			continue
		}
		gvk, err := apiutil.GVKForObject(obj, a.Scheme)
		if err != nil {
			return deleted, err
		}
		if keep[Key(gvk, obj.GetNamespace(), obj.GetName())] || obj.GetDeletionTimestamp() != nil {
			continue
		}
		// Another controller's object that inherited the operator's labels (KServe copies an
		// InferenceService's labels onto the HTTPRoutes, Services and Deployments it makes) is not the
		// operator's to delete; its controller owns its life.
		if owner := metav1.GetControllerOf(obj); owner != nil && owner.Kind != "GenAIPlatform" {
			continue
		}
		if err := a.Delete(ctx, obj); err != nil {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}

// Key identifies an object across kinds, for Prune's keep set.
func Key(gvk schema.GroupVersionKind, namespace, name string) string {
	return gvk.GroupKind().String() + "/" + namespace + "/" + name
}

func (a *Applier) unchanged(key objectKey, hash, liveRV string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.applied[key]
	return ok && rec.hash == hash && rec.resourceVersion == liveRV
}

func (a *Applier) remember(key objectKey, rec appliedRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied[key] = rec
}

// AppliedGeneration is the generation the API server gave an object at the operator's last apply of it,
// if the operator applied it. A cache that shows an older generation has not caught up with that apply
// yet: what it says of the object's status is about the previous spec.
func (a *Applier) AppliedGeneration(gvk schema.GroupVersionKind, namespace, name string) (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.applied[objectKey{gvk: gvk, namespace: namespace, name: name}]
	return rec.generation, ok
}

func (a *Applier) newObject(gvk schema.GroupVersionKind) (client.Object, error) {
	o, err := a.Scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	obj, ok := o.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", gvk)
	}
	return obj, nil
}

// toApplyPatch turns a typed desired object into the body of an apply request: apiVersion and kind set,
// no status (the status subresource is not the operator's), no server-set metadata.
func (a *Applier) toApplyPatch(desired client.Object) (*unstructured.Unstructured, schema.GroupVersionKind, error) {
	gvk, err := apiutil.GVKForObject(desired, a.Scheme)
	if err != nil {
		return nil, gvk, err
	}
	return ToUnstructured(desired, gvk)
}

// ToUnstructured converts a typed object into the form the operator applies (and the golden files show).
func ToUnstructured(obj client.Object, gvk schema.GroupVersionKind) (*unstructured.Unstructured, schema.GroupVersionKind, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, gvk, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	return u, gvk, nil
}

func hashOf(u *unstructured.Unstructured) (string, error) {
	b, err := json.Marshal(u.Object) // map keys are sorted: the hash is stable
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
