// Package facts holds what the reconciler observed about a platform's world before rendering: the
// values of the Secrets it references, each model cluster's address, key and reachability, and each
// placement's readiness. It is the one input render and status take besides the platform itself.
//
// The reconciler fills it from the clusters, `manager render` from files and assumptions, and the golden
// tests from a `kind: Facts` document parsed strictly into this type (Secret values excepted: those come
// from the Secrets in the same file, resolved by the reconciler's own code, and are never serialized).
package facts

import (
	"slices"
	"strings"
	"time"
)

// Facts is everything observed about one platform's world.
type Facts struct {
	// Secrets are the values read from the Secrets the platform references, and their problems.
	Secrets Secrets `json:"-"`

	// Clusters are the model clusters' observed state, by model cluster name.
	Clusters map[string]Cluster `json:"clusters,omitempty"`

	// Placements are the self-hosted placements' InferenceServices as KServe reports them.
	Placements []Placement `json:"placements,omitempty"`

	// RouteShards are the Tier One AIGatewayRoute (by name) that serves each model now, as the
	// operator's last apply left them. Render keeps a model in its route, so that removing another
	// model never moves it: a model's rule in another route is, for a moment, outside its tenants'
	// access policy, and every move rewrites two routes.
	RouteShards map[string]string `json:"routeShards,omitempty"`

	// Invalid, when set, is a spec error the API server cannot see (a reference to another namespace's
	// Secret): nothing is rendered.
	Invalid *Problem `json:"-"`
}

// Secrets are the values of the Secrets a platform references. Values never leave them except into the
// managed Secrets render writes; problems never hold values.
type Secrets struct {
	// Credentials are the managed credential Secrets' data, by provider name, already in the key layout
	// BackendSecurityPolicy expects. A provider that needs a Secret and has no entry is left out of the
	// routes (its problem says why), so that one broken Secret never breaks the routes of the others.
	Credentials      map[string]map[string][]byte
	ProviderProblems map[string]Problem

	// ClientKeys are the clients' API keys (client id -> key) from spec.gateway.clientAuth.apiKeys.
	ClientKeys        map[string][]byte
	ClientKeysProblem *Problem

	// ModelDownloads are self-hosted models' download credentials and image pull Secrets, by model name.
	// A model whose Secrets cannot be read has a problem instead (Stalled when a human must fix it).
	ModelDownloads map[string]ModelDownload
	ModelProblems  map[string]Problem

	// Tenants are the accepted GenAITenants' keys, by tenant name.
	Tenants map[string]TenantKeys
}

// ModelDownload is what a self-hosted model's pods need from the user's Secrets.
type ModelDownload struct {
	// Storage is the storage initializer's credentials Secret's data, already in KServe's key layout
	// (HF_TOKEN, AWS_*, the GCS key file, AZURE_*); nil when the download is anonymous.
	Storage map[string][]byte
	// PullSecrets are the image pull Secrets to copy, in spec order.
	PullSecrets []PullSecret
}

// PullSecret is one image pull Secret of the user's.
type PullSecret struct {
	// Name is the user's Secret's name.
	Name string
	// Type is kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg.
	Type string
	Data map[string][]byte
}

// Cluster is the observed state of one model cluster.
type Cluster struct {
	// Address is the Tier Two Gateway's status address (the last one seen, when the cluster does not
	// answer now).
	Address string `json:"address,omitempty"`
	// Key is the Tier One -> Tier Two key state. A cluster without a key gets no link.
	Key *ClusterKey `json:"key,omitempty"`
	// ForeignNamespace: the model namespace exists and the operator did not create it, so it is not
	// the operator's to create or delete.
	ForeignNamespace bool `json:"foreignNamespace,omitempty"`
	// NotAllowed: the platform may not write into the model cluster's namespace (Problem says how to
	// allow it). Nothing is applied or pruned there.
	NotAllowed bool `json:"notAllowed,omitempty"`
	// Unreachable: the cluster's API server does not answer now. Tier One keeps its link objects (so a
	// blip does not churn them) but routes nothing there.
	Unreachable bool `json:"unreachable,omitempty"`
	// Problem is why the cluster cannot be used (unreachable, kubeconfig invalid, CRDs missing).
	Problem *Problem `json:"problem,omitempty"`
	// Rotating: a key rotation step is under way; the reconciler comes back soon.
	Rotating bool `json:"-"`
	// KeyRotationDue is when the next scheduled key rotation starts (zero: none is scheduled).
	KeyRotationDue time.Time `json:"-"`
	// TLS is the link's TLS material; nil with tls.mode None, or when the user's certificate Secret
	// cannot be used (Problem says why: the link is then not rendered, never downgraded to plain text).
	TLS *LinkTLS `json:"tls,omitempty"`
}

