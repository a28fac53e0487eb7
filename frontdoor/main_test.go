package frontdoor_test

import (
	"testing"

	"github.com/cairnkv/cairn/cairntest"
)

// TestMain removes the member binary that BenchmarkWatchFanout builds.
func TestMain(m *testing.M) { cairntest.Main(m) }
