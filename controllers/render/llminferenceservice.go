package render

import (
	"k8s.io/utils/ptr"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kservev1a2 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1alpha2"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

const (
	// maxLLMInferenceServiceName keeps the names KServe v0.20 derives from an LLMInferenceService's name
	// with knative's kmeta.ChildName (which hashes any name longer than 63 characters) unhashed, so that
	// the Tier Two HTTPRoute can name them: the InferencePool <name>-inference-pool and the workload
	// Service <name>-kserve-workload-svc, the longer suffix (20 characters).
	maxLLMInferenceServiceName = 63 - len(llmWorkloadServiceSuffix)

	llmInferencePoolSuffix   = "-inference-pool"
	llmWorkloadServiceSuffix = "-kserve-workload-svc"

	// LLMWorkloadPort is the port of KServe's workload Service and of vllm serve in its preset (8000,
	// fixed in KServe v0.20: pkg/controller/v1alpha2/llmisvc/workload.go reconcileWorkloadService).
	LLMWorkloadPort = 8000

	// InferencePoolGroup is the API group of the InferencePool KServe v0.20 creates (v1, Gateway API
	// Inference Extension), the one Envoy AI Gateway v1.1's extension server serves for Envoy Gateway.
	InferencePoolGroup = "inference.networking.k8s.io"

	// llmMainContainer is the model server container of KServe's preset kserve-config-llm-template.
	llmMainContainer = "main"
)

// VersionEngine is the engine that serves a version (InferenceService when it names none).
func VersionEngine(v *platformv1.ModelVersion) platformv1.ServingEngine {
	if v.Engine == "" {
		return platformv1.EngineInferenceService
	}
	return v.Engine
}

// VersionLLMInferenceServiceName names the LLMInferenceService of one version of a placement: as its
// InferenceService would be named, but short enough for the names KServe derives from it.
func VersionLLMInferenceServiceName(p *platformv1.GenAIPlatform, model, nodePool, version string) string {
	if version != "" {
		nodePool += "-" + version
	}
	return servingName(p, maxLLMInferenceServiceName, model, nodePool)
}

// InferencePoolName is the InferencePool KServe v0.20 makes for an LLMInferenceService with a scheduler
// (SchedulerSpec.InferencePoolName, pkg/apis/serving/v1alpha2/llm_inference_service_types_func.go).
func InferencePoolName(llm string) string { return llm + llmInferencePoolSuffix }

// LLMWorkloadServiceName is the Service KServe v0.20 puts in front of an LLMInferenceService's model
// server pods (workloadServiceName, pkg/controller/v1alpha2/llmisvc/workload.go).
func LLMWorkloadServiceName(llm string) string { return llm + llmWorkloadServiceSuffix }

// versionReplicas are a version's replica bounds in a placement: the version's where it sets them, else
// the placement's. A version that sets only minReplicas runs that many (as a placement does).
func versionReplicas(pl *platformv1.Placement, v *platformv1.ModelVersion) (minReplicas, maxReplicas int32) {
	minReplicas = pl.MinReplicas
	maxReplicas = minReplicas
	if pl.MaxReplicas != nil {
		maxReplicas = *pl.MaxReplicas
	}
	switch {
	case v.MinReplicas != nil && v.MaxReplicas != nil:
		minReplicas, maxReplicas = *v.MinReplicas, *v.MaxReplicas
	case v.MinReplicas != nil:
		minReplicas, maxReplicas = *v.MinReplicas, *v.MinReplicas
	case v.MaxReplicas != nil:
		maxReplicas = *v.MaxReplicas
	}
	return minReplicas, max(minReplicas, maxReplicas)
}

// llmInferenceService serves one version of one placement of a self-hosted model with KServe's LLM
// serving: vLLM (KServe's preset kserve-config-llm-template, container "main") on the node pool's GPUs,
// and the router scheduler (spec.router.scheduler: the InferencePool <name>-inference-pool and its
// endpoint picker, from the preset kserve-config-llm-scheduler). spec.router has no route and no gateway:
// KServe then makes no HTTPRoute of its own, and the Tier Two HTTPRoute, which admits only Tier One, is
// the only way in. A fixed replica count when the bounds are equal; otherwise KServe's only autoscaler
// in v0.20, the Workload Variant Autoscaler with an HPA as its actuator.
func llmInferenceService(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, pool *platformv1.NodePoolSpec,
	m *platformv1.ModelSpec, pl *platformv1.Placement, v *platformv1.ModelVersion, dl facts.ModelDownload) *kservev1a2.LLMInferenceService {
	sh := withVersion(m.SelfHosted, v)
	meta := tierTwoMeta(p, mc, VersionLLMInferenceServiceName(p, m.Name, pl.NodePool, v.Name), "model")
	// KServe's LLM controller gives the storage initializer the Secret this annotation names, as its
	// InferenceService webhook does (CreateSecretVolumeAndEnvFromServiceAccount, pkg/credentials).
	if dl.Storage != nil {
		meta.Annotations = map[string]string{AnnotationStorageSecretName: ModelSecretName(p, m.Name)}
	}
	var pulls []corev1.LocalObjectReference
	for _, ps := range dl.PullSecrets {
		pulls = append(pulls, corev1.LocalObjectReference{Name: PullSecretName(p, m.Name, ps.Name)})
	}
	env := append([]corev1.EnvVar(nil), sh.Env...)
	if _, hf := dl.Storage[KeyHFToken]; hf {
		env = append(env, corev1.EnvVar{Name: KeyHFToken, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: ModelSecretName(p, m.Name)}, Key: KeyHFToken,
			},
		}})
	}
	spec := kservev1a2.LLMInferenceServiceSpec{
		// The served model name is what clients ask for (vllm serve --served-model-name), so Tier One and
		// Tier Two pass it unchanged.
		Model: kservev1a2.LLMModelSpec{URI: sh.StorageURI, Name: ptr.To(m.Name)},
		Template: &kservev1a2.PodSpec{
			NodeSelector:     pool.NodeSelector,
			Tolerations:      pool.Tolerations,
			ImagePullSecrets: pulls,
			Containers: []kservev1a2.Container{{
				Name: llmMainContainer, Args: sh.Args, Env: env, Resources: resources(sh, pool),
			}},
		},
		Router: &kservev1a2.RouterSpec{Scheduler: &kservev1a2.SchedulerSpec{}},
	}
	minReplicas, maxReplicas := versionReplicas(pl, v)
	if maxReplicas > minReplicas {
		spec.Scaling = &kservev1a2.ScalingSpec{MinReplicas: ptr.To(minReplicas), MaxReplicas: maxReplicas,
			WVA: &kservev1a2.WVASpec{HPA: &kservev1a2.HPAScalingSpec{}}}
	} else {
		spec.Replicas = ptr.To(minReplicas)
	}
	return &kservev1a2.LLMInferenceService{
		TypeMeta:   metav1.TypeMeta{APIVersion: kservev1a2.GroupVersion.String(), Kind: "LLMInferenceService"},
		ObjectMeta: meta,
		Spec:       spec,
	}
}
