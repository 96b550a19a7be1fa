package controllers

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/controllers/certs"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
	"github.com/genai-platform/genai-platform-operator/controllers/status"
)

// Lifetimes of the operator CA's certificates. Each is renewed at two thirds of its life: a serving
// certificate after 60 days, the CA after about 6.7 years, with a staged rotation.
const (
	linkCAValidity      = 10 * 365 * 24 * time.Hour
	linkServingValidity = 90 * 24 * time.Hour
)

// The operator CA's state Secret (Tier One, never referenced by another object): the CA, the serving pair
// it issued, and a CA being staged.
const (
	keyCACert         = "ca.crt"
	keyCAKey          = "ca.key"
	keyNextCACert     = "next-ca.crt"
	keyNextCAKey      = "next-ca.key"
	keyPreviousCACert = "previous-ca.crt"
	// annotationCAStep is when the last CA rotation step was taken (RFC 3339).
	annotationCAStep = "platform.genai.dev/ca-step-at"
	linkCAName       = "genai-platform tier link CA"
)

// linkTLS returns a model cluster's link TLS material for this reconcile, nil with tls.mode None. With the
// operator's CA, what is due is issued or renewed here. A problem (the user's Secret is unusable) also
// returns nil: the link is then not made, never downgraded to plain text.
func (r *GenAIPlatformReconciler) linkTLS(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) (*facts.LinkTLS, *facts.Problem, error) {
	switch render.LinkTLSMode(mc) {
	case platformv1.TierLinkTLSNone:
		return nil, nil, nil
	case platformv1.TierLinkTLSSecret:
		t, prob := r.userLinkTLS(ctx, p, mc)
		return t, prob, nil
	}
	var state corev1.Secret
	name := types.NamespacedName{Namespace: p.Namespace, Name: render.ClusterTLSStateSecretName(p, mc.Name)}
	if err := r.Client.Get(ctx, name, &state); err != nil {
		// As with the link key: a CA made on a cache miss would replace the one Tier One trusts.
		if err := r.APIReader.Get(ctx, name, &state); err != nil && !apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("reading the TLS state Secret of model cluster %s: %w", mc.Name, err)
		}
	}
	t, err := advanceLinkCA(state.Data, state.Annotations, linkTLSNames(mc), r.now(), r.keyRotationGrace())
	if err != nil {
		return nil, nil, fmt.Errorf("model cluster %s: %w", mc.Name, err)
	}
	t.Hostname = render.LinkTLSHostname(mc)
	return t, nil, nil
}

// linkTLSNames are the DNS names of Tier Two's serving certificate: the link's hostname, and the spec's
// address when it is a DNS name (so that other clients of that address can verify it too).
func linkTLSNames(mc *platformv1.ModelClusterSpec) []string {
	names := []string{render.LinkTLSHostname(mc)}
	if a := mc.Address; a != nil && a.Hostname != names[0] && validDNSName(a.Hostname) {
		names = append(names, a.Hostname)
	}
	return names
}

// validDNSName: a DNS name a certificate can carry (an IP address is not one).
func validDNSName(s string) bool {
	return net.ParseIP(s) == nil && len(validation.IsDNS1123Subdomain(s)) == 0
}

