package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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

	progress   io.Writer
	progressMu sync.Mutex
	rec        *recorder
	specs      map[string]MemberSpec // by member name, kept across restarts
	live       map[*Member]bool
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
		rec:      newRecorder(),
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
func (e *Env) Phase(name string) {
	e.rec.setPhase(name)
	e.Logf("phase %s", name)
}

// StartMember starts the member called name. The first start of a name
// picks its ports and data dir; later starts reuse them, so a restart finds
// its data. The member is a single-member cluster.
func (e *Env) StartMember(ctx context.Context, name string) (*Member, error) {
	spec, ok := e.specs[name]
	if !ok {
		ports, err := freePorts(3)
		if err != nil {
			return nil, err
		}
		spec = MemberSpec{
			Name:      name,
			DataDir:   filepath.Join(e.Dir, name+".data"),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
			PprofAddr: fmt.Sprintf("127.0.0.1:%d", ports[2]),
		}
		spec.InitialCluster = name + "=" + spec.PeerURL
		e.specs[name] = spec
	}
	m, err := startMember(e.System.Command(spec), spec, filepath.Join(e.Dir, name+".log"), e.rec)
	if err != nil {
		return nil, err
	}
	e.live[m] = true
	return m, nil
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
