// Package certs lets the operator run its own small CA for TLS between the
// two gateway tiers, so that the link is encrypted and authenticated without
// depending on cert-manager or a cluster-wide issuer being installed.
//
// Everything here is pure: callers pass in the clock and persist the PEM
// wherever they like (typically a Secret). That keeps rotation decisions
// deterministic and testable, and lets a reconciler requeue exactly when the
// next renewal is due instead of polling.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Pair is a PEM-encoded certificate and its private key.
type Pair struct {
	CertPEM []byte
	KeyPEM  []byte
}

const (
	// clockSkew backdates NotBefore so that peers whose clocks lag behind the
	// operator's still accept material that was issued a moment ago.
	clockSkew = time.Hour

	// maxCommonNameLen is RFC 5280's ub-common-name. Longer DNS names (long
	// namespaces plus ".svc.cluster.local" get there) are still covered by the
	// SAN, which is all modern TLS clients look at.
	maxCommonNameLen = 64

	pemCertificate = "CERTIFICATE"
	pemPKCS8Key    = "PRIVATE KEY"
	pemSEC1Key     = "EC PRIVATE KEY"
)

// NewCA makes a self-signed CA (IsCA, KeyUsageCertSign|CRLSign, MaxPathLen 0,
// random 128-bit serial), valid from now-1h to now+validity.
func NewCA(commonName string, now time.Time, validity time.Duration) (Pair, error) {
	if validity <= 0 {
		return Pair{}, fmt.Errorf("certs: CA validity must be positive, got %s", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("certs: generating CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return Pair{}, err
	}
	notBefore, notAfter := window(now, validity)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		// The CA only ever signs leaves; refusing intermediates limits what a
		// leaked serving key could be turned into.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	// The standard library derives SubjectKeyId for CA templates; leaves copy
	// it into AuthorityKeyId, which is what lets verifiers tell the old and
	// the new CA apart during a rotation even though both share a subject.
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Pair{}, fmt.Errorf("certs: creating CA certificate: %w", err)
	}
	return encodePair(der, key)
}

// IssueServing signs a serving certificate (ExtKeyUsageServerAuth,
// KeyUsageDigitalSignature) for dnsNames with ca, valid from now-1h to
// now+validity but never past the CA's NotAfter. The first name is also the
// subject CN when it fits RFC 5280's 64-byte limit. It errors if dnsNames is
// empty or ca does not parse.
func IssueServing(ca Pair, dnsNames []string, now time.Time, validity time.Duration) (Pair, error) {
	names, err := normalizeNames(dnsNames)
	if err != nil {
		return Pair{}, err
	}
	if validity <= 0 {
		return Pair{}, fmt.Errorf("certs: serving validity must be positive, got %s", validity)
	}
	caCert, caKey, problem := loadPair(ca)
	if problem != "" {
		return Pair{}, fmt.Errorf("certs: CA %s", problem)
	}
	if !isCA(caCert) {
		return Pair{}, errors.New("certs: CA certificate is not a CA")
	}
	notBefore, notAfter := window(now, validity)
	// A leaf outliving its issuer would look valid on paper but fail
	// verification anyway; clamping makes Renewal schedule it before that.
	if caCert.NotAfter.Before(notAfter) {
		notAfter = caCert.NotAfter
	}
	if !notAfter.After(now) {
		return Pair{}, fmt.Errorf("certs: CA expired at %s", caCert.NotAfter.Format(time.RFC3339))
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("certs: generating serving key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return Pair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		DNSNames:     names,
		// ECDSA keys only sign during the handshake, so KeyEncipherment
		// would be wrong here.
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// An explicit CA:FALSE stops lenient verifiers from accepting this
		// leaf as an issuer.
		BasicConstraintsValid: true,
	}
	if len(names[0]) <= maxCommonNameLen {
		tmpl.Subject = pkix.Name{CommonName: names[0]}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return Pair{}, fmt.Errorf("certs: signing serving certificate: %w", err)
	}
	return encodePair(der, key)
}

// Renewal says whether the serving pair must be (re)issued at now, and why.
// It does so when the cert or key is missing or unparsable, the key does not
// match the cert, the cert is not yet or no longer valid, the cert is itself
// a CA or ca's certificate is not one, the cert does not verify for server
// auth against a pool holding only ca's certificate, its DNS names differ
// from dnsNames (order-insensitive), or now has reached NotBefore plus two
// thirds of its lifetime.
//
// When renew is false, renewAt is the instant from which it will be true, so
// a reconciler can requeue for then; when renew is true, renewAt is now. The
// reason never contains key material.
func Renewal(serving Pair, ca Pair, dnsNames []string, now time.Time) (renew bool, reason string, renewAt time.Time) {
	cert, _, problem := loadPair(serving)
	if problem != "" {
		return true, "serving " + problem, now
	}
	// Checked before verification so the reason names the actual problem
	// rather than x509's generic "certificate has expired or is not yet valid".
	if problem := validityProblem(cert, now); problem != "" {
		return true, "serving certificate " + problem, now
	}
	// x509 accepts a certificate that is itself in the root pool, so without
	// these checks a leaf handed in as "the CA" would vouch for itself.
	if cert.IsCA {
		return true, "serving certificate is a CA", now
	}
	caCert, err := parseCert(ca.CertPEM)
	if err != nil {
		return true, "CA certificate does not parse", now
	}
	if !isCA(caCert) {
		return true, "CA certificate is not a CA", now
	}
	// Only the current CA is trusted here, not the rotation bundle, so that
	// a CA rotation re-issues every leaf signed by the previous one.
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return true, "serving certificate is not signed by the current CA: " + err.Error(), now
	}
	if !sameNames(cert.DNSNames, dnsNames) {
		return true, fmt.Sprintf("serving certificate DNS names %v differ from wanted %v", cert.DNSNames, dnsNames), now
	}
	return due(cert, now, "serving certificate")
}

// CARenewal is Renewal for the CA itself: it asks for a new CA when the pair
// is missing, unparsable or mismatched, is not a self-signed CA, is not yet or
// no longer valid, or has reached two thirds of its lifetime.
func CARenewal(ca Pair, now time.Time) (renew bool, reason string, renewAt time.Time) {
	cert, _, problem := loadPair(ca)
	if problem != "" {
		return true, "CA " + problem, now
	}
	if !isCA(cert) {
		return true, "CA certificate is not a CA", now
	}
	// A non-root "CA" would be put in trust bundles where it cannot anchor
	// anything.
	if cert.CheckSignatureFrom(cert) != nil {
		return true, "CA certificate is not self-signed", now
	}
	if problem := validityProblem(cert, now); problem != "" {
		return true, "CA certificate " + problem, now
	}
	return due(cert, now, "CA certificate")
}

// Bundle concatenates the CA certificates in caCertPEMs that have not expired
// at now, in order of first appearance, so that a trust bundle can hold the
// new and the previous CA while leaves are re-issued. Each argument may hold
// several PEM blocks. Unparsable, expired, duplicate and non-CA certificates
// are skipped, and so is every non-certificate block, so that a private key
// handed in by mistake never ends up in a bundle that is distributed widely.
// Not-yet-valid CAs are kept: pre-staging the next CA is harmless.
// It returns nil if nothing qualifies.
func Bundle(now time.Time, caCertPEMs ...[]byte) []byte {
	var out []byte
	seen := map[string]bool{}
	for _, in := range caCertPEMs {
		for rest := in; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != pemCertificate {
				continue
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil || now.After(cert.NotAfter) || !isCA(cert) {
				continue
			}
			if seen[string(cert.Raw)] {
				continue
			}
			seen[string(cert.Raw)] = true
			// Re-encoding drops PEM headers and odd formatting so identical
			// inputs always yield byte-identical bundles, which avoids
			// needless Secret/ConfigMap updates.
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: cert.Raw})...)
		}
	}
	return out
}