// advanceLinkCA is the operator CA's state after this reconcile, advanced by what is due, and the link
// material it gives. A CA rotation never leaves Tier One distrusting what Tier Two serves, whichever of the
// two picks up a step first:
//  1. stage: a new CA is made and Tier One trusts both; Tier Two still serves a certificate of the old one;
//  2. switch, after the grace period (time for the trust bundle to reach every Tier One proxy): Tier Two's
//     certificate is reissued by the new CA; Tier One still trusts both;
//  3. retire, after another grace period: Tier One trusts only the new CA.
//
// A CA that is missing, unreadable or expired is replaced at once: nothing can be kept trusting it.
func advanceLinkCA(data map[string][]byte, annotations map[string]string, names []string, now time.Time, grace time.Duration) (*facts.LinkTLS, error) {
	ca := certs.Pair{CertPEM: data[keyCACert], KeyPEM: data[keyCAKey]}
	next := certs.Pair{CertPEM: data[keyNextCACert], KeyPEM: data[keyNextCAKey]}
	previous := data[keyPreviousCACert]
	serving := certs.Pair{CertPEM: data[corev1.TLSCertKey], KeyPEM: data[corev1.TLSPrivateKeyKey]}
	since, _ := time.Parse(time.RFC3339, annotations[annotationCAStep])
	due := !now.Before(since.Add(grace))
	var err error

	switch expiry, perr := certs.NotAfter(ca.CertPEM); {
	case perr != nil || !now.Before(expiry):
		if ca, err = certs.NewCA(linkCAName, now, linkCAValidity); err != nil {
			return nil, err
		}
		next, previous = certs.Pair{}, nil
	case len(next.CertPEM) > 0 && due:
		previous, ca, next, since = ca.CertPEM, next, certs.Pair{}, now
	case len(previous) > 0 && due:
		previous = nil
	case len(next.CertPEM) == 0 && len(previous) == 0:
		if renew, _, _ := certs.CARenewal(ca, now); renew {
			if next, err = certs.NewCA(linkCAName, now, linkCAValidity); err != nil {
				return nil, err
			}
			since = now
		}
	}
	renewServing, _, servingAt := certs.Renewal(serving, ca, names, now)
	if renewServing {
		if serving, err = certs.IssueServing(ca, names, now, linkServingValidity); err != nil {
			return nil, err
		}
		_, _, servingAt = certs.Renewal(serving, ca, names, now)
	}

	t := &facts.LinkTLS{
		State:       map[string][]byte{keyCACert: ca.CertPEM, keyCAKey: ca.KeyPEM, corev1.TLSCertKey: serving.CertPEM, corev1.TLSPrivateKeyKey: serving.KeyPEM},
		ServingCert: serving.CertPEM, ServingKey: serving.KeyPEM,
		TrustBundle: certs.Bundle(now, ca.CertPEM, next.CertPEM, previous),
		RenewAt:     servingAt,
	}
	stepping := len(next.CertPEM) > 0 || len(previous) > 0
	if _, _, caAt := certs.CARenewal(ca, now); !stepping && caAt.Before(t.RenewAt) {
		t.RenewAt = caAt
	}
	if stepping {
		if len(next.CertPEM) > 0 {
			t.State[keyNextCACert], t.State[keyNextCAKey] = next.CertPEM, next.KeyPEM
		} else {
			t.State[keyPreviousCACert] = previous
		}
		t.StateAnnotations = map[string]string{annotationCAStep: since.UTC().Format(time.RFC3339Nano)}
		if at := since.Add(grace); at.Before(t.RenewAt) {
			t.RenewAt = at
		}
	}
	return t, nil
}

// userLinkTLS reads the user's certificate Secret (cert-manager's layout). Renewing it is the user's part:
// a change to the Secret triggers a reconcile, which copies it to Tier Two.
func (r *GenAIPlatformReconciler) userLinkTLS(ctx context.Context, p *platformv1.GenAIPlatform, mc *platformv1.ModelClusterSpec) (*facts.LinkTLS, *facts.Problem) {
	ref := mc.TLS.SecretRef
	field := fmt.Sprintf("spec.modelClusters[%s].tls.secretRef", mc.Name)
	s, prob := r.readSecret(ctx, p, ref.Name, ref.Namespace)
	if prob != nil {
		prob.Message = field + ": " + prob.Message + "; Tier One routes nothing to the cluster until its certificate can be verified"
		return nil, prob
	}
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, render.KeyCACert} {
		if len(s.Data[k]) == 0 {
			return nil, &facts.Problem{Reason: status.ReasonSecretKeyNotFound, Stalled: true,
				Message: fmt.Sprintf("%s: Secret %s/%s needs the keys tls.crt, tls.key and ca.crt (it has: %s); Tier One routes nothing to the cluster until its certificate can be verified", field, p.Namespace, s.Name, secretKeys(s))}
		}
	}
	hostname := mc.TLS.Hostname
	if hostname == "" {
		block, _ := pem.Decode(s.Data[corev1.TLSCertKey])
		var cert *x509.Certificate
		if block != nil {
			cert, _ = x509.ParseCertificate(block.Bytes)
		}
		if cert == nil || len(cert.DNSNames) == 0 {
			return nil, &facts.Problem{Reason: status.ReasonLinkCertificateInvalid, Stalled: true,
				Message: fmt.Sprintf("%s: the certificate in Secret %s/%s (tls.crt) has no DNS name for Tier One to verify: set spec.modelClusters[].tls.hostname", field, p.Namespace, s.Name)}
		}
		hostname = cert.DNSNames[0]
	}
	return &facts.LinkTLS{Hostname: hostname, ServingCert: s.Data[corev1.TLSCertKey], ServingKey: s.Data[corev1.TLSPrivateKeyKey], TrustBundle: s.Data[render.KeyCACert]}, nil
}
