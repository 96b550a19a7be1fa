// Package preview is `manager render`: it prints, offline, every object the operator would create for
// a GenAIPlatform, grouped by the cluster it goes to. It runs the controller's own code: the Secrets are
// resolved by controllers.ObserveSecretsOffline (the reconciler's credential, client key and model token
// code) and the objects come from controllers/render.Render, so that the preview cannot drift from what
// the operator does.
//
// What only a live cluster knows is assumed, optimistically, and the output says so in its header:
// every InferenceService Ready, every Tier Two Gateway with an address, every model namespace created by
// the operator. Secret values are never printed.
package preview

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	"github.com/genai-platform/genai-platform-operator/config/crd"
	"github.com/genai-platform/genai-platform-operator/controllers"
	"github.com/genai-platform/genai-platform-operator/controllers/apply"
	"github.com/genai-platform/genai-platform-operator/controllers/facts"
	"github.com/genai-platform/genai-platform-operator/controllers/render"
)

// Redacted replaces every Secret value in the output.
const Redacted = "<redacted>"

// placeholderValue stands for a Secret value when no Secrets are given; it is never printed (redacted).
const placeholderValue = "placeholder"

// PlaceholderClientID is the one client the clients' API key Secret is assumed to hold when no Secrets
// are given: client ids are the Secret's keys, and nobody knows them offline.
const PlaceholderClientID = "placeholder-client"

// GroupMarker starts the comment line that opens each cluster's group of objects.
const GroupMarker = "# ==== "

// TierTwoAddress is the address assumed for a model cluster's Tier Two Gateway when the spec sets none:
// the operator reads it from the Gateway's status once Envoy Gateway has programmed it. The reserved
// .invalid top-level domain (RFC 2606) makes it obviously a placeholder, and never resolvable.
func TierTwoAddress(cluster string) string { return cluster + ".tier-two.invalid" }

// Options are the command's flags.
type Options struct {
	// Files (or directories of files) hold the GenAIPlatforms to render (other kinds are ignored).
	Files []string
	// SecretsFrom are directories (or files) of Kubernetes Secret YAML; empty: every referenced Secret is
	// assumed to exist (see Platform.Assumptions).
	SecretsFrom []string
	// Namespace is the namespace of a GenAIPlatform that names none (as kubectl's default namespace).
	Namespace string
}

// Platform is the preview of one GenAIPlatform.
type Platform struct {
	Platform *platformv1.GenAIPlatform
	Facts    facts.Facts
	Output   render.Output
	// SecretsSource says where the Secrets came from.
	SecretsSource string
}

// Main runs `manager render` with the arguments after "render" and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("manager render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts Options
	fs.Func("f", "a file, or a directory of files, with GenAIPlatform YAML (repeatable)", func(s string) error { opts.Files = append(opts.Files, s); return nil })
	fs.Func("secrets-from", "a directory (or file) of Secret YAML the platforms reference (repeatable); without it, referenced Secrets are assumed to exist", func(s string) error {
		opts.SecretsFrom = append(opts.SecretsFrom, s)
		return nil
	})
	fs.StringVar(&opts.Namespace, "n", "default", "namespace of a GenAIPlatform whose metadata names none")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: manager render -f platform.yaml [-f ...] [--secrets-from DIR] [-n NAMESPACE]")
		fmt.Fprintln(stderr, "Prints, as YAML, every object the operator would create for each GenAIPlatform, per cluster; Secret values redacted.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(opts.Files) == 0 || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	previews, err := Render(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(stderr, "render:", err)
		return 1
	}
	if err := Write(stdout, previews); err != nil {
		fmt.Fprintln(stderr, "render:", err)
		return 1
	}
	for _, pv := range previews {
		if pv.Facts.Invalid != nil {
			fmt.Fprintf(stderr, "render: GenAIPlatform %s/%s is invalid: %s\n", pv.Platform.Namespace, pv.Platform.Name, pv.Facts.Invalid.Message)
			return 1
		}
	}
	return 0
}

