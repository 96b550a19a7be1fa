#!/usr/bin/env bash
# Builds (once) everything the simulated cluster runs, from the Go module proxy, into git-ignored bin/:
#   bin/k8s/<version>-linux-amd64/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}
#       (hack/build-control-plane.sh)
#   bin/sim/kwok-v0.8.0                 go install sigs.k8s.io/kwok/cmd/kwok@v0.8.0
#   bin/sim/envoy-gateway-v1.9.1        go install github.com/envoyproxy/gateway/cmd/envoy-gateway@v1.9.1
#   bin/sim/kserve-manager-v0.20.0      go build in the wrapper module hack/tools/kserve (KServe's go.mod has
#                                       replace directives, so go install refuses it)
#   bin/sim/kserve-llmisvc-v0.20.0      the same for KServe's LLMInferenceService controller (cmd/llmisvc, a
#                                       binary of its own in KServe v0.20)
# and makes sure socat (a Debian package) is installed. Idempotent: a binary already built is kept (its
# version is in its name). Builds run one after the other: the machines have 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
K8S_VERSION="${K8S_VERSION:-1.37.2}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
EG_VERSION="${EG_VERSION:-v1.9.1}"
KSERVE_VERSION="${KSERVE_VERSION:-v0.20.0}"
SIM_BIN="${SIM_BIN:-$ROOT/bin/sim}"
mkdir -p "$SIM_BIN"

timed() { # $1: label, $2..: command; prints how long it took
  local label="$1" start; shift
  start=$(date +%s)
  "$@"
  echo ">> $label built in $(( $(date +%s) - start ))s"
}

# Control plane: kube-apiserver, etcd, kube-controller-manager, kube-scheduler.
ENVTEST_ASSETS_DIR="${ENVTEST_ASSETS_DIR:-$ROOT/bin/k8s/${K8S_VERSION}-linux-amd64}" K8S_VERSION="$K8S_VERSION" \
  "$ROOT/hack/build-control-plane.sh" kube-apiserver etcd kube-controller-manager kube-scheduler

go_install() { # $1: binary name in bin/sim, $2: package@version, $3: the command's name
  local dest="$SIM_BIN/$1"
  [ -x "$dest" ] && return 0
  echo ">> building $1 (once)"
  local gobin; gobin="$(mktemp -d)"
  (cd "$gobin" && timed "$1" env GOBIN="$gobin" CGO_ENABLED=0 go install -ldflags "-s -w" "$2")
  mv "$gobin/$3" "$dest"
  rm -rf "$gobin"
}

go_install "kwok-$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" kwok

# Envoy Gateway v1.9.1: the version whose CRDs the operator's tests use (v1.8.1's BackendTrafficPolicy
# CRD is refused by kube-apiserver 1.37 for rate-limit rules).
go_install "envoy-gateway-$EG_VERSION" "github.com/envoyproxy/gateway/cmd/envoy-gateway@$EG_VERSION" envoy-gateway

if [ ! -x "$SIM_BIN/kserve-manager-$KSERVE_VERSION" ]; then
  echo ">> building kserve-manager-$KSERVE_VERSION (once)"
  (cd "$ROOT/hack/tools/kserve" &&
    timed "kserve-manager-$KSERVE_VERSION" env CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w" \
      -o "$SIM_BIN/kserve-manager-$KSERVE_VERSION" github.com/kserve/kserve/cmd/manager)
fi

# KServe's LLMInferenceService controller: a separate binary (llmisvc-controller.Dockerfile upstream).
if [ ! -x "$SIM_BIN/kserve-llmisvc-$KSERVE_VERSION" ]; then
  echo ">> building kserve-llmisvc-$KSERVE_VERSION (once)"
  (cd "$ROOT/hack/tools/kserve" &&
    timed "kserve-llmisvc-$KSERVE_VERSION" env CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w" \
      -o "$SIM_BIN/kserve-llmisvc-$KSERVE_VERSION" github.com/kserve/kserve/cmd/llmisvc)
fi

# socat relays the API server and KServe's webhook between the host's loopback and the controllers'
# network namespaces.
if ! command -v socat >/dev/null 2>&1; then
  echo ">> installing socat (Debian package)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq socat >/dev/null
fi
for tool in unshare setpriv ip chroot mount; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 ||
    { echo "missing $tool (util-linux / iproute2 / coreutils)" >&2; exit 1; }
done
echo "$SIM_BIN"
