//go:build !cgo || !linux

package main

// tuneMalloc does nothing without cgo (pebble then allocates on the Go heap)
// or off Linux (see malloc_cgo.go).
func tuneMalloc() bool { return false }
