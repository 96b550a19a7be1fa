package render

import (
	"strings"

	"k8s.io/utils/ptr"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kservev1b1 "github.com/genai-platform/genai-platform-operator/api/external/kserve/v1beta1"
	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

const (
	// AnnotationDeploymentMode selects KServe's raw deployment (a Deployment + Service + HPA, no Knative).
	// KServe v0.20 calls it "Standard"; "RawDeployment" is its deprecated name.
	AnnotationDeploymentMode = "serving.kserve.io/deploymentMode"
	deploymentModeStandard   = "Standard"

	// LabelVisibility set to cluster-local makes KServe create no HTTPRoute of its own for the
	// InferenceService (RawHTTPRouteReconciler), so Tier Two is the only way to the model.
	LabelVisibility   = "networking.kserve.io/visibility"
	visibilityCluster = "cluster-local"

	// AnnotationStorageSecretName names the Secret whose credentials KServe's pod webhook gives the
	// storage initializer that downloads the model (pkg/credentials: a Secret with key HF_TOKEN is a Hugging
	// Face token). A token only in the model container's environment never reaches the download.
	AnnotationStorageSecretName = "serving.kserve.io/storageSecretName"

	// KeyHFToken is the key of the managed model download Secret, the environment variable the Hugging Face
	// runtime and KServe's storage initializer read.
	KeyHFToken = "HF_TOKEN"

	// maxInferenceServiceName leaves room for the "-predictor" suffix of KServe's Service names.
	maxInferenceServiceName = 47

	// maxPredictorHostLabel bounds KServe's predictor host name's first label,
	// "<isvc>-predictor-<namespace>", a DNS label (KServe refuses the InferenceService otherwise).
	maxPredictorHostLabel = 63
)

// InferenceServiceName names the InferenceService of a placement in namespace: the model's name made a
// DNS-1035 label (shortened if need be), the node pool, and a short hash of the platform and the exact
// model name (model namespaces may be shared by platforms; two model names may look alike once sanitized).
// It is short enough for KServe's Service name (<name>-predictor) and for its predictor host name, whose
// first label is <name>-predictor-<namespace>.
func InferenceServiceName(p *platformv1.GenAIPlatform, namespace, model, nodePool string) string {
	// A namespace too long for any host label still gets a usable name (KServe then reports the host).
	limit := max(16, min(maxInferenceServiceName, maxPredictorHostLabel-len("-predictor-")-len(namespace)))
	return servingName(p, limit, model, nodePool)
}

// servingName is the name of a KServe object serving a placement, at most limit characters: the model's
// name made a DNS-1035 label (shortened if need be), the node pool, and a short hash of the platform and
// the exact model name.
func servingName(p *platformv1.GenAIPlatform, limit int, model, nodePool string) string {
	suffix := "-" + nodePool + "-" + shortHash(p.Namespace+"/"+p.Name+"/"+model)
	head := sanitize(model)
	if head == "" || head[0] < 'a' || head[0] > 'z' {
		head = "m-" + head
	}
	if room := limit - len(suffix); len(head) > room {
		head = strings.TrimRight(head[:max(room, 1)], "-")
	}
	// A very long node pool name still yields a valid name.
	return NameMax(limit, head+suffix)
}

// ModelVersions are a self-hosted model's versions; a model without any is its own one version, named "".
func ModelVersions(sh *platformv1.SelfHostedModel) []platformv1.ModelVersion {
	if len(sh.Versions) == 0 {
		return []platformv1.ModelVersion{{}}
	}
	return sh.Versions
}

// VersionInferenceServiceName names the InferenceService of one version of a placement: that of the
// placement for a model without versions, else with the version after the node pool.
func VersionInferenceServiceName(p *platformv1.GenAIPlatform, namespace, model, nodePool, version string) string {
	if version != "" {
		nodePool += "-" + version
	}
	return InferenceServiceName(p, namespace, model, nodePool)
}

// withVersion is the model as one of its versions serves it: the version's storageUri, runtime and
// arguments in place of the model's, where it sets them (its replica bounds: versionReplicas).
func withVersion(sh *platformv1.SelfHostedModel, v *platformv1.ModelVersion) *platformv1.SelfHostedModel {
	if v.Name == "" {
		return sh
	}
	out := *sh
	if v.StorageURI != "" {
		out.StorageURI = v.StorageURI
	}
	if v.Runtime != "" {
		out.Runtime = v.Runtime
	}
	if v.Args != nil {
		out.Args = v.Args
	}
	return &out
}

// PredictorServiceName is the Service KServe creates for an InferenceService in raw deployment mode.
func PredictorServiceName(isvc string) string { return isvc + "-predictor" }

// inferenceService serves one version of one placement of a self-hosted model: KServe's Hugging Face
// runtime (vLLM) serving the OpenAI API, on the node pool's GPUs, autoscaled between the version's
// bounds (the placement's, unless the version sets its own).
func inferenceService(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, pool *platformv1.NodePoolSpec,
	m *platformv1.ModelSpec, pl *platformv1.Placement, v *platformv1.ModelVersion, dl facts.ModelDownload) *kservev1b1.InferenceService {
	sh := withVersion(m.SelfHosted, v)
	meta := tierTwoMeta(p, mc, VersionInferenceServiceName(p, ModelClusterNamespace(mc), m.Name, pl.NodePool, v.Name), "model")
	meta.Annotations = map[string]string{AnnotationDeploymentMode: deploymentModeStandard}
	meta.Labels[LabelVisibility] = visibilityCluster
	if dl.Storage != nil {
		meta.Annotations[AnnotationStorageSecretName] = ModelSecretName(p, m.Name)
	}
	var pulls []corev1.LocalObjectReference
	for _, ps := range dl.PullSecrets {
		pulls = append(pulls, corev1.LocalObjectReference{Name: PullSecretName(p, m.Name, ps.Name)})
	}

	minReplicas, maxReplicas := versionReplicas(pl, v)
	// The served model name is what clients ask for, so Tier One and Tier Two route it unchanged.
	args := append([]string{"--model_name=" + m.Name}, sh.Args...)
	env := append([]corev1.EnvVar(nil), sh.Env...)
	// The Hugging Face runtime also reads the token itself (a gated model's tokenizer and config).
	if _, hf := dl.Storage[KeyHFToken]; hf {
		env = append(env, corev1.EnvVar{Name: KeyHFToken, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: ModelSecretName(p, m.Name)}, Key: KeyHFToken,
			},
		}})
	}

	model := &kservev1b1.ModelSpec{
		ModelFormat: kservev1b1.ModelFormat{Name: "huggingface"},
		StorageURI:  ptr.To(sh.StorageURI),
		Args:        args,
		Env:         env,
		Resources:   resources(sh, pool),
	}
	if sh.Runtime != "" {
		model.Runtime = ptr.To(sh.Runtime)
	}
	return &kservev1b1.InferenceService{
		TypeMeta:   metav1.TypeMeta{APIVersion: kservev1b1.GroupVersion.String(), Kind: "InferenceService"},
		ObjectMeta: meta,
		Spec: kservev1b1.InferenceServiceSpec{Predictor: kservev1b1.PredictorSpec{
			MinReplicas:      ptr.To[int32](minReplicas),
			MaxReplicas:      maxReplicas,
			NodeSelector:     pool.NodeSelector,
			Tolerations:      pool.Tolerations,
			ImagePullSecrets: pulls,
			Model:            model,
		}},
	}
}

// resources are the model's CPU and memory settings plus its GPUs, requested and limited alike (extended
// resources cannot be overcommitted) in the node pool's GPU resource.
func resources(sh *platformv1.SelfHostedModel, pool *platformv1.NodePoolSpec) *corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{}
	if sh.Resources != nil {
		r = *sh.Resources.DeepCopy()
	}
	if sh.GPUs > 0 {
		gpu := pool.GPUResourceName
		if gpu == "" {
			gpu = "nvidia.com/gpu"
		}
		q := *resource.NewQuantity(int64(sh.GPUs), resource.DecimalSI)
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		if r.Limits == nil {
			r.Limits = corev1.ResourceList{}
		}
		r.Requests[gpu] = q
		r.Limits[gpu] = q
	}
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return nil
	}
	return &r
}
