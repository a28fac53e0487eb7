#!/usr/bin/env bash
# Regenerates the Go code of every .proto file under proto/cairnpb.
#
# Cairn's messages import etcd's and raft's own .proto files from the Go module
# cache, at the paths their generated Go code registers ("rpc.proto",
# "raft.proto", ...), so that the generated descriptors resolve against the
# packages Cairn links. protoc comes from Debian's protobuf-compiler;
# protoc-gen-go is pinned in tools/go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
(cd tools && go build -o bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go)

api=$(go list -m -f '{{.Dir}}' go.etcd.io/etcd/api/v3)
raft=$(go list -m -f '{{.Dir}}' go.etcd.io/raft/v3)
gw=$(go list -m -f '{{.Dir}}' github.com/grpc-ecosystem/grpc-gateway/v2)
[ -n "$api" ] && [ -n "$raft" ] && [ -n "$gw" ] || { echo "go mod download first" >&2; exit 1; }

inc=$(mktemp -d)
trap 'rm -rf "$inc"' EXIT
mkdir -p "$inc/etcd"
ln -s "$api" "$inc/etcd/api"

protoc \
  --plugin=protoc-gen-go="$root/tools/bin/protoc-gen-go" \
  -I proto \
  -I "$api/etcdserverpb" \
  -I "$raft/raftpb" \
  -I "$inc" \
  -I "$gw" \
  -I proto/third_party \
  -I /usr/include \
  --go_out=proto --go_opt=paths=source_relative \
  proto/cairnpb/*.proto
