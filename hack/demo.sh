#!/usr/bin/env bash
# The demo. By default (DEMO_CLUSTER=sim) on the simulated GPU cluster of test/sim: a real control plane,
# kube-scheduler, kwok fake GPU nodes (test/sim/nodepools.yaml), the real Envoy Gateway and KServe
# controllers, and the real Envoy AI Gateway controller when its source is there (AIGW_SRC, by default
# ../shared/src/envoy-ai-gateway-v1.1.0; make sim-build builds it); the operator runs against it, the
# samples are applied, and the platform's status and its children's states (as the real controllers
# report them) are printed. DEMO_CLUSTER=envtest runs it on a bare control plane (kube-apiserver + etcd +
# kube-controller-manager with the CRDs, no controller).
# It stays up so you can play with it (KUBECONFIG=bin/demo/kubeconfig); `make demo-down` stops it all.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="$ROOT/bin/demo"
CLUSTER_STATE="$STATE/cluster"
export KUBECONFIG="$STATE/kubeconfig"
MODE="${DEMO_CLUSTER:-sim}"

down() {
  # The operator, then the cluster (every process marked with its state directory: none is left).
  for p in operator cluster; do
    if [ -f "$STATE/$p.pid" ]; then
      pid="$(cat "$STATE/$p.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$STATE/$p.pid"
    fi
  done
  if [ -x "$STATE/simcluster" ]; then
    "$STATE/simcluster" down --state "$CLUSTER_STATE" >/dev/null
    "$STATE/simcluster" check --state "$CLUSTER_STATE"
  fi
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
  echo ">> building the operator and the cluster launcher"
  go build -o "$STATE/manager" "$ROOT"
  local started; started=$(date +%s)
  if [ "$MODE" = envtest ]; then
    go build -o "$STATE/localcluster" "$ROOT/test/cmd/localcluster"
    echo ">> starting kube-apiserver + etcd + kube-controller-manager with the upstream CRDs (log: $STATE/cluster.log)"
    (cd "$ROOT" && exec "$STATE/localcluster" --write-kubeconfig "$KUBECONFIG") >"$STATE/cluster.log" 2>&1 &
    echo $! >"$STATE/cluster.pid"
    wait_for 180 test -s "$KUBECONFIG"
  else
    go build -o "$STATE/simcluster" "$ROOT/test/cmd/simcluster"
    echo ">> starting the simulated cluster: control plane, kube-scheduler, kwok GPU nodes, Envoy AI Gateway (when its source is there), Envoy Gateway, KServe (log: $STATE/cluster.log)"
    (cd "$ROOT" && exec setsid "$STATE/simcluster" up --state "$CLUSTER_STATE") >"$STATE/cluster.log" 2>&1 &
    echo $! >"$STATE/cluster.pid"
    if ! wait_for 600 test -s "$CLUSTER_STATE/ready"; then
      tail -20 "$STATE/cluster.log" >&2; exit 1
    fi
    cp "$CLUSTER_STATE/kubeconfig" "$KUBECONFIG"
    if [ -f "$CLUSTER_STATE/aigateway-absent" ]; then
      echo "!! $(cat "$CLUSTER_STATE/aigateway-absent")"
    fi
  fi
  wait_for 60 kubectl get --raw /readyz
  echo ">> cluster up in $(( $(date +%s) - started ))s; starting the operator (log: $STATE/operator.log)"
  # Marked as part of the cluster, so that demo-down's sweep ends it whatever happens.
  GENAI_SIM_STATE="$CLUSTER_STATE" "$STATE/manager" --metrics-bind-address=0 \
    --health-probe-bind-address=127.0.0.1:18081 >"$STATE/operator.log" 2>&1 &
  echo $! >"$STATE/operator.pid"
  wait_for 60 curl -sf http://127.0.0.1:18081/readyz
  echo ">> applying config/samples (server-side)"
  kubectl apply --server-side -f "$ROOT/config/samples/model-namespace.yaml" -f "$ROOT/config/samples/secrets.yaml" -f "$ROOT/config/samples/secrets-selfhosted.yaml"
  kubectl apply --server-side -f "$ROOT/config/samples/platform_v1alpha1_genaiplatform.yaml" \
    -f "$ROOT/config/samples/platform_v1alpha1_genaiplatform_selfhosted.yaml" \
    -f "$ROOT/config/samples/platform_v1alpha1_genaimodel.yaml"
  wait_for 60 bash -c "kubectl get genaiplatform -A -o jsonpath='{.items[*].status.observedGeneration}' | grep -q '[0-9] [0-9]'"
  if [ "$MODE" != envtest ]; then
    echo ">> waiting for Envoy Gateway and KServe (Gateways Programmed, InferenceServices Ready)"
    wait_for 180 bash -c "[ \"\$(kubectl get gateway -A -l app.kubernetes.io/managed-by=genai-platform-operator -o jsonpath='{range .items[*]}{.status.conditions[?(@.type==\"Programmed\")].status}{\" \"}{end}')\" = 'True True True ' ]" || true
    wait_for 180 bash -c "! kubectl get inferenceservice -n genai-models --no-headers | grep -qv ' True '" || true
    if [ ! -f "$CLUSTER_STATE/aigateway-absent" ]; then
      echo ">> waiting for Envoy AI Gateway and the platforms (every GenAIPlatform Ready)"
      wait_for 180 bash -c "[ \"\$(kubectl get genaiplatform -A -o jsonpath='{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\" \"}{end}')\" = 'True True ' ]" || true
    fi
  fi
  show
  if [ "$MODE" = envtest ]; then
    cat <<MSG

No Envoy Gateway, KServe or Envoy AI Gateway controller runs on this bare control plane: the children
exist and were validated by the API server, and the platform says exactly what it waits for.
MSG
  elif [ -f "$CLUSTER_STATE/aigateway-absent" ]; then
    cat <<MSG

Envoy Gateway accepted and programmed the Gateways, KServe made the InferenceServices Ready and the
scheduler put their (kwok) pods on the GPU pools. The Envoy AI Gateway controller does not run: its
source is absent, so AIGatewayRoute/AIServiceBackend/BackendSecurityPolicy have no status and the
platforms stay Ready=False, saying that they wait for it (see README, "The demo with and without the
AI Gateway controller"). To run it:
  git clone --branch v1.1.0 https://github.com/envoyproxy/ai-gateway /path/to/ai-gateway
  export AIGW_SRC=/path/to/ai-gateway; make demo
MSG
  else
    cat <<MSG

Envoy AI Gateway accepted the AIGatewayRoutes, AIServiceBackends and BackendSecurityPolicies and generated
the Tier One HTTPRoutes; Envoy Gateway accepted those, their Backends and policies, and programmed the
Gateways; KServe made the InferenceServices Ready and the scheduler put their (kwok) pods on the GPU
pools. Every platform's status above is read from those controllers' statuses.
MSG
    # The cluster restarts the Envoy AI Gateway controller when it crashes, as the kubelet would: say so.
    if grep -q "exited (" "$STATE/cluster.log"; then
      echo
      echo "!! Restarted after crashing (as the kubelet would restart it; see README):"
      grep "exited (" "$STATE/cluster.log" | sed 's/^!! /   /'
    fi
  fi
  echo "Play with it:   export KUBECONFIG=$KUBECONFIG"
  echo "                kubectl get genaiplatform -A ; kubectl describe genaiplatform -n ai-platform gpu"
  [ "$MODE" = envtest ] || echo "                kubectl get pods -n genai-models -o wide ; kubectl get nodes -L gpu"
  echo "Stop it:        make demo-down"
}

# state KIND... prints each kind's objects of the platform with the conditions their controllers set.
show() {
  echo; echo "== kubectl get genaiplatform -A"
  kubectl get genaiplatform -A -o wide
  for p in acme gpu; do
    echo; echo "== $p: conditions"
    kubectl get genaiplatform -n ai-platform $p -o jsonpath='{range .status.conditions[*]}{.type}{"="}{.status}{"  "}{.reason}{": "}{.message}{"\n"}{end}'
    echo; echo "== $p: models"
    kubectl get genaiplatform -n ai-platform $p -o jsonpath='{range .status.models[*]}{.name}{"  ready="}{.ready}{"  "}{.reason}{": "}{.message}{"\n"}{end}'
    echo; echo "== $p: children and what their controllers say (label platform.genai.dev/platform=$p)"
    kubectl get gatewayclass,gateway,backend,aiservicebackend,backendsecuritypolicy,aigatewayroute -A -l platform.genai.dev/platform=$p \
      -o custom-columns='KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,ACCEPTED:.status.conditions[?(@.type=="Accepted")].status,PROGRAMMED:.status.conditions[?(@.type=="Programmed")].status' 2>/dev/null
    kubectl get clienttrafficpolicy,securitypolicy,backendtrafficpolicy,backendtlspolicy -A -l platform.genai.dev/platform=$p \
      -o custom-columns='KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,ACCEPTED:.status.ancestors[*].conditions[?(@.type=="Accepted")].status' 2>/dev/null
    kubectl get httproute -A -l platform.genai.dev/platform=$p \
      -o custom-columns='KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,ACCEPTED:.status.parents[*].conditions[?(@.type=="Accepted")].status,RESOLVEDREFS:.status.parents[*].conditions[?(@.type=="ResolvedRefs")].status' 2>/dev/null
    kubectl get inferenceservice -A -l platform.genai.dev/platform=$p 2>/dev/null || true
  done
  if [ "$MODE" != envtest ]; then
    echo; echo "== model pods (kwok) and their GPU nodes"
    kubectl get pods -n genai-models -o wide 2>/dev/null
    kubectl get nodes -L gpu,sim.genai.dev/pool 2>/dev/null
  fi
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  show) show ;;
  *) echo "usage: $0 up|down|show" >&2; exit 2 ;;
esac