// LinkTLS is the TLS material of the link from Tier One to a model cluster's Tier Two. Its values are
// certificates and keys: they never leave it except into the managed Secrets render writes.
type LinkTLS struct {
	// Hostname is the name Tier One verifies in Tier Two's certificate and sends as SNI.
	Hostname string `json:"hostname"`
	// State is the operator CA's state Secret data (CA, serving pair, a CA being staged), nil when the
	// user brings the certificate.
	State map[string][]byte `json:"-"`
	// StateAnnotations record a CA rotation under way.
	StateAnnotations map[string]string `json:"-"`
	// ServingCert and ServingKey are what Tier Two serves (PEM).
	ServingCert []byte `json:"-"`
	ServingKey  []byte `json:"-"`
	// TrustBundle is the CA certificates Tier One verifies Tier Two with (PEM).
	TrustBundle []byte `json:"-"`
	// RenewAt is when the reconciler must come back to renew (zero: never, the user renews).
	RenewAt time.Time `json:"-"`
}

// ClusterKey is the state of one model cluster's Tier One -> Tier Two key.
type ClusterKey struct {
	// Current is the key Tier One sends.
	Current string `json:"current"`
	// Next is staged: Tier Two admits it before Tier One switches to it.
	Next string `json:"next,omitempty"`
	// Previous is retiring: Tier One has moved off it, Tier Two still admits it for a grace period.
	Previous string `json:"previous,omitempty"`
	// Token is the last rotation request acted upon.
	Token string `json:"token,omitempty"`
	// SwitchedAt is when Tier One switched to Current (RFC 3339), empty when no rotation is under way.
	SwitchedAt string `json:"switchedAt,omitempty"`
	// StagedAt is when Next was staged (RFC 3339).
	StagedAt string `json:"stagedAt,omitempty"`
	// CreatedAt is when Current became the key Tier One sends (RFC 3339): a scheduled rotation counts from it.
	CreatedAt string `json:"createdAt,omitempty"`
}

// Admitted are the keys Tier Two accepts: every key Tier One uses or may use during a rotation.
func (k ClusterKey) Admitted() []string {
	var out []string
	for _, v := range []string{k.Current, k.Next, k.Previous} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// PlacementID names one placement of a self-hosted model, and one of its versions (empty: a model
// without versions).
type PlacementID struct {
	Model    string `json:"model"`
	Cluster  string `json:"cluster"`
	NodePool string `json:"nodePool"`
	Version  string `json:"version,omitempty"`
}

// Placement is the observed state of one placement's InferenceService.
type Placement struct {
	PlacementID `json:",inline"`
	Exists      bool   `json:"exists,omitempty"`
	Ready       bool   `json:"ready"`
	Reason      string `json:"reason,omitempty"`
	Message     string `json:"message,omitempty"`
}

// Placement returns the observed state of one placement, and whether it was observed. Without a version,
// for a model with versions, it is the placement's best version: a Ready one, else the first observed.
func (f *Facts) Placement(id PlacementID) (Placement, bool) {
	i := slices.IndexFunc(f.Placements, func(p Placement) bool { return p.PlacementID == id })
	if i < 0 && id.Version == "" {
		same := func(p Placement) bool {
			return p.Model == id.Model && p.Cluster == id.Cluster && p.NodePool == id.NodePool
		}
		if i = slices.IndexFunc(f.Placements, func(p Placement) bool { return same(p) && p.Ready }); i < 0 {
			i = slices.IndexFunc(f.Placements, same)
		}
	}
	if i < 0 {
		return Placement{}, false
	}
	return f.Placements[i], true
}

// PlacementReady says whether a placement's InferenceService is Ready; without a version, for a model
// with versions, whether any of its versions' is.
func (f *Facts) PlacementReady(id PlacementID) bool {
	p, _ := f.Placement(id)
	return p.Ready
}

// Cluster returns a model cluster's facts (the zero value when none were observed).
func (f *Facts) Cluster(name string) Cluster { return f.Clusters[name] }

// SetCluster records a model cluster's facts.
func (f *Facts) SetCluster(name string, c Cluster) {
	if f.Clusters == nil {
		f.Clusters = map[string]Cluster{}
	}
	f.Clusters[name] = c
}

// Problem is a reason and a message for a part that is not ready. Messages never hold Secret values.
type Problem struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// Stalled marks problems only a human can fix (a missing Secret, an invalid spec): kstatus' Stalled.
	Stalled bool `json:"stalled,omitempty"`
}

// The Tier One key Secret of a model cluster holds the key state: render writes it, the reconciler reads
// it back on the next reconcile. BackendSecurityPolicy's APIKey reads KeyCurrent; the other keys and the
// annotations record a rotation under way.
const (
	KeyCurrent              = "apiKey"
	keyNext                 = "next"
	keyPrevious             = "previous"
	annotationRotationToken = "platform.genai.dev/rotation-token"
	annotationKeySwitchedAt = "platform.genai.dev/key-switched-at"
	annotationKeyStagedAt   = "platform.genai.dev/key-staged-at"
	annotationKeyCreatedAt  = "platform.genai.dev/key-created-at"
)

