package main

import (
	"testing"

	"github.com/cairnkv/cairn/cairntest"
)

// TestMain removes the member binary the tests build (cairntest.NodeBinary).
func TestMain(m *testing.M) { cairntest.Main(m) }
