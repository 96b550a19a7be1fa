package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// The Envoy AI Gateway controller is not served by the Go module proxy: hack/build-aigw.sh builds it from
// its source (AIGW_SRC, by default ../shared/src/envoy-ai-gateway-v1.1.0 next to the checkout) into
// bin/aigw/. When the source is absent the cluster runs without it and says so; when the source is there
// the controller is part of the cluster, like Envoy Gateway and KServe.
const (
	AIGatewayVersion = "v1.1.0"
	// AIGatewayNamespace is where the upstream Helm chart installs the controller (its POD_NAMESPACE).
	AIGatewayNamespace = "envoy-ai-gateway-system"
	// aigwWebhookConfigName is the MutatingWebhookConfiguration the controller insists on finding at
	// start (it patches its CA bundle): envoy-ai-gateway-gateway-pod-mutator.<POD_NAMESPACE>, as the
	// chart's admission_webhook.yaml names it.
	aigwWebhookConfigName = "envoy-ai-gateway-gateway-pod-mutator." + AIGatewayNamespace
	// Ports inside the controller's own network namespace: the chart's defaults.
	aigwExtensionPort = 1063
	aigwWebhookPort   = 9443
	// aigwExtensionSock is the unix socket (in the cluster's socket directory) where Envoy Gateway's
	// extension manager reaches the controller's extension server.
	aigwExtensionSock = "aigw-extension.sock"
)

// aigwKinds are the kinds whose CRDs the controller needs before it starts: it watches them all, the
// v1alpha1 QuotaPolicy included, and fails to start otherwise.
var aigwKinds = []string{"AIGatewayRoute", "AIServiceBackend", "BackendSecurityPolicy", "GatewayConfig", "MCPRoute", "QuotaPolicy"}

// AIGatewaySource is where the Envoy AI Gateway source is read from: $AIGW_SRC, by default
// ../shared/src/envoy-ai-gateway-v1.1.0 next to the checkout. ok is false when there is no source there.
func AIGatewaySource() (dir string, ok bool) {
	dir = os.Getenv("AIGW_SRC")
	if dir == "" {
		dir = filepath.Join(testenv.ProjectRoot(), "..", "shared", "src", "envoy-ai-gateway-"+AIGatewayVersion)
	}
	dir = filepath.Clean(dir)
	return dir, fileExists(filepath.Join(dir, "go.mod"))
}

// AIGatewayHowTo says how to get the Envoy AI Gateway source, for messages about its absence.
func AIGatewayHowTo() string {
	return "git clone --branch " + AIGatewayVersion + " https://github.com/envoyproxy/ai-gateway /path/to/ai-gateway && " +
		"export AIGW_SRC=/path/to/ai-gateway && make aigw-build"
}

// AIGatewayCRDs is the directory of Envoy AI Gateway CRDs the cluster installs, read in place: $AIGW_CRDS,
// by default the real v1.1.0 CRDs in ../shared/crds/envoy-ai-gateway-v1.1.0; without ../shared, those of
// the source's own CRD chart when the source is there (AIGW_SRC), else the CRDs generated from the
// project's types (make manifests), which lack QuotaPolicy and MCPRoute: enough for the operator's
// objects, not for the controller.
func AIGatewayCRDs() string {
	if d := os.Getenv("AIGW_CRDS"); d != "" {
		return d
	}
	if d, real := testenv.AIGatewayCRDDir(); real {
		return d
	}
	if src, ok := AIGatewaySource(); ok {
		return filepath.Join(src, "manifests", "charts", "ai-gateway-crds-helm", "templates")
	}
	d, _ := testenv.AIGatewayCRDDir()
	return d
}

// aigwBinary is the controller built by hack/build-aigw.sh.
func (c *Cluster) aigwBinary() string {
	return filepath.Join(c.AIGatewayBinDir, "controller-"+AIGatewayVersion)
}

