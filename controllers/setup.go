package controllers

import (
	"fmt"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/genai-platform/genai-platform-operator/api/external/aigateway/v1beta1"
	kservev1a2 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1alpha2"
	kservev1b1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	"github.com/genai-platform/genai-platform-operator/controllers/clustercache"
	"github.com/genai-platform/genai-platform-operator/controllers/kinds"
)

// NewScheme registers every API the operator reads or writes.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(platformv1.AddToScheme(s))
	utilruntime.Must(gwapiv1.Install(s))
	utilruntime.Must(egv1a1.AddToScheme(s))
	utilruntime.Must(aigv1b1.AddToScheme(s))
	utilruntime.Must(kservev1b1.AddToScheme(s))
	utilruntime.Must(kservev1a2.AddToScheme(s))
	return s
}

// managedSelector selects the objects the operator made.
func managedSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{platformv1.LabelManagedBy: platformv1.ManagedByValue})
}

// CacheOptions keeps the manager's cache small and free of other people's objects and secrets: it holds
// the GenAIPlatforms and, of every child kind, only the objects carrying the operator's managed-by label.
// A crowded cluster (thousands of other teams' routes, services, namespaces) costs the operator nothing.
// What it must read that it did not make (referenced user Secrets, a model namespace a user made) it
// reads directly from the API server.
//
// Child kinds are filtered through the default selector, not one ByObject entry each: the cache asks the
// API server about every ByObject kind when it is built, and a missing CRD (KServe or Envoy AI Gateway not
// installed yet) would stop the operator from starting instead of showing CRDNotInstalled.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultLabelSelector: managedSelector(),
		ByObject: map[client.Object]cache.ByObject{
			&platformv1.GenAIPlatform{}: {Label: labels.Everything()},
			&platformv1.GenAIModel{}:    {Label: labels.Everything()},
			&platformv1.GenAITenant{}:   {Label: labels.Everything()},
		},
	}
}

// metadataCacheOptions are those of the second, metadata-only cache: it tells the operator when a
// namespace is labelled to allow platforms, without holding the namespace. It keeps only what maps a
// change to its platforms (name, that label). User Secrets are watched the same way, but only in the
// namespaces that need it (secretWatches).
func metadataCacheOptions(mgr ctrl.Manager) (cache.Options, error) {
	allowed, err := labels.NewRequirement(platformv1.LabelAllowedPlatformNamespace, selection.Exists, nil)
	if err != nil {
		return cache.Options{}, err
	}
	return cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: slimMetadata,
		ByObject: map[client.Object]cache.ByObject{
			partialMetadata(corev1.SchemeGroupVersion.WithKind("Namespace")): {Label: labels.NewSelector().Add(*allowed)},
		},
	}, nil
}

// slimMetadata keeps of an object's metadata what the metadata cache's handlers read.
func slimMetadata(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	slim := &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta}
	slim.Name, slim.Namespace, slim.UID, slim.ResourceVersion = m.Name, m.Namespace, m.UID, m.ResourceVersion
	if v, ok := m.Labels[platformv1.LabelAllowedPlatformNamespace]; ok {
		slim.Labels = map[string]string{platformv1.LabelAllowedPlatformNamespace: v}
	}
	return slim, nil
}

func partialMetadata(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	return m
}

// modelClusterObjects are an empty object of each kind written into model clusters, for their caches.
func modelClusterObjects() []client.Object {
	var out []client.Object
	for _, k := range kinds.ModelCluster() {
		out = append(out, k.New())
	}
	return out
}

// Options tune the controller; the zero value is right for production.
type Options struct {
	// KeyRotationGrace is how long Tier Two keeps admitting a rotated-out key; zero: DefaultKeyRotationGrace.
	KeyRotationGrace time.Duration
	// RemoteRequestTimeout bounds each step in a remote model cluster; zero: 10 s.
	RemoteRequestTimeout time.Duration
	// RemoteHealthInterval is how often each remote model cluster is probed; zero: 10 s.
	RemoteHealthInterval time.Duration
	// ModelNamespaces are namespaces (shell patterns, for example genai-models or team-*) of the operator's
	// own cluster where any platform may place a model cluster, besides its own namespace and namespaces
	// labelled for it. Empty: none.
	ModelNamespaces []string
	// ApplyWorkers is how many writes to one cluster a reconcile sends at a time; zero: apply.DefaultWorkers.
	ApplyWorkers int
	// SelectorRecheck is how often a platform admitting GenAIModels by namespace selector looks at their
	// namespaces' labels again; zero: DefaultSelectorRecheck (a minute).
	SelectorRecheck time.Duration
	// DeletionStallAfter is how long a platform's deletion waits for another controller's finalizer
	// before the platform is Stalled; zero: DefaultDeletionStallAfter (2 minutes).
	DeletionStallAfter time.Duration
	// APIServerOutages, when set, wraps the manager's transport (see manager.New): the platforms record
	// the last outage of their API server in their status.
	APIServerOutages *APIServerOutages
}

// Setup registers the GenAIPlatform controller with a manager built with CacheOptions.
//
// A user's Secret change must reach the platforms that reference it within seconds, yet user Secrets
// must not sit in the cache. Metadata-only informers watch the Secrets of the namespaces that hold
// platforms or their GenAIModels (secretWatches): they hold names and resourceVersions, never data, and
// a value change bumps the resourceVersion. A second, metadata-only cache watches the namespaces
// labelled to allow platforms (metadataCacheOptions).
func Setup(mgr ctrl.Manager, opts Options) error {
	metadataOpts, err := metadataCacheOptions(mgr)
	if err != nil {
		return err
	}
	metadata, err := cache.New(mgr.GetConfig(), metadataOpts)
	if err != nil {
		return fmt.Errorf("creating the metadata cache: %w", err)
	}
	if err := mgr.Add(metadata); err != nil {
		return err
	}
	r := &GenAIPlatformReconciler{
		// Every write carries the operator's one field manager, the platform's finalizer and status as
		// well as the children: managedFields show GitOps tools exactly what the operator owns.
		Client:    client.WithFieldOwner(mgr.GetClient(), apply.FieldOwner),
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("genai-platform-operator"),

		KeyRotationGrace: opts.KeyRotationGrace,
		ModelNamespaces:  opts.ModelNamespaces,
		Outages:          opts.APIServerOutages,
		ApplyWorkers:     opts.ApplyWorkers,
		SelectorRecheck:  opts.SelectorRecheck,

		DeletionStallAfter: opts.DeletionStallAfter,
	}
	r.clusters = clustercache.New(clustercache.Options{
		Scheme:   mgr.GetScheme(),
		Kinds:    modelClusterObjects(),
		Selector: managedSelector(),
		PlatformLabels: func(p types.NamespacedName) map[string]string {
			return map[string]string{platformv1.LabelManagedBy: platformv1.ManagedByValue, platformv1.LabelPlatform: p.Name, platformv1.LabelPlatformNS: p.Namespace}
		},
		RequestTimeout: opts.RemoteRequestTimeout,
		HealthInterval: opts.RemoteHealthInterval,
		ApplyWorkers:   opts.ApplyWorkers,
		Log:            mgr.GetLogger().WithName("clustercache"),
	})
	if err := mgr.Add(r.clusters); err != nil {
		return err
	}
	if err := r.SetupWithManager(mgr, metadata); err != nil {
		return err
	}
	if err := orphanModels(r.Client).setup(mgr); err != nil {
		return err
	}
	return orphanTenants(r.Client).setup(mgr)
}