// SecretData is the key Secret's data for this state.
func (k ClusterKey) SecretData() map[string][]byte {
	data := map[string][]byte{KeyCurrent: []byte(k.Current)}
	if k.Next != "" {
		data[keyNext] = []byte(k.Next)
	}
	if k.Previous != "" {
		data[keyPrevious] = []byte(k.Previous)
	}
	return data
}

// SecretAnnotations are the key Secret's annotations for this state (nil when there is nothing to record).
func (k ClusterKey) SecretAnnotations() map[string]string {
	a := map[string]string{}
	for key, v := range map[string]string{annotationRotationToken: k.Token, annotationKeySwitchedAt: k.SwitchedAt,
		annotationKeyStagedAt: k.StagedAt, annotationKeyCreatedAt: k.CreatedAt} {
		if v != "" {
			a[key] = v
		}
	}
	if len(a) == 0 {
		return nil
	}
	return a
}

// ClusterKeyFromSecret reads a key state back from the key Secret's data and annotations.
func ClusterKeyFromSecret(data map[string][]byte, annotations map[string]string) ClusterKey {
	return ClusterKey{
		Current: string(data[KeyCurrent]), Next: string(data[keyNext]), Previous: string(data[keyPrevious]),
		Token: annotations[annotationRotationToken], SwitchedAt: annotations[annotationKeySwitchedAt],
		StagedAt: annotations[annotationKeyStagedAt], CreatedAt: annotations[annotationKeyCreatedAt],
	}
}

// TenantKeys are a GenAITenant's API keys as observed (generated or read from the tenant's Secret). Their
// values never leave them except into the managed Secrets render writes; Problem never holds one.
type TenantKeys struct {
	// Keys are the keys Tier One accepts, by key name: the client id of each is "<tenant>.<key name>".
	Keys map[string][]byte
	// Generated is the state of operator-generated keys, written back into the tenant's generated Secret
	// (nil when the tenant brings its own Secret).
	Generated *GeneratedTenantKeys
	// Problem is why the tenant has no usable key (its Secret missing or empty).
	Problem *Problem
}

// GeneratedTenantKeys is the state of a tenant's generated keys: the current ones and, for a grace period
// after a rotation, the previous ones.
type GeneratedTenantKeys struct {
	// Current are the keys by name (key-1, key-2, ...).
	Current map[string][]byte
	// Previous are the keys a rotation replaced, still accepted (as "<key name>.previous") until the
	// grace period after SwitchedAt has passed.
	Previous map[string][]byte
	// Token is the last rotation request acted upon (the tenant's rotate-keys annotation).
	Token string
	// SwitchedAt is when the current keys replaced the previous ones (RFC 3339), empty without previous.
	SwitchedAt string
}

// PreviousKeySuffix marks, in a generated keys Secret and in client ids, a key being rotated out.
const PreviousKeySuffix = ".previous"

// Annotations of a tenant's generated keys Secret that record a rotation.
const (
	AnnotationTenantRotationToken = "platform.genai.dev/rotation-token"
	AnnotationTenantKeysSwitched  = "platform.genai.dev/keys-switched-at"
)

// SecretData is the generated Secret's data: each current key under its name, each previous one under
// "<name>.previous".
func (g GeneratedTenantKeys) SecretData() map[string][]byte {
	data := make(map[string][]byte, len(g.Current)+len(g.Previous))
	for k, v := range g.Current {
		data[k] = v
	}
	for k, v := range g.Previous {
		data[k+PreviousKeySuffix] = v
	}
	return data
}

// SecretAnnotations record the rotation state (nil when there is nothing to record).
func (g GeneratedTenantKeys) SecretAnnotations() map[string]string {
	a := map[string]string{}
	if g.Token != "" {
		a[AnnotationTenantRotationToken] = g.Token
	}
	if g.SwitchedAt != "" {
		a[AnnotationTenantKeysSwitched] = g.SwitchedAt
	}
	if len(a) == 0 {
		return nil
	}
	return a
}

// GeneratedTenantKeysFromSecret reads the state back from the generated Secret.
func GeneratedTenantKeysFromSecret(data map[string][]byte, annotations map[string]string) GeneratedTenantKeys {
	g := GeneratedTenantKeys{Current: map[string][]byte{}, Token: annotations[AnnotationTenantRotationToken], SwitchedAt: annotations[AnnotationTenantKeysSwitched]}
	for k, v := range data {
		if name, ok := strings.CutSuffix(k, PreviousKeySuffix); ok {
			if g.Previous == nil {
				g.Previous = map[string][]byte{}
			}
			g.Previous[name] = v
			continue
		}
		g.Current[k] = v
	}
	return g
}