// decideAIGateway sets c.AIGateway (run the controller) or c.AIGatewayAbsent (why not). Only a missing
// source lets the cluster run without it: a source without its build is an error.
func (c *Cluster) decideAIGateway() error {
	if fileExists(c.aigwBinary()) {
		c.AIGateway = true
		return nil
	}
	src, ok := AIGatewaySource()
	if ok {
		return fmt.Errorf("the Envoy AI Gateway source is at %s but %s is not built: run hack/build-aigw.sh (make aigw-build)", src, c.aigwBinary())
	}
	c.AIGatewayAbsent = fmt.Sprintf("the Envoy AI Gateway source is not at %s (AIGW_SRC), so its controller does not run "+
		"and AIGatewayRoutes, AIServiceBackends and BackendSecurityPolicies get no status; to run it: %s", src, AIGatewayHowTo())
	return nil
}

// startAIGateway starts the Envoy AI Gateway controller as its Helm chart deploys it (manifests/charts/
// ai-gateway-helm: deployment.yaml, admission_webhook.yaml): POD_NAMESPACE envoy-ai-gateway-system,
// certificates in -tlsCertDir, its pod-mutating webhook registered, leader election off. It binds all
// interfaces (metrics :8080, rate-limit xDS :18002, webhook), so it runs in its own network namespace;
// relays carry the API server out, and its webhook (for the API server) and extension server (for
// Envoy Gateway, over a unix socket) in. Once up, it is supervised (restarted when it exits, as the
// kubelet restarts a Deployment's container): Envoy AI Gateway v1.1.0's extension server panics when Envoy
// Gateway translates an HTTPRoute generated from an older generation of an AIGatewayRoute that since
// gained a backend (internal/extensionserver/post_translate_modify.go, maybeModifyCluster, indexing
// the cluster's localities by the route's current backendRefs), which a real cluster survives.
// bgctx ends the supervision when the cluster stops.
func (c *Cluster) startAIGateway(ctx, bgctx context.Context) error {
	if err := c.aigwCRDsInstalled(ctx); err != nil {
		return err
	}
	dir := filepath.Join(c.StateDir, "aigw")
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return err
	}
	caPEM, err := writeServingCert(certs)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(certs, "ca.crt"), caPEM, 0o600); err != nil {
		return err
	}
	// Its filter configurations go to Envoy Gateway's namespace (where the Envoy proxies run).
	if err := c.apply(ctx, namespace(AIGatewayNamespace), namespace(EnvoyGatewayNamespace)); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	webhookURL := fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := c.apply(ctx, aigwWebhookConfig(webhookURL+"/mutate", caPEM)); err != nil {
		return err
	}

	if err := c.startAPIRelay(); err != nil {
		return err
	}
	webhookSock := filepath.Join(c.sockDir, "aigw-webhook.sock")
	extSock := filepath.Join(c.sockDir, aigwExtensionSock)
	args := []string{
		"-port=127.0.0.1:" + itoa(aigwExtensionPort),
		"-webhookPort=" + itoa(aigwWebhookPort),
		"-tlsCertDir=" + certs,
		"-enableLeaderElection=false",
		"-envoyGatewayNamespace=" + EnvoyGatewayNamespace,
		// The chart's default: the extproc image of the same version (the Envoy pods are kwok's fakes).
		"-extProcImage=docker.io/envoyproxy/ai-gateway-extproc:" + AIGatewayVersion,
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	script := filepath.Join(dir, "run.sh")
	body := c.relayIn() +
		fmt.Sprintf("setpriv --pdeathsig KILL socat UNIX-LISTEN:%s,fork,unlink-early,mode=600 TCP:127.0.0.1:%d &\n", shellQuote(webhookSock), aigwWebhookPort) +
		fmt.Sprintf("setpriv --pdeathsig KILL socat UNIX-LISTEN:%s,fork,unlink-early,mode=600 TCP:127.0.0.1:%d &\n", shellQuote(extSock), aigwExtensionPort) +
		fmt.Sprintf("cd %s && exec %s %s\n", shellQuote(dir), shellQuote(c.aigwBinary()), strings.Join(quoted, " "))
	if err := c.writeScript(script, body); err != nil {
		return err
	}
	env := []string{"KUBECONFIG=" + c.Kubeconfig, "POD_NAMESPACE=" + AIGatewayNamespace}
	unshareArgs := []string{"--net", "--", "/bin/sh", script}
	controller, err := c.startProcess("aigw-controller", env, mustLook("unshare"), unshareArgs...)
	if err != nil {
		return err
	}
	// The manager serves its webhook once it has found its webhook configuration and opened the extension
	// server's listener: a TLS handshake through the relays proves both, and the relays.
	if err := c.relayWebhook(ctx, "relay-aigw-webhook", port, webhookSock, caPEM, "the Envoy AI Gateway controller's webhook"); err != nil {
		return err
	}
	if err := poll(ctx, 10*time.Second, "the extension server socket "+extSock, func() (bool, error) {
		return fileExists(extSock), c.processesAlive()
	}); err != nil {
		return err
	}
	// Only now: a controller that cannot start (a CRD missing, say) fails the start instead of looping.
	c.mu.Lock()
	controller.supervised = true
	c.mu.Unlock()
	c.supervise(bgctx, controller, env, mustLook("unshare"), unshareArgs...)
	return nil
}

