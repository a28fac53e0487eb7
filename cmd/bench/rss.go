package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sampleInterval is how often every live member's memory is read.
const sampleInterval = 100 * time.Millisecond

// Sample is one reading of one member process's memory.
type Sample struct {
	At     time.Duration // since the Env started
	Member string
	PID    int
	Phase  string // the workload's phase when read, see Env.Phase
	Memory
}

// Memory is a process's resident set, in bytes.
type Memory struct {
	RSS uint64 // VmRSS: resident now
	HWM uint64 // VmHWM: peak of RSS so far
	// Anon is RssAnon, the part of RSS that is the process's own memory
	// (heap, stacks, pebble's off-heap cache). The rest is mostly file
	// pages: bbolt's mmap of etcd's database, which the kernel can reclaim.
	Anon uint64
}

// readMemory reads VmRSS, VmHWM and RssAnon from /proc/PID/status. It fails
// for a process that has exited (a zombie has no Vm lines).
func readMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	fields := map[string]*uint64{"VmRSS": &m.RSS, "VmHWM": &m.HWM, "RssAnon": &m.Anon}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		field := fields[name]
		if !ok || field == nil {
			continue
		}
		// The kernel prints "VmRSS:\t  123456 kB".
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		*field = kb << 10
		found++
	}
	if found != len(fields) {
		return Memory{}, fmt.Errorf("/proc/%d/status: no VmRSS, VmHWM or RssAnon (process exited?)", pid)
	}
	return m, nil
}

// recorder samples the memory of every tracked process every
// sampleInterval, from start to stop, and keeps every sample.
type recorder struct {
	start time.Time
	stop  chan struct{}
	done  chan struct{}

	// cap, if not 0, is the RSS beyond which a member ends the loads
	// (LoadShape.RSSCap): capped is closed when one passes it.
	cap       uint64
	capped    chan struct{}
	cappedBy  string
	cappedRSS uint64

	mu      sync.Mutex
	phase   string
	marks   []PhaseMark
	pids    map[int]string // pid -> member name
	samples []Sample
}

// PhaseMark is when a phase began, since the Env started.
type PhaseMark struct {
	Name string
	At   time.Duration
}

func newRecorder(cap uint64) *recorder {
	r := &recorder{
		start:  time.Now(),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		pids:   make(map[int]string),
		cap:    cap,
		capped: make(chan struct{}),
	}
	go r.run()
	return r
}

func (r *recorder) run() {
	defer close(r.done)
	t := time.NewTicker(sampleInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mu.Lock()
			pids := make(map[int]string, len(r.pids))
			for pid, name := range r.pids {
				pids[pid] = name
			}
			r.mu.Unlock()
			for pid, name := range pids {
				// A process between exit and untrack has no memory to read.
				_, _ = r.sample(pid, name)
			}
		}
	}
}

// sample reads pid's memory now and records it.
func (r *recorder) sample(pid int, member string) (Memory, error) {
	m, err := readMemory(pid)
	if err != nil {
		return m, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, Sample{At: time.Since(r.start), Member: member, PID: pid, Phase: r.phase, Memory: m})
	if r.cap > 0 && m.RSS > r.cap && r.cappedBy == "" {
		r.cappedBy, r.cappedRSS = member, m.RSS
		close(r.capped)
	}
	return m, nil
}

// peak returns the highest VmHWM sampled so far.
func (r *recorder) peak() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var hwm uint64
	for _, s := range r.samples {
		hwm = max(hwm, s.HWM)
	}
	return hwm
}

// snapshot returns a copy of the samples so far.
func (r *recorder) snapshot() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Sample(nil), r.samples...)
}

func (r *recorder) track(pid int, member string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pids[pid] = member
}

func (r *recorder) untrack(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pids, pid)
}

func (r *recorder) setPhase(phase string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = phase
	r.marks = append(r.marks, PhaseMark{Name: phase, At: time.Since(r.start)})
}

// phases returns the phase marks so far.
func (r *recorder) phases() []PhaseMark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PhaseMark(nil), r.marks...)
}

// now is the time since the recorder started.
func (r *recorder) now() time.Duration { return time.Since(r.start) }

// close stops sampling and returns every sample taken.
func (r *recorder) close() []Sample {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.samples
}
