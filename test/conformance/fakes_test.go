package conformance

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// The cloud identity providers the AI Gateway exchanges credentials with, faked in-process: the
// controller turns a GCP service-account key and an Azure Entra ID client secret into access tokens, and
// the external processor exchanges its own GCP identity (ADC) for one. Each fake checks that the request
// proves possession of the credential (the JWT assertion's signature, the client secret) and issues a
// token it remembers, so that the test can tell which credential an upstream request's token came from.

// tokenIssuer records the access tokens a fake identity provider issued, by the identity they were
// issued to.
type tokenIssuer struct {
	mu     sync.Mutex
	tokens map[string]string // token -> identity
	n      int
	errs   []string // refused requests, for the failure report
}

func (ti *tokenIssuer) issue(identity string) string {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if ti.tokens == nil {
		ti.tokens = map[string]string{}
	}
	ti.n++
	tok := fmt.Sprintf("conformance-token-%d-%s", ti.n, fingerprint(identity))
	ti.tokens[tok] = identity
	return tok
}

// identityOf is the identity a token was issued to, empty when this issuer never issued it.
func (ti *tokenIssuer) identityOf(token string) string {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.tokens[token]
}

func (ti *tokenIssuer) refuse(w http.ResponseWriter, code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	ti.mu.Lock()
	ti.errs = append(ti.errs, msg)
	ti.mu.Unlock()
	http.Error(w, msg, code)
}

func (ti *tokenIssuer) refused() []string {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return append([]string(nil), ti.errs...)
}

// fingerprint is a short, non-reversible stand-in for a secret in messages: secrets are never printed.
func fingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// gcpServiceAccount is a service-account key as Google issues it, with a fresh RSA key.
type gcpServiceAccount struct {
	Email string
	key   *rsa.PrivateKey
}

func newGCPServiceAccount(email string) (*gcpServiceAccount, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &gcpServiceAccount{Email: email, key: k}, nil
}

// keyJSON is the key file, its token_uri pointing at tokenURI.
func (sa *gcpServiceAccount) keyJSON(project, tokenURI string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(sa.key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              fingerprint(sa.Email),
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                sa.Email,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	})
}

// gcpTokenServer is Google's OAuth 2.0 token endpoint for service accounts (the JWT bearer grant, RFC
// 7523): it verifies the assertion's RS256 signature with the public key of a known service account.
type gcpTokenServer struct {
	tokenIssuer
	srv      *httptest.Server
	accounts map[string]*gcpServiceAccount
}

func newGCPTokenServer(accounts ...*gcpServiceAccount) *gcpTokenServer {
	g := &gcpTokenServer{accounts: map[string]*gcpServiceAccount{}}
	for _, a := range accounts {
		g.accounts[a.Email] = a
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	return g
}

func (g *gcpTokenServer) tokenURI() string { return g.srv.URL + "/token" }

func (g *gcpTokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		g.refuse(w, http.StatusNotFound, "gcp token endpoint: unexpected %s %s", r.Method, r.URL.Path)
		return
	}
	if err := r.ParseForm(); err != nil {
		g.refuse(w, http.StatusBadRequest, "gcp token endpoint: %v", err)
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		g.refuse(w, http.StatusBadRequest, "gcp token endpoint: grant_type %q, want the JWT bearer grant", gt)
		return
	}
	email, err := g.verifyAssertion(r.PostForm.Get("assertion"))
	if err != nil {
		g.refuse(w, http.StatusUnauthorized, "gcp token endpoint: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": g.issue(email), "token_type": "Bearer", "expires_in": 3600,
	})
}

func (g *gcpTokenServer) verifyAssertion(jwt string) (string, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", errors.New("the assertion is not a JWT")
	}
	var claims struct {
		Iss, Aud, Scope string
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("assertion payload: %w", err)
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("assertion claims: %w", err)
	}
	sa := g.accounts[claims.Iss]
	if sa == nil {
		return "", fmt.Errorf("unknown service account %q", claims.Iss)
	}
	if claims.Aud != g.tokenURI() {
		return "", fmt.Errorf("assertion audience %q, want the key's token_uri", claims.Aud)
	}
	if !strings.Contains(claims.Scope, "https://www.googleapis.com/auth/cloud-platform") {
		return "", fmt.Errorf("assertion scope %q lacks cloud-platform", claims.Scope)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", fmt.Errorf("assertion signature: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&sa.key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return "", fmt.Errorf("assertion of %s is not signed by its key: %w", claims.Iss, err)
	}
	return claims.Iss, nil
}

// azureAD is Microsoft Entra ID (login.microsoftonline.com) for the client-credentials grant, reached the
// way the AI Gateway controller reaches it through AI_GATEWAY_AZURE_PROXY_URL: an HTTP proxy that
// terminates the CONNECT tunnel with a certificate for login.microsoftonline.com, issued by a test CA the
// controller trusts (SSL_CERT_FILE). It serves what MSAL asks for: instance discovery, the tenant's
// OpenID configuration, and the token endpoint, which checks the client secret.
type azureAD struct {
	tokenIssuer
	proxy   *httptest.Server
	tlsConf *tls.Config
	caPEM   []byte
	// clients: tenant/clientID -> client secret.
	clients map[string]string
}

