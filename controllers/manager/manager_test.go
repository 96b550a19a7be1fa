package manager

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"
)

// TestKeyRotationGraceFlag: by default the grace period covers the documented bound of a Secret change
// reaching a pod's mounted files (kubelet sync period + Secret cache TTL, one minute each by default),
// and an admin can set it.
func TestKeyRotationGraceFlag(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	c.BindFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if got := c.Controller.KeyRotationGrace; got < 2*time.Minute {
		t.Errorf("default key rotation grace %v is shorter than the Secret propagation bound (2m)", got)
	}
	if err := fs.Parse([]string{"--key-rotation-grace=10m"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Controller.KeyRotationGrace; got != 10*time.Minute {
		t.Errorf("--key-rotation-grace=10m gave %v", got)
	}
}

// TestModelNamespacesFlag: by default no namespace is open to every platform; an admin lists patterns,
// and a malformed pattern is refused at start.
func TestModelNamespacesFlag(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	c.BindFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if got := c.Controller.ModelNamespaces; len(got) != 0 {
		t.Errorf("default model namespaces %v; want none (each platform writes into its own namespace)", got)
	}
	if err := fs.Parse([]string{"--model-namespaces=genai-models, team-*"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Controller.ModelNamespaces; !slices.Equal(got, []string{"genai-models", "team-*"}) {
		t.Errorf("--model-namespaces gave %v", got)
	}
	bad := flag.NewFlagSet("manager", flag.ContinueOnError)
	bad.SetOutput(io.Discard)
	(&Config{}).BindFlags(bad)
	if err := bad.Parse([]string{"--model-namespaces=team-["}); err == nil {
		t.Error("a malformed pattern was accepted")
	}
}
