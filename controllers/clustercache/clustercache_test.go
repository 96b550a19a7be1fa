package clustercache

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/genai-platform/genai-platform-operator/controllers/certs"
)

func schemaGVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: "serving.kserve.io", Version: "v1beta1", Kind: "InferenceService"}
}

// kubeconfigFor is a kubeconfig pointing at host, with a token user.
func kubeconfigFor(host, token string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: %q}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, host, token)
}

// deadAddress is a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "https://" + addr
}

func newCache() *ClusterCache {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	return New(Options{Scheme: s, RequestTimeout: time.Second, HealthInterval: 50 * time.Millisecond})
}

func TestInvalidKubeconfigIsRefused(t *testing.T) {
	c := newCache()
	key := Key{Platform: types.NamespacedName{Namespace: "ai", Name: "p"}, Cluster: "east"}
	if _, err := c.Connect(key, []byte("not a kubeconfig")); !errors.Is(err, ErrInvalidKubeconfig) {
		t.Fatalf("want ErrInvalidKubeconfig, got %v", err)
	}
	if c.Len() != 0 {
		t.Fatalf("an accessor was kept for an invalid kubeconfig")
	}
}

func TestConnectReusesReplacesAndDisconnects(t *testing.T) {
	c := newCache()
	platform := types.NamespacedName{Namespace: "ai", Name: "p"}
	key := Key{Platform: platform, Cluster: "east"}
	host := deadAddress(t)

	first, err := c.Connect(key, kubeconfigFor(host, "t1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Connect(key, kubeconfigFor(host, "t1"))
	if err != nil || again != first {
		t.Fatalf("the same kubeconfig must reuse the accessor (err %v)", err)
	}

	// Nothing answers: the probe says so, with the reason.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first.WaitProbed(ctx)
	if ok, err := first.Health(); ok || err == nil {
		t.Fatalf("health of a dead address: ok=%v err=%v", ok, err)
	}

	rotated, err := c.Connect(key, kubeconfigFor(host, "t2"))
	if err != nil {
		t.Fatal(err)
	}
	if rotated == first {
		t.Fatal("a rotated kubeconfig must replace the accessor")
	}
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the replaced accessor did not stop")
	}

	other := Key{Platform: platform, Cluster: "west"}
	if _, err := c.Connect(other, kubeconfigFor(host, "t3")); err != nil {
		t.Fatal(err)
	}
	if got := len(c.ClustersOf(platform)); got != 2 {
		t.Fatalf("ClustersOf: %d, want 2", got)
	}
	c.Disconnect(key)
	select {
	case <-rotated.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the disconnected accessor did not stop")
	}
	if c.Get(key) != nil || c.Len() != 1 {
		t.Fatalf("after Disconnect: %d accessors", c.Len())
	}
}

// TestSlowClusterIsBounded: a cluster that accepts connections and never answers is reported unhealthy
// once RequestTimeout has passed; waiting for it never takes much longer than that.
func TestSlowClusterIsBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	var held []net.Conn
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, conn) // accepted, never answered
		}
	}()
	c := newCache()
	cl, err := c.Connect(Key{Cluster: "slow"}, kubeconfigFor("https://"+l.Addr().String(), "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(Key{Cluster: "slow"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl.WaitProbed(ctx)
	if ctx.Err() != nil {
		t.Fatal("the first probe of a silent cluster did not end within 10 s (RequestTimeout is 1 s)")
	}
	if ok, err := cl.Health(); ok || err == nil {
		t.Fatalf("a silent cluster must be unhealthy: ok=%v err=%v", ok, err)
	}
	_, err = cl.Served(schemaGVK())
	if err == nil {
		t.Fatal("discovery against a silent cluster must fail, not hang")
	}
}

// TestUntrustedKubeconfigsAreRefused: a kubeconfig from a user's Secret may not run a program in the
// operator's pod or read its files (the operator's own service account token, say, to send it away).
func TestUntrustedKubeconfigsAreRefused(t *testing.T) {
	const head = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
	const cluster = "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
	for name, kc := range map[string]string{
		"exec plugin":      cluster + "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, 'cat /etc/passwd']}}}]\n",
		"auth provider":    cluster + "users: [{name: u, user: {auth-provider: {name: oidc, config: {idp-issuer-url: 'https://x'}}}}]\n",
		"token file":       cluster + "users: [{name: u, user: {tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}}]\n",
		"client cert file": cluster + "users: [{name: u, user: {client-certificate: /etc/tls/tls.crt, client-key: /etc/tls/tls.key}}]\n",
		"CA file":          "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt}}]\nusers: [{name: u, user: {token: t}}]\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := newCache()
			_, err := c.Connect(Key{Cluster: "x"}, []byte(head+kc))
			if !errors.Is(err, ErrInvalidKubeconfig) {
				t.Fatalf("want ErrInvalidKubeconfig, got %v", err)
			}
			t.Log(err)
		})
	}
	// Inline credentials are fine.
	c := newCache()
	if _, err := c.Connect(Key{Cluster: "ok"}, kubeconfigFor(deadAddress(t), "t")); err != nil {
		t.Fatalf("an inline token was refused: %v", err)
	}
	c.Disconnect(Key{Cluster: "ok"})
}

// TestRedirectsAreNotFollowed: a model cluster's server that redirects the operator elsewhere (an address
// of the operator's own network) is unhealthy, and the other address never sees a request.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var hits atomic.Int32
	inside := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer inside.Close()
	redirecting := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirecting.Close()
	c := newCache()
	cl, err := c.Connect(Key{Cluster: "redirect"}, kubeconfigFor(redirecting.URL, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(Key{Cluster: "redirect"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl.WaitProbed(ctx)
	if ok, err := cl.Health(); ok || err == nil {
		t.Errorf("a redirecting server must be unhealthy: ok=%v err=%v", ok, err)
	}
	if _, err := cl.Served(schemaGVK()); err == nil {
		t.Error("discovery through a redirect succeeded")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

// TestWrongCAIsUnhealthy: a kubeconfig whose CA did not sign the server's certificate gives an unhealthy
// cluster whose error says why (the certificate), and no request gets through.
func TestWrongCAIsUnhealthy(t *testing.T) {
	var hits atomic.Int32
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer server.Close()
	// Another CA than the one that signed the server's certificate (every httptest server shares one).
	other, err := certs.NewCA("another CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca := other.CertPEM
	kc := fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, server.URL, base64.StdEncoding.EncodeToString(ca))
	c := newCache()
	cl, err := c.Connect(Key{Cluster: "wrong-ca"}, kc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(Key{Cluster: "wrong-ca"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl.WaitProbed(ctx)
	ok, herr := cl.Health()
	if ok || herr == nil || !strings.Contains(herr.Error(), "certificate") {
		t.Errorf("health ok=%v err=%v; want unhealthy, naming the certificate", ok, herr)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached a server whose certificate was not verified", n)
	}
}
