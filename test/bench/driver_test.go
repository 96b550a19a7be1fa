package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
	"github.com/genai-platform/genai-platform-operator/controllers/preview"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// childKey names one object of a child kind.
type childKey struct {
	GVK             schema.GroupVersionKind
	Namespace, Name string
}

func (k childKey) String() string { return k.GVK.Kind + "/" + k.Namespace + "/" + k.Name }

// Controller names and messages, as the upstream controllers write them (Envoy Gateway v1.9.1's
// internal/gatewayapi/status, Envoy AI Gateway v1.1.0's internal/controller, KServe v0.20.0's
// pkg/apis/serving/v1beta1/inference_service_status.go).
const (
	envoyGatewayController = "gateway.envoyproxy.io/gatewayclass-controller"
	gatewayAPIGroup        = "gateway.networking.k8s.io"
)

// driver plays the upstream controllers (Envoy Gateway, Envoy AI Gateway, KServe) for the operator's
// children: it watches every object carrying the operator's managed-by label (through the benchmark's
// label-selected informers) and writes each one's status once per generation, in the shape its real
// controller writes, through the status subresource, as its own user (so that the audit log tells its
// writes from the operator's). Kinds nothing reports on (EnvoyProxy, Secret, Namespace) are left alone.
type driver struct {
	client client.Client // the driver's user
	cache  cache.Cache   // the benchmark's informers (label-selected)
	queue  workqueue.TypedRateLimitingInterface[childKey]

	mu      sync.Mutex
	written map[childKey]int64 // the generation whose status was written
	exists  map[childKey]bool  // every labelled object the informers hold

	writes    atomic.Int64
	errors    atomic.Int64
	lastError atomic.Value // string: the last failed write's error
}

func newDriver(c client.Client, ca cache.Cache) *driver {
	return &driver{
		client: c, cache: ca,
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[childKey]()),
		written: map[childKey]int64{}, exists: map[childKey]bool{},
	}
}

// watch registers the driver's handlers on every child kind's informer.
func (d *driver) watch(ctx context.Context) error {
	for _, k := range kinds.All {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(k.GVK)
		inf, err := d.cache.GetInformer(ctx, u)
		if err != nil {
			return fmt.Errorf("informer for %s: %w", k.GVK.Kind, err)
		}
		gvk := k.GVK
		keyOf := func(obj any) (childKey, bool) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			o, ok := obj.(client.Object)
			if !ok {
				return childKey{}, false
			}
			return childKey{GVK: gvk, Namespace: o.GetNamespace(), Name: o.GetName()}, true
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				if key, ok := keyOf(obj); ok {
					d.setExists(key, true)
					d.queue.Add(key)
				}
			},
			UpdateFunc: func(_, obj any) {
				if key, ok := keyOf(obj); ok {
					d.queue.Add(key)
				}
			},
			DeleteFunc: func(obj any) {
				if key, ok := keyOf(obj); ok {
					d.setExists(key, false)
				}
			},
		}); err != nil {
			return err
		}
	}
	return nil
}

func (d *driver) setExists(key childKey, v bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v {
		d.exists[key] = true
	} else {
		delete(d.exists, key)
	}
}

// missing returns the keys the informers do not hold (at most max of them; max < 0: all).
func (d *driver) missing(keys []childKey, max int) []childKey {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []childKey
	for _, k := range keys {
		if !d.exists[k] {
			out = append(out, k)
			if max >= 0 && len(out) >= max {
				break
			}
		}
	}
	return out
}

// waitIdle waits until the driver has nothing queued and has written nothing for a second.
func (d *driver) waitIdle(ctx context.Context) {
	last, since := d.writes.Load(), time.Now()
	for ctx.Err() == nil && (d.queue.Len() > 0 || time.Since(since) < time.Second) {
		time.Sleep(50 * time.Millisecond)
		if w := d.writes.Load(); w != last || d.queue.Len() > 0 {
			last, since = w, time.Now()
		}
	}
}

// run processes the queue with n workers until ctx ends.
func (d *driver) run(ctx context.Context, n int) {
	for range n {
		go func() {
			for {
				key, shutdown := d.queue.Get()
				if shutdown {
					return
				}
				if err := d.process(ctx, key); err != nil {
					d.errors.Add(1)
					d.lastError.Store(key.String() + ": " + err.Error())
					d.queue.AddRateLimited(key)
				} else {
					d.queue.Forget(key)
				}
				d.queue.Done(key)
			}
		}()
	}
	go func() { <-ctx.Done(); d.queue.ShutDown() }()
}

