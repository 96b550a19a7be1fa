package manager

import (
	"fmt"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Version is the operator's version: the CSV's spec.version (config/manifests/bases), set at build time
// with -ldflags "-X github.com/genai-platform/genai-platform-operator/controllers/manager.Version=x.y.z"
// by a release build. TestVersionMatchesTheBundle keeps the default in step with the CSV.
var Version = "0.1.0"

// BuildInfo is the version, and the commit and Go version the binary was built from (from Go's build
// information: "unknown" when built outside a Git checkout).
type BuildInfo struct {
	Version, Revision, GoVersion string
	Modified                     bool
}

// ReadBuildInfo returns the running binary's build information.
func ReadBuildInfo() BuildInfo {
	bi := BuildInfo{Version: Version, Revision: "unknown", GoVersion: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.GoVersion = info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return bi
}

// String is what --version prints.
func (b BuildInfo) String() string {
	rev := b.Revision
	if b.Modified {
		rev += " (modified)"
	}
	return fmt.Sprintf("genai-platform-operator v%s, commit %s, %s", b.Version, rev, b.GoVersion)
}

var buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "genai_platform_operator_build_info",
	Help: "1, labelled with the operator's version, the commit and the Go version it was built from.",
}, []string{"version", "revision", "goversion"})

func init() {
	metrics.Registry.MustRegister(buildInfo)
	b := ReadBuildInfo()
	buildInfo.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
}