// NotAfter returns the expiry of the first certificate in certPEM.
func NotAfter(certPEM []byte) (time.Time, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return time.Time{}, fmt.Errorf("certs: %w", err)
	}
	return cert.NotAfter, nil
}

// window truncates to whole seconds because that is all X.509 can encode;
// doing it up front keeps the clamp comparison and the returned times exact.
func window(now time.Time, validity time.Duration) (notBefore, notAfter time.Time) {
	return now.Add(-clockSkew).UTC().Truncate(time.Second), now.Add(validity).UTC().Truncate(time.Second)
}

// renewalTime is at two thirds of the lifetime, leaving the last third for
// retries after failed rotations and for peers to pick up new material.
// Dividing first avoids overflowing Duration for century-long lifetimes.
func renewalTime(cert *x509.Certificate) time.Time {
	lifetime := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotBefore.Add(lifetime / 3 * 2)
}

func due(cert *x509.Certificate, now time.Time, what string) (bool, string, time.Time) {
	at := renewalTime(cert)
	if !now.Before(at) {
		return true, fmt.Sprintf("%s is past 2/3 of its lifetime (renewal due %s, expires %s)",
			what, at.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339)), now
	}
	return false, "", at
}

func validityProblem(cert *x509.Certificate, now time.Time) string {
	switch {
	case now.Before(cert.NotBefore):
		return "is not valid before " + cert.NotBefore.Format(time.RFC3339)
	case now.After(cert.NotAfter):
		return "expired at " + cert.NotAfter.Format(time.RFC3339)
	}
	return ""
}

