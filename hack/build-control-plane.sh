#!/usr/bin/env bash
# Builds the control-plane binaries the tests and the demo run on (kube-apiserver, etcd,
# kube-controller-manager; kube-scheduler too for the simulated cluster of hack/build-sim.sh) from the Go
# module proxy and caches them in setup-envtest's layout, bin/k8s/<version>-linux-amd64, so envtest
# finds them offline. Idempotent: a binary already built is kept. Upstream ships these binaries only as
# downloads this machine cannot reach; building them from the k8s.io/kubernetes module is the one way
# that works everywhere the Go proxy does.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${ENVTEST_ASSETS_DIR:-$ROOT/bin/k8s/${K8S_VERSION}-linux-amd64}"
WANT="${*:-kube-apiserver etcd}"
mkdir -p "$DEST"

staging_minor="0.${K8S_VERSION#1.}"   # 1.37.2 -> 0.37.2

build_kubernetes() { # $1: command name under k8s.io/kubernetes/cmd
  local cmd="$1"
  [ -x "$DEST/$cmd" ] && return 0
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  echo ">> building $cmd v$K8S_VERSION (a few minutes on 2 cores, once)"
  local gomod
  gomod="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  {
    echo "module buildk8s"
    echo "go 1.25"
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    # k8s.io/kubernetes replaces every staging module with ./staging/src/...: point each at its release.
    grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging/src/' "$gomod" |
      awk -v v="v$staging_minor" '{print "replace " $1 " => " $1 " " v}'
  } >"$work/go.mod"
  echo "package tools; import _ \"k8s.io/kubernetes/cmd/$cmd\"" >"$work/tools.go"
  (cd "$work" && go mod tidy >/dev/null 2>&1 || true
   cd "$work" && CGO_ENABLED=0 go build -o "$DEST/$cmd" \
     -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#1.}" \
     "k8s.io/kubernetes/cmd/$cmd")
}

build_etcd() {
  [ -x "$DEST/etcd" ] && return 0
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  echo ">> building etcd v$ETCD_VERSION (once)"
  printf 'module buildetcd\ngo 1.25\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >"$work/go.mod"
  echo 'package tools; import _ "go.etcd.io/etcd/server/v3"' >"$work/tools.go"
  (cd "$work" && go mod tidy >/dev/null 2>&1 || true
   cd "$work" && CGO_ENABLED=0 go build -o "$DEST/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3)
}

for b in $WANT; do
  [ -x "$DEST/$b" ] && continue
  start=$(date +%s)
  case "$b" in
    etcd) build_etcd ;;
    kube-apiserver|kube-controller-manager|kube-scheduler) build_kubernetes "$b" ;;
    *) echo "unknown binary $b" >&2; exit 2 ;;
  esac
  echo ">> $b built in $(( $(date +%s) - start ))s"
done
echo "$DEST"
