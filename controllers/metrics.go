package controllers

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// The operator's own metrics, served with controller-runtime's on the manager's metrics endpoint: one
// series per platform, so that an alert can say which platform is not ready and why.
var (
	platformLabels = []string{"namespace", "name"}

	platformReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "genai_platform_ready", Help: "1 when the GenAIPlatform's Ready condition is True, else 0.",
	}, platformLabels)
	modelsReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "genai_platform_models_ready", Help: "Models of the GenAIPlatform that can serve requests.",
	}, platformLabels)
	modelsTotal = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "genai_platform_models_total", Help: "Models declared by the GenAIPlatform.",
	}, platformLabels)
	modelsOnFallback = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "genai_platform_models_on_fallback",
		Help: "Self-hosted models of the GenAIPlatform served only by their provider routes, because none of their placements is Ready.",
	}, platformLabels)
	clustersReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "genai_platform_model_clusters_ready", Help: "Model clusters of the GenAIPlatform that are ready.",
	}, platformLabels)
	clustersTotal = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "genai_platform_model_clusters_total", Help: "Model clusters declared by the GenAIPlatform.",
	}, platformLabels)
	reconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "genai_platform_reconciles_total",
		Help: "Reconciles of a GenAIPlatform that ran to the end (status written, when it changed).",
	}, platformLabels)
	// conditionGauge is kube-state-metrics' shape: per condition type, one series per status value, 1 for
	// the current one. A condition kstatus keeps only while True (Reconciling, Stalled, Unauthenticated) is
	// False when absent, so that an alert on Stalled=True resolves only when the platform recovers.
	conditionGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "genai_platform_condition",
		Help: "1 for the current status (True, False, Unknown) of each condition type of the GenAIPlatform, 0 for the others.",
	}, []string{"namespace", "name", "type", "status"})
	reconcileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "genai_platform_reconcile_errors_total",
		Help: "Reconciles of a GenAIPlatform that ended not ready for a reason a human must fix or that failed, by reason.",
	}, []string{"namespace", "name", "reason"})
)

func init() {
	metrics.Registry.MustRegister(platformReady, modelsReady, modelsOnFallback, modelsTotal, clustersReady, clustersTotal, reconciles, reconcileErrors, conditionGauge)
}

// recordMetrics publishes a platform's state after a reconcile; err is the reconcile's error, if any.
func recordMetrics(p *platformv1.GenAIPlatform, err error) {
	ns, name := p.Namespace, p.Name
	reconciles.WithLabelValues(ns, name).Inc()
	ready := meta.IsStatusConditionTrue(p.Status.Conditions, platformv1.ConditionReady)
	platformReady.WithLabelValues(ns, name).Set(boolFloat(ready))
	modelsReady.WithLabelValues(ns, name).Set(float64(p.Status.ReadyModels))
	modelsTotal.WithLabelValues(ns, name).Set(float64(len(p.Spec.Models)))
	modelsOnFallback.WithLabelValues(ns, name).Set(float64(p.Status.ModelsOnFallback))
	n := 0
	for _, c := range p.Status.ModelClusters {
		if c.Ready {
			n++
		}
	}
	clustersReady.WithLabelValues(ns, name).Set(float64(n))
	clustersTotal.WithLabelValues(ns, name).Set(float64(len(p.Spec.ModelClusters)))
	for _, typ := range conditionTypes {
		current := metav1.ConditionFalse
		if c := meta.FindStatusCondition(p.Status.Conditions, typ); c != nil {
			current = c.Status
		}
		for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
			conditionGauge.WithLabelValues(ns, name, typ, string(s)).Set(boolFloat(s == current))
		}
	}
	switch stalled := meta.FindStatusCondition(p.Status.Conditions, platformv1.ConditionStalled); {
	case err != nil:
		reason := "Error"
		if c := meta.FindStatusCondition(p.Status.Conditions, platformv1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
			reason = c.Reason
		}
		reconcileErrors.WithLabelValues(ns, name, reason).Inc()
	case stalled != nil && stalled.Status == metav1.ConditionTrue:
		reconcileErrors.WithLabelValues(ns, name, stalled.Reason).Inc()
	}
}

// conditionTypes are the condition types the gauge reports.
var conditionTypes = []string{
	platformv1.ConditionReady, platformv1.ConditionGatewayReady, platformv1.ConditionProvidersReady,
	platformv1.ConditionModelClustersReady, platformv1.ConditionModelsReady, platformv1.ConditionReconciling,
	platformv1.ConditionStalled, platformv1.ConditionUnauthenticated,
}

// forgetMetrics drops a deleted platform's series.
func forgetMetrics(ns, name string) {
	labels := prometheus.Labels{"namespace": ns, "name": name}
	for _, g := range []*prometheus.GaugeVec{platformReady, modelsReady, modelsOnFallback, modelsTotal, clustersReady, clustersTotal} {
		g.Delete(labels)
	}
	reconciles.Delete(labels)
	reconcileErrors.DeletePartialMatch(labels)
	conditionGauge.DeletePartialMatch(labels)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// MetricNames are the names of the operator's own metrics, and ConditionTypes the condition types the
// condition gauge reports: what alert rules may name.
func MetricNames() []string {
	var names []string
	for _, c := range []prometheus.Collector{platformReady, modelsReady, modelsOnFallback, modelsTotal, clustersReady, clustersTotal, reconciles, reconcileErrors, conditionGauge} {
		ch := make(chan *prometheus.Desc, 1)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			s := d.String()
			if i := strings.Index(s, `fqName: "`); i >= 0 {
				rest := s[i+len(`fqName: "`):]
				names = append(names, rest[:strings.Index(rest, `"`)])
			}
		}
	}
	return names
}

// ConditionTypes are the condition types genai_platform_condition reports.
func ConditionTypes() []string { return slices.Clone(conditionTypes) }
