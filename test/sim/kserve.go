package sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// KServeNamespace is where the KServe manager lives.
const KServeNamespace = "kserve"

// startKServe configures and starts the KServe manager: raw (Standard) deployment mode by default,
// Gateway API ingress through kserve/kserve-ingress-gateway, the Hugging Face serving runtime and the
// default storage initializer, and its webhooks (defaulting and validation of InferenceServices, the
// storage initializer injected into predictor pods) served through a relay with a certificate of its own.
func (c *Cluster) startKServe(ctx context.Context) error {
	mod, err := testenv.ModuleDir(testenv.KServeModule)
	if err != nil {
		return err
	}
	dir := filepath.Join(c.StateDir, "kserve")
	certDir := filepath.Join(dir, "tmp", "k8s-webhook-server", "serving-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	caPEM, err := writeServingCert(certDir)
	if err != nil {
		return err
	}
	if err := c.apply(ctx, namespace(KServeNamespace)); err != nil {
		return err
	}
	cm, err := kserveConfigMap(mod)
	if err != nil {
		return err
	}
	if err := c.apply(ctx, cm); err != nil {
		return err
	}
	// KServe's ingress Gateway, as its Gateway API install makes it: KServe routes each
	// InferenceService through it and reports IngressReady from the route's acceptance.
	if err := c.apply(ctx, kserveIngressGateway()); err != nil {
		return err
	}

	if err := c.startAPIRelay(); err != nil {
		return err
	}
	webhookSock := filepath.Join(c.sockDir, "kserve-webhook.sock")
	port, err := freePort()
	if err != nil {
		return err
	}
	script := filepath.Join(dir, "run.sh")
	body := c.relayIn() +
		fmt.Sprintf("setpriv --pdeathsig KILL socat UNIX-LISTEN:%s,fork,unlink-early,mode=600 TCP:127.0.0.1:9443 &\n", shellQuote(webhookSock)) +
		fmt.Sprintf("exec %s -metrics-addr=127.0.0.1:8080 -health-probe-addr=127.0.0.1:8081 -webhook-port=9443\n", shellQuote(c.bin("kserve-manager")))
	if err := c.writeScript(script, body); err != nil {
		return err
	}
	if _, err := c.startProcess("kserve-manager", []string{
		"KUBECONFIG=" + c.Kubeconfig, "POD_NAMESPACE=" + KServeNamespace, "TMPDIR=" + filepath.Join(dir, "tmp"),
	}, mustLook("unshare"), "--net", "--", "/bin/sh", script); err != nil {
		return err
	}
	if err := c.relayWebhook(ctx, "relay-kserve-webhook", port, webhookSock, caPEM, "KServe's webhook server"); err != nil {
		return err
	}
	hooks, err := kserveWebhooks(filepath.Join(mod, "config", "webhook", "manifests.yaml"), fmt.Sprintf("https://127.0.0.1:%d", port), caPEM)
	if err != nil {
		return err
	}
	if err := c.apply(ctx, hooks...); err != nil {
		return err
	}
	runtimes, err := kserveRuntimes(mod)
	if err != nil {
		return err
	}
	// Through KServe's validating webhook: proves the webhook path works before anyone relies on it.
	return poll(ctx, time.Minute, "the Hugging Face ClusterServingRuntime (through KServe's webhook)", func() (bool, error) {
		err := c.apply(ctx, runtimes...)
		return err == nil, err
	})
}

// kserveConfigMap is KServe's own inferenceservice-config ConfigMap, read in place from its module,
// with raw ("Standard") deployment mode as the default and Gateway API ingress on.
func kserveConfigMap(mod string) (*unstructured.Unstructured, error) {
	objs, err := ReadObjects(filepath.Join(mod, "config", "configmap", "inferenceservice.yaml"))
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("inferenceservice.yaml: %d objects", len(objs))
	}
	cm := objs[0]
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	delete(data, "_example")
	if err := editJSON(data, "deploy", func(m map[string]any) { m["defaultDeploymentMode"] = "Standard" }); err != nil {
		return nil, err
	}
	if err := editJSON(data, "ingress", func(m map[string]any) {
		m["enableGatewayApi"] = true
		m["kserveIngressGateway"] = KServeNamespace + "/kserve-ingress-gateway"
	}); err != nil {
		return nil, err
	}
	if err := editJSON(data, "storageInitializer", func(m map[string]any) {
		m["image"] = "kserve/storage-initializer:" + KServeVersion
	}); err != nil {
		return nil, err
	}
	cm.SetNamespace(KServeNamespace)
	return cm, unstructured.SetNestedStringMap(cm.Object, data, "data")
}