// Render computes the preview of every GenAIPlatform in opts.Files.
func Render(ctx context.Context, opts Options) ([]Platform, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	var platforms []*platformv1.GenAIPlatform
	var tenants []*platformv1.GenAITenant
	for _, f := range opts.Files {
		files, err := yamlFiles(f)
		if err != nil {
			return nil, err
		}
		for _, file := range files {
			docs, err := ReadFile(file)
			if err != nil {
				return nil, err
			}
			platforms = append(platforms, docs.Platforms...)
			tenants = append(tenants, docs.Tenants...)
		}
	}
	if len(platforms) == 0 {
		return nil, fmt.Errorf("no GenAIPlatform in %s", strings.Join(opts.Files, ", "))
	}
	var secrets []*corev1.Secret
	for _, src := range opts.SecretsFrom {
		s, err := readSecrets(src)
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, s...)
	}

	out := make([]Platform, 0, len(platforms))
	for _, p := range platforms {
		if p.Namespace == "" {
			p.Namespace = opts.Namespace
		}
		pv := Platform{Platform: p}
		var visible []*corev1.Secret
		if len(opts.SecretsFrom) > 0 {
			pv.SecretsSource = "read from " + strings.Join(opts.SecretsFrom, ", ")
			visible = secretsInNamespace(secrets, p.Namespace)
		} else {
			pv.SecretsSource = "not given (--secrets-from): every Secret the platform references is assumed to exist and hold the key it names"
			visible = placeholderSecrets(p)
		}
		// The reconciler's own Secret code, on an in-memory cluster that holds only these Secrets (and no
		// managed Secrets: the preview is the first reconcile).
		var accepted []*platformv1.GenAITenant
		pv.Facts, accepted = controllers.ObserveOffline(ctx, p, TenantsOf(p, tenants, opts.Namespace), visible)
		if pv.Facts.Invalid == nil {
			AssumeClusterFacts(p, &pv.Facts)
			pv.Output = render.Render(render.Input{Platform: p, Facts: pv.Facts, Tenants: accepted})
		}
		out = append(out, pv)
	}
	return out, nil
}

// TenantsOf are the GenAITenants that name a platform (a tenant without a namespace is in ns, as with
// kubectl apply -n).
func TenantsOf(p *platformv1.GenAIPlatform, tenants []*platformv1.GenAITenant, ns string) []*platformv1.GenAITenant {
	var out []*platformv1.GenAITenant
	for _, t := range tenants {
		tns := t.Namespace
		if tns == "" {
			tns = ns
		}
		if tns == p.Namespace && t.Spec.PlatformRef.Name == p.Name {
			t = t.DeepCopy()
			t.Namespace = tns
			out = append(out, t)
		}
	}
	return out
}

// AssumeClusterFacts adds to the facts what only a live cluster knows, optimistically: every model
// cluster answers with an address and a namespace the operator makes, every placement is Ready.
func AssumeClusterFacts(p *platformv1.GenAIPlatform, f *facts.Facts) {
	for _, mc := range p.Spec.ModelClusters {
		// The operator generates each cluster's key on its first reconcile and records the rotation
		// request it acted on; the key itself only ever appears in Secrets, which are redacted.
		cf := facts.Cluster{Key: &facts.ClusterKey{Current: placeholderValue, Token: p.Annotations[platformv1.AnnotationRotateClusterKeys]}}
		if render.LinkTLSMode(&mc) != platformv1.TierLinkTLSNone {
			cf.TLS = AssumedLinkTLS(&mc)
		}
		if mc.Address == nil {
			cf.Address = TierTwoAddress(mc.Name)
		}
		f.SetCluster(mc.Name, cf)
	}
	for _, m := range p.Spec.Models {
		if m.SelfHosted == nil {
			continue
		}
		for _, pl := range m.SelfHosted.Placements {
			for _, v := range render.ModelVersions(m.SelfHosted) {
				f.Placements = append(f.Placements, facts.Placement{PlacementID: facts.PlacementID{Model: m.Name, Cluster: pl.Cluster, NodePool: pl.NodePool, Version: v.Name}, Exists: true, Ready: true})
			}
		}
	}
}

