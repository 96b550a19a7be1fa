package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// orphanModels says so on a GenAIModel whose platform does not exist (see orphans).
func orphanModels(c client.Client) *orphans[*platformv1.GenAIModel] {
	return &orphans[*platformv1.GenAIModel]{
		client: c, name: "genaimodel",
		newObj:     func() *platformv1.GenAIModel { return &platformv1.GenAIModel{} },
		platform:   platformKeyOf,
		status:     func(m *platformv1.GenAIModel) any { return m.Status },
		conditions: func(m *platformv1.GenAIModel) []metav1.Condition { return m.Status.Conditions },
		orphan: func(m *platformv1.GenAIModel, conditions []metav1.Condition) {
			m.Status.Conditions, m.Status.ObservedGeneration, m.Status.Routes = conditions, m.Generation, nil
		},
		naming: func(ctx context.Context, c client.Client, p client.Object) ([]client.Object, error) {
			var list platformv1.GenAIModelList
			if err := c.List(ctx, &list, client.MatchingFields{platformRefIndex: client.ObjectKeyFromObject(p).String()}); err != nil {
				return nil, err
			}
			return objectsOf(list.Items), nil
		},
	}
}