func editJSON(data map[string]string, key string, f func(map[string]any)) error {
	var m map[string]any
	if err := json.Unmarshal([]byte(data[key]), &m); err != nil {
		return fmt.Errorf("inferenceservice-config %s: %w", key, err)
	}
	f(m)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	data[key] = string(b)
	return nil
}

func kserveIngressGateway() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "kserve-ingress-gateway", "namespace": KServeNamespace},
		"spec": map[string]any{
			"gatewayClassName": KServeGatewayClass,
			"listeners": []any{map[string]any{
				"name": "http", "port": int64(80), "protocol": "HTTP",
				"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}},
			}},
		},
	}}
}

// kserveWebhooks are KServe's webhook configurations from a file of its module, pointed at url with caPEM.
func kserveWebhooks(path, url string, caPEM []byte) ([]*unstructured.Unstructured, error) {
	objs, err := ReadObjects(path)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
		for i, h := range hooks {
			m := h.(map[string]any)
			path, _, _ := unstructured.NestedString(m, "clientConfig", "service", "path")
			m["clientConfig"] = map[string]any{"url": url + path, "caBundle": caPEMBase64(caPEM)}
			hooks[i] = m
		}
		if err := unstructured.SetNestedSlice(o.Object, hooks, "webhooks"); err != nil {
			return nil, err
		}
		unstructured.RemoveNestedField(o.Object, "metadata", "creationTimestamp")
	}
	return objs, nil
}

// kserveRuntimes are the Hugging Face ClusterServingRuntime (vLLM behind KServe's OpenAI API) and the
// default ClusterStorageContainer (the storage initializer that downloads hf:// models), from the module,
// with their images named (kustomize does it in KServe's release).
func kserveRuntimes(mod string) ([]*unstructured.Unstructured, error) {
	rt, err := ReadObjects(filepath.Join(mod, "config", "runtimes", "kserve-huggingfaceserver.yaml"))
	if err != nil {
		return nil, err
	}
	sc, err := ReadObjects(filepath.Join(mod, "config", "storagecontainers", "default.yaml"))
	if err != nil {
		return nil, err
	}
	objs := append(rt, sc...)
	for _, o := range objs {
		setImages(o.Object, map[string]string{
			"huggingfaceserver:replace":          "kserve/huggingfaceserver:" + KServeVersion,
			"default-storage-initilizer:replace": "kserve/storage-initializer:" + KServeVersion,
		})
	}
	return objs, nil
}

// setImages replaces image placeholders anywhere in an object.
func setImages(v any, images map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if s, ok := x.(string); ok && k == "image" {
				if r, ok := images[s]; ok {
					t[k] = r
				}
				continue
			}
			setImages(x, images)
		}
	case []any:
		for _, x := range t {
			setImages(x, images)
		}
	}
}

func caPEMBase64(caPEM []byte) string {
	// unstructured objects carry []byte fields base64-encoded, as JSON does.
	b, _ := json.Marshal(caPEM)
	return strings.Trim(string(b), `"`)
}

// writeServingCert writes a self-signed CA and a serving certificate for 127.0.0.1 (tls.crt, tls.key)
// in dir, and returns the CA in PEM.
func writeServingCert(dir string) ([]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "genai-sim-webhook-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// relayWebhook relays a webhook server listening on a unix socket inside a controller's network namespace
// to 127.0.0.1:port, where the API server calls it, and waits until a TLS handshake with the server's
// certificate (signed by caPEM) succeeds through the relay.
func (c *Cluster) relayWebhook(ctx context.Context, relay string, port int, socket string, caPEM []byte, what string) error {
	if _, err := c.startProcess(relay, nil, mustLook("socat"),
		fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr", port), "UNIX-CONNECT:"+socket); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return poll(ctx, 2*time.Minute, what+" at "+addr, func() (bool, error) {
		if err := c.processesAlive(); err != nil {
			return false, err
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			return false, err
		}
		_ = conn.Close()
		return true, nil
	})
}
