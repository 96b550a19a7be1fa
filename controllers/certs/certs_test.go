package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

var (
	t0    = time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC)
	day   = 24 * time.Hour
	names = []string{"gw.tier1.svc", "gw.tier1.svc.cluster.local"}
)

func mustCA(t *testing.T, cn string, now time.Time, validity time.Duration) Pair {
	t.Helper()
	ca, err := NewCA(cn, now, validity)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func mustServing(t *testing.T, ca Pair, dnsNames []string, now time.Time, validity time.Duration) Pair {
	t.Helper()
	p, err := IssueServing(ca, dnsNames, now, validity)
	if err != nil {
		t.Fatalf("IssueServing: %v", err)
	}
	return p
}

func mustParse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCert(certPEM)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

// wantRenewAt mirrors the documented rule independently of renewalTime.
func wantRenewAt(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

func near(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Second && d < time.Second
}

// reasons collects every reason and error text the tests see, so that
// TestNoKeyMaterialInReasons can check them all at the end.
var reasons []string

func TestNewCA(t *testing.T) {
	ca := mustCA(t, "genai-gateway-ca", t0, 365*day)
	c := mustParse(t, ca.CertPEM)

	if !c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v, want both true", c.IsCA, c.BasicConstraintsValid)
	}
	if c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("MaxPathLen=%d MaxPathLenZero=%v, want 0/true", c.MaxPathLen, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("KeyUsage=%v, want %v", c.KeyUsage, want)
	}
	if c.Subject.CommonName != "genai-gateway-ca" {
		t.Errorf("CN=%q", c.Subject.CommonName)
	}
	if !c.NotBefore.Equal(t0.Add(-time.Hour)) || !c.NotAfter.Equal(t0.Add(365*day)) {
		t.Errorf("validity %s..%s, want %s..%s", c.NotBefore, c.NotAfter, t0.Add(-time.Hour), t0.Add(365*day))
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v not a positive 128-bit number", c.SerialNumber)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if other := mustParse(t, mustCA(t, "genai-gateway-ca", t0, 365*day).CertPEM); other.SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Errorf("two CAs share serial %v", c.SerialNumber)
	}
	if b, _ := pem.Decode(ca.KeyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Errorf("key is not a PKCS#8 PEM block")
	}

	for _, v := range []time.Duration{0, -time.Hour} {
		if _, err := NewCA("x", t0, v); err == nil {
			t.Errorf("NewCA(validity=%s) succeeded, want error", v)
		}
	}
}

func TestIssueServingVerifies(t *testing.T) {
	ca := mustCA(t, "ca", t0, 365*day)
	srv := mustServing(t, ca, names, t0, 90*day)
	c := mustParse(t, srv.CertPEM)

	roots := x509.NewCertPool()
	roots.AddCert(mustParse(t, ca.CertPEM))
	for _, name := range names {
		if _, err := c.Verify(x509.VerifyOptions{
			Roots:       roots,
			DNSName:     name,
			CurrentTime: t0,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			t.Errorf("verify %q: %v", name, err)
		}
	}

	negative := map[string]x509.VerifyOptions{
		"other name":  {Roots: roots, DNSName: "evil.example", CurrentTime: t0},
		"client auth": {Roots: roots, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"expired":     {Roots: roots, CurrentTime: t0.Add(91 * day)},
	}
	for what, opts := range negative {
		if _, err := c.Verify(opts); err == nil {
			t.Errorf("verify with %s succeeded, want failure", what)
		}
	}

	if c.Subject.CommonName != names[0] {
		t.Errorf("CN=%q, want %q", c.Subject.CommonName, names[0])
	}
	if c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v, want an explicit CA:FALSE", c.IsCA, c.BasicConstraintsValid)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage=%v", c.KeyUsage)
	}
	if !c.NotBefore.Equal(t0.Add(-time.Hour)) || !c.NotAfter.Equal(t0.Add(90*day)) {
		t.Errorf("validity %s..%s", c.NotBefore, c.NotAfter)
	}
}

func TestIssueServingNames(t *testing.T) {
	ca := mustCA(t, "ca", t0, 365*day)
	long := strings.Repeat("a", 50) + ".some-long-namespace.svc.cluster.local"

	tests := []struct {
		name   string
		in     []string
		wantCN string
		wantDN []string
	}{
		{"duplicates dropped", []string{"a.svc", "b.svc", "a.svc"}, "a.svc", []string{"a.svc", "b.svc"}},
		{"CN over 64 bytes omitted", []string{long, "b.svc"}, "", []string{long, "b.svc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, mustServing(t, ca, tt.in, t0, day).CertPEM)
			if c.Subject.CommonName != tt.wantCN {
				t.Errorf("CN=%q, want %q", c.Subject.CommonName, tt.wantCN)
			}
			if strings.Join(c.DNSNames, ",") != strings.Join(tt.wantDN, ",") {
				t.Errorf("DNSNames=%v, want %v", c.DNSNames, tt.wantDN)
			}
		})
	}
}

func TestIssueServingClampsToCA(t *testing.T) {
	ca := mustCA(t, "ca", t0, 30*day)
	caNotAfter := mustParse(t, ca.CertPEM).NotAfter

	tests := []struct {
		name     string
		validity time.Duration
		want     time.Time
	}{
		{"longer than CA is clamped", 365 * day, caNotAfter},
		{"shorter than CA is kept", 7 * day, t0.Add(7 * day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mustServing(t, ca, names, t0, tt.validity)
			got, err := NotAfter(srv.CertPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("NotAfter=%s, want %s", got, tt.want)
			}
			// Renewal must schedule from the clamped lifetime, not the requested one.
			renew, reason, at := Renewal(srv, ca, names, t0)
			if renew {
				t.Fatalf("fresh clamped pair wants renewal: %s", reason)
			}
			if !at.Before(caNotAfter) {
				t.Errorf("renewAt %s not before CA expiry %s", at, caNotAfter)
			}
		})
	}
}

func TestIssueServingErrors(t *testing.T) {
	ca := mustCA(t, "ca", t0, 30*day)
	other := mustCA(t, "other", t0, 30*day)
	leaf := mustServing(t, ca, names, t0, day)

	tests := []struct {
		name     string
		ca       Pair
		dnsNames []string
		now      time.Time
		validity time.Duration
	}{
		{"no names", ca, nil, t0, day},
		{"empty name", ca, []string{"a.svc", ""}, t0, day},
		{"zero validity", ca, names, t0, 0},
		{"garbage CA cert", Pair{CertPEM: []byte("garbage"), KeyPEM: ca.KeyPEM}, names, t0, day},
		{"garbage CA key", Pair{CertPEM: ca.CertPEM, KeyPEM: []byte("garbage")}, names, t0, day},
		{"CA key from another CA", Pair{CertPEM: ca.CertPEM, KeyPEM: other.KeyPEM}, names, t0, day},
		{"leaf used as CA", leaf, names, t0, day},
		{"expired CA", ca, names, t0.Add(31 * day), day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := IssueServing(tt.ca, tt.dnsNames, tt.now, tt.validity)
			if err == nil {
				t.Fatalf("IssueServing succeeded, want error")
			}
			if p.CertPEM != nil || p.KeyPEM != nil {
				t.Errorf("returned material alongside error")
			}
			reasons = append(reasons, err.Error())
		})
	}
}

