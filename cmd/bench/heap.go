package main

import (
	"bufio"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// The Go heap of a member is read from the runtime's GC trace
// (GODEBUG=gctrace=1, set for every member by startMember), which both
// systems print to stderr, into the member's log:
//
//	gc 7 @1.234s 2%: ... ms cpu, 12->13->6 MB, 14 MB goal, ...
//
// "12->13->6 MB" is the heap at the start and end of that GC and the live
// heap it marked, in MiB (the runtime shifts by 20). The live heap after
// each GC is what a leak makes grow. It needs no metrics or profiling
// endpoint, so it reads the same way from cmd/node and from etcd; its
// resolution is 1 MiB, and it is known only as often as the member
// collects (at least every two minutes, when the runtime forces a GC).

// HeapSample is the live Go heap one GC of one member process found.
type HeapSample struct {
	At     time.Duration // since the Env started
	Member string
	PID    int
	Live   uint64 // bytes marked live
	Goal   uint64 // the heap goal for the next GC, bytes
}

var gcTraceLine = regexp.MustCompile(`gc \d+ @([0-9.]+)s .*?(\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// parseGCTrace reads the GC trace lines of r. started is when the process
// started, relative to the Env's start: the trace counts from process
// start.
func parseGCTrace(r io.Reader, started time.Duration, member string, pid int) ([]HeapSample, error) {
	var out []HeapSample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20) // etcd logs long JSON lines
	for sc.Scan() {
		m := gcTraceLine.FindSubmatch(sc.Bytes())
		if m == nil {
			continue
		}
		secs, err1 := strconv.ParseFloat(string(m[1]), 64)
		live, err2 := strconv.ParseUint(string(m[4]), 10, 64)
		goal, err3 := strconv.ParseUint(string(m[5]), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out = append(out, HeapSample{
			At:     started + time.Duration(secs*float64(time.Second)),
			Member: member,
			PID:    pid,
			Live:   live << 20,
			Goal:   goal << 20,
		})
	}
	return out, sc.Err()
}

// heapSamples returns the GC trace of the member process so far. end is
// where the next run of the same member begins in the log, or -1.
func (m *Member) heapSamples(envStart time.Time, end int64) ([]HeapSample, error) {
	f, err := os.Open(m.logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(m.logStart, io.SeekStart); err != nil {
		return nil, err
	}
	r := io.Reader(f)
	if end >= 0 {
		r = io.LimitReader(f, end-m.logStart)
	}
	return parseGCTrace(r, m.Started.Sub(envStart), m.Spec.Name, m.PID())
}

// HeapSamples returns the GC trace of every member process started so
// far, in time order.
func (e *Env) HeapSamples() []HeapSample {
	var out []HeapSample
	for i, m := range e.members {
		end := int64(-1)
		for _, later := range e.members[i+1:] {
			if later.logPath == m.logPath {
				end = later.logStart
				break
			}
		}
		hs, err := m.heapSamples(e.rec.start, end)
		if err != nil {
			e.Logf("heap samples of %s: %v", m.Spec.Name, err)
			continue
		}
		out = append(out, hs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}
