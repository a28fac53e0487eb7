//go:build cgo && linux

package main

/*
#include <malloc.h>
#ifndef M_MMAP_THRESHOLD
#define M_MMAP_THRESHOLD -3
#endif
*/
import "C"

import "os"

// mallocMmapThreshold is the size from which glibc's malloc maps each
// allocation on its own (and unmaps it when freed): glibc's initial value.
//
// With cgo, pebble allocates its memtables (up to --pebble-memtable-bytes
// each) and block cache with C malloc. glibc raises its mmap threshold to
// the size of the largest mapped chunk freed (up to 32 MiB), after which
// each 16 MiB memtable comes from one of up to 8 arenas per core and, once
// freed, stays resident in that arena: measured on put-1mb (cmd/bench),
// 150 to 200 MiB of RSS beyond pebble's 32 MiB of live memtables. Setting
// the threshold turns that adjustment off: memtables and large blocks are
// mapped and unmapped, and RSS follows what pebble holds.
const mallocMmapThreshold = 128 << 10

// tuneMalloc sets malloc's mmap threshold, unless the environment sets
// malloc's options (MALLOC_MMAP_THRESHOLD_, GLIBC_TUNABLES). It reports
// whether it did.
func tuneMalloc() bool {
	if os.Getenv("MALLOC_MMAP_THRESHOLD_") != "" || os.Getenv("GLIBC_TUNABLES") != "" {
		return false
	}
	return C.mallopt(C.M_MMAP_THRESHOLD, C.int(mallocMmapThreshold)) == 1
}