func TestRenewal(t *testing.T) {
	ca := mustCA(t, "ca", t0, 365*day)
	otherCA := mustCA(t, "ca", t0, 365*day) // same CN: what a CA rotation looks like
	srv := mustServing(t, ca, names, t0, 90*day)
	fromOther := mustServing(t, otherCA, names, t0, 90*day)
	sibling := mustServing(t, ca, names, t0, 90*day)

	c := mustParse(t, srv.CertPEM)
	renewAt := wantRenewAt(c)
	if !renewAt.After(t0) || !renewAt.Before(c.NotAfter) {
		t.Fatalf("renewAt %s outside (%s, %s)", renewAt, t0, c.NotAfter)
	}

	block, _ := pem.Decode(srv.KeyPEM)
	sec1Key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: mustSEC1(t, block.Bytes)})

	tests := []struct {
		name       string
		serving    Pair
		ca         Pair
		dnsNames   []string
		now        time.Time
		want       bool
		wantReason string // substring; only checked when want is true
	}{
		{"fresh", srv, ca, names, t0, false, ""},
		{"names reordered", srv, ca, []string{names[1], names[0]}, t0, false, ""},
		{"names with duplicate", srv, ca, []string{names[0], names[1], names[0]}, t0, false, ""},
		{"SEC1 key adopted", Pair{srv.CertPEM, sec1Key}, ca, names, t0, false, ""},
		{"one second before renewAt", srv, ca, names, renewAt.Add(-time.Second), false, ""},
		{"one second after renewAt", srv, ca, names, renewAt.Add(time.Second), true, "2/3"},
		{"after expiry", srv, ca, names, c.NotAfter.Add(time.Second), true, "expired"},
		{"before NotBefore", srv, ca, names, c.NotBefore.Add(-time.Second), true, "not valid before"},
		{"extra name wanted", srv, ca, append(names[:2:2], "new.svc"), t0, true, "DNS names"},
		{"name dropped", srv, ca, names[:1], t0, true, "DNS names"},
		{"different names", srv, ca, []string{"x.svc"}, t0, true, "DNS names"},
		{"no names wanted", srv, ca, nil, t0, true, "DNS names"},
		{"signed by another CA", fromOther, ca, names, t0, true, "not signed by the current CA"},
		{"CA rotated", srv, otherCA, names, t0, true, "not signed by the current CA"},
		{"leaf given as CA", srv, srv, names, t0, true, "CA certificate is not a CA"},
		{"CA given as serving", ca, ca, names, t0, true, "serving certificate is a CA"},
		{"swapped key", Pair{srv.CertPEM, sibling.KeyPEM}, ca, names, t0, true, "does not match"},
		{"CA key instead of leaf key", Pair{srv.CertPEM, ca.KeyPEM}, ca, names, t0, true, "does not match"},
		{"garbage cert", Pair{[]byte("garbage"), srv.KeyPEM}, ca, names, t0, true, "certificate does not parse"},
		{"garbage key", Pair{srv.CertPEM, []byte("garbage")}, ca, names, t0, true, "key does not parse"},
		{"key PEM with bad body", Pair{srv.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})}, ca, names, t0, true, "key does not parse"},
		{"missing cert", Pair{nil, srv.KeyPEM}, ca, names, t0, true, "missing"},
		{"missing key", Pair{srv.CertPEM, nil}, ca, names, t0, true, "missing"},
		{"empty pair", Pair{}, ca, names, t0, true, "missing"},
		{"garbage CA", srv, Pair{CertPEM: []byte("garbage")}, names, t0, true, "CA certificate does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, at := Renewal(tt.serving, tt.ca, tt.dnsNames, tt.now)
			reasons = append(reasons, reason)
			if got != tt.want {
				t.Fatalf("renew=%v (%q), want %v", got, reason, tt.want)
			}
			if !got {
				if reason != "" {
					t.Errorf("reason %q for no renewal, want empty", reason)
				}
				if !near(at, renewAt) {
					t.Errorf("renewAt=%s, want ≈%s", at, renewAt)
				}
				return
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason %q does not mention %q", reason, tt.wantReason)
			}
			if !at.Equal(tt.now) {
				t.Errorf("renewAt=%s on renewal, want now %s", at, tt.now)
			}
		})
	}
}

