package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/statuspatch"
)

// +kubebuilder:rbac:groups=platform.genai.dev,resources=genaimodels,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.genai.dev,resources=genaimodels/status,verbs=get;update;patch

// platformRefIndex indexes GenAIModels by the platform they name, "<namespace>/<name>".
const platformRefIndex = "spec.platformRef"

// platformKeyOf is the platform a GenAIModel names.
func platformKeyOf(m *platformv1.GenAIModel) types.NamespacedName {
	ns := m.Spec.PlatformRef.Namespace
	if ns == "" {
		ns = m.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: m.Spec.PlatformRef.Name}
}

func indexPlatformRef(obj client.Object) []string {
	m, ok := obj.(*platformv1.GenAIModel)
	if !ok {
		return nil
	}
	return []string{platformKeyOf(m).String()}
}

// attachedModel is a GenAIModel that names a platform, and the platform's verdict on it.
type attachedModel struct {
	obj *platformv1.GenAIModel
	// refused is why the platform does not serve it (nil: accepted, and served as spec below).
	refused *metav1.Condition
	spec    platformv1.ModelSpec
}

// observeAttachedModels reads the GenAIModels that name the platform and decides, as Gateway API does for
// routes, which it serves: those of an admitted namespace (spec.allowedModels), whose references name
// the platform's providers, model clusters and node pools, and whose model name neither spec.models nor
// an older GenAIModel serves (the oldest wins, then namespace/name order). Each accepted model's
// Secrets are read in its own namespace, into f.
func (r *GenAIPlatformReconciler) observeAttachedModels(ctx context.Context, p *platformv1.GenAIPlatform, f *facts.Facts) ([]attachedModel, error) {
	var list platformv1.GenAIModelList
	if err := r.Client.List(ctx, &list, client.MatchingFields{platformRefIndex: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}.String()}); err != nil {
		return nil, fmt.Errorf("listing the GenAIModels of the platform: %w", err)
	}
	models := list.Items
	sort.Slice(models, func(i, j int) bool {
		a, b := &models[i], &models[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	taken := map[string]string{}
	for _, m := range p.Spec.Models {
		taken[m.Name] = "the platform's spec.models"
	}
	admitted := map[string]bool{}
	out := make([]attachedModel, 0, len(models))
	for i := range models {
		m := &models[i]
		if !m.DeletionTimestamp.IsZero() {
			continue
		}
		a := attachedModel{obj: m, spec: platformv1.ModelSpec{Name: m.Spec.Name, SelfHosted: m.Spec.SelfHosted.DeepCopy(), Routes: slices.Clone(m.Spec.Routes), Budget: m.Spec.Budget.DeepCopy()}}
		allowed, ok := admitted[m.Namespace]
		if !ok {
			var err error
			if allowed, err = r.admitsNamespace(ctx, p, m.Namespace); err != nil {
				return nil, err
			}
			admitted[m.Namespace] = allowed
		}
		invalid := invalidReference(p, m)
		switch {
		case !allowed:
			a.refused = refusal(platformv1.ReasonNotAllowed, fmt.Sprintf("platform %s/%s does not admit GenAIModels of namespace %s (its spec.allowedModels.namespaces.from is %s)",
				p.Namespace, p.Name, m.Namespace, allowedFrom(p)))
		case invalid != "":
			a.refused = refusal(platformv1.ReasonInvalidReference, invalid)
		case taken[m.Spec.Name] != "":
			a.refused = refusal(platformv1.ReasonConflicted, fmt.Sprintf("spec.name: model %q is already served by %s", m.Spec.Name, taken[m.Spec.Name]))
		default:
			taken[m.Spec.Name] = fmt.Sprintf("GenAIModel %s/%s", m.Namespace, m.Name)
			if a.spec.SelfHosted != nil {
				// The team's Secrets are watched (from now on) before they are read.
				if err := r.secrets.ensure(ctx, m.Namespace); err != nil {
					return nil, err
				}
				team := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace}}
				if dl, prob := r.modelDownload(ctx, team, &a.spec); prob != nil {
					f.Secrets.ModelProblems = setProblem(f.Secrets.ModelProblems, a.spec.Name, *prob)
				} else {
					if f.Secrets.ModelDownloads == nil {
						f.Secrets.ModelDownloads = map[string]facts.ModelDownload{}
					}
					f.Secrets.ModelDownloads[a.spec.Name] = dl
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func setProblem(m map[string]facts.Problem, name string, prob facts.Problem) map[string]facts.Problem {
	if m == nil {
		m = map[string]facts.Problem{}
	}
	m[name] = prob
	return m
}

func refusal(reason, message string) *metav1.Condition {
	return &metav1.Condition{Type: platformv1.ConditionAccepted, Status: metav1.ConditionFalse, Reason: reason, Message: message}
}

func allowedFrom(p *platformv1.GenAIPlatform) platformv1.FromNamespaces {
	if p.Spec.AllowedModels == nil || p.Spec.AllowedModels.Namespaces.From == "" {
		return platformv1.FromSame
	}
	return p.Spec.AllowedModels.Namespaces.From
}

// admitsNamespace tells whether the platform's spec.allowedModels admits GenAIModels of namespace ns. A
// namespace's labels are read from the API server: the cache holds only the operator's own namespaces.
func (r *GenAIPlatformReconciler) admitsNamespace(ctx context.Context, p *platformv1.GenAIPlatform, ns string) (bool, error) {
	switch allowedFrom(p) {
	case platformv1.FromAll:
		return true, nil
	case platformv1.FromSelector:
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.AllowedModels.Namespaces.Selector)
		if err != nil {
			return false, nil // admission checks the selector's form; a broken one admits nothing
		}
		var nsObj corev1.Namespace
		if err := r.APIReader.Get(ctx, types.NamespacedName{Name: ns}, &nsObj); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, fmt.Errorf("reading namespace %s: %w", ns, err)
		}
		return sel.Matches(labels.Set(nsObj.Labels)), nil
	default:
		return ns == p.Namespace, nil
	}
}

// invalidReference names the first field of the model that names something the platform lacks.
func invalidReference(p *platformv1.GenAIPlatform, m *platformv1.GenAIModel) string {
	for i, r := range m.Spec.Routes {
		if !slices.ContainsFunc(p.Spec.Providers, func(pr platformv1.ProviderSpec) bool { return pr.Name == r.Provider }) {
			return fmt.Sprintf("spec.routes[%d].provider: platform %s/%s has no provider %q", i, p.Namespace, p.Name, r.Provider)
		}
	}
	if sh := m.Spec.SelfHosted; sh != nil {
		for i, pl := range sh.Placements {
			j := slices.IndexFunc(p.Spec.ModelClusters, func(mc platformv1.ModelClusterSpec) bool { return mc.Name == pl.Cluster })
			if j < 0 {
				return fmt.Sprintf("spec.selfHosted.placements[%d].cluster: platform %s/%s has no model cluster %q", i, p.Namespace, p.Name, pl.Cluster)
			}
			if !slices.ContainsFunc(p.Spec.ModelClusters[j].NodePools, func(np platformv1.NodePoolSpec) bool { return np.Name == pl.NodePool }) {
				return fmt.Sprintf("spec.selfHosted.placements[%d].nodePool: model cluster %q has no node pool %q", i, pl.Cluster, pl.NodePool)
			}
		}
	}
	return ""
}

// withAttached returns the platform as render and status see it: spec.models, then the accepted
// GenAIModels, and the names of those.
func withAttached(p *platformv1.GenAIPlatform, attached []attachedModel) (*platformv1.GenAIPlatform, map[string]bool) {
	if len(attached) == 0 {
		return p, nil
	}
	eff := p.DeepCopy()
	names := map[string]bool{}
	for _, a := range attached {
		if a.refused == nil {
			eff.Spec.Models = append(eff.Spec.Models, a.spec)
			names[a.spec.Name] = true
		}
	}
	return eff, names
}

// attachedStatus writes each GenAIModel's status (only those that changed) and returns the platform's
// summary of them; nil when no GenAIModel names the platform.
func (r *GenAIPlatformReconciler) attachedStatus(ctx context.Context, p *platformv1.GenAIPlatform, attached []attachedModel, statuses map[string]platformv1.ModelStatus) (*platformv1.AttachedModelsStatus, error) {
	if len(attached) == 0 {
		return nil, nil
	}
	sum := &platformv1.AttachedModelsStatus{}
	var notReady []string
	var errs []error
	for _, a := range attached {
		m := a.obj
		before := m.DeepCopy()
		m.Status.ObservedGeneration = m.Generation
		accepted, ready := a.refused, (*metav1.Condition)(nil)
		if accepted == nil {
			sum.Accepted++
			st := statuses[a.spec.Name]
			accepted = &metav1.Condition{Type: platformv1.ConditionAccepted, Status: metav1.ConditionTrue, Reason: platformv1.ReasonModelAccepted,
				Message: fmt.Sprintf("served by platform %s/%s", p.Namespace, p.Name)}
			ready = &metav1.Condition{Type: platformv1.ConditionReady, Status: metav1.ConditionFalse, Reason: st.Reason, Message: st.Message}
			if st.Ready {
				sum.Ready++
				ready.Status = metav1.ConditionTrue
			} else {
				notReady = append(notReady, fmt.Sprintf("%s/%s: %s", m.Namespace, m.Name, st.Reason))
			}
			m.Status.Routes, m.Status.Versions = st.Routes, st.Versions
		} else {
			sum.Refused++
			notReady = append(notReady, fmt.Sprintf("%s/%s: %s", m.Namespace, m.Name, accepted.Reason))
			ready = &metav1.Condition{Type: platformv1.ConditionReady, Status: metav1.ConditionFalse, Reason: accepted.Reason, Message: accepted.Message}
			m.Status.Routes, m.Status.Versions = nil, nil
		}
		for _, c := range []*metav1.Condition{accepted, ready} {
			c.ObservedGeneration = m.Generation
			meta.SetStatusCondition(&m.Status.Conditions, *c)
		}
		if _, err := statuspatch.Write(ctx, r.Client, &r.statuses, before, m, func(m *platformv1.GenAIModel) any { return &m.Status }); err != nil {
			errs = append(errs, fmt.Errorf("writing the status of GenAIModel %s/%s: %w", m.Namespace, m.Name, err))
		}
	}
	sort.Strings(notReady)
	sum.NotReady = notReady[:min(len(notReady), 10)]
	return sum, errors.Join(errs...)
}

// platformOfModel maps a GenAIModel to the platform it names.
func platformOfModel(_ context.Context, obj client.Object) []reconcile.Request {
	m, ok := obj.(*platformv1.GenAIModel)
	if !ok || m.Spec.PlatformRef.Name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: platformKeyOf(m)}}
}
