package main

import (
	"os"
	"path/filepath"
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

func firstDiffLine(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}