// TestRenewalReissueCycle checks the loop a reconciler runs: once Renewal
// fires, a freshly issued pair satisfies it again.
func TestRenewalReissueCycle(t *testing.T) {
	ca := mustCA(t, "ca", t0, 365*day)
	srv := mustServing(t, ca, names, t0, 90*day)
	renew, _, at := Renewal(srv, ca, names, t0)
	if renew {
		t.Fatal("fresh pair wants renewal")
	}
	later := at.Add(time.Minute)
	if renew, _, _ := Renewal(srv, ca, names, later); !renew {
		t.Fatal("no renewal after renewAt")
	}
	srv = mustServing(t, ca, names, later, 90*day)
	if renew, reason, _ := Renewal(srv, ca, names, later); renew {
		t.Fatalf("reissued pair still wants renewal: %s", reason)
	}
}

func TestCARenewal(t *testing.T) {
	ca := mustCA(t, "ca", t0, 365*day)
	other := mustCA(t, "ca", t0, 365*day)
	leaf := mustServing(t, ca, names, t0, 90*day)
	c := mustParse(t, ca.CertPEM)
	renewAt := wantRenewAt(c)

	// Signed by ca rather than by itself, yet marked as a CA.
	intermediate := issueIntermediate(t, other)

	tests := []struct {
		name       string
		ca         Pair
		now        time.Time
		want       bool
		wantReason string
	}{
		{"fresh", ca, t0, false, ""},
		{"one second before renewAt", ca, renewAt.Add(-time.Second), false, ""},
		{"one second after renewAt", ca, renewAt.Add(time.Second), true, "2/3"},
		{"expired", ca, c.NotAfter.Add(time.Second), true, "expired"},
		{"not yet valid", ca, c.NotBefore.Add(-time.Second), true, "not valid before"},
		{"leaf is not a CA", leaf, t0, true, "not a CA"},
		{"not self-signed", intermediate, t0, true, "not self-signed"},
		{"swapped key", Pair{ca.CertPEM, other.KeyPEM}, t0, true, "does not match"},
		{"garbage cert", Pair{[]byte("garbage"), ca.KeyPEM}, t0, true, "does not parse"},
		{"garbage key", Pair{ca.CertPEM, []byte("garbage")}, t0, true, "does not parse"},
		{"empty", Pair{}, t0, true, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, at := CARenewal(tt.ca, tt.now)
			reasons = append(reasons, reason)
			if got != tt.want {
				t.Fatalf("renew=%v (%q), want %v", got, reason, tt.want)
			}
			if !got {
				if !near(at, renewAt) {
					t.Errorf("renewAt=%s, want ≈%s", at, renewAt)
				}
				return
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason %q does not mention %q", reason, tt.wantReason)
			}
			if !at.Equal(tt.now) {
				t.Errorf("renewAt=%s on renewal, want now %s", at, tt.now)
			}
		})
	}
}

