package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// WVAModule is the Workload Variant Autoscaler (llm-d) at the version KServe v0.20.0's go.mod requires: the
// simulated cluster installs its VariantAutoscaling CRD, read in place (its controller does not run).
const WVAModule = "github.com/llm-d/llm-d-workload-variant-autoscaler@v0.7.0"

// llmisvcCRDFiles are the CRDs of KServe's LLM serving (config/crd/full/llmisvc), each with a conversion
// webhook (v1alpha1 <-> v1alpha2, config/crd/full/llmisvc/*_conversion_webhook_patch.yaml) that the
// controller serves.
var llmisvcCRDFiles = []string{"serving.kserve.io_llminferenceservices.yaml", "serving.kserve.io_llminferenceserviceconfigs.yaml"}

// prepareLLMISVC, before the control plane starts, makes the LLM controller's serving certificate and
// picks the port of its webhook relay, so that installLLMISVCCRDs can create its CRDs with their
// conversion webhook already set (as cert-manager's CA injection leaves them upstream): patching these
// 2 MB CRDs afterwards costs the API server seconds, and envtest drops the conversion of every CRD whose
// types are not in its scheme.
func (c *Cluster) prepareLLMISVC() error {
	certDir := filepath.Join(c.StateDir, "kserve-llmisvc", "tmp", "k8s-webhook-server", "serving-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	var err error
	if c.llmisvcCA, err = writeServingCert(certDir); err != nil {
		return err
	}
	if c.llmisvcPort, err = freePort(); err != nil {
		return err
	}
	return nil
}

func (c *Cluster) llmisvcURL() string { return fmt.Sprintf("https://127.0.0.1:%d", c.llmisvcPort) }

// installLLMISVCCRDs creates KServe's LLM CRDs from its module, their conversion going through the LLM
// controller's webhook, and waits until the API server serves them.
func (c *Cluster) installLLMISVCCRDs(ctx context.Context, mod string) error {
	for _, f := range llmisvcCRDFiles {
		objs, err := ReadObjects(filepath.Join(mod, "config", "crd", "full", "llmisvc", f))
		if err != nil {
			return err
		}
		if len(objs) != 1 {
			return fmt.Errorf("%s: %d objects", f, len(objs))
		}
		crd := objs[0]
		if err := unstructured.SetNestedField(crd.Object, map[string]any{
			"strategy": "Webhook",
			"webhook": map[string]any{
				"clientConfig":             map[string]any{"url": c.llmisvcURL() + "/convert", "caBundle": caPEMBase64(c.llmisvcCA)},
				"conversionReviewVersions": []any{"v1", "v1beta1"},
			},
		}, "spec", "conversion"); err != nil {
			return err
		}
		if err := c.Client.Create(ctx, crd); err != nil {
			return fmt.Errorf("creating CRD %s: %w", crd.GetName(), err)
		}
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		if err := poll(ctx, time.Minute, "CRD "+crd.GetName()+" served", func() (bool, error) {
			list := &unstructured.UnstructuredList{}
			list.SetAPIVersion(group + "/v1alpha2")
			list.SetKind(kind + "List")
			err := c.Client.List(ctx, list, client.Limit(1))
			return err == nil, err
		}); err != nil {
			return err
		}
	}
	return nil
}

// startLLMISVC starts KServe's LLMInferenceService controller (cmd/llmisvc, a binary of its own in KServe
// v0.20) beside the KServe manager, as KServe's config/llmisvc installs it: POD_NAMESPACE kserve (it reads
// the same inferenceservice-config ConfigMap, and its presets live there), its webhooks (defaulting and
// validation of LLMInferenceServices, validation of LLMInferenceServiceConfigs, and the CRDs' conversion)
// served through a relay with a certificate of its own (prepareLLMISVC), and KServe's well-known presets,
// the LLMInferenceServiceConfigs of config/llmisvcconfig, applied through its validating webhook. Leader
// election is off, as for the other controllers of the cluster (one replica). Its CRDs (installLLMISVCCRDs),
// and the Gateway API Inference Extension CRDs KServe installs with it, are installed with the control
// plane.
func (c *Cluster) startLLMISVC(ctx context.Context) error {
	mod, err := testenv.ModuleDir(testenv.KServeModule)
	if err != nil {
		return err
	}
	dir := filepath.Join(c.StateDir, "kserve-llmisvc")
	if err := c.startAPIRelay(); err != nil {
		return err
	}
	webhookSock := filepath.Join(c.sockDir, "kserve-llmisvc-webhook.sock")
	// The Deployment's arguments (config/llmisvc/manager.yaml) without --leader-elect; its ports bind the
	// loopback of its own network namespace (the KServe manager binds the same ones in its own).
	script := filepath.Join(dir, "run.sh")
	body := c.relayIn() +
		fmt.Sprintf("setpriv --pdeathsig KILL socat UNIX-LISTEN:%s,fork,unlink-early,mode=600 TCP:127.0.0.1:9443 &\n", shellQuote(webhookSock)) +
		fmt.Sprintf("exec %s -metrics-addr=127.0.0.1:8443 -health-probe-addr=127.0.0.1:8081 -webhook-port=9443\n", shellQuote(c.bin("kserve-llmisvc")))
	if err := c.writeScript(script, body); err != nil {
		return err
	}
	if _, err := c.startProcess("kserve-llmisvc", []string{
		"KUBECONFIG=" + c.Kubeconfig, "POD_NAMESPACE=" + KServeNamespace, "TMPDIR=" + filepath.Join(dir, "tmp"),
	}, mustLook("unshare"), "--net", "--", "/bin/sh", script); err != nil {
		return err
	}
	if err := c.relayWebhook(ctx, "relay-kserve-llmisvc-webhook", c.llmisvcPort, webhookSock, c.llmisvcCA, "KServe's LLMInferenceService webhook server"); err != nil {
		return err
	}
	hooks, err := llmisvcWebhooks(mod, c.llmisvcURL(), c.llmisvcCA)
	if err != nil {
		return err
	}
	if err := c.apply(ctx, hooks...); err != nil {
		return err
	}
	presets, err := llmisvcPresets(mod)
	if err != nil {
		return err
	}
	// Through the controller's validating webhook, which renders each preset's templates against its
	// configuration: proves the webhook path and the configuration before anyone relies on them.
	return poll(ctx, time.Minute, "KServe's LLMInferenceServiceConfig presets (through its webhook)", func() (bool, error) {
		if err := c.processesAlive(); err != nil {
			return false, err
		}
		err := c.apply(ctx, presets...)
		return err == nil, err
	})
}

// llmisvcWebhooks are the LLM controller's webhook configurations from KServe's module
// (config/webhook/llmisvc/manifests.yaml), pointed at url with caPEM.
func llmisvcWebhooks(mod, url string, caPEM []byte) ([]*unstructured.Unstructured, error) {
	return kserveWebhooks(filepath.Join(mod, "config", "webhook", "llmisvc", "manifests.yaml"), url, caPEM)
}

// llmisvcPresets are KServe's well-known LLMInferenceServiceConfigs (config/llmisvcconfig, the files its
// kustomization lists, in the kserve namespace), read in place: the templates that an LLMInferenceService's
// spec is merged onto (the vLLM pod, the endpoint picker and its InferencePool, the route).
func llmisvcPresets(mod string) ([]*unstructured.Unstructured, error) {
	dir := filepath.Join(mod, "config", "llmisvcconfig")
	kust, err := ReadObjects(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	if len(kust) != 1 {
		return nil, fmt.Errorf("%s/kustomization.yaml: %d objects", dir, len(kust))
	}
	files, _, _ := unstructured.NestedStringSlice(kust[0].Object, "resources")
	if len(files) == 0 {
		return nil, fmt.Errorf("%s/kustomization.yaml lists no resources", dir)
	}
	sort.Strings(files)
	var out []*unstructured.Unstructured
	for _, f := range files {
		objs, err := ReadObjects(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			o.SetNamespace(KServeNamespace)
			out = append(out, o)
		}
	}
	return out, nil
}
