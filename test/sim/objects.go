package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the simulated cluster's server-side apply field manager.
const FieldOwner = "genai-sim"

// apply server-side applies objects, forcing ownership (the simulated cluster owns what it installs).
func (c *Cluster) apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	for _, o := range objs {
		o.SetManagedFields(nil)
		o.SetResourceVersion("")
		if err := c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// ReadObjects decodes every object of a multi-document YAML file.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeObjects(b)
}

// DecodeObjects decodes every object of a multi-document YAML stream.
func DecodeObjects(b []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func namespace(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name},
	}}
}

func gatewayClass(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
	}}
}

// conditionTrue reads obj back and reports whether its status condition typ is True.
func (c *Cluster) conditionTrue(ctx context.Context, obj *unstructured.Unstructured, typ string) (bool, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		return false, err
	}
	conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
	for _, x := range conds {
		m, _ := x.(map[string]any)
		if m["type"] == typ {
			if m["status"] == "True" {
				return true, nil
			}
			return false, fmt.Errorf("%s %s: %s=%v %v: %v", obj.GetKind(), obj.GetName(), typ, m["status"], m["reason"], m["message"])
		}
	}
	return false, fmt.Errorf("%s %s has no %s condition yet", obj.GetKind(), obj.GetName(), typ)
}
