//go:build race

package mvcc

// raceEnabled: the race detector is on. pebble then enables its invariant
// checks, which allocate, and everything runs several times slower.
const raceEnabled = true
