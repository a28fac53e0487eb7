package metrics

import "github.com/prometheus/client_golang/prometheus"

// StorageWrites are the bytes one of pebble's databases has written since
// it opened, by what wrote them.
type StorageWrites struct {
	// DB names the database: "state" (the state machine) or "log" (the raft
	// log).
	DB string
	// WAL is what its write-ahead log wrote; Flushed what memtable flushes
	// wrote (tables and blob files); Compacted what compactions wrote;
	// Ingested the tables ingested whole (snapshot installs).
	WAL, Flushed, Compacted, Ingested uint64
}

// storageCollector exports cairn_storage_written_bytes_total: where the
// bytes a member writes to disk come from, which /proc's write_bytes
// cannot tell apart (a 1 MiB put, for one, is written to the log's WAL and
// then once more by the state machine's flush; anything above that is
// flushes of log entries not yet removed, or compactions).
type storageCollector struct {
	desc   *prometheus.Desc
	writes func() []StorageWrites
}

func newStorageCollector(writes func() []StorageWrites) storageCollector {
	return storageCollector{
		desc: prometheus.NewDesc("cairn_storage_written_bytes_total",
			"Bytes each pebble database wrote since the member started, by source: wal, flush, compaction, ingest.",
			[]string{"db", "source"}, nil),
		writes: writes,
	}
}

func (c storageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c storageCollector) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.writes() {
		for _, s := range []struct {
			source string
			bytes  uint64
		}{{"wal", w.WAL}, {"flush", w.Flushed}, {"compaction", w.Compacted}, {"ingest", w.Ingested}} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(s.bytes), w.DB, s.source)
		}
	}
}