// process writes an object's status if it has none for its current generation.
func (d *driver) process(ctx context.Context, key childKey) error {
	k, ok := kindOf(key.GVK)
	if !ok || k.Readiness == nil {
		return nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(key.GVK)
	if err := d.cache.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: key.Name}, u); err != nil {
		return client.IgnoreNotFound(err)
	}
	if u.GetDeletionTimestamp() != nil {
		return nil
	}
	gen := u.GetGeneration()
	d.mu.Lock()
	done := d.written[key] == gen
	d.mu.Unlock()
	if done {
		return nil
	}
	st, ok := d.statusFor(ctx, u)
	if !ok {
		return nil
	}
	if err := d.patchStatus(ctx, u, st); err != nil {
		return err
	}
	d.mu.Lock()
	d.written[key] = gen
	d.mu.Unlock()
	return nil
}

// patchStatus replaces the object's status (a JSON merge patch of the status subresource: every field
// given replaces the live one, as the upstream controllers' Status().Update does).
func (d *driver) patchStatus(ctx context.Context, u *unstructured.Unstructured, st map[string]any) error {
	body, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(u.GroupVersionKind())
	obj.SetNamespace(u.GetNamespace())
	obj.SetName(u.GetName())
	if err := d.client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	d.writes.Add(1)
	return nil
}

