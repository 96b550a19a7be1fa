package sim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// EnvoyGatewayNamespace is where the Envoy Gateway controller lives, its Envoy proxies too.
const EnvoyGatewayNamespace = "envoy-gateway-system"

// KServeGatewayClass is the GatewayClass of KServe's own ingress Gateway (kserve/kserve-ingress-gateway),
// as KServe's Gateway API install makes it.
const KServeGatewayClass = "envoy"

// envoyGatewayConfig is the EnvoyGateway configuration: the Kubernetes provider without leader election
// or topology injector webhook, the Backend API on (the operator's provider and Tier Two links are
// Backends), global rate limiting configured (the operator's token budgets are global rate limits; the
// Redis it names is never reached: there is no data plane) and the admin server on loopback. With the
// Envoy AI Gateway controller, startEnvoyGateway adds what the upstream Helm values for it add.
const envoyGatewayConfig = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyGateway
gateway:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
provider:
  type: Kubernetes
  kubernetes:
    leaderElection:
      disable: true
    proxyTopologyInjector:
      disabled: true
    shutdownManager:
      image: docker.io/envoyproxy/gateway:%[1]s
extensionApis:
  enableBackend: true
rateLimit:
  backend:
    type: Redis
    redis:
      url: redis.redis-system.svc.cluster.local:6379
admin:
  address:
    host: 127.0.0.1
    port: 19000
logging:
  level:
    default: info
`

func (c *Cluster) startEnvoyGateway(ctx context.Context) error {
	dir := filepath.Join(c.StateDir, "envoy-gateway")
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return err
	}
	if err := c.apply(ctx, namespace(EnvoyGatewayNamespace)); err != nil {
		return err
	}
	// certgen makes the control plane's certificates (and the OIDC HMAC secret) as Secrets, as the Helm
	// chart's certgen Job does.
	certgen := exec.Command(c.bin("envoy-gateway"), "certgen", "--disable-topology-injector")
	certgen.Env = append(os.Environ(), MarkerEnv+"="+c.StateDir, "KUBECONFIG="+c.Kubeconfig, "ENVOY_GATEWAY_NAMESPACE="+EnvoyGatewayNamespace)
	if out, err := certgen.CombinedOutput(); err != nil {
		return fmt.Errorf("envoy-gateway certgen: %w\n%s", err, out)
	}
	var secret corev1.Secret
	if err := c.Client.Get(ctx, types.NamespacedName{Namespace: EnvoyGatewayNamespace, Name: "envoy-gateway"}, &secret); err != nil {
		return err
	}
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if err := os.WriteFile(filepath.Join(certs, k), secret.Data[k], 0o600); err != nil {
			return err
		}
	}
	cfg := fmt.Sprintf(envoyGatewayConfig, EnvoyGatewayVersion)
	if c.AIGateway {
		// As ai-gateway's manifests/envoy-gateway-values.yaml: EnvoyPatchPolicy on, and the extension
		// manager calling the AI Gateway controller's extension server on every xDS translation.
		cfg = strings.Replace(cfg, "extensionApis:\n", "extensionApis:\n  enableEnvoyPatchPolicy: true\n", 1) +
			aigwExtensionManager(filepath.Join(c.sockDir, aigwExtensionSock))
	}
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "root"), 0o755); err != nil {
		return err
	}
	if err := c.startAPIRelay(); err != nil {
		return err
	}
	script := filepath.Join(dir, "run.sh")
	body := fakeRoot(filepath.Join(dir, "root"), map[string]string{"/certs": certs}) + c.relayIn() +
		fmt.Sprintf("exec chroot \"$R\" /bin/sh -c %s\n", shellQuote(fmt.Sprintf("cd %s && exec %s server --config-path %s",
			shellQuote(dir), shellQuote(c.bin("envoy-gateway")), shellQuote(config))))
	if err := c.writeScript(script, body); err != nil {
		return err
	}
	if _, err := c.startProcess("envoy-gateway", []string{"KUBECONFIG=" + c.Kubeconfig, "ENVOY_GATEWAY_NAMESPACE=" + EnvoyGatewayNamespace},
		mustLook("unshare"), "--mount", "--net", "--propagation=private", "--", "/bin/sh", script); err != nil {
		return err
	}
	// Envoy Gateway is up when it accepts a GatewayClass: KServe's, which KServe's ingress needs anyway.
	if err := c.apply(ctx, gatewayClass(KServeGatewayClass)); err != nil {
		return err
	}
	return poll(ctx, 2*time.Minute, "Envoy Gateway to accept GatewayClass "+KServeGatewayClass, func() (bool, error) {
		if err := c.processesAlive(); err != nil {
			return false, err
		}
		return c.conditionTrue(ctx, gatewayClass(KServeGatewayClass), "Accepted")
	})
}