const azureLoginHost = "login.microsoftonline.com"

func newAzureAD(clients map[string]string) (*azureAD, error) {
	caPEM, leaf, err := newCAAndLeaf(azureLoginHost)
	if err != nil {
		return nil, err
	}
	a := &azureAD{clients: clients, caPEM: caPEM, tlsConf: &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12}}
	a.proxy = httptest.NewServer(http.HandlerFunc(a.serveProxy))
	return a, nil
}

func (a *azureAD) close() { a.proxy.Close() }

func (a *azureAD) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect || r.Host != azureLoginHost+":443" {
		a.refuse(w, http.StatusForbidden, "azure proxy: only CONNECT %s:443, got %s %s", azureLoginHost, r.Method, r.Host)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		a.refuse(w, http.StatusInternalServerError, "azure proxy: cannot hijack")
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	tlsConn := tls.Server(&bufferedConn{Conn: conn, r: buf.Reader}, a.tlsConf)
	srv := &http.Server{Handler: http.HandlerFunc(a.serveLogin), ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(&oneConnListener{conn: tlsConn})
}

func (a *azureAD) serveLogin(w http.ResponseWriter, r *http.Request) {
	base := "https://" + azureLoginHost
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/discovery/instance"):
		authz, _ := url.Parse(r.URL.Query().Get("authorization_endpoint"))
		tenant := ""
		if authz != nil {
			tenant = strings.Split(strings.TrimPrefix(authz.Path, "/"), "/")[0]
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"tenant_discovery_endpoint": base + "/" + tenant + "/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata": []map[string]any{{
				"preferred_network": azureLoginHost, "preferred_cache": azureLoginHost,
				"aliases": []string{azureLoginHost},
			}},
		})
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":         base + "/" + tenant + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/" + tenant + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/" + tenant + "/v2.0",
		})
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		if err := r.ParseForm(); err != nil {
			a.refuse(w, http.StatusBadRequest, "entra token endpoint: %v", err)
			return
		}
		id := tenant + "/" + r.PostForm.Get("client_id")
		secret, known := a.clients[id]
		switch {
		case r.PostForm.Get("grant_type") != "client_credentials":
			a.refuse(w, http.StatusBadRequest, "entra token endpoint: grant_type %q, want client_credentials", r.PostForm.Get("grant_type"))
		case !known:
			a.refuse(w, http.StatusUnauthorized, "entra token endpoint: unknown tenant/client %s", id)
		case !hmac.Equal([]byte(r.PostForm.Get("client_secret")), []byte(secret)):
			a.refuse(w, http.StatusUnauthorized, "entra token endpoint: wrong client secret for %s", id)
		case !strings.Contains(r.PostForm.Get("scope"), "https://cognitiveservices.azure.com/.default"):
			a.refuse(w, http.StatusBadRequest, "entra token endpoint: scope %q, want Azure OpenAI's (cognitiveservices)", r.PostForm.Get("scope"))
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{
				"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": a.issue(id),
			})
		}
	default:
		a.refuse(w, http.StatusNotFound, "entra: unexpected %s %s", r.Method, r.URL.Path)
	}
}

// newCAAndLeaf makes a CA (returned as PEM, for SSL_CERT_FILE) and a leaf certificate for host.
func newCAAndLeaf(host string) ([]byte, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "genai conformance test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}, nil
}

// bufferedConn reads first what the proxy's reader already buffered.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// oneConnListener serves exactly one connection, then reports closed once it is done.
type oneConnListener struct {
	mu   sync.Mutex
	conn net.Conn
	done chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	if l.done == nil {
		l.done = make(chan struct{})
	}
	done := l.done
	l.mu.Unlock()
	if c != nil {
		return &closeNotifyConn{Conn: c, done: done}, nil
	}
	<-done
	return nil, net.ErrClosed
}
func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{} }

type closeNotifyConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (c *closeNotifyConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

// awsPodIdentity is the EKS Pod Identity agent (the container credentials endpoint the AWS SDK calls
// when AWS_CONTAINER_CREDENTIALS_FULL_URI is set): it hands the pod's temporary keys to callers that
// present the pod's token. It comes after a shared credentials file in the SDK's chain, as in a real pod,
// so a backend with its own credentials file still signs with that file.
type awsPodIdentity struct {
	srv   *httptest.Server
	token string
	creds awsCredentials
}

func newAWSPodIdentity(creds awsCredentials, token string) *awsPodIdentity {
	a := &awsPodIdentity{token: token, creds: creds}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != a.token {
			http.Error(w, "wrong pod identity token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": creds.AccessKeyID, "SecretAccessKey": creds.SecretAccessKey, "Token": creds.SessionToken,
			"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
	}))
	return a
}

