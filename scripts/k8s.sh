#!/usr/bin/env bash
# A real Kubernetes control plane for the k8s test tier (docs/kubernetes-testing.md), built from
# the Go module proxy only: etcd, kube-apiserver, kube-controller-manager, kube-scheduler.
# No kubelet and no kwok: the project's node agent (src/testing/node-agent/) runs the pods.
#
#   scripts/k8s.sh build   build the binaries once per machine into $K8S_ROOT/bin (cold: ~8-25 min)
#   scripts/k8s.sh start   start a control plane and the node agent by hand (free ports, $K8S_ROOT/run)
#   scripts/k8s.sh stop    stop what `start` started (and leftovers of that run dir)
#   scripts/k8s.sh env     print `export` lines: K8S_BIN_DIR, and KUBECONFIG when started
#
# Env: K8S_ROOT (default /var/cache/claude-code-runner/k8s, outside the repo so CI finds it warm),
#      K8S_VERSION (1.37.2), ETCD_VERSION (v3.7.0).
# The tests (npm run test:k8s) start their own control plane per run from $K8S_ROOT/bin with free
# ports and a fresh data dir (test/k8s/harness.ts); `start` here is for trying things by hand.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.0}
ROOT=${K8S_ROOT:-/var/cache/claude-code-runner/k8s}
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
RUN=$ROOT/run
SRC=$ROOT/src-$K8S_VERSION
STAMP=$BIN/.stamp-$K8S_VERSION-$ETCD_VERSION
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler)
# One fixed Go cache: the second build on a machine takes seconds.
export GOPATH=$ROOT/gopath GOMODCACHE=$ROOT/gopath/pkg/mod GOCACHE=$ROOT/gocache
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
log() { echo "[k8s.sh $(date +%T)] $*" >&2; }

built() {
  [[ -f $STAMP ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x $BIN/$b ]] || return 1; done
}

build() {
  if built; then
    log "binaries for Kubernetes $K8S_VERSION / etcd $ETCD_VERSION already in $BIN"
    return
  fi
  # The Go tarball's usual place, when it is not on PATH (a CI shell).
  command -v go >/dev/null || [[ ! -x /usr/local/go/bin/go ]] || PATH=/usr/local/go/bin:$PATH
  command -v go >/dev/null || {
    log "go is not installed: install Go >= the version in k8s.io/kubernetes' go.mod (1.25 for 1.37)"
    exit 1
  }
  local t0=$SECONDS minor=${K8S_VERSION#*.}
  minor=${minor%%.*}
  mkdir -p "$SRC" "$BIN"
  cd "$SRC"
  go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
  local kmod=$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod
  {
    echo "module local/k8sbuild"
    echo
    echo "go $(awk '$1=="go"{print $2; exit}' "$kmod")"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes v$K8S_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo ")"
    echo
    # k8s.io/kubernetes replaces its staging modules with ./staging/...: point each at its
    # published v0.Y.Z tag instead.
    echo "replace ("
    grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$kmod" |
      awk -v v="v0.${K8S_VERSION#*.}" '{print "\t"$1" => "$1" "v}'
    echo ")"
  } >go.mod
  cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
EOF
  go mod tidy
  log "modules downloaded ($((SECONDS - t0))s); compiling (cold: ~8-25 min on 2 cores)"
  local V=k8s.io/component-base/version
  local ldf="-s -w -X $V.gitVersion=v$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$minor"
  ldf+=" -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
  log "etcd built ($((SECONDS - t0))s)"
  go build -trimpath -ldflags "$ldf" -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  touch "$STAMP"
  log "build done in $((SECONDS - t0))s"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

pki() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=claude-code-runner-test-ca" 2>/dev/null
    printf '[req]\ndistinguished_name=dn\n[dn]\n[srv]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n[cli]\nextendedKeyUsage=clientAuth\n' >ext.cnf
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
      -days 3650 -extfile ext.cnf -extensions srv 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/CN=admin/O=system:masters" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt \
      -days 3650 -extfile ext.cnf -extensions cli 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    echo "$(openssl rand -hex 16),admin,admin,system:masters" >tokens.csv
  )
}

