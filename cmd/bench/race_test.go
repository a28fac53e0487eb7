//go:build race

package main

// raceBuildFlags build the member the test runs with the race detector, as
// the test binary is: its dependencies are then already in the build cache
// (a plain build would compile pebble, gRPC and the rest again), and a race
// in Cairn fails the test (the member exits with status 66).
var raceBuildFlags = []string{"-race"}
