package chaos

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// cluster is one chaos test's own API server (kube-apiserver + etcd with the upstream CRDs), its admin
// client and a scratch directory.
type cluster struct {
	env   *envtest.Environment
	cfg   *rest.Config
	admin client.Client
	dir   string
}

// newCluster starts an API server for the test; configure may set its flags first. The test is skipped
// when ../shared, which holds the upstream CRDs, is absent.
func newCluster(t *testing.T, configure func(*envtest.Environment)) *cluster {
	t.Helper()
	if testenv.SharedDir() == "" {
		t.Skip("../shared (the upstream CRDs) is absent: set SHARED_DIR to run the chaos tests")
	}
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(env)
	}
	cfg, admin := testenv.StartWithAdmin(t, env)
	return &cluster{env: env, cfg: cfg, admin: admin, dir: t.TempDir()}
}

// namespace creates a namespace.
func (c *cluster) namespace(t *testing.T, name string) {
	t.Helper()
	if err := c.admin.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// kubeconfig writes a kubeconfig for a cluster-admin user of that name, and returns its path. Through a
// partition, the user reaches the API server by way of that proxy.
func (c *cluster) kubeconfig(t *testing.T, user string, through *partition) string {
	t.Helper()
	server := ""
	if through != nil {
		server = through.ln.Addr().String()
	}
	return testenv.UserKubeconfig(t, c.env, c.cfg, c.dir, user, server)
}

// partition is a cut-able proxy to this API server.
func (c *cluster) partition(t *testing.T) *partition {
	t.Helper()
	u, err := url.Parse(c.cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	return newPartition(t, u.Host)
}

// operator is the operator's binary for a user, logging into the scratch directory; its last log lines
// are shown when the test fails.
func (c *cluster) operator(t *testing.T, user string, through *partition, args ...string) *operator {
	t.Helper()
	op := &operator{Bin: testenv.BuildOperator(t), Kubeconfig: c.kubeconfig(t, user, through), Log: filepath.Join(c.dir, user+".log"), Args: args}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(op.Log)
			lines := strings.Split(string(b), "\n")
			t.Logf("%s, last log lines:\n%s", user, strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	})
	return op
}

// platform creates a platform of models models (testenv.PlatformSpec, from model first) in namespace ns.
func (c *cluster) platform(t *testing.T, ns, name string, models, first int) *platformv1.GenAIPlatform {
	t.Helper()
	p := &platformv1.GenAIPlatform{}
	p.Namespace, p.Name = ns, name
	if err := sigyaml.UnmarshalStrict([]byte(testenv.PlatformSpec(ns, models, first)), &p.Spec); err != nil {
		t.Fatal(err)
	}
	if err := c.admin.Create(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// setModels replaces the platform's spec by one of models models from model first, as a user's edit.
func (c *cluster) setModels(t *testing.T, p *platformv1.GenAIPlatform, models, first int) {
	t.Helper()
	var spec platformv1.GenAIPlatformSpec
	if err := sigyaml.UnmarshalStrict([]byte(testenv.PlatformSpec(p.Namespace, models, first)), &spec); err != nil {
		t.Fatal(err)
	}
	if err := c.admin.Get(t.Context(), client.ObjectKeyFromObject(p), p); err != nil {
		t.Fatal(err)
	}
	p.Spec = spec
	if err := c.admin.Update(t.Context(), p); err != nil {
		t.Fatal(err)
	}
}
