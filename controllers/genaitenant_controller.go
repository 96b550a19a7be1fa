package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// orphanTenants says so on a GenAITenant whose platform does not exist: no platform reconcile would ever
// look at it. The platform's reconcile writes the status of every tenant that names an existing one.
type orphanTenants struct{ client client.Client }

func (r *orphanTenants) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	t := &platformv1.GenAITenant{}
	if err := r.client.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	key := tenantPlatformKey(t)
	switch err := r.client.Get(ctx, key, &platformv1.GenAIPlatform{}); {
	case err == nil:
		return ctrl.Result{}, nil
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	before := t.DeepCopy()
	msg := fmt.Sprintf("spec.platformRef: GenAIPlatform %s not found", key)
	for _, typ := range []string{platformv1.ConditionAccepted, platformv1.ConditionReady} {
		meta.SetStatusCondition(&t.Status.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionFalse,
			Reason: platformv1.ReasonPlatformNotFound, Message: msg, ObservedGeneration: t.Generation})
	}
	conditions := t.Status.Conditions
	t.Status = platformv1.GenAITenantStatus{ObservedGeneration: t.Generation, Conditions: conditions}
	if equality.Semantic.DeepEqual(before.Status, t.Status) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(r.client.Status().Patch(ctx, t, client.MergeFrom(before)))
}

// setup registers the controller: a tenant's own changes, and the deletion of a platform, which leaves
// its tenants orphans.
func (r *orphanTenants) setup(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("genaitenant").
		For(&platformv1.GenAITenant{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&platformv1.GenAIPlatform{}, handler.EnqueueRequestsFromMapFunc(r.tenantsOf),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc: func(event.CreateEvent) bool { return false },
				UpdateFunc: func(event.UpdateEvent) bool { return false },
			})).
		Complete(r)
}

func (r *orphanTenants) tenantsOf(ctx context.Context, p client.Object) []reconcile.Request {
	var list platformv1.GenAITenantList
	if err := r.client.List(ctx, &list, client.InNamespace(p.GetNamespace()), client.MatchingFields{tenantPlatformIndex: client.ObjectKeyFromObject(p).String()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
