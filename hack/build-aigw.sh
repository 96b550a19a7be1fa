#!/usr/bin/env bash
# Builds (once) the Envoy AI Gateway v1.1.0 controller and external processor from its source, into the
# git-ignored bin/aigw/:
#   bin/aigw/controller-v1.1.0   the controller + Envoy Gateway extension server (cmd/controller)
#   bin/aigw/extproc-v1.1.0      the external processor Envoy calls per request (cmd/extproc)
#
# The source is an input, as a user would get it with
#   git clone --branch v1.1.0 https://github.com/envoyproxy/ai-gateway
# Its location comes from AIGW_SRC, by default ../shared/src/envoy-ai-gateway-v1.1.0 next to the checkout.
# The module is not served by the Go module proxy, but its dependencies are. The source folder may be
# read-only, so the build runs from a temporary copy that is removed afterwards; nothing is copied into
# the project.
#
# Exit status 0 and no output but the bin directory when both binaries exist. When the source is absent it
# says how to get it and exits 0 with nothing built (callers check for the binaries and skip, saying so).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
AIGW_VERSION="${AIGW_VERSION:-v1.1.0}"
AIGW_SRC="${AIGW_SRC:-$ROOT/../shared/src/envoy-ai-gateway-$AIGW_VERSION}"
AIGW_BIN="${AIGW_BIN:-$ROOT/bin/aigw}"
mkdir -p "$AIGW_BIN"

want=()
for cmd in controller extproc; do
  [ -x "$AIGW_BIN/$cmd-$AIGW_VERSION" ] || want+=("$cmd")
done
if [ "${#want[@]}" = 0 ]; then
  echo "$AIGW_BIN"
  exit 0
fi

if [ ! -f "$AIGW_SRC/go.mod" ]; then
  cat >&2 <<EOF
>> Envoy AI Gateway source not found at $AIGW_SRC: the AI Gateway controller and external processor are not
   built, and the tests that need them skip. To get it:
     git clone --branch $AIGW_VERSION https://github.com/envoyproxy/ai-gateway /path/to/ai-gateway
     export AIGW_SRC=/path/to/ai-gateway
EOF
  exit 0
fi

work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$AIGW_SRC/." "$work/"
chmod -R u+w "$work"
for cmd in "${want[@]}"; do
  echo ">> building Envoy AI Gateway $cmd $AIGW_VERSION (once; several minutes on 2 cores)"
  start=$(date +%s)
  # The version the controller writes into the filter configuration must equal the external processor's
  # own: both are built the same way, so both say the same.
  (cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w" -o "$AIGW_BIN/$cmd-$AIGW_VERSION.tmp" "./cmd/$cmd")
  mv "$AIGW_BIN/$cmd-$AIGW_VERSION.tmp" "$AIGW_BIN/$cmd-$AIGW_VERSION"
  echo ">> $cmd built in $(( $(date +%s) - start ))s"
done
echo "$AIGW_BIN"
