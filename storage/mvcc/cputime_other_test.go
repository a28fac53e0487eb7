//go:build !unix

package mvcc_test

import (
	"testing"
	"time"
)

// cpuTime is -1: the process's CPU time is not measured here.
func cpuTime(*testing.B) time.Duration { return -1 }
