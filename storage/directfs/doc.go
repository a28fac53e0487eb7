// Package directfs writes pebble's blob files with direct I/O (O_DIRECT),
// past the operating system's page cache, as RocksDB's
// use_direct_io_for_flush_and_compaction does for its own outputs.
//
// Why: with 1 MiB values almost every byte a member writes lands in a blob
// file, in a new file each flush. Copying it into the page cache cost more
// CPU than anything else in the member: measured with `perf record -a -g`
// on cmd/bench's speed-put-1mb (3 members on 2 cores), the kernel's
// copy_folio_from_iter_atomic under blob file writes took 22% of the
// members' CPU, against 1.5% for the same bytes in the raft log's
// write-ahead log, whose recycled files reuse their cached pages. A new
// file needs new page-cache pages, and on a virtual machine whose freed
// memory goes back to the host, each of them faults in again. A direct
// write copies nothing in the kernel: the device reads the buffer.
//
// FS wraps the operating system's filesystem and changes only Create of
// files named *.blob; everything else, reads of blob files included, goes
// through the page cache as before. A blob file is written once, front to
// back, then synced and closed (pebble's sstable/blob.FileWriter through
// objstorage), which is all a direct file supports: Write, Sync, SyncData,
// SyncTo, Stat and Close. Writes collect in an aligned buffer and go out a
// whole buffer at a time; Sync writes the partial tail block padded to the
// alignment, truncates the file back to its length, and then syncs. Where
// the filesystem refuses O_DIRECT (tmpfs, some FUSE mounts), or every
// buffer is taken, the file is written through the page cache instead, as
// pebble would.
//
// Memory: at most MaxBuffers buffers of BufferBytes each, aligned, reused
// across files (BufferedBytes). FS.Buffers says how many files hold one
// now, from any goroutine (the member's status page).
package directfs
