package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The repository root, from this package's directory (go test runs in it).
const root = "../.."

// TestAPIReferenceUpToDate fails when docs/api-reference.md is not what `make docs` writes from the CRD,
// so the reference cannot drift from the API.
func TestAPIReferenceUpToDate(t *testing.T) {
	crd, err := os.ReadFile(filepath.Join(root, defaultCRD))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(crd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, defaultOut))
	if err != nil {
		t.Fatalf("%v: run `make docs`", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with %s: run `make docs` and commit the result (first difference at line %d)",
			defaultOut, defaultCRD, firstDiffLine(string(got), want))
	}
}

// TestAPIReferenceCoversEveryField checks that the reference names every field path of the schema and
// documents each CEL rule's message: the generator must not skip parts of the API.
func TestAPIReferenceCoversEveryField(t *testing.T) {
	crd, err := os.ReadFile(filepath.Join(root, defaultCRD))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Generate(crd)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### `spec.gateway.clientAuth.jwt`",
		"### `spec.providers[].aws`",
		"### `spec.models[].selfHosted.placements[]`",
		"### `status.models[]`",
		"| `tlsSecretRef` |",
		"spec.gateway.listener.tlsSecretRef is required when protocol is HTTPS",
		"metadata.name must be at most 63 characters",
		"one of `OpenAI`, `AzureOpenAI`",
		"pattern `^(hf\\|s3\\|gs\\|pvc\\|https?\\|oci)://`",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the reference lacks %q", want)
		}
	}
}

// TestStatusDocsNameEveryReason keeps docs/status.md and docs/troubleshooting.md honest: every reason the
// status package can set (its Reason* constants) must be explained in both. Add a reason, document it.
func TestStatusDocsNameEveryReason(t *testing.T) {
	reasons := reasonConstants(t, filepath.Join(root, "controllers/status/status.go"))
	if len(reasons) < 10 {
		t.Fatalf("found only %d reasons in controllers/status: has the file moved?", len(reasons))
	}
	for _, doc := range []string{"docs/status.md", "docs/troubleshooting.md"} {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reasons {
			if !strings.Contains(string(data), "`"+r+"`") {
				t.Errorf("%s does not explain reason `%s` (a constant of controllers/status)", doc, r)
			}
		}
	}
}

// reasonConstants reads the string values of the Reason* constants of a Go file.
func reasonConstants(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil {
						out = append(out, v)
					}
				}
			}
		}
	}
	return out
}

func firstDiffLine(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}
