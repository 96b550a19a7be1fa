//go:build tools

// Package tools pins the KServe manager, github.com/kserve/kserve/cmd/manager, in this module's graph:
// hack/build-sim.sh runs `go build github.com/kserve/kserve/cmd/manager` here.
package tools

import _ "github.com/kserve/kserve/cmd/manager"
