package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Env is what a workload gets for one system: members to start and stop,
// the load shape, and the memory recorder. It is not safe for concurrent
// use, except Logf.
type Env struct {
	Workload string
	System   System
	Shape    LoadShape
	// Dir holds this run's data dirs and member logs.
	Dir string
	// Args are the workload's extra flags for every member it starts from
	// now on (both systems take etcd's names, e.g. --max-request-bytes).
	Args []string

	progress   io.Writer
	progressMu sync.Mutex
	rec        *recorder
	specs      map[string]MemberSpec // by member name, kept across restarts
	live       map[*Member]bool
	members    []*Member // every member started, in order
	prof       profiler
}

// newEnv prepares a run of workload on sys in a new subdirectory of parent.
func newEnv(workload string, sys System, shape LoadShape, parent string, progress io.Writer, prof profiler) (*Env, error) {
	dir := filepath.Join(parent, workload+"-"+sys.Name())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Env{
		Workload: workload,
		System:   sys,
		Shape:    shape,
		Dir:      dir,
		progress: progress,
		rec:      newRecorder(shape.RSSCap),
		specs:    make(map[string]MemberSpec),
		live:     make(map[*Member]bool),
		prof:     prof,
	}, nil
}

// Logf prints a progress line, prefixed with the workload and system.
func (e *Env) Logf(format string, args ...any) {
	e.progressMu.Lock()
	defer e.progressMu.Unlock()
	fmt.Fprintf(e.progress, "%s %s/%s: %s\n", time.Now().Format("15:04:05"), e.Workload, e.System.Name(), fmt.Sprintf(format, args...))
}

// Phase labels the memory samples taken from now on.
//
// When profiling, each live member's /debug/memory (Cairn's overlay,
// profile.go) is appended to WORKLOAD-SYSTEM.memory.txt in the profile
// directory first, labelled with the phase that ends.
func (e *Env) Phase(name string) {
	if e.prof.dir != "" {
		for _, m := range e.members {
			if e.live[m] {
				e.prof.memory(context.Background(), e.System.PprofURL(m.Spec), m.Spec.Name, e.rec.phase,
					filepath.Join(e.prof.dir, e.Workload+"-"+e.System.Name()+".memory.txt"), e.Logf)
			}
		}
	}
	e.rec.setPhase(name)
	e.Logf("phase %s", name)
}

// StartMember starts the member called name. The first start of a name
// picks its ports and data dir; later starts reuse them, so a restart finds
// its data. A name first started here is a single-member cluster; members
// of a StartCluster cluster restart into it.
func (e *Env) StartMember(ctx context.Context, name string) (*Member, error) {
	spec, ok := e.specs[name]
	if !ok {
		specs, err := e.newSpecs([]string{name})
		if err != nil {
			return nil, err
		}
		spec = specs[0]
	}
	m, err := startMember(e.System.Command(spec), spec, filepath.Join(e.Dir, name+".log"), e.rec)
	if err != nil {
		return nil, err
	}
	e.live[m] = true
	e.members = append(e.members, m)
	if url := e.System.PprofURL(spec); url != "" {
		e.Logf("%s (pid %d) serves %s", name, m.PID(), url)
	}
	return m, nil
}

// newSpecs picks ports and data dirs for new members that form one cluster.
func (e *Env) newSpecs(names []string) ([]MemberSpec, error) {
	const perMember = 4 // client, peer, pprof, metrics
	ports, err := freePorts(perMember * len(names))
	if err != nil {
		return nil, err
	}
	var specs []MemberSpec
	var initial []string
	for i, name := range names {
		if _, ok := e.specs[name]; ok {
			return nil, fmt.Errorf("member %s exists", name)
		}
		p := ports[perMember*i:]
		spec := MemberSpec{
			Name:       name,
			DataDir:    filepath.Join(e.Dir, name+".data"),
			ClientURL:  fmt.Sprintf("http://127.0.0.1:%d", p[0]),
			PeerURL:    fmt.Sprintf("http://127.0.0.1:%d", p[1]),
			PprofAddr:  fmt.Sprintf("127.0.0.1:%d", p[2]),
			MetricsURL: fmt.Sprintf("http://127.0.0.1:%d", p[3]),
			Args:       e.Args,
		}
		specs = append(specs, spec)
		initial = append(initial, name+"="+spec.PeerURL)
	}
	for i := range specs {
		specs[i].InitialCluster = strings.Join(initial, ",")
		e.specs[specs[i].Name] = specs[i]
	}
	return specs, nil
}

// StopMember stops m with SIGTERM and returns how long it took to exit.
func (e *Env) StopMember(m *Member) (time.Duration, error) {
	delete(e.live, m)
	return m.stop(stopTimeout)
}

// Clients returns n etcd clients of m, each its own gRPC connection. The
// caller closes them.
func (e *Env) Clients(m *Member, n int) ([]*clientv3.Client, error) {
	var out []*clientv3.Client
	for range n {
		c, err := newClient(m.Spec.ClientURL)
		if err != nil {
			closeClients(out)
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Profile starts a CPU profile of m for the profiler's window, when
// profiling is on. The returned function waits for it to end, then takes a
// heap profile; call it before stopping m.
func (e *Env) Profile(ctx context.Context, m *Member, label string) (wait func()) {
	url := e.System.PprofURL(m.Spec)
	if url == "" || e.prof.dir == "" {
		return func() {}
	}
	name := fmt.Sprintf("%s-%s-%s", e.Workload, e.System.Name(), label)
	return e.prof.start(ctx, url, name, e.Logf)
}

// PeakRSS returns the highest peak RSS (VmHWM) of any member so far, over
// every sample and Memory reading.
func (e *Env) PeakRSS() uint64 { return e.rec.peak() }

// HeapProfile writes a heap profile of m now, when profiling is on.
func (e *Env) HeapProfile(ctx context.Context, m *Member, label string) {
	url := e.System.PprofURL(m.Spec)
	if url == "" || e.prof.dir == "" {
		return
	}
	e.prof.heap(ctx, url, fmt.Sprintf("%s-%s-%s", e.Workload, e.System.Name(), label), e.Logf)
}

// Capped reports whether a member's RSS has passed LoadShape.RSSCap.
func (e *Env) Capped() bool {
	select {
	case <-e.rec.capped:
		return true
	default:
		return false
	}
}

// capNote says which member passed the cap, and with what.
func (e *Env) capNote() string {
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	return fmt.Sprintf("%s reached %s of RSS, above the cap of %s (-rss-cap)", e.rec.cappedBy, mib(e.rec.cappedRSS), mib(e.rec.cap))
}

// Close kills any member still running and stops the recorder. It returns
// every memory sample of the run.
func (e *Env) Close() []Sample {
	for m := range e.live {
		m.kill()
	}
	e.live = nil
	return e.rec.close()
}

func newClient(url string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{url},
		Logger:      zap.NewNop(),
		DialOptions: fastReconnect,
		// clientv3 sends at most 2 MiB by default: too little for a 2 MB
		// value with its key and framing. The servers' own limits apply.
		MaxCallSendMsgSize: 64 << 20,
		MaxCallRecvMsgSize: math.MaxInt32,
	})
}

func closeClients(cs []*clientv3.Client) {
	for _, c := range cs {
		c.Close()
	}
}

// freePorts returns n ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// dirSize returns the bytes of disk the regular files under dir occupy, as
// du does: preallocated space (etcd's WAL segments) counts, holes in sparse
// files do not.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512 // st_blocks is in 512-byte units
		} else {
			total += info.Size()
		}
		return nil
	})
	return total, err
}