func TestBundle(t *testing.T) {
	oldCA := mustCA(t, "ca", t0.Add(-200*day), 365*day)
	newCA := mustCA(t, "ca", t0, 365*day)
	expired := mustCA(t, "ca", t0.Add(-400*day), 30*day)
	leaf := mustServing(t, newCA, names, t0, 90*day)
	garbage := []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")

	got := Bundle(t0,
		newCA.CertPEM,
		expired.CertPEM,
		oldCA.CertPEM,
		newCA.CertPEM, // duplicate
		garbage,
		[]byte("not pem at all"),
		nil,
		leaf.CertPEM,                           // not a CA
		newCA.KeyPEM,                           // a key must never reach a bundle
		append(oldCA.KeyPEM, oldCA.CertPEM...), // key and duplicate cert in one input
	)

	want := [][]byte{mustParse(t, newCA.CertPEM).Raw, mustParse(t, oldCA.CertPEM).Raw}
	var gotDER [][]byte
	for rest := got; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				t.Errorf("trailing non-PEM data in bundle: %q", rest)
			}
			break
		}
		if b.Type != "CERTIFICATE" {
			t.Errorf("bundle holds a %q block", b.Type)
		}
		gotDER = append(gotDER, b.Bytes)
	}
	if len(gotDER) != len(want) {
		t.Fatalf("bundle has %d certificates, want %d (new, old)", len(gotDER), len(want))
	}
	for i := range want {
		if !bytes.Equal(gotDER[i], want[i]) {
			t.Errorf("certificate %d is not the expected CA", i)
		}
	}

	// During rotation, leaves from either CA must verify against the bundle.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(got) {
		t.Fatal("bundle does not load into a cert pool")
	}
	for label, ca := range map[string]Pair{"old": oldCA, "new": newCA} {
		c := mustParse(t, mustServing(t, ca, names, t0, 30*day).CertPEM)
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: names[0], CurrentTime: t0}); err != nil {
			t.Errorf("leaf from %s CA does not verify against bundle: %v", label, err)
		}
	}

	if again := Bundle(t0, got); !bytes.Equal(again, got) {
		t.Error("re-bundling a bundle changed it")
	}
	if b := Bundle(t0, expired.CertPEM, garbage); b != nil {
		t.Errorf("bundle of nothing valid = %q, want nil", b)
	}
	if b := Bundle(t0.Add(400*day), newCA.CertPEM, oldCA.CertPEM); b != nil {
		t.Errorf("bundle after both CAs expired = %q, want nil", b)
	}
}