spawn() { # name, args...
  local name=$1
  shift
  setsid nohup "$@" >"$RUN/logs/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

alive() { kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_http() { # url, seconds, pidname
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    curl -skf --cert "$RUN/pki/admin.crt" --key "$RUN/pki/admin.key" "$1" >/dev/null 2>&1 && return 0
    alive "$3" || {
      log "$3 died:"
      tail -20 "$RUN/logs/$3.log" >&2
      return 1
    }
    sleep 0.25
  done
  log "timeout waiting for $1"
  return 1
}

start() {
  built || build
  stop
  local t0=$SECONDS
  rm -rf "$RUN"
  mkdir -p "$RUN/logs"
  pki "$RUN/pki"
  local etcd_port etcd_peer api_port kcm_port sched_port
  etcd_port=$(free_port) etcd_peer=$(free_port) api_port=$(free_port)
  kcm_port=$(free_port) sched_port=$(free_port)
  spawn etcd "$BIN/etcd" --data-dir="$RUN/etcd-data" --unsafe-no-fsync \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="default=http://127.0.0.1:$etcd_peer" --listen-metrics-urls=""
  wait_http "http://127.0.0.1:$etcd_port/health" 30 etcd
  spawn kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --secure-port="$api_port" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$RUN/pki/apiserver.crt" --tls-private-key-file="$RUN/pki/apiserver.key" \
    --client-ca-file="$RUN/pki/ca.crt" --token-auth-file="$RUN/pki/tokens.csv" \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$RUN/pki/sa.pub" \
    --service-account-signing-key-file="$RUN/pki/sa.key" --service-cluster-ip-range=10.96.0.0/16 \
    --authorization-mode=Node,RBAC
  wait_http "https://127.0.0.1:$api_port/readyz" 120 kube-apiserver
  local kc=$RUN/admin.kubeconfig
  cat >"$kc" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority-data: $(base64 -w0 "$RUN/pki/ca.crt")}
users:
- name: admin
  user: {client-certificate-data: $(base64 -w0 "$RUN/pki/admin.crt"), client-key-data: $(base64 -w0 "$RUN/pki/admin.key")}
contexts:
- {name: local, context: {cluster: local, user: admin}}
current-context: local
EOF
  spawn kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$kc" \
    --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" --leader-elect=false \
    --service-account-private-key-file="$RUN/pki/sa.key" --root-ca-file="$RUN/pki/ca.crt" \
    --use-service-account-credentials=true
  spawn kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$kc" \
    --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port="$sched_port" --leader-elect=false
  sleep 1
  local n
  for n in "${BINARIES[@]}"; do
    alive "$n" || {
      log "$n died:"
      tail -20 "$RUN/logs/$n.log" >&2
      return 1
    }
  done
  log "control plane up in $((SECONDS - t0))s on https://127.0.0.1:$api_port"
  local agent=$REPO/dist/src/testing/k8s/node-agent-main.js
  if [[ -f $agent ]]; then
    spawn node-agent node "$agent" --kubeconfig="$kc" --data-dir="$RUN/node-agent"
    log "node agent started (log: $RUN/logs/node-agent.log)"
  else
    log "no node runs pods: \`npm run build\`, then start again for the node agent"
  fi
  env_lines
}

stop() {
  local n p
  for n in node-agent kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [[ -f $RUN/$n.pid ]] || continue
    p=$(cat "$RUN/$n.pid")
    # setsid made each process a group leader: signal the group.
    if kill -- "-$p" 2>/dev/null; then
      for _ in $(seq 1 40); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.25
      done
      kill -9 -- "-$p" 2>/dev/null || true
    fi
    rm -f "$RUN/$n.pid"
  done
}

env_lines() {
  echo "export K8S_BIN_DIR=$BIN"
  [[ -f $RUN/admin.kubeconfig && -f $RUN/kube-apiserver.pid ]] &&
    alive kube-apiserver && echo "export KUBECONFIG=$RUN/admin.kubeconfig"
  return 0
}

case ${1:-} in
  build) build ;;
  start) start ;;
  stop) stop ;;
  env) env_lines ;;
  *)
    echo "usage: $0 build|start|stop|env" >&2
    exit 2
    ;;
esac