// AssumedLinkTLS stands for the link TLS material the reconciler issues (or reads from the user's Secret):
// the objects are those of the first reconcile, with placeholder certificates.
func AssumedLinkTLS(mc *platformv1.ModelClusterSpec) *facts.LinkTLS {
	t := &facts.LinkTLS{Hostname: render.LinkTLSHostname(mc), ServingCert: []byte(placeholderValue), ServingKey: []byte(placeholderValue), TrustBundle: []byte(placeholderValue)}
	if render.LinkTLSMode(mc) == platformv1.TierLinkTLSOperatorCA {
		v := []byte(placeholderValue)
		t.State = map[string][]byte{"ca.crt": v, "ca.key": v, corev1.TLSCertKey: v, corev1.TLSPrivateKeyKey: v}
	}
	return t
}

// Write prints the previews: per platform a header comment (assumptions, problems, routes), then Tier
// One's objects, then each model cluster's, each group opened by a GroupMarker line.
func Write(w io.Writer, previews []Platform) error {
	scheme := controllers.NewScheme()
	var b bytes.Buffer
	for i, pv := range previews {
		if i > 0 {
			b.WriteString("\n")
		}
		header(&b, pv)
		if pv.Facts.Invalid != nil {
			continue
		}
		p := pv.Platform
		fmt.Fprintf(&b, "%sTier One: the GenAIPlatform's own cluster\n", GroupMarker)
		if err := writeObjects(&b, scheme, pv.Output.In("")); err != nil {
			return err
		}
		for _, mc := range p.Spec.ModelClusters {
			where := "this cluster (no kubeconfigSecretRef)"
			if ref := mc.KubeconfigSecretRef; ref != nil {
				where = "the cluster of kubeconfig Secret " + ref.Name
			}
			fmt.Fprintf(&b, "%smodel cluster %s: %s, namespace %s\n", GroupMarker, mc.Name, where, render.ModelClusterNamespace(&mc))
			if err := writeObjects(&b, scheme, pv.Output.In(mc.Name)); err != nil {
				return err
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func header(b *bytes.Buffer, pv Platform) {
	p := pv.Platform
	line := func(format string, args ...any) {
		fmt.Fprintln(b, strings.TrimSpace("# "+fmt.Sprintf(format, args...)))
	}
	line("manager render: the objects genai-platform-operator would create for GenAIPlatform %s/%s,", p.Namespace, p.Name)
	line("computed offline by the operator's own code (CRD defaults applied; CEL validation is the API server's:")
	line("kubectl apply --dry-run=server checks it).")
	line("")
	line("Secrets: %s.", pv.SecretsSource)
	line("Secret values are never printed: every value of a Secret's data is %s.", Redacted)
	if pv.Facts.Invalid != nil {
		line("")
		line("The operator creates nothing for this platform: %s", pv.Facts.Invalid.Message)
		return
	}
	line("")
	line("Assumed, because only a live cluster knows (the optimistic case, once everything is up):")
	line("- every InferenceService is Ready: Tier Two routes to every placement, Tier One to every model cluster;")
	line("- every model cluster's Tier Two Gateway has an address: spec.modelClusters[].address, else a placeholder,")
	line("  <cluster>.tier-two.invalid, for the address the Gateway's status will report;")
	line("- every model cluster's namespace is created by the operator (a namespace you made is left out);")
	line("- the Tier One -> Tier Two keys are the operator's to generate (they appear only in Secrets);")
	line("- ownerReferences carry no uid: the API server assigns the GenAIPlatform's.")
	var problems []string
	for _, pr := range p.Spec.Providers {
		if prob, ok := pv.Facts.Secrets.ProviderProblems[pr.Name]; ok {
			problems = append(problems, fmt.Sprintf("provider %s (%s): %s; its objects are left out", pr.Name, prob.Reason, prob.Message))
		}
	}
	if prob := pv.Facts.Secrets.ClientKeysProblem; prob != nil {
		problems = append(problems, fmt.Sprintf("client API keys (%s): %s", prob.Reason, prob.Message))
	}
	for _, m := range p.Spec.Models {
		if prob, ok := pv.Facts.Secrets.ModelProblems[m.Name]; ok {
			problems = append(problems, fmt.Sprintf("model %s (%s): %s", m.Name, prob.Reason, prob.Message))
		}
	}
	if len(problems) > 0 {
		line("")
		line("Problems, as the platform's status would report them:")
		for _, s := range problems {
			line("- %s", s)
		}
	}
	line("")
	line("Routes at Tier One (model: backends):")
	for _, m := range p.Spec.Models {
		routes := pv.Output.Routes[m.Name]
		if len(routes) == 0 {
			line("- %s: none (no usable backend)", m.Name)
			continue
		}
		shown := make([]string, 0, len(routes))
		for _, r := range routes {
			shown = append(shown, r.String())
		}
		line("- %s: %s", m.Name, strings.Join(shown, ", "))
	}
}

func writeObjects(b *bytes.Buffer, scheme *runtime.Scheme, objs []client.Object) error {
	for _, obj := range objs {
		gvk, err := apiutil.GVKForObject(obj, scheme)
		if err != nil {
			return err
		}
		u, _, err := apply.ToUnstructured(obj, gvk)
		if err != nil {
			return err
		}
		if gvk.Group == "" && gvk.Kind == "Secret" {
			redact(u.Object)
		}
		// Offline there is no uid to point at; an empty one would only look like a value.
		if refs, ok, _ := unstructured.NestedSlice(u.Object, "metadata", "ownerReferences"); ok {
			for _, r := range refs {
				if m, ok := r.(map[string]any); ok && m["uid"] == "" {
					delete(m, "uid")
				}
			}
			_ = unstructured.SetNestedSlice(u.Object, refs, "metadata", "ownerReferences")
		}
		y, err := sigyaml.Marshal(u.Object)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return nil
}

// redact keeps a Secret's keys and replaces every value.
func redact(secret map[string]any) {
	for _, field := range []string{"data", "stringData"} {
		data, ok := secret[field].(map[string]any)
		if !ok {
			continue
		}
		for k := range data {
			data[k] = Redacted
		}
	}
}

// Documents are the objects of one YAML or JSON file that the preview (and the golden tests) read.
type Documents struct {
	Platforms []*platformv1.GenAIPlatform
	Secrets   []*corev1.Secret
	// Tenants are GenAITenants, parsed strictly: each joins the platform it names.
	Tenants []*platformv1.GenAITenant
	// Facts is a `kind: Facts` document, parsed strictly: what the reconciler would have observed about
	// the platform's clusters (the golden tests' way to give what only a live cluster knows).
	Facts *facts.Facts
}

// ReadFile reads the GenAIPlatforms (with the CRD's defaults, parsed strictly), the Secrets and the Facts
// document of a YAML or JSON file. Other kinds are ignored.
func ReadFile(path string) (Documents, error) {
	var out Documents
	b, err := os.ReadFile(path)
	if err != nil {
		return out, err
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for doc := 1; ; doc++ {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return out, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if err := out.add(raw); err != nil {
			return out, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
	}
	return out, nil
}

func (d *Documents) add(raw map[string]any) error {
	switch {
	case raw == nil:
	case raw["kind"] == "GenAIPlatform" && raw["apiVersion"] == platformv1.GroupVersion.String():
		// The API server's schema defaults, so that render sees what the reconciler sees.
		if err := crd.Default(raw); err != nil {
			return err
		}
		p := &platformv1.GenAIPlatform{}
		if err := strict(raw, p); err != nil {
			return err
		}
		if p.Name == "" {
			return errors.New("a GenAIPlatform without metadata.name")
		}
		d.Platforms = append(d.Platforms, p)
	case raw["kind"] == "GenAITenant" && raw["apiVersion"] == platformv1.GroupVersion.String():
		t := &platformv1.GenAITenant{}
		if err := strict(raw, t); err != nil {
			return err
		}
		if t.Name == "" {
			return errors.New("a GenAITenant without metadata.name")
		}
		d.Tenants = append(d.Tenants, t)
	case raw["kind"] == "Secret" && raw["apiVersion"] == "v1":
		j, err := sigyaml.Marshal(raw)
		if err != nil {
			return err
		}
		s := &corev1.Secret{}
		if err := sigyaml.Unmarshal(j, s); err != nil {
			return err
		}
		// stringData is write-only: the API server merges it into data, and so does the preview.
		for k, v := range s.StringData {
			if s.Data == nil {
				s.Data = map[string][]byte{}
			}
			s.Data[k] = []byte(v)
		}
		s.StringData = nil
		d.Secrets = append(d.Secrets, s)
	case raw["kind"] == "Facts":
		delete(raw, "kind")
		d.Facts = &facts.Facts{}
		return strict(raw, d.Facts)
	}
	return nil
}

// strict decodes a document into a typed value, refusing fields the type does not have.
func strict(raw map[string]any, into any) error {
	j, err := sigyaml.Marshal(raw)
	if err != nil {
		return err
	}
	return sigyaml.UnmarshalStrict(j, into)
}

// readSecrets reads the Secrets of a file, or of the YAML and JSON files of a directory.
func readSecrets(path string) ([]*corev1.Secret, error) {
	files, err := yamlFiles(path)
	if err != nil {
		return nil, err
	}
	var out []*corev1.Secret
	for _, f := range files {
		docs, err := ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, docs.Secrets...)
	}
	return out, nil
}

// yamlFiles is path itself, or, for a directory, its .yaml, .yml and .json files (not its
// subdirectories', as kubectl apply -f without -R), in name order.
func yamlFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	return files, nil
}

// secretsInNamespace are the Secrets a platform in ns can see: those of ns, and those that name no
// namespace (they would be applied to the platform's, as with kubectl apply -n). Of two Secrets with the
// same name, the one read last wins, as when applying the files in order.
func secretsInNamespace(secrets []*corev1.Secret, ns string) []*corev1.Secret {
	byName := map[string]*corev1.Secret{}
	var names []string
	for _, s := range secrets {
		if s.Namespace != "" && s.Namespace != ns {
			continue
		}
		if byName[s.Name] == nil {
			names = append(names, s.Name)
		}
		c := s.DeepCopy()
		c.Namespace = ns
		byName[s.Name] = c
	}
	out := make([]*corev1.Secret, 0, len(names))
	for _, n := range names {
		out = append(out, byName[n])
	}
	return out
}

// placeholderSecrets stand for the Secrets a platform references when none are given: each holds the
// key each reference names (or the conventional key), with a placeholder value. The clients' API key
// Secret holds one placeholder client.
func placeholderSecrets(p *platformv1.GenAIPlatform) []*corev1.Secret {
	keys := map[string]map[string]bool{}
	add := func(ref *platformv1.SecretKeyReference, conventional string) {
		if ref == nil || (ref.Namespace != "" && ref.Namespace != p.Namespace) {
			return
		}
		if keys[ref.Name] == nil {
			keys[ref.Name] = map[string]bool{}
		}
		key := ref.Key
		if key == "" {
			key = conventional
		}
		keys[ref.Name][key] = true
	}
	for i := range p.Spec.Providers {
		src := render.ProviderCredentialSource(&p.Spec.Providers[i])
		add(src.Ref, src.ManagedKey)
	}
	pullSecrets := map[string]bool{}
	for _, m := range p.Spec.Models {
		if src := render.ModelStorageSource(m.SelfHosted); src != nil && src.ManagedKey != "" {
			add(&src.Ref, src.ManagedKey)
		} else if src != nil {
			for _, k := range src.Required[0] {
				add(&src.Ref, k)
			}
		}
		if m.SelfHosted != nil {
			for _, ref := range m.SelfHosted.ImagePullSecrets {
				add(&platformv1.SecretKeyReference{Name: ref.Name, Namespace: ref.Namespace}, corev1.DockerConfigJsonKey)
				pullSecrets[ref.Name] = true
			}
		}
	}
	if ca := p.Spec.Gateway.ClientAuth; ca != nil && ca.APIKeys != nil {
		ref := ca.APIKeys.SecretRef
		add(&platformv1.SecretKeyReference{Name: ref.Name, Namespace: ref.Namespace}, PlaceholderClientID)
	}
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*corev1.Secret, 0, len(names))
	for _, n := range names {
		data := map[string][]byte{}
		for k := range keys[n] {
			data[k] = []byte(placeholderValue)
		}
		s := &corev1.Secret{Data: data}
		s.Name, s.Namespace = n, p.Namespace
		if pullSecrets[n] {
			s.Type = corev1.SecretTypeDockerConfigJson
		}
		out = append(out, s)
	}
	return out
}