func TestNotAfter(t *testing.T) {
	ca := mustCA(t, "ca", t0, 10*day)
	got, err := NotAfter(ca.CertPEM)
	if err != nil || !got.Equal(t0.Add(10*day)) {
		t.Errorf("NotAfter=%s, %v; want %s", got, err, t0.Add(10*day))
	}
	// The first certificate wins even when other blocks precede it.
	later := mustCA(t, "ca", t0, 20*day)
	got, err = NotAfter(append(append(ca.KeyPEM, ca.CertPEM...), later.CertPEM...))
	if err != nil || !got.Equal(t0.Add(10*day)) {
		t.Errorf("NotAfter(key+cert+cert)=%s, %v; want first cert's %s", got, err, t0.Add(10*day))
	}
	for _, in := range [][]byte{nil, []byte("garbage"), ca.KeyPEM} {
		if _, err := NotAfter(in); err == nil {
			t.Errorf("NotAfter(%.20q) succeeded, want error", in)
		}
	}
}

// TestNoKeyMaterialInReasons runs last (Go runs tests in source order) and
// checks every reason and error collected above.
func TestNoKeyMaterialInReasons(t *testing.T) {
	if len(reasons) < 20 {
		t.Skipf("only %d reasons collected; run the whole package", len(reasons))
	}
	ca := mustCA(t, "ca", t0, 365*day)
	srv := mustServing(t, ca, names, t0, 90*day)
	// Fresh keys cannot appear in earlier reasons, so also probe with them.
	reasons = append(reasons, reasonsFor(Pair{srv.CertPEM, ca.KeyPEM}, ca)...)
	reasons = append(reasons, reasonsFor(Pair{ca.CertPEM, srv.KeyPEM}, Pair{srv.CertPEM, srv.KeyPEM})...)
	keyLines := keyBodyLines(ca.KeyPEM, srv.KeyPEM)

	for _, r := range reasons {
		if strings.Contains(r, "PRIVATE KEY") {
			t.Errorf("reason mentions a PEM key block: %q", r)
		}
		for _, l := range keyLines {
			if strings.Contains(r, l) {
				t.Errorf("reason contains key material: %q", r)
			}
		}
	}
}

func reasonsFor(p, ca Pair) []string {
	_, r1, _ := Renewal(p, ca, names, t0)
	_, r2, _ := CARenewal(p, t0)
	out := []string{r1, r2}
	if _, err := IssueServing(p, names, t0, day); err != nil {
		out = append(out, err.Error())
	}
	return out
}

func keyBodyLines(keys ...[]byte) []string {
	var out []string
	for _, k := range keys {
		for _, l := range strings.Split(string(k), "\n") {
			if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
				out = append(out, l[:16])
			}
		}
	}
	return out
}

func mustSEC1(t *testing.T, pkcs8 []byte) []byte {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// issueIntermediate makes a CA-flagged pair signed by parent instead of by
// itself, which CARenewal must not accept as a root.
func issueIntermediate(t *testing.T, parent Pair) Pair {
	t.Helper()
	parentCert, parentKey, problem := loadPair(parent)
	if problem != "" {
		t.Fatal(problem)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "intermediate"},
		NotBefore:             t0.Add(-time.Hour),
		NotAfter:              t0.Add(30 * day),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	p, err := encodePair(der, key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerify: a serving certificate verifies against its CA for its names, and not against another CA,
// for another name, or after it expired.
func TestVerify(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, err := NewCA("ca", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("other", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := IssueServing(ca, []string{"t2.example"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ca.CertPEM, serving.CertPEM, "t2.example", now); err != nil {
		t.Errorf("its own CA and name: %v", err)
	}
	for name, err := range map[string]error{
		"another CA":   Verify(other.CertPEM, serving.CertPEM, "t2.example", now),
		"another name": Verify(ca.CertPEM, serving.CertPEM, "evil.example", now),
		"expired":      Verify(ca.CertPEM, serving.CertPEM, "t2.example", now.Add(2*time.Hour)),
		"no bundle":    Verify(nil, serving.CertPEM, "t2.example", now),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}
