package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/genai-platform/genai-platform-operator/test/envtest"
)

// The test's fake credentials: realistic shapes, no real keys. Never printed (see redactor).
var userSecrets = map[string]map[string]string{
	"provider-keys": {
		"openai":    "sk-proj-conformance-openai-7f3a9c21e04b",
		"azure":     "c0nf0rmance4zure0p3na1key000000001",
		"anthropic": "sk-ant-api03-conformance-anthropic-5d1e",
		"cohere":    "co-conformance-cohere-key-8b2f",
		"together":  "tgp_v1_conformance_together_4c9d",
	},
	"azure-entra": {"client-secret": "Q7~conformance.entra.client-secret_0001"},
	"aws-credentials": {"credentials": "[default]\naws_access_key_id = AKIACONFORMANCE00001\n" +
		"aws_secret_access_key = conformance/Secret+AccessKey/0000000000001\n"},
	// Clients' API keys: the platform's own (spec.gateway.clientAuth.apiKeys), and a tenant's own Secret
	// (testdata/tenants.yaml).
	"client-keys": {platformClientID: "ops-conformance-client-key-3e9d51c07a"},
	"team-b-keys": {"ci": "team-b-conformance-ci-key-70a4f2b9e1"},
}

// platformClientID is the platform's own client in its clientAuth Secret.
const platformClientID = "platform-ops"

// providerUserValue: provider name -> (Secret, key) the platform's spec names.
var providerUserValue = map[string][2]string{
	"openai": {"provider-keys", "openai"}, "azure-key": {"provider-keys", "azure"}, "anthropic": {"provider-keys", "anthropic"},
	"cohere": {"provider-keys", "cohere"}, "together": {"provider-keys", "together"},
	"azure-entra": {"azure-entra", "client-secret"}, "bedrock": {"aws-credentials", "credentials"},
	"vertex": {"gcp-sa", "service_account.json"}, "vertex-global": {"gcp-sa", "service_account.json"},
	"vertex-claude": {"gcp-sa", "service_account.json"},
}

const platformNamespace = "ai-conformance"

// redactor hides every credential the test knows of, and every token its fakes issued, in logs it prints.
type redactor struct{ secrets []string }

var issuedToken = regexp.MustCompile(`conformance-token-\d+-[0-9a-f]+`)

func (r *redactor) Replace(s string) string {
	for _, v := range r.secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "<redacted>")
		}
	}
	return issuedToken.ReplaceAllString(s, "<token>")
}

