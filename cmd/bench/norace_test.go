//go:build !race

package main

// raceBuildFlags: see race_test.go.
var raceBuildFlags []string