func isCA(cert *x509.Certificate) bool {
	return cert.BasicConstraintsValid && cert.IsCA && cert.KeyUsage&x509.KeyUsageCertSign != 0
}

// loadPair reports problems as a short phrase rather than an error so that
// callers can fold it into a reason; the phrases are fixed strings so parser
// diagnostics about the key never leak into logs or status conditions.
func loadPair(p Pair) (*x509.Certificate, crypto.Signer, string) {
	if len(p.CertPEM) == 0 {
		return nil, nil, "certificate is missing"
	}
	if len(p.KeyPEM) == 0 {
		return nil, nil, "key is missing"
	}
	cert, err := parseCert(p.CertPEM)
	if err != nil {
		return nil, nil, "certificate does not parse"
	}
	key, ok := parseKey(p.KeyPEM)
	if !ok {
		return nil, nil, "key does not parse"
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, nil, "key does not match certificate"
	}
	return cert, key, ""
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no CERTIFICATE PEM block")
		}
		if block.Type == pemCertificate {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// parseKey also accepts SEC1 keys so that pairs written by other tools
// (openssl, cert-manager) can be adopted rather than needlessly replaced.
func parseKey(keyPEM []byte) (crypto.Signer, bool) {
	for rest := keyPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, false
		}
		var key any
		var err error
		switch block.Type {
		case pemPKCS8Key:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case pemSEC1Key:
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, false
		}
		signer, ok := key.(crypto.Signer)
		return signer, ok
	}
}

func encodePair(der []byte, key *ecdsa.PrivateKey) (Pair, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, fmt.Errorf("certs: encoding key: %w", err)
	}
	return Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: pemPKCS8Key, Bytes: keyDER}),
	}, nil
}

// newSerial draws 128 random bits, comfortably above the CA/Browser Forum's
// 64-bit floor, so serials stay unique without keeping any issuance state.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certs: generating serial: %w", err)
	}
	// RFC 5280 requires a positive serial.
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}

// normalizeNames drops duplicates (they only bloat the SAN) and rejects
// empty names, which would produce a SAN no client can match.
func normalizeNames(dnsNames []string) ([]string, error) {
	if len(dnsNames) == 0 {
		return nil, errors.New("certs: at least one DNS name is required")
	}
	var names []string
	for _, n := range dnsNames {
		if strings.TrimSpace(n) == "" {
			return nil, errors.New("certs: empty DNS name")
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

func sameNames(have, want []string) bool {
	return slices.Equal(nameSet(have), nameSet(want))
}

func nameSet(names []string) []string {
	s := slices.Clone(names)
	slices.Sort(s)
	return slices.Compact(s)
}

// Verify checks a serving certificate as a TLS client holding bundle would, for hostname and server
// auth, at the instant at: what Tier One's proxies do with what Tier Two serves.
func Verify(bundle, servingCertPEM []byte, hostname string, at time.Time) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		return errors.New("no CA certificate in the trust bundle")
	}
	cert, err := parseCert(servingCertPEM)
	if err != nil {
		return err
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: hostname, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}
