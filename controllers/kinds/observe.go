package kinds

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Observed is what a child's own controller says about it, read from the live object.
type Observed struct {
	// Exists is false when the object is not (yet) in its cluster.
	Exists     bool
	Generation int64
	// Conditions are the conditions found where the kind's Shape says, flattened (one entry per parent
	// or ancestor for routes and policies). For GenerationInStatus, each carries status.observedGeneration.
	Conditions []metav1.Condition
	// SpecChangedAt is when the operator's field manager last changed the object, as the API server
	// recorded it (managedFields). A condition without observedGeneration that is older than this was
	// computed for an earlier spec.
	SpecChangedAt metav1.Time
	// Addresses are a Gateway's status.addresses values.
	Addresses []string
}

// Observe reads a live object's status as its kind's readiness rule says. fieldManager is the operator's
// field manager, whose managedFields entry dates the last change the operator made.
func Observe(obj client.Object, fieldManager string) Observed {
	o := Observed{Exists: true, Generation: obj.GetGeneration()}
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == fieldManager && mf.Subresource == "" && mf.Time != nil && mf.Time.After(o.SpecChangedAt.Time) {
			o.SpecChangedAt = *mf.Time
		}
	}
	k, ok := Of(obj)
	if !ok || k.Readiness == nil {
		return o
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return o
	}
	var raw []any
	switch k.Readiness.Shape {
	case Parents, Ancestors:
		field := "parents"
		if k.Readiness.Shape == Ancestors {
			field = "ancestors"
		}
		entries, _, _ := unstructured.NestedSlice(u, "status", field)
		for _, e := range entries {
			if em, ok := e.(map[string]any); ok {
				if cs, ok := em["conditions"].([]any); ok {
					raw = append(raw, cs...)
				}
			}
		}
	default:
		raw, _, _ = unstructured.NestedSlice(u, "status", "conditions")
	}
	statusGeneration, _, _ := unstructured.NestedInt64(u, "status", "observedGeneration")
	for _, c := range raw {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		var cond metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cond); err != nil {
			continue
		}
		if k.Readiness.Shape == GenerationInStatus {
			cond.ObservedGeneration = statusGeneration
		}
		o.Conditions = append(o.Conditions, cond)
	}
	addrs, _, _ := unstructured.NestedSlice(u, "status", "addresses")
	for _, a := range addrs {
		if m, ok := a.(map[string]any); ok {
			if v, ok := m["value"].(string); ok && v != "" {
				o.Addresses = append(o.Addresses, v)
			}
		}
	}
	return o
}
