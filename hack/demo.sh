#!/usr/bin/env bash
# The demo: a local control plane (kube-apiserver + etcd + kube-controller-manager, with the real
# upstream CRDs), the operator running against it, the samples applied, and the platform's status and
# children printed. It stays up so you can play with it; `make demo-down` (hack/demo.sh down) stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="$ROOT/bin/demo"
export KUBECONFIG="$STATE/kubeconfig"

down() {
  for p in operator cluster; do
    if [ -f "$STATE/$p.pid" ]; then
      kill "$(cat "$STATE/$p.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$(cat "$STATE/$p.pid")" 2>/dev/null || break; sleep 0.2; done
      rm -f "$STATE/$p.pid"
    fi
  done
  echo "demo stopped"
}

wait_for() { # $1 seconds, $2.. command
  local t=$1; shift
  for _ in $(seq 1 $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "timed out waiting for: $*" >&2; return 1
}

up() {
  down >/dev/null 2>&1 || true
  mkdir -p "$STATE"
  rm -f "$KUBECONFIG"
  echo ">> building the operator and the local control plane launcher"
  go build -o "$STATE/manager" "$ROOT"
  go build -o "$STATE/localcluster" "$ROOT/test/cmd/localcluster"
  echo ">> starting kube-apiserver + etcd + kube-controller-manager with the upstream CRDs (log: $STATE/cluster.log)"
  (cd "$ROOT" && exec "$STATE/localcluster" --write-kubeconfig "$KUBECONFIG") >"$STATE/cluster.log" 2>&1 &
  echo $! >"$STATE/cluster.pid"
  wait_for 120 test -s "$KUBECONFIG"
  wait_for 60 kubectl get --raw /readyz
  echo ">> starting the operator (log: $STATE/operator.log)"
  "$STATE/manager" --metrics-bind-address=127.0.0.1:18080 --health-probe-bind-address=127.0.0.1:18081 >"$STATE/operator.log" 2>&1 &
  echo $! >"$STATE/operator.pid"
  wait_for 60 curl -sf http://127.0.0.1:18081/readyz
  echo ">> applying config/samples (server-side)"
  kubectl apply --server-side -f "$ROOT/config/samples/secrets.yaml" -f "$ROOT/config/samples/secrets-selfhosted.yaml"
  kubectl apply --server-side -f "$ROOT/config/samples/platform_v1alpha1_genaiplatform.yaml" \
    -f "$ROOT/config/samples/platform_v1alpha1_genaiplatform_selfhosted.yaml"
  wait_for 60 bash -c "kubectl get genaiplatform -A -o jsonpath='{.items[*].status.observedGeneration}' | grep -q '[0-9] [0-9]'"
  show
  cat <<MSG

The platform's children exist and were validated by the API server. No Envoy Gateway or Envoy AI
Gateway controller runs here, so Ready stays False and says exactly what it waits for.
Play with it:   export KUBECONFIG=$KUBECONFIG
                kubectl get genaiplatform -A ; kubectl describe genaiplatform -n ai-platform acme
Stop it:        make demo-down
MSG
}

show() {
  echo; echo "== kubectl get genaiplatform -A"
  kubectl get genaiplatform -A -o wide
  for p in acme gpu; do
    echo; echo "== $p: conditions"
    kubectl get genaiplatform -n ai-platform $p -o jsonpath='{range .status.conditions[*]}{.type}{"="}{.status}{"  "}{.reason}{": "}{.message}{"\n"}{end}'
    echo; echo "== $p: models"
    kubectl get genaiplatform -n ai-platform $p -o jsonpath='{range .status.models[*]}{.name}{"  ready="}{.ready}{"  "}{.reason}{": "}{.message}{"\n"}{end}'
    echo; echo "== $p: children (label platform.genai.dev/platform=$p)"
    kubectl get gatewayclass,gateway,envoyproxy,clienttrafficpolicy,securitypolicy,httproute,backend,backendtlspolicy,aiservicebackend,backendsecuritypolicy,aigatewayroute,inferenceservice,secret,namespace \
      -A -l platform.genai.dev/platform=$p 2>/dev/null
  done
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  show) show ;;
  *) echo "usage: $0 up|down|show" >&2; exit 2 ;;
esac
