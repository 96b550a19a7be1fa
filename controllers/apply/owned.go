package apply

import (
	"encoding/json"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// ownedSet is the set of fields the operator's field manager holds in obj through apply (nil: none).
func ownedSet(obj *unstructured.Unstructured) (*fieldpath.Set, error) {
	for _, m := range obj.GetManagedFields() {
		if m.Manager != FieldOwner || m.Operation != metav1.ManagedFieldsOperationApply || m.Subresource != "" || m.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(m.FieldsV1.GetRawReader()); err != nil {
			return nil, err
		}
		return set, nil
	}
	return nil, nil
}

// owned returns the part of obj that the operator owns: the fields, list items and values its managed
// fields name, with their live values. It has no schema: list items are found by the keys, values or
// indexes that the managed fields themselves name.
func owned(obj *unstructured.Unstructured) (map[string]any, error) {
	set, err := ownedSet(obj)
	if err != nil || set == nil {
		return nil, err
	}
	out, _ := extract(obj.Object, set).(map[string]any)
	return out, nil
}

func extract(v any, set *fieldpath.Set) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, child := range v {
			pe := fieldpath.PathElement{FieldName: &k}
			if sub, ok := set.Children.Get(pe); ok {
				out[k] = extract(child, sub)
			} else if set.Members.Has(pe) {
				out[k] = child
			}
		}
		return out
	case []any:
		var out []any
		for i, item := range v {
			sub, member := listItem(set, i, item)
			switch {
			case sub != nil:
				out = append(out, extract(item, sub))
			case member:
				out = append(out, item)
			}
		}
		return out
	default:
		return v
	}
}

// listItem finds the list item at index i among the set's children (sub) or members.
func listItem(set *fieldpath.Set, i int, item any) (sub *fieldpath.Set, member bool) {
	for pe := range set.Children.All() {
		if matches(pe, i, item) {
			s, _ := set.Children.Get(pe)
			return s, false
		}
	}
	for pe := range set.Members.All() {
		if matches(pe, i, item) {
			return nil, true
		}
	}
	return nil, false
}

func matches(pe fieldpath.PathElement, i int, item any) bool {
	switch {
	case pe.Index != nil:
		return *pe.Index == i
	case pe.Value != nil:
		return value.Equals(*pe.Value, value.NewValueInterface(item))
	case pe.Key != nil:
		m, ok := item.(map[string]any)
		if !ok {
			return false
		}
		for _, f := range *pe.Key {
			v, ok := m[f.Name]
			if !ok || !value.Equals(f.Value, value.NewValueInterface(v)) {
				return false
			}
		}
		return true
	}
	return false
}

// ownedHash hashes the part of obj the operator owns.
func ownedHash(obj *unstructured.Unstructured) (string, error) {
	o, err := owned(obj)
	if err != nil {
		return "", err
	}
	return hashOfOwned(o)
}

func hashOfOwned(o map[string]any) (string, error) {
	return hashOf(&unstructured.Unstructured{Object: o})
}

// ownsAsDesired tells whether the fields the operator owns (o, as owned extracts them from the live
// object) hold exactly what desired sets. The
// object's identity (apiVersion, kind, name, namespace) is not in managed fields; a null in desired sets
// nothing, and an empty map or list is no field on either side (server-side apply keeps no managed field
// for one). Both sides go through JSON so that numbers compare alike.
func ownsAsDesired(o map[string]any, desired *unstructured.Unstructured) bool {
	if o == nil {
		return false
	}
	want := desired.DeepCopy().Object
	delete(want, "apiVersion")
	delete(want, "kind")
	unstructured.RemoveNestedField(want, "metadata", "name")
	unstructured.RemoveNestedField(want, "metadata", "namespace")
	if md, ok := want["metadata"].(map[string]any); ok && len(md) == 0 {
		delete(want, "metadata")
	}
	return reflect.DeepEqual(dropEmpty(normalized(o)), dropEmpty(normalized(want)))
}

// dropEmpty removes nulls, and the maps and lists that are empty once their own nulls and empties are
// gone (inside lists too, whose items keep their places).
func dropEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range v {
			if c = dropEmpty(c); c != nil {
				out[k] = c
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(v) == 0 {
			return nil
		}
		out := make([]any, len(v))
		for i, c := range v {
			out[i] = dropEmpty(c)
		}
		return out
	}
	return v
}

func normalized(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}