func kindOf(gvk schema.GroupVersionKind) (kinds.Kind, bool) {
	for _, k := range kinds.All {
		if k.GVK == gvk {
			return k, true
		}
	}
	return kinds.Kind{}, false
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// cond is a metav1.Condition as JSON; observedGeneration 0 is left out (Envoy AI Gateway sets none).
func cond(typ, status, reason, message string, gen int64) map[string]any {
	c := map[string]any{"type": typ, "status": status, "reason": reason, "message": message, "lastTransitionTime": now()}
	if gen != 0 {
		c["observedGeneration"] = gen
	}
	return c
}

// statusFor is the status the kind's upstream controller writes once it has accepted the object's
// current generation; false when that controller writes none.
func (d *driver) statusFor(ctx context.Context, u *unstructured.Unstructured) (map[string]any, bool) {
	gen := u.GetGeneration()
	switch u.GetKind() {
	case "GatewayClass":
		// Envoy Gateway reports only on the classes of its controller name (gatewayclass.go: Accepted with
		// "Valid GatewayClass"; supportedFeatures is disabled upstream).
		if ctrl, _, _ := unstructured.NestedString(u.Object, "spec", "controllerName"); ctrl != envoyGatewayController {
			return nil, false
		}
		return map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", "Valid GatewayClass", gen)}}, true
	case "Gateway":
		return d.gatewayStatus(ctx, u, 1), true
	case "HTTPRoute":
		refs, _, _ := unstructured.NestedSlice(u.Object, "spec", "parentRefs")
		parents := make([]any, 0, len(refs))
		for _, r := range refs {
			parents = append(parents, map[string]any{
				"parentRef":      parentRef(r, u.GetNamespace()),
				"controllerName": envoyGatewayController,
				"conditions": []any{
					cond("Accepted", "True", "Accepted", "Route is accepted", gen),
					cond("ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references for the Route", gen),
				},
			})
		}
		return map[string]any{"parents": parents}, true
	case "ClientTrafficPolicy", "SecurityPolicy", "BackendTrafficPolicy", "BackendTLSPolicy":
		// policy.go SetAcceptedForPolicyAncestor: one entry per ancestor Gateway.
		ancestors := d.ancestors(ctx, u)
		if len(ancestors) == 0 {
			return nil, false
		}
		// One entry per distinct ancestor (ancestorRefsEqual), at most 16 (the CRD's limit; Envoy
		// Gateway's TruncatePolicyAncestors).
		seen := map[string]bool{}
		distinct := ancestors[:0]
		for _, a := range ancestors {
			j, _ := json.Marshal(a)
			if !seen[string(j)] && len(distinct) < 16 {
				seen[string(j)] = true
				distinct = append(distinct, a)
			}
		}
		ancestors = distinct
		out := make([]any, 0, len(ancestors))
		for _, a := range ancestors {
			out = append(out, map[string]any{
				"ancestorRef":    a,
				"controllerName": envoyGatewayController,
				"conditions":     []any{cond("Accepted", "True", "Accepted", "Policy has been accepted.", gen)},
			})
		}
		return map[string]any{"ancestors": out}, true
	case "Backend":
		return map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", "The Backend was accepted", gen)}}, true
	case "AIGatewayRoute":
		// newConditions: one condition, no observedGeneration, lastTransitionTime = the reconcile's time.
		return map[string]any{"conditions": []any{cond("Accepted", "True", "ReconciliationSucceeded", "AI Gateway Route reconciled successfully", 0)}}, true
	case "AIServiceBackend":
		return map[string]any{"conditions": []any{cond("Accepted", "True", "ReconciliationSucceeded", "AIServiceBackend reconciled successfully", 0)}}, true
	case "BackendSecurityPolicy":
		return map[string]any{"conditions": []any{cond("Accepted", "True", "ReconciliationSucceeded", "BackendSecurityPolicy reconciled successfully", 0)}}, true
	case "GatewayConfig":
		// gatewayConfigConditions: the reason is the condition type.
		return map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", "GatewayConfig reconciled successfully", 0)}}, true
	case "InferenceService":
		return isvcStatus(u, "Deployment has minimum availability."), true
	}
	return nil, false
}

// gatewayStatus is Envoy Gateway's status of a programmed Gateway with replicas envoy replicas: Accepted
// and Programmed, an address, and each listener's status. A Tier Two Gateway (labelled with its model
// cluster) gets the hostname `manager render` assumes, so that the operator converges on the preview's
// objects; Tier One gets an IP address.
func (d *driver) gatewayStatus(ctx context.Context, u *unstructured.Unstructured, replicas int) map[string]any {
	gen := u.GetGeneration()
	addr := map[string]any{"type": "IPAddress", "value": ipFor(u.GetNamespace() + "/" + u.GetName())}
	if c := u.GetLabels()[render.LabelModelCluster]; c != "" {
		addr = map[string]any{"type": "Hostname", "value": preview.TierTwoAddress(c)}
	}
	// attachedRoutes: the HTTPRoutes (the operator's, or Envoy AI Gateway's of the same name as an
	// AIGatewayRoute) whose parentRefs name this Gateway, at the time of writing.
	attached := 0
	for _, kind := range []string{"HTTPRoute", "AIGatewayRoute"} {
		list := &unstructured.UnstructuredList{}
		group := gatewayAPIGroup
		version := "v1"
		if kind == "AIGatewayRoute" {
			group, version = "aigateway.envoyproxy.io", "v1beta1"
		}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
		if err := d.cache.List(ctx, list, client.InNamespace(u.GetNamespace())); err == nil {
			for _, r := range list.Items {
				refs, _, _ := unstructured.NestedSlice(r.Object, "spec", "parentRefs")
				for _, ref := range refs {
					if m, ok := ref.(map[string]any); ok && m["name"] == u.GetName() {
						attached++
						break
					}
				}
			}
		}
	}
	listeners, _, _ := unstructured.NestedSlice(u.Object, "spec", "listeners")
	ls := make([]any, 0, len(listeners))
	for _, l := range listeners {
		m, _ := l.(map[string]any)
		ls = append(ls, map[string]any{
			"name": m["name"],
			"supportedKinds": []any{
				map[string]any{"group": gatewayAPIGroup, "kind": "HTTPRoute"},
				map[string]any{"group": gatewayAPIGroup, "kind": "GRPCRoute"},
			},
			"attachedRoutes": attached,
			"conditions": []any{
				cond("Programmed", "True", "Programmed", "Sending translated listener configuration to the data plane", gen),
				cond("Accepted", "True", "Accepted", "Listener has been successfully translated", gen),
				cond("ResolvedRefs", "True", "ResolvedRefs", "Listener has been successfully translated", gen),
			},
		})
	}
	return map[string]any{
		"addresses": []any{addr},
		"conditions": []any{
			cond("Accepted", "True", "Accepted", "The Gateway has been scheduled by Envoy Gateway", gen),
			cond("Programmed", "True", "Programmed", fmt.Sprintf("Address assigned to the Gateway, %d/%d envoy replicas available", replicas, replicas), gen),
		},
		"listeners": ls,
	}
}

// isvcStatus is KServe's status of a Ready InferenceService in Standard (raw Deployment) mode:
// knative-style conditions (no observedGeneration of their own), IngressReady, PredictorReady
// (the Deployment's Available condition's reason and message), Ready, Stopped False; the URLs; the
// model's state; and status.observedGeneration, which KServe copies from the predictor Deployment's
// (it follows the InferenceService's generation when each spec change changes the Deployment, which
// is what is written here).
func isvcStatus(u *unstructured.Unstructured, predictorMessage string) map[string]any {
	name, ns := u.GetName(), u.GetNamespace()
	kcond := func(typ, status, reason, message string) map[string]any {
		c := map[string]any{"type": typ, "status": status, "lastTransitionTime": now()}
		if reason != "" {
			c["reason"] = reason
		}
		if message != "" {
			c["message"] = message
		}
		return c
	}
	return map[string]any{
		"observedGeneration": u.GetGeneration(),
		"url":                fmt.Sprintf("http://%s-%s.example.com", name, ns),
		"address":            map[string]any{"url": fmt.Sprintf("http://%s-predictor.%s.svc.cluster.local", name, ns)},
		"components": map[string]any{"predictor": map[string]any{
			"url": fmt.Sprintf("http://%s-predictor-%s.example.com", name, ns),
		}},
		"conditions": []any{
			kcond("IngressReady", "True", "", ""),
			kcond("PredictorReady", "True", "MinimumReplicasAvailable", predictorMessage),
			kcond("Ready", "True", "", ""),
			kcond("Stopped", "False", "", ""),
		},
		"modelStatus": map[string]any{
			"copies":           map[string]any{"failedCopies": 0, "totalCopies": 1},
			"states":           map[string]any{"activeModelState": "Loaded", "targetModelState": "Loaded"},
			"transitionStatus": "UpToDate",
		},
		"deploymentMode": "Standard",
	}
}

// parentRef is a route's parentRef as Envoy Gateway echoes it in status (group, kind and namespace
// filled in).
func parentRef(r any, ns string) map[string]any {
	m, _ := r.(map[string]any)
	out := map[string]any{"group": gatewayAPIGroup, "kind": "Gateway", "namespace": ns}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ancestors are the Gateways a policy's status reports on: its target Gateway; a target route's parent
// Gateways (the route, or the AIGatewayRoute Envoy AI Gateway turns into a route of the same name); for
// a backend target (BackendTLSPolicy, reported once a route uses the backend), the platform's Gateway in
// the policy's namespace.
func (d *driver) ancestors(ctx context.Context, u *unstructured.Unstructured) []any {
	ns := u.GetNamespace()
	targets, _, _ := unstructured.NestedSlice(u.Object, "spec", "targetRefs")
	var out []any
	for _, t := range targets {
		m, _ := t.(map[string]any)
		name, _ := m["name"].(string)
		switch m["kind"] {
		case "Gateway":
			out = append(out, map[string]any{"group": gatewayAPIGroup, "kind": "Gateway", "namespace": ns, "name": name})
		case "HTTPRoute":
			for _, kind := range []schema.GroupVersionKind{
				{Group: gatewayAPIGroup, Version: "v1", Kind: "HTTPRoute"},
				{Group: "aigateway.envoyproxy.io", Version: "v1beta1", Kind: "AIGatewayRoute"},
			} {
				r := &unstructured.Unstructured{}
				r.SetGroupVersionKind(kind)
				if err := d.cache.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
					continue
				}
				refs, _, _ := unstructured.NestedSlice(r.Object, "spec", "parentRefs")
				for _, ref := range refs {
					out = append(out, parentRef(ref, ns))
				}
				break
			}
		default:
			// The Tier One Gateway is named after the platform (render.GatewayName); render makes no
			// backend policy at Tier Two.
			if gw := u.GetLabels()[platformv1.LabelPlatform]; gw != "" && u.GetLabels()[render.LabelModelCluster] == "" {
				out = append(out, map[string]any{"group": gatewayAPIGroup, "kind": "Gateway", "namespace": ns, "name": gw})
			}
		}
	}
	return out
}

// ipFor is a stable made-up address for a Gateway.
func ipFor(s string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	v := h.Sum32()
	return fmt.Sprintf("172.%d.%d.%d", 16+v%16, (v>>8)%256, 1+(v>>16)%254)
}
