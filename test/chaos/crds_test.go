package chaos

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// TestCRDRemovedWhileRunning: the CRD of a child kind (Envoy Gateway's BackendTrafficPolicy, which token
// limits need) is deleted while the operator runs. The operator does not crash; the platform says the
// CRD is missing (Stalled); once the CRD is installed again, the operator watches the kind again and the
// platform's policy comes back, in the same process.
func TestCRDRemovedWhileRunning(t *testing.T) {
	c := newCluster(t, nil)
	admin, ctx := c.admin, t.Context()
	const ns = "crds"
	c.namespace(t, ns)
	op := c.operator(t, "crd-operator", nil)
	op.Start(t)
	pid := op.Cmd.Process.Pid

	p := c.platform(t, ns, "limited", 5, 1)
	const crdName = "backendtrafficpolicies.gateway.envoyproxy.io"
	policies := func() (int, error) {
		var list metav1.PartialObjectMetadataList
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "BackendTrafficPolicyList"})
		if err := admin.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return 0, err
		}
		return len(list.Items), nil
	}
	testenv.Eventually(t, time.Minute, func() error {
		if n, err := policies(); err != nil || n == 0 {
			return fmt.Errorf("no BackendTrafficPolicy yet (%v)", err)
		}
		return nil
	})

	// The CRD goes (and with it every BackendTrafficPolicy).
	var crd apiextensionsv1.CustomResourceDefinition
	if err := admin.Get(ctx, client.ObjectKey{Name: crdName}, &crd); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(ctx, &crd); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if err := admin.Get(ctx, client.ObjectKey{Name: crdName}, &apiextensionsv1.CustomResourceDefinition{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the CRD is still there (%v)", err)
		}
		// A spec edit, so that the platform's status is recomputed without the kind.
		if err := admin.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		if p.Annotations["test/poke"] == "" {
			p.Annotations = map[string]string{"test/poke": "1"}
			if err := admin.Update(ctx, p); err != nil {
				return err
			}
		}
		ready := meta.FindStatusCondition(p.Status.Conditions, platformv1.ConditionReady)
		if ready == nil || ready.Reason != status.ReasonCRDNotInstalled || !meta.IsStatusConditionTrue(p.Status.Conditions, platformv1.ConditionStalled) {
			return fmt.Errorf("Ready %+v; want %s, Stalled", ready, status.ReasonCRDNotInstalled)
		}
		return nil
	})
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the operator exited when a CRD was removed: %v", err)
	}

	// The CRD comes back: the policy is made again, by the same process.
	crd.ObjectMeta = metav1.ObjectMeta{Name: crd.Name, Labels: crd.Labels, Annotations: crd.Annotations}
	crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
	testenv.Eventually(t, time.Minute, func() error {
		err := admin.Create(ctx, crd.DeepCopy())
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err // the old one may still be finishing its deletion
		}
		if n, err := policies(); err != nil || n == 0 {
			return fmt.Errorf("no BackendTrafficPolicy again yet (%v)", err)
		}
		return nil
	})
	if err := syscall.Kill(pid, 0); err != nil || op.Cmd.Process.Pid != pid {
		t.Fatalf("not the same process: %v", err)
	}
	t.Logf("CRD %s removed and reinstalled: the operator (pid %d) reported it and made the policy again", crdName, pid)
}
