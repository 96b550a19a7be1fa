package statuspatch_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/statuspatch"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

func tenantStatus(t *platformv1.GenAITenant) any { return &t.Status }

// TestWriteAgainstTheLastWrite, on a real API server: the operator writes a GenAITenant's status (two
// client ids), then computes the old status again (none) from the object as its cache still shows it,
// from before that write. Compared with that stale object the new status is no change; compared with the
// last write it is one, and the status is written back. A status equal to the last write is not sent
// again; once the cache shows the write, the memory of it is dropped.
func TestWriteAgainstTheLastWrite(t *testing.T) {
	if testenv.SharedDir() == "" {
		t.Skip("../shared (the upstream CRDs the test API server installs) is absent")
	}
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	_, c := testenv.StartWithAdmin(t, env)
	ctx := t.Context()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}); err != nil {
		t.Fatal(err)
	}
	tenant := &platformv1.GenAITenant{}
	if err := sigyaml.UnmarshalStrict([]byte(`{metadata: {name: a, namespace: team}, spec: {platformRef: {name: p}, apiKeys: {generate: {keys: 2}}, models: ["*"]}}`), tenant); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	stale := &platformv1.GenAITenant{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(tenant), stale); err != nil {
		t.Fatal(err)
	}
	server := func() platformv1.GenAITenantStatus {
		t.Helper()
		got := &platformv1.GenAITenant{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(tenant), got); err != nil {
			t.Fatal(err)
		}
		return got.Status
	}

	var m statuspatch.Memory
	withTwo := stale.DeepCopy()
	withTwo.Status.ClientIDs = 2
	if sent, err := statuspatch.Write(ctx, c, &m, stale, withTwo, tenantStatus); err != nil || !sent {
		t.Fatalf("first write: sent %v, %v", sent, err)
	}
	if got := server().ClientIDs; got != 2 {
		t.Fatalf("the API server has %d client ids, want 2", got)
	}

	// The same status again, the cache still stale: nothing to send.
	if sent, err := statuspatch.Write(ctx, c, &m, stale, withTwo.DeepCopy(), tenantStatus); err != nil || sent {
		t.Fatalf("the last write again: sent %v, %v", sent, err)
	}
	// Without the memory, the old status computed again looks like no change, and the write (two client
	// ids) would stay.
	var none statuspatch.Memory
	if sent, _ := statuspatch.Write(ctx, c, &none, stale, stale.DeepCopy(), tenantStatus); sent {
		t.Fatal("compared with the stale object, the old status is not a change: nothing should be sent")
	}
	// With it, the old status is written back.
	if sent, err := statuspatch.Write(ctx, c, &m, stale, stale.DeepCopy(), tenantStatus); err != nil || !sent {
		t.Fatalf("the old status again: sent %v, %v", sent, err)
	}
	if got := server().ClientIDs; got != 0 {
		t.Fatalf("the API server has %d client ids, want none", got)
	}

	// The cache catches up: the memory of the write is dropped at the next look.
	fresh := &platformv1.GenAITenant{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(tenant), fresh); err != nil {
		t.Fatal(err)
	}
	if sent, err := statuspatch.Write(ctx, c, &m, fresh, fresh.DeepCopy(), tenantStatus); err != nil || sent {
		t.Fatalf("no change on a fresh object: sent %v, %v", sent, err)
	}
	if m.Len() != 0 {
		t.Fatalf("%d writes still remembered once the cache shows them", m.Len())
	}
}
