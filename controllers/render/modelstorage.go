package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
)

// The keys KServe v0.20's pod webhook (pkg/credentials) classifies a storage Secret by, in its order:
// the first kind whose key is present wins, so the managed Secret holds one kind's keys only.
const (
	KeyAWSAccessKeyID     = "AWS_ACCESS_KEY_ID"
	KeyAWSSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	// KeyGCSCredentials is KServe's default gcsCredentialFileName: the Secret is mounted at /var/secrets/
	// and GOOGLE_APPLICATION_CREDENTIALS points at this file.
	KeyGCSCredentials = "gcloud-application-credentials.json"
)

// The S3 settings KServe reads from the storage Secret's annotations into the storage initializer's
// environment (S3_ENDPOINT, AWS_DEFAULT_REGION, S3_USE_HTTPS, ...).
const (
	annotationS3Endpoint      = "serving.kserve.io/s3-endpoint"
	annotationS3Region        = "serving.kserve.io/s3-region"
	annotationS3UseHTTPS      = "serving.kserve.io/s3-usehttps"
	annotationS3VerifySSL     = "serving.kserve.io/s3-verifyssl"
	annotationS3VirtualBucket = "serving.kserve.io/s3-usevirtualbucket"
	annotationS3CABundle      = "serving.kserve.io/s3-cabundle-configmap"
)

// azureKeys are the keys KServe passes from an Azure storage Secret to the storage initializer, with the
// legacy AZ_* spellings it still reads.
var azureKeys = []string{
	"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID",
	"AZURE_STORAGE_ACCESS_KEY", "AZURE_ACCESS_TOKEN", "AZURE_ACCESS_EXPIRES_ON_SECONDS",
	"AZURE_ACCOUNT_NAME", "AZURE_SERVICE_URL",
	"AZ_CLIENT_ID", "AZ_CLIENT_SECRET", "AZ_TENANT_ID", "AZ_SUBSCRIPTION_ID",
}

// StorageSource says where a self-hosted model's download credentials are and which keys of that Secret
// make the Secret KServe reads.
type StorageSource struct {
	// Field is the spec path of the reference, for messages.
	Field string
	// Ref is the user's Secret (Key is used only with a single managed key).
	Ref platformv1.SecretKeyReference
	// ManagedKey, when set, is the one key of the managed Secret: the referenced key (or the Secret's
	// only key, or this conventional key) is copied under it.
	ManagedKey string
	// Required are alternative key sets, one of which must be present (several keys are copied as they are).
	Required [][]string
	// Copy are the keys copied when present.
	Copy []string
}

// ModelStorageSource is a self-hosted model's download credentials source, nil for an anonymous download.
func ModelStorageSource(sh *platformv1.SelfHostedModel) *StorageSource {
	if sh == nil {
		return nil
	}
	if sh.CredentialsSecretRef != nil {
		return &StorageSource{Field: "selfHosted.credentialsSecretRef", Ref: *sh.CredentialsSecretRef, ManagedKey: KeyHFToken}
	}
	st := sh.Storage
	switch {
	case st == nil:
		return nil
	case st.HuggingFace != nil:
		return &StorageSource{Field: "selfHosted.storage.huggingFace.tokenSecretRef", Ref: st.HuggingFace.TokenSecretRef, ManagedKey: KeyHFToken}
	case st.GCS != nil:
		return &StorageSource{Field: "selfHosted.storage.gcs.secretRef", Ref: st.GCS.SecretRef, ManagedKey: KeyGCSCredentials}
	case st.S3 != nil:
		keys := []string{KeyAWSAccessKeyID, KeyAWSSecretAccessKey}
		return &StorageSource{Field: "selfHosted.storage.s3.secretRef", Ref: keyRef(st.S3.SecretRef), Required: [][]string{keys}, Copy: keys}
	case st.AzureBlob != nil:
		return &StorageSource{Field: "selfHosted.storage.azureBlob.secretRef", Ref: keyRef(st.AzureBlob.SecretRef),
			Required: [][]string{
				{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"},
				{"AZ_CLIENT_ID", "AZ_CLIENT_SECRET", "AZ_TENANT_ID"},
				{"AZURE_STORAGE_ACCESS_KEY"},
				{"AZURE_ACCESS_TOKEN"},
			},
			Copy: azureKeys}
	}
	return nil
}

func keyRef(r platformv1.SecretReference) platformv1.SecretKeyReference {
	return platformv1.SecretKeyReference{Name: r.Name, Namespace: r.Namespace}
}

// ModelSecretName names the model cluster's copy of a model's download credentials.
func ModelSecretName(p *platformv1.GenAIPlatform, model string) string {
	return Name(tierTwoPrefix(p), SafeName(model), "download")
}

// PullSecretName names the model cluster's copy of one of a model's image pull Secrets.
func PullSecretName(p *platformv1.GenAIPlatform, model, secret string) string {
	return Name(tierTwoPrefix(p), SafeName(model), "pull", secret)
}

// modelSecret copies a model's download credentials into the model cluster's namespace, in the layout
// KServe's storage initializer reads; S3 settings ride on it as KServe's annotations.
func modelSecret(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, m *platformv1.ModelSpec, data map[string][]byte) *corev1.Secret {
	meta := tierTwoMeta(p, mc, ModelSecretName(p, m.Name), "model")
	if st := m.SelfHosted.Storage; st != nil && st.S3 != nil {
		meta.Annotations = s3Annotations(st.S3)
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

func s3Annotations(s3 *platformv1.S3Storage) map[string]string {
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	a := map[string]string{
		annotationS3UseHTTPS:      flag(s3.UseHTTPS == nil || *s3.UseHTTPS),
		annotationS3VerifySSL:     flag(s3.VerifySSL == nil || *s3.VerifySSL),
		annotationS3VirtualBucket: flag(s3.VirtualHostedBucket),
	}
	if s3.Endpoint != "" {
		a[annotationS3Endpoint] = s3.Endpoint
	}
	if s3.Region != "" {
		a[annotationS3Region] = s3.Region
	}
	if s3.CABundleConfigMap != "" {
		a[annotationS3CABundle] = s3.CABundleConfigMap
	}
	return a
}

// pullSecret copies one of a model's image pull Secrets into the model cluster's namespace.
func pullSecret(p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec, model string, ps facts.PullSecret) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: tierTwoMeta(p, mc, PullSecretName(p, model, ps.Name), "model"),
		Type:       corev1.SecretType(ps.Type),
		Data:       ps.Data,
	}
}
