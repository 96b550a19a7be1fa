package controllers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// TestStartsWithoutChildCRDs: on an API server that serves none of the child kinds' CRDs (no Gateway API,
// Envoy Gateway, Envoy AI Gateway or KServe yet), the operator starts, and a platform says which CRD is
// missing (Stalled, CRDNotInstalled) instead of the operator crash-looping.
func TestStartsWithoutChildCRDs(t *testing.T) {
	env := &envtest.Environment{
		BinaryAssetsDirectory: testenv.BinaryDir(),
		CRDDirectoryPaths:     []string{filepath.Join(testenv.ProjectRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, admin := testenv.StartWithAdmin(t, env)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  controllers.NewScheme(),
		Cache:   controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		// The suite's manager already runs a controller of this name in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("building the manager without the child CRDs: %v", err)
	}
	if err := controllers.Setup(mgr, controllers.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errs := make(chan error, 1)
	go func() { errs <- mgr.Start(ctx) }()

	p := &platformv1.GenAIPlatform{ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: "default"}}
	if err := sigyaml.UnmarshalStrict([]byte(`
gateway: {listener: {protocol: HTTP}}
providers: [{name: compat, type: OpenAICompatible, hostname: vllm.example.com}]
models: [{name: m, routes: [{provider: compat}]}]
`), &p.Spec); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		select {
		case err := <-errs:
			t.Fatalf("the manager stopped: %v", err)
		default:
		}
		got := &platformv1.GenAIPlatform{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionStalled)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != status.ReasonCRDNotInstalled {
			return fmt.Errorf("Stalled: %+v", c)
		}
		return nil
	})
}
