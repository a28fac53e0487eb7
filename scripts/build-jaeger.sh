#!/usr/bin/env bash
# Builds Jaeger v2 into tools/bin/jaeger, as `make jaeger` does.
#
# Jaeger's go.mod has a replace directive, so `go install module@version`
# refuses it: this downloads the module through the Go module proxy, copies
# it to a writable folder and builds ./cmd/jaeger there (about 5 minutes
# and 120 MB on 2 cores). scripts/jaeger-local.yaml runs it on 127.0.0.1
# with in-memory storage.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
version=${JAEGER_VERSION:-v1.76.0}
out=${1:-$root/tools/bin/jaeger}

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# Outside any module, so that Cairn's go.mod is neither read nor changed.
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "build-jaeger: download of jaeger $version failed" >&2; exit 1; }
cp -r "$dir" "$work/jaeger"
chmod -R u+w "$work/jaeger"
mkdir -p "$(dirname "$out")"
echo "building jaeger $version into $out" >&2
(cd "$work/jaeger" && go build -trimpath -o "$out" ./cmd/jaeger)
