package manager

import (
	"flag"
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