// awsCredentials are an AWS identity's keys, as a shared credentials file or the pod's environment
// (EKS Pod Identity and IRSA end up as temporary keys with a session token) hold them.
type awsCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// parseAWSCredentialsFile reads the [default] profile of an AWS shared credentials file.
func parseAWSCredentialsFile(s string) (awsCredentials, error) {
	var c awsCredentials
	section := ""
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[] ")
		case section == "default":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			case "aws_session_token":
				c.SessionToken = strings.TrimSpace(v)
			}
		}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return c, errors.New("no [default] aws_access_key_id and aws_secret_access_key")
	}
	return c, nil
}

// verifySigV4 checks an upstream request's AWS Signature Version 4 as AWS would: it rebuilds the
// canonical request from what is sent (method, path, the signed headers' values, the body's hash) and
// recomputes the signature with the identity's secret key, for the given service and region. It is an
// implementation of the published algorithm, independent of the AWS SDK the gateway signs with.
func verifySigV4(req upstreamRequest, creds awsCredentials, service, region string) error {
	auth := req.header("authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return fmt.Errorf("no SigV4 Authorization header (got %q)", redactAuth(auth))
	}
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return fmt.Errorf("malformed credential scope %q", fields["Credential"])
	}
	if scope[0] != creds.AccessKeyID {
		return fmt.Errorf("signed with another access key (fingerprint %s, want %s)", fingerprint(scope[0]), fingerprint(creds.AccessKeyID))
	}
	if scope[2] != region || scope[3] != service {
		return fmt.Errorf("signed for %s/%s, want %s/%s", scope[3], scope[2], service, region)
	}
	amzDate := req.header("x-amz-date")
	if !strings.HasPrefix(amzDate, scope[1]) {
		return fmt.Errorf("x-amz-date %q does not match the scope's date %s", amzDate, scope[1])
	}
	if creds.SessionToken != "" && req.header("x-amz-security-token") != creds.SessionToken {
		return errors.New("x-amz-security-token is not the identity's session token")
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-amz-date"} {
		if !slices.Contains(signed, h) {
			return fmt.Errorf("SignedHeaders %q lacks %s", fields["SignedHeaders"], h)
		}
	}
	path, query, _ := strings.Cut(req.Path, "?")
	var canon strings.Builder
	canon.WriteString(req.Method + "\n")
	// Services other than S3 sign the path URI-encoded once more (each segment), on top of the encoding
	// it is sent with.
	canon.WriteString(uriEncode(path, false) + "\n")
	canon.WriteString(canonicalQuery(query) + "\n")
	for _, h := range signed {
		v := req.header(h)
		if h == "host" {
			// The Host header a client sends to an HTTPS service on its default port has no port.
			v = strings.TrimSuffix(req.Host, ":443")
		}
		canon.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	canon.WriteString("\n" + fields["SignedHeaders"] + "\n")
	bodyHash := sha256.Sum256(req.Body)
	canon.WriteString(hex.EncodeToString(bodyHash[:]))
	canonHash := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(canonHash[:])
	k := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), scope[1])
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(k, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		// The canonical request is not shown: it holds the session token.
		return fmt.Errorf("the signature does not verify with the identity's secret key (host %s, path %s, signed headers %s)", req.Host, req.Path, fields["SignedHeaders"])
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// uriEncode is SigV4's UriEncode: every byte but the unreserved characters (and '/' when encoding a path)
// is percent-encoded, upper case.
func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func canonicalQuery(q string) string {
	if q == "" {
		return ""
	}
	vals, _ := url.ParseQuery(q)
	var pairs []string
	for k, vs := range vals {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// redactAuth keeps an Authorization header's scheme only.
func redactAuth(v string) string {
	if v == "" {
		return ""
	}
	scheme, _, _ := strings.Cut(v, " ")
	return scheme + " <redacted>"
}

// awsEventStreamFrame encodes one message of the AWS event stream (application/vnd.amazon.eventstream)
// that Bedrock's converse-stream answers with: prelude (total and headers length, CRC), string headers,
// payload, message CRC.
func awsEventStreamFrame(eventType string, payload []byte) []byte {
	var headers []byte
	for _, h := range [][2]string{{":event-type", eventType}, {":content-type", "application/json"}, {":message-type", "event"}} {
		headers = append(headers, byte(len(h[0])))
		headers = append(headers, h[0]...)
		headers = append(headers, 7) // string
		headers = binary.BigEndian.AppendUint16(headers, uint16(len(h[1])))
		headers = append(headers, h[1]...)
	}
	total := 12 + len(headers) + len(payload) + 4
	msg := binary.BigEndian.AppendUint32(nil, uint32(total))
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(headers)))
	msg = binary.BigEndian.AppendUint32(msg, crc32.ChecksumIEEE(msg))
	msg = append(msg, headers...)
	msg = append(msg, payload...)
	return binary.BigEndian.AppendUint32(msg, crc32.ChecksumIEEE(msg))
}
