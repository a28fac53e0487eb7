//go:build tools

// Package tools pins the binaries Cairn's tests and benchmarks build from the
// Go module proxy: the real etcd server and etcdctl to compare against, and
// protoc-gen-go for `make proto`. It is its own module so none of this reaches
// the main go.mod.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
