package controllers_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/certs"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// servingCert parses the first certificate of a PEM block.
func servingCert(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getSecret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	eventually(t, 20*time.Second, func() error { return k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: name}, s) })
	return s
}

// TestLinkTLS: the link between the tiers is encrypted and verified. With the operator's CA, Tier Two
// listens HTTPS on 443 with a certificate for the link's hostname (and the spec's address), Tier One's
// Backend goes to 443 and a BackendTLSPolicy verifies that name against a trust bundle Secret holding
// certificates only; a certificate due for renewal is reissued. With the user's certificate, Tier Two
// serves it and Tier One trusts its ca.crt; a Secret that cannot serve leaves the cluster unlinked
// (never plain HTTP) and the platform Stalled, saying why.
func TestLinkTLS(t *testing.T) {
	ns := newNamespace(t)
	mns := ns + "-models"
	p := createPlatform(t, ns, "tls", `
gateway: {listener: {protocol: HTTP}}
modelClusters: [{name: east, namespace: `+mns+`, address: {hostname: tier2.east.example}, nodePools: [{name: a}]}]
models: [{name: m, selfHosted: {storageUri: 'hf://org/m', placements: [{cluster: east, nodePool: a}]}}]
`)
	hostname := "east.tier-two.genai.internal"

	gw := &gwapiv1.Gateway{}
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: mns, Name: render.TierTwoGatewayName(p)}, gw)
	})
	l := gw.Spec.Listeners[0]
	if l.Protocol != gwapiv1.HTTPSProtocolType || l.Port != 443 || l.TLS == nil || len(l.TLS.CertificateRefs) != 1 ||
		string(l.TLS.CertificateRefs[0].Name) != render.TierTwoTLSSecretName(p) || l.Hostname != nil {
		t.Fatalf("Tier Two listener %+v; want HTTPS on 443 with the serving certificate Secret, no hostname", l)
	}
	serving := getSecret(t, mns, render.TierTwoTLSSecretName(p))
	bundle := getSecret(t, ns, render.ClusterCASecretName(p, "east"))
	if serving.Type != corev1.SecretTypeTLS {
		t.Errorf("Tier Two certificate Secret type %s", serving.Type)
	}
	for _, name := range []string{hostname, "tier2.east.example"} {
		if err := certs.Verify(bundle.Data[render.KeyCACert], serving.Data[corev1.TLSCertKey], name, time.Now()); err != nil {
			t.Errorf("Tier Two's certificate for %s: %v", name, err)
		}
	}
	if len(bundle.Data) != 1 || strings.Contains(string(bundle.Data[render.KeyCACert]), "PRIVATE KEY") {
		t.Errorf("the trust bundle Secret holds more than CA certificates: keys %v", secretKeyNames(bundle))
	}

	backend := &egv1a1.Backend{}
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.ClusterBackendName(p, "east")}, backend)
	})
	if ep := backend.Spec.Endpoints[0]; ep.FQDN == nil || ep.FQDN.Hostname != "tier2.east.example" || ep.FQDN.Port != 443 {
		t.Errorf("Tier One's Backend of the cluster %+v; want tier2.east.example:443", ep)
	}
	btlsp := &gwapiv1.BackendTLSPolicy{}
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.ClusterBackendName(p, "east")}, btlsp)
	})
	if v := btlsp.Spec.Validation; string(v.Hostname) != hostname || len(v.CACertificateRefs) != 1 ||
		v.CACertificateRefs[0].Kind != "Secret" || string(v.CACertificateRefs[0].Name) != render.ClusterCASecretName(p, "east") ||
		string(btlsp.Spec.TargetRefs[0].Name) != backend.Name || btlsp.Spec.TargetRefs[0].Kind != "Backend" {
		t.Errorf("BackendTLSPolicy %+v", btlsp.Spec)
	}

	// Renewal: the state says the serving certificate was issued 80 days ago (due at 60): it is reissued.
	state := getSecret(t, ns, render.ClusterTLSStateSecretName(p, "east"))
	ca := certs.Pair{CertPEM: state.Data["ca.crt"], KeyPEM: state.Data["ca.key"]}
	old, err := certs.IssueServing(ca, []string{hostname, "tier2.east.example"}, time.Now().Add(-80*24*time.Hour), 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	state.Data[corev1.TLSCertKey], state.Data[corev1.TLSPrivateKeyKey] = old.CertPEM, old.KeyPEM
	if err := k8s.Update(testCtx, state); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		s := getSecret(t, mns, render.TierTwoTLSSecretName(p))
		c := servingCert(t, s.Data[corev1.TLSCertKey])
		if time.Since(c.NotBefore) > 2*time.Hour {
			return fmt.Errorf("Tier Two still serves a certificate from %v", c.NotBefore)
		}
		return certs.Verify(bundle.Data[render.KeyCACert], s.Data[corev1.TLSCertKey], hostname, time.Now())
	})

	// The user's certificate.
	userCA, err := certs.NewCA("user CA", time.Now(), 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	userServing, err := certs.IssueServing(userCA, []string{"tier2.byo.example"}, time.Now(), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	createSecret(t, ns, "byo", map[string]string{"tls.crt": string(userServing.CertPEM), "tls.key": string(userServing.KeyPEM), "ca.crt": string(userCA.CertPEM)})
	updatePlatform(t, p, func(latest *platformv1.GenAIPlatform) {
		latest.Spec.ModelClusters[0].TLS = &platformv1.TierLinkTLS{Mode: platformv1.TierLinkTLSSecret, SecretRef: &platformv1.SecretReference{Name: "byo"}}
	})
	eventually(t, 20*time.Second, func() error {
		s := getSecret(t, mns, render.TierTwoTLSSecretName(p))
		b := getSecret(t, ns, render.ClusterCASecretName(p, "east"))
		if string(s.Data[corev1.TLSCertKey]) != string(userServing.CertPEM) || string(b.Data[render.KeyCACert]) != string(userCA.CertPEM) {
			return fmt.Errorf("Tier Two does not serve the user's certificate, or Tier One does not trust the user's CA")
		}
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(btlsp), btlsp); err != nil {
			return err
		}
		if btlsp.Spec.Validation.Hostname != "tier2.byo.example" {
			return fmt.Errorf("BackendTLSPolicy verifies %s, want the certificate's name tier2.byo.example", btlsp.Spec.Validation.Hostname)
		}
		if err := k8s.Get(testCtx, client.ObjectKeyFromObject(state), &corev1.Secret{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the operator CA's state Secret is still there: %v", err)
		}
		return nil
	})

	// A user Secret without ca.crt: the cluster is not linked (Tier One cannot verify it), and the
	// platform says why.
	byo := getSecret(t, ns, "byo")
	delete(byo.Data, "ca.crt")
	if err := k8s.Update(testCtx, byo); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, p, platformv1.ConditionModelClustersReady, metav1.ConditionFalse, status.ReasonSecretKeyNotFound)
	if c := meta.FindStatusCondition(got.Status.Conditions, platformv1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Stalled %+v; only a human can fix the Secret", c)
	}
	if mc := got.Status.ModelClusters; len(mc) != 1 || !strings.Contains(mc[0].Message, "needs the keys tls.crt, tls.key and ca.crt") {
		t.Errorf("model cluster status %+v", mc)
	}
	eventually(t, 20*time.Second, func() error {
		for _, obj := range []client.Object{&egv1a1.Backend{}, &gwapiv1.BackendTLSPolicy{}} {
			if err := k8s.Get(testCtx, client.ObjectKey{Namespace: ns, Name: render.ClusterBackendName(p, "east")}, obj); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%T of the cluster still there (%v): Tier One would route to a Tier Two it cannot verify", obj, err)
			}
		}
		return nil
	})
}

func secretKeyNames(s *corev1.Secret) []string {
	var out []string
	for k := range s.Data {
		out = append(out, k)
	}
	return out
}
