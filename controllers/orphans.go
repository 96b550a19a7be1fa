package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// orphans says so on an object that names a platform (a GenAIModel, a GenAITenant) when that platform
// does not exist: no platform reconcile would ever look at it. The platform's reconcile writes the status
// of every object that names an existing one.
type orphans[T client.Object] struct {
	client client.Client
	name   string // the controller's
	newObj func() T
	// platform is the platform the object names.
	platform func(T) types.NamespacedName
	// status is the object's status, conditions its conditions; orphan makes it say only that the
	// platform is missing, with these conditions (what else it said came from the platform's reconcile).
	status     func(T) any
	conditions func(T) []metav1.Condition
	orphan     func(obj T, conditions []metav1.Condition)
	// naming lists the objects that name platform p.
	naming func(ctx context.Context, c client.Client, p client.Object) ([]client.Object, error)
}

func (r *orphans[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.newObj()
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	key := r.platform(obj)
	switch err := r.client.Get(ctx, key, &platformv1.GenAIPlatform{}); {
	case err == nil:
		return ctrl.Result{}, nil
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	before := obj.DeepCopyObject().(T)
	conditions := append([]metav1.Condition(nil), r.conditions(obj)...)
	msg := fmt.Sprintf("spec.platformRef: GenAIPlatform %s not found", key)
	for _, typ := range []string{platformv1.ConditionAccepted, platformv1.ConditionReady} {
		meta.SetStatusCondition(&conditions, metav1.Condition{Type: typ, Status: metav1.ConditionFalse,
			Reason: platformv1.ReasonPlatformNotFound, Message: msg, ObservedGeneration: obj.GetGeneration()})
	}
	r.orphan(obj, conditions)
	if equality.Semantic.DeepEqual(r.status(before), r.status(obj)) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(r.client.Status().Patch(ctx, obj, client.MergeFrom(before)))
}

// setup registers the controller: an object's own changes, and the deletion of a platform, which leaves
// the objects that name it orphans.
func (r *orphans[T]) setup(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(r.name).
		For(r.newObj(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&platformv1.GenAIPlatform{}, handler.EnqueueRequestsFromMapFunc(r.orphansOf),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc: func(event.CreateEvent) bool { return false },
				UpdateFunc: func(event.UpdateEvent) bool { return false },
			})).
		Complete(r)
}

func (r *orphans[T]) orphansOf(ctx context.Context, p client.Object) []reconcile.Request {
	objs, err := r.naming(ctx, r.client, p)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(objs))
	for _, o := range objs {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
	}
	return out
}

// objectsOf is a list's items as objects.
func objectsOf[T any, PT interface {
	*T
	client.Object
}](items []T) []client.Object {
	out := make([]client.Object, 0, len(items))
	for i := range items {
		out = append(out, PT(&items[i]))
	}
	return out
}
