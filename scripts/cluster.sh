#!/usr/bin/env bash
# Runs a local three-member Cairn cluster in the foreground, as `make cluster`
# does: members m1, m2 and m3 on 127.0.0.1, each log line prefixed with its
# member's name. Ctrl-C stops them all.
#
#   client URLs  http://127.0.0.1:2379  :22379  :32379
#   peer URLs    http://127.0.0.1:2380  :22380  :32380
#   metrics URLs http://127.0.0.1:2381  :22381  :32381  (/metrics, /health, /readyz)
#
# Data lives in ${CLUSTER_DIR:-cluster.cairn}/m1..m3; delete it for a fresh
# cluster. Extra arguments are passed to every member (e.g. --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=bin/cairn-node
go build -o "$bin" ./cmd/node
dir=${CLUSTER_DIR:-cluster.cairn}
mkdir -p "$dir"

cluster="m1=http://127.0.0.1:2380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380"
pids=()
stop() {
  trap - INT TERM
  echo "stopping the cluster" >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait
}
trap stop INT TERM

start() {
  local name=$1 client=$2 peer=$3
  shift 3
  "$bin" --name "$name" --data-dir "$dir/$name" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$cluster" --initial-cluster-token cairn-local --initial-cluster-state new \
    --listen-metrics-urls "http://127.0.0.1:$((client + 2))" \
    "$@" > >(sed -u "s/^/$name | /") 2>&1 &
  # $! is the member itself (the prefixing runs in a process substitution),
  # so a TERM to this script reaches the members.
  pids+=($!)
}

start m1 2379 2380 "$@"
start m2 22379 22380 "$@"
start m3 32379 32380 "$@"
echo "cluster running: etcdctl --endpoints 127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 member list" >&2
wait
