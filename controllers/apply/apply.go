// Package apply writes desired objects with server-side apply under one field owner, skips the request
// when the fields the operator owns already hold what it wants, and prunes by label what is no longer
// desired.
//
// "Nothing to do" is decided from what the operator owns, not from resourceVersion: a status written by
// the child's own controller, or a field that another manager owns, changes the resourceVersion but not
// the operator's fields, and costs no request. The fields the operator owns are read from the live
// object's managedFields (the set its field manager holds), as client-go's Extract functions do. After a
// successful apply the Applier remembers the hash of what it sent and of the owned fields the server
// returned; a live object whose owned fields still hash the same needs nothing. A hand edit of an owned
// field moves that field to the editor's manager (or changes its value), so the hash differs and the
// field is repaired. Without a record (after a restart), the owned fields are compared with the desired
// object directly.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	kservev1alpha2 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1alpha2"
	kservev1beta1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
)

// FieldOwner is the one field manager the operator writes with.
const FieldOwner = "genai-platform-operator"

// Applier applies and prunes objects in one cluster.
type Applier struct {
	// Client writes to the API server; its reads should come from an informer cache so that the no-diff
	// check costs no request.
	Client client.Client
	Scheme *runtime.Scheme
	// Workers is how many requests ApplyAll sends at a time; zero or less: DefaultWorkers.
	Workers int
	// Reader, when set, reads from the API server directly. An object the cache does not hold, which
	// this Applier made with the same content, is looked up there before it is applied again: the cache
	// may just not show the operator's own create yet.
	Reader client.Reader

	mu      sync.Mutex
	applied map[objectKey]appliedRecord
}

type objectKey struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

type appliedRecord struct {
	hash            string // of the desired object sent
	owned           string // of the fields the operator owned in the server's answer
	resourceVersion string
	generation      int64
}

// New returns an Applier for one cluster that sends up to workers writes at a time (zero: DefaultWorkers).
func New(c client.Client, scheme *runtime.Scheme, workers int) *Applier {
	return &Applier{Client: c, Scheme: scheme, Workers: workers, applied: map[objectKey]appliedRecord{}}
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
	err = a.Client.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, live)
	if apierrors.IsNotFound(err) && a.Reader != nil && a.madeAs(key, hash) {
		err = a.Reader.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, live)
	}
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("reading %s %s: %w", gvk.Kind, key.name, err)
	default:
		same, err := a.unchanged(key, hash, u, live)
		if err != nil {
			return false, fmt.Errorf("reading the fields the operator owns in %s %s: %w", gvk.Kind, key.name, err)
		}
		if same {
			return false, nil
		}
	}

	if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return true, fmt.Errorf("applying %s %s: %w", gvk.Kind, key.name, err)
	}
	// u now holds the server's answer.
	owned, err := ownedHash(u)
	if err != nil {
		return true, fmt.Errorf("reading the fields the operator owns in %s %s: %w", gvk.Kind, key.name, err)
	}
	a.remember(key, appliedRecord{hash: hash, owned: owned, resourceVersion: u.GetResourceVersion(), generation: u.GetGeneration()})
	return true, nil
}

// madeAs tells whether this Applier last applied the object with this content.
func (a *Applier) madeAs(key objectKey, hash string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.applied[key]
	return ok && rec.hash == hash
}

// DefaultWorkers is ApplyAll's concurrency when none is set: enough to make a platform of hundreds of
// children converge several times faster than one request at a time, few enough that one reconcile
// does not take over the API server's priority-and-fairness share of the operator.
const DefaultWorkers = 4

// ApplyAll applies objs, Workers at a time, and returns each one's error (nil: applied or unchanged),
// in objs' order. It goes in waves, each finished before the next starts, so that what others
// reference, or what must be in force first, exists first (see waves).
func (a *Applier) ApplyAll(ctx context.Context, objs []client.Object) []error {
	errs := make([]error, len(objs))
	workers := a.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	for _, wave := range waves(objs) {
		next := make(chan int)
		var wg sync.WaitGroup
		for range min(workers, len(wave)) {
			wg.Go(func() {
				for i := range next {
					_, errs[i] = a.Apply(ctx, objs[i])
				}
			})
		}
		for _, i := range wave {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	return errs
}

// waves groups the indexes of objs by the order they must be applied in: Namespaces, then Secrets and
// ConfigMaps, then the SecurityPolicies that authorize requests (tenants' access to a model: in force
// before a rule of that model is), then everything else. The last wave starts with what takes longest to
// be answered, so that the workers finish together rather than one of them alone at the end: Gateways
// (their controller then takes the longest to give them an address, which Tier One's link waits for), then
// the routes and InferenceServices, whose validation (the CRDs' CEL rules, the largest objects) costs the
// API server the most. What they refer to may come after them: their controllers resolve references when
// they appear.
func waves(objs []client.Object) [][]int {
	out := make([][]int, 4)
	var last [4][]int
	for i, o := range objs {
		switch o := o.(type) {
		case *corev1.Namespace:
			out[0] = append(out[0], i)
		case *corev1.Secret, *corev1.ConfigMap:
			out[1] = append(out[1], i)
		case *egv1a1.SecurityPolicy:
			if o.Spec.Authorization != nil {
				out[2] = append(out[2], i)
			} else {
				last[3] = append(last[3], i)
			}
		case *gwapiv1.Gateway:
			last[0] = append(last[0], i)
		case *gwapiv1.HTTPRoute, *aigv1b1.AIGatewayRoute:
			last[1] = append(last[1], i)
		case *kservev1beta1.InferenceService, *kservev1alpha2.LLMInferenceService:
			last[2] = append(last[2], i)
		default:
			last[3] = append(last[3], i)
		}
	}
	for _, l := range last {
		out[3] = append(out[3], l...)
	}
	return out
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

// unchanged tells whether live (as the cache shows it) needs no apply of desired (whose hash is hash).
func (a *Applier) unchanged(key objectKey, hash string, desired *unstructured.Unstructured, live client.Object) (bool, error) {
	a.mu.Lock()
	rec, ok := a.applied[key]
	a.mu.Unlock()
	if ok && rec.hash == hash {
		// The cache has not caught up with the operator's own last apply yet: it shows an older object,
		// and its watch event will bring the reconcile that looks again.
		if older, err := resourceversion.CompareResourceVersion(live.GetResourceVersion(), rec.resourceVersion); err == nil && older <= 0 {
			return true, nil
		}
	}
	lu, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return false, err
	}
	liveU := &unstructured.Unstructured{Object: lu}
	if ok && rec.hash == hash {
		owned, err := ownedHash(liveU)
		if err != nil || owned != rec.owned {
			return false, err
		}
		// Only others' fields changed (a status, another manager's field): remember this version, so that
		// the next look at it is a resourceVersion comparison, not another extraction.
		rec.resourceVersion, rec.generation = live.GetResourceVersion(), live.GetGeneration()
		a.remember(key, rec)
		return true, nil
	}
	// No record of this desired object (a restart, or a new spec): compare directly.
	o, err := owned(liveU)
	if err != nil || !ownsAsDesired(o, desired) {
		return false, err
	}
	ownedSum, err := hashOfOwned(o)
	if err != nil {
		return false, err
	}
	a.remember(key, appliedRecord{hash: hash, owned: ownedSum, resourceVersion: live.GetResourceVersion(), generation: live.GetGeneration()})
	return true, nil
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
