#!/usr/bin/env bash
# make e2e: the operator on the simulated GPU cluster (test/sim: real control plane, kwok fake GPU nodes,
# the real Envoy Gateway, KServe and Envoy AI Gateway controllers), the samples applied, every check read
# from the real controllers' statuses (test/e2e). Without the Envoy AI Gateway source (AIGW_SRC, by default
# ../shared/src/envoy-ai-gateway-v1.1.0) the checks that need its controller are skipped, saying so. Whatever happens (failure, timeout, Ctrl-C) the cluster is stopped
# and the run fails if any of its processes is left. Runs are serialized by a lock: two runs in the same
# checkout would share bin/e2e.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${E2E_STATE:-$ROOT/bin/e2e}"
TIMEOUT="${E2E_TIMEOUT:-30m}"
mkdir -p "$ROOT/bin"

if [ -z "${E2E_LOCKED:-}" ]; then
  exec env E2E_LOCKED=1 flock "$ROOT/bin/.e2e.lock" "$0" "$@"
fi

cd "$ROOT"
start=$(date +%s)
go build -o bin/simcluster ./test/cmd/simcluster || exit 1
go build -o bin/e2e-manager . || exit 1
# hack/helmchart (Helm's Go SDK, a module of its own) installs dist/chart on the cluster.
(cd hack/helmchart && go build -o ../../bin/e2e-helmchart .) || exit 1
echo ">> operator, launcher and Helm installer built in $(( $(date +%s) - start ))s"

cleanup() {
  bin/simcluster down --state "$STATE" >/dev/null 2>&1
  if ! bin/simcluster check --state "$STATE"; then
    echo "!! processes of the simulated cluster were left running" >&2
    return 1
  fi
}
trap 'cleanup; exit 130' INT TERM

E2E_STATE="$STATE" E2E_MANAGER="$ROOT/bin/e2e-manager" E2E_HELMCHART="$ROOT/bin/e2e-helmchart" \
  go test -tags e2e -count=1 -timeout "$TIMEOUT" -v ./test/e2e/
rc=$?
cleanup || rc=1
echo ">> make e2e: exit $rc after $(( $(date +%s) - start ))s (logs of every component: $STATE/logs)"
exit $rc
