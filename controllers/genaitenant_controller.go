package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// orphanTenants says so on a GenAITenant whose platform does not exist (see orphans).
func orphanTenants(c client.Client) *orphans[*platformv1.GenAITenant] {
	return &orphans[*platformv1.GenAITenant]{
		client: c, name: "genaitenant",
		newObj:     func() *platformv1.GenAITenant { return &platformv1.GenAITenant{} },
		platform:   tenantPlatformKey,
		status:     func(t *platformv1.GenAITenant) any { return t.Status },
		conditions: func(t *platformv1.GenAITenant) []metav1.Condition { return t.Status.Conditions },
		orphan: func(t *platformv1.GenAITenant, conditions []metav1.Condition) {
			t.Status = platformv1.GenAITenantStatus{ObservedGeneration: t.Generation, Conditions: conditions}
		},
		naming: func(ctx context.Context, c client.Client, p client.Object) ([]client.Object, error) {
			var list platformv1.GenAITenantList
			if err := c.List(ctx, &list, client.InNamespace(p.GetNamespace()), client.MatchingFields{tenantPlatformIndex: client.ObjectKeyFromObject(p).String()}); err != nil {
				return nil, err
			}
			return objectsOf(list.Items), nil
		},
	}
}
