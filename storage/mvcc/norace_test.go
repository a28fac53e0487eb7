//go:build !race

package mvcc

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