// aigwCRDsInstalled checks, before the controller starts, that the API server serves a CRD for each of
// its kinds: started without one, it waits for its caches for minutes before it gives up.
func (c *Cluster) aigwCRDsInstalled(ctx context.Context) error {
	var list unstructured.UnstructuredList
	list.SetAPIVersion("apiextensions.k8s.io/v1")
	list.SetKind("CustomResourceDefinitionList")
	if err := c.Client.List(ctx, &list); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, crd := range list.Items {
		if g, _, _ := unstructured.NestedString(crd.Object, "spec", "group"); g == "aigateway.envoyproxy.io" {
			k, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
			have[k] = true
		}
	}
	var missing []string
	for _, k := range aigwKinds {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("the Envoy AI Gateway controller needs the CRDs of %v, not in %s: set AIGW_CRDS to the upstream CRDs "+
			"(../shared/crds/envoy-ai-gateway-%s or the source's manifests/charts/ai-gateway-crds-helm/templates)", missing, c.AIGatewayCRDDir, AIGatewayVersion)
	}
	return nil
}

// aigwWebhookConfig is the chart's MutatingWebhookConfiguration (admission_webhook.yaml) with its default
// values, reaching the controller at url instead of through its Service: it injects the external
// processor into the Envoy pods Envoy Gateway creates.
func aigwWebhookConfig(url string, caPEM []byte) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
		"metadata": map[string]any{"name": aigwWebhookConfigName},
		"webhooks": []any{map[string]any{
			"name":         "ai-gateway-controller." + AIGatewayNamespace + ".svc.cluster.local",
			"clientConfig": map[string]any{"url": url, "caBundle": caPEMBase64(caPEM)},
			"rules": []any{map[string]any{
				"apiGroups": []any{""}, "apiVersions": []any{"v1"}, "operations": []any{"CREATE"}, "resources": []any{"pods"},
			}},
			"objectSelector":          map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/managed-by": "envoy-gateway"}},
			"sideEffects":             "None",
			"admissionReviewVersions": []any{"v1"},
			"timeoutSeconds":          int64(10),
			"failurePolicy":           "Fail",
		}},
	}}
}

// aigwExtensionManager is the extensionManager block of Envoy Gateway's configuration from the upstream
// Helm values (manifests/envoy-gateway-values.yaml), reaching the controller's extension server over
// the unix socket its relay serves instead of its Service's hostname, with the upstream InferencePool
// addon (examples/inference-pool/envoy-gateway-values-addon.yaml): InferencePool v1 as a backend resource
// of the extension. Envoy Gateway v1.9 resolves an HTTPRoute backendRef to an InferencePool only so (it
// hands the pool to the extension server, which makes the endpoint picker's cluster); without it the
// route is ResolvedRefs=False, InvalidKind.
func aigwExtensionManager(sock string) string {
	return `extensionManager:
  backendResources:
  - group: inference.networking.k8s.io
    kind: InferencePool
    version: v1
  hooks:
    xdsTranslator:
      translation:
        listener:
          includeAll: true
        route:
          includeAll: true
        cluster:
          includeAll: true
        secret:
          includeAll: true
      post:
      - Translation
      - Cluster
      - Route
  service:
    unix:
      path: ` + sock + "\n"
}
