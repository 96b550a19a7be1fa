//go:build tools

// Package tools pins the KServe manager, github.com/kserve/kserve/cmd/manager, and KServe's
// LLMInferenceService controller, github.com/kserve/kserve/cmd/llmisvc (a binary of its own in KServe
// v0.20), in this module's graph: hack/build-sim.sh runs `go build` of both here.
package tools

import (
	_ "github.com/kserve/kserve/cmd/llmisvc"
	_ "github.com/kserve/kserve/cmd/manager"
)