// newIdentities makes the service-account keys, the fakes that exchange them, and the gateway pod's own
// AWS and GCP identities.
func newIdentities(t *testing.T, dir string) (*identities, *redactor) {
	platformSA, err := newGCPServiceAccount("vertex-caller@conformance-proj.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	podSA, err := newGCPServiceAccount("gateway-workload@conformance-proj.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	gcp := newGCPTokenServer(platformSA, podSA)
	t.Cleanup(gcp.srv.Close)
	aad, err := newAzureAD(map[string]string{
		"2d9e8f7a-0000-4000-8000-0000000007e4/6f1c2b3a-0000-4000-8000-00000000c11e": userSecrets["azure-entra"]["client-secret"],
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(aad.close)
	podAWS := newAWSPodIdentity(awsCredentials{AccessKeyID: "ASIACONFORMANCEPOD01", SecretAccessKey: "conformance/Pod+Identity/Secret00000000001",
		SessionToken: "IQoJb3JpZ2luX2VjEConformancePodIdentitySessionToken0001"}, "conformance-eks-pod-identity-token")
	t.Cleanup(podAWS.srv.Close)
	id := &identities{gcp: gcp, aad: aad, gcpPod: podSA, awsPod: podAWS.creds, awsAgent: podAWS, userValue: map[string]string{}}
	saKey, err := platformSA.keyJSON("conformance-proj", gcp.tokenURI())
	if err != nil {
		t.Fatal(err)
	}
	userSecrets["gcp-sa"] = map[string]string{"service_account.json": string(saKey)}
	for prov, ref := range providerUserValue {
		id.userValue[prov] = userSecrets[ref[0]][ref[1]]
	}
	podKey, err := podSA.keyJSON("conformance-proj", gcp.tokenURI())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gcp-workload-identity.json"), podKey, 0o600); err != nil {
		t.Fatal(err)
	}
	red := &redactor{secrets: []string{id.awsPod.SecretAccessKey, id.awsPod.SessionToken, podAWS.token}}
	for _, s := range userSecrets {
		for _, v := range s {
			red.secrets = append(red.secrets, v)
		}
	}
	red.secrets = append(red.secrets, "conformance/Secret+AccessKey/0000000000001")
	return id, red
}

// writeUserSecrets writes the Secrets the platform references, as a user would apply them.
func writeUserSecrets(dir string) (string, error) {
	names := make([]string, 0, len(userSecrets))
	for n := range userSecrets {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []any
	for _, n := range names {
		objs = append(objs, map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": n, "namespace": platformNamespace}, "stringData": userSecrets[n]})
	}
	path := filepath.Join(dir, "user-secrets.yaml")
	return path, writeYAML(path, objs...)
}

// toUnstructured converts rendered objects as the operator applies them (render sets each object's
// apiVersion and kind).
func toUnstructured(objs []client.Object) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		gvk := o.GetObjectKind().GroupVersionKind()
		if gvk.Kind == "" {
			return nil, fmt.Errorf("rendered %T %s has no kind", o, o.GetName())
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvk)
		delete(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		out = append(out, u)
	}
	return out, nil
}

type cluster struct {
	env        *ctrlenvtest.Environment
	client     client.Client
	kubeconfig string
}

// startCluster starts kube-apiserver and etcd with the CRDs the rendered objects and the AI Gateway
// controller need: Gateway API and Envoy Gateway (v1.9.1, from the module cache), and the real AI Gateway
// CRDs, read in place.
func startCluster(t *testing.T, aigwCRDs string) *cluster {
	eg, err := envtest.ModuleDir(envtest.EnvoyGatewayModule)
	if err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(envtest.BinaryDir(), "kube-apiserver")) {
		t.Fatalf("kube-apiserver is not built in %s: run make control-plane (make test does)", envtest.BinaryDir())
	}
	egCRDs := filepath.Join(eg, "charts", "gateway-helm", "charts", "crds", "crds")
	env := &ctrlenvtest.Environment{
		BinaryAssetsDirectory: envtest.BinaryDir(),
		CRDDirectoryPaths:     []string{filepath.Join(egCRDs, "gatewayapi-crds.yaml"), filepath.Join(egCRDs, "generated"), aigwCRDs},
		ErrorIfCRDPathMissing: true,
	}
	if _, err := env.Start(); err != nil {
		_ = env.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := env.AddUser(ctrlenvtest.User{Name: "conformance-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(admin.Config(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{env: env, client: c, kubeconfig: path}
}

func create(ctx context.Context, c client.Client, obj client.Object) error {
	if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// process is a program the test runs, killed (with its process group) when the test ends.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *envtest.SyncBuffer
	done chan struct{}
}

func run(t *testing.T, name string, env []string, bin string, args ...string) *process {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	log := &envtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, and SIGKILL when the test binary dies: nothing outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		// Nothing it holds outlives the test: no graceful shutdown to wait for.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startController runs the real AI Gateway controller against the API server, as its Helm chart
// deploys it: its namespace, its webhook's serving certificate, and the MutatingWebhookConfiguration it
// patches at start. Entra ID is reached through the fake (AI_GATEWAY_AZURE_PROXY_URL, trusting the fake's
// CA); GCP keys name the fake token endpoint themselves.
func startController(t *testing.T, ctx context.Context, cl *cluster, bin, dir string, id *identities) *process {
	for _, ns := range []string{aigwNamespace, envoyGatewayNamespace, platformNamespace} {
		if err := create(ctx, cl.client, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	certDir := filepath.Join(dir, "webhook-certs")
	if err := writeServingCert(certDir); err != nil {
		t.Fatal(err)
	}
	webhookPort := envtest.FreePort(t)
	// No pod matches the webhook: the test's stand-in for Envoy's pod needs no sidecar, and the API
	// server must not call the controller while the test creates it.
	mwc := &admissionv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "envoy-ai-gateway-gateway-pod-mutator." + aigwNamespace},
		Webhooks: []admissionv1.MutatingWebhook{{
			Name:                    "gateway-pod-mutator.aigateway.envoyproxy.io",
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             ptr.To(admissionv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admissionv1.Ignore),
			ClientConfig:            admissionv1.WebhookClientConfig{URL: ptr.To(fmt.Sprintf("https://127.0.0.1:%d/mutate", webhookPort))},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"conformance.genai.dev/never": "true"}},
			Rules: []admissionv1.RuleWithOperations{{
				Operations: []admissionv1.OperationType{admissionv1.Create},
				Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
		}},
	}
	if err := create(ctx, cl.client, mwc); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "entra-ca.pem")
	if err := os.WriteFile(caFile, id.aad.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "KUBECONFIG=" + cl.kubeconfig, "POD_NAMESPACE=" + aigwNamespace,
		"DISABLE_PPROF=1", "AI_GATEWAY_AZURE_PROXY_URL=" + id.aad.proxy.URL, "SSL_CERT_FILE=" + caFile,
	}
	return run(t, "ai-gateway-controller", env, bin,
		"-port", fmt.Sprintf("127.0.0.1:%d", envtest.FreePort(t)), "-webhookPort", fmt.Sprint(webhookPort), "-tlsCertDir", certDir,
		"-enableLeaderElection=false", "-envoyGatewayNamespace", envoyGatewayNamespace)
}

// writeServingCert writes a self-signed serving certificate for 127.0.0.1 (tls.crt, tls.key, ca.crt).
func writeServingCert(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "envoy-ai-gateway-controller"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		"tls.crt": certPEM, "ca.crt": certPEM, "tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

type gatewayRef struct{ name, namespace string }

// applyRendered creates Tier One's rendered objects (Secrets first) as the operator would, and a pod
// standing in for the Gateway's Envoy, labelled as Envoy Gateway labels its proxies: the controller
// writes the filter configuration only once such a pod exists, in that pod's namespace.
func applyRendered(t *testing.T, ctx context.Context, cl *cluster, r *rendered) gatewayRef {
	var gw gatewayRef
	ordered := append([]*unstructured.Unstructured{}, ofKind(r.tierOne, "Secret")...)
	for _, o := range r.tierOne {
		if o.GetKind() != "Secret" {
			ordered = append(ordered, o)
		}
		if o.GetKind() == "Gateway" {
			gw = gatewayRef{o.GetName(), o.GetNamespace()}
		}
	}
	if gw.name == "" {
		t.Fatal("the operator renders no Gateway for the test platform")
	}
	for _, o := range ordered {
		u := o.DeepCopy()
		// The GenAIPlatform itself is not created here: nothing owns the objects.
		u.SetOwnerReferences(nil)
		if err := create(ctx, cl.client, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := create(ctx, cl.client, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: envoyGatewayNamespace}}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "envoy-" + gw.name, Namespace: envoyGatewayNamespace, Labels: map[string]string{
			"gateway.envoyproxy.io/owning-gateway-name": gw.name, "gateway.envoyproxy.io/owning-gateway-namespace": gw.namespace,
		}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "envoy", Image: "docker.io/envoyproxy/envoy:distroless-v1.36.0"}},
		},
	}
	if err := create(ctx, cl.client, pod); err != nil {
		t.Fatal(err)
	}
	return gw
}

// filterConfig is the part of the external processor's configuration the test reads.
type filterConfig struct {
	Version  string `json:"version"`
	Backends []struct {
		Name string `json:"name"`
	} `json:"backends"`
}

// waitForFilterConfig waits until the controller's filter configuration Secret holds every backend of
// the rendered routes (credentials that need a token exchange appear once the exchange succeeded), and
// returns it.
func waitForFilterConfig(t *testing.T, ctx context.Context, cl *cluster, gw gatewayRef, cases []*backendCase, ctrl *process, id *identities, red *redactor) []byte {
	name := gw.name + "-" + gw.namespace
	var missing []string
	deadline := time.Now().Add(4 * time.Minute)
	for {
		missing = missing[:0]
		s := &corev1.Secret{}
		err := cl.client.Get(ctx, client.ObjectKey{Namespace: envoyGatewayNamespace, Name: name}, s)
		var cfg filterConfig
		raw := s.Data["filter-config.yaml"]
		if err == nil {
			err = yaml.Unmarshal(raw, &cfg)
		}
		have := map[string]bool{}
		for _, b := range cfg.Backends {
			have[b.Name] = true
		}
		for _, bc := range cases {
			if !have[bc.Target.BackendName] {
				missing = append(missing, bc.Target.BackendName)
			}
		}
		if err == nil && len(missing) == 0 {
			return raw
		}
		if ctrl.exited() || time.Now().After(deadline) {
			refusals := append(id.gcp.refused(), id.aad.refused()...)
			t.Fatalf("the AI Gateway controller did not write a filter configuration (Secret %s/%s) with every backend (exited: %v, read error: %v).\nMissing: %s\nRefused token requests: %s\nController log (secrets redacted):\n%s",
				envoyGatewayNamespace, name, ctrl.exited(), err, strings.Join(missing, ", "), strings.Join(refusals, "; "), tail(red.Replace(ctrl.log.String()), 80))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// startExtProc runs the real external processor on the filter configuration, with the arguments the
// controller's pod webhook gives its sidecar, and the pod's own cloud identities in its environment (as
// EKS Pod Identity and GKE workload identity provide them).
func startExtProc(t *testing.T, ctx context.Context, bin, dir string, config []byte, id *identities) (string, *envtest.SyncBuffer) {
	cfgPath := filepath.Join(dir, "filter-config.yaml")
	if err := os.WriteFile(cfgPath, config, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "extproc.sock")
	admin := envtest.FreePort(t)
	home := filepath.Join(dir, "extproc-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DISABLE_PPROF=1",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + id.awsAgent.srv.URL + "/v1/credentials",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=" + id.awsAgent.token, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
		"GOOGLE_APPLICATION_CREDENTIALS=" + filepath.Join(dir, "gcp-workload-identity.json"),
	}
	p := run(t, "extproc", env, bin, "-configPath", cfgPath, "-extProcAddr", "unix://"+sock,
		"-adminPort", fmt.Sprint(admin), "-rootPrefix", "/", "-logLevel", "info")
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", admin))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && exists(sock) {
				return sock, p.log
			}
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("the external processor did not become healthy (exited: %v):\n%s", p.exited(), tail(p.log.String(), 40))
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
