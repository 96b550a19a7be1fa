package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// modelNamespace is a model cluster's namespace, rendered only when the operator creates it (it was absent,
// or it carries the operator's labels from an earlier creation): a namespace the user made stays theirs and
// is never deleted by the operator.
func modelNamespace(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) *corev1.Namespace {
	m := tierTwoMeta(p, mc, ModelClusterNamespace(mc), "namespace")
	m.Namespace = ""
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: m}
}
