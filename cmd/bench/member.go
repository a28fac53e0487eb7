package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// stopTimeout bounds how long a member may take to exit after SIGTERM before
// it is killed and the stop counts as failed. Generous: pebble's Close
// waits for the compactions in progress, which after gigabytes of writes on
// a busy machine have taken Cairn's members over a minute.
const stopTimeout = 10 * time.Minute

// fastReconnect makes a client redial a member that is not listening yet
// every few milliseconds: gRPC's default backoff starts at 1 s and would
// round every measured start-up time up to it.
var fastReconnect = []grpc.DialOption{
	grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 5 * time.Millisecond, Multiplier: 1.2, Jitter: 0.1, MaxDelay: 50 * time.Millisecond},
		MinConnectTimeout: 5 * time.Second,
	}),
}

// Member is one running server process.
type Member struct {
	Spec MemberSpec
	// Started is when the process was started, the zero of start-up times.
	Started time.Time

	cmd     *exec.Cmd
	logPath string
	// logStart is the size of the log before this run's lines: the Go
	// runtime's GC trace of this process (heap.go) starts there.
	logStart int64
	rec      *recorder
	exited   chan struct{} // closed when the process has exited
	waitErr  error         // set before exited is closed
}

func startMember(cmd *exec.Cmd, spec MemberSpec, logPath string, rec *recorder) (*Member, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own copy
	st, err := log.Stat()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = log, log
	// The runtime prints each GC's heap sizes to stderr: the Go heap of
	// both systems, without a metrics or profiling endpoint (heap.go).
	cmd.Env = append(cmd.Environ(), "GODEBUG=gctrace=1")
	// The server must not outlive the benchmark, however the benchmark ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m := &Member{Spec: spec, cmd: cmd, logPath: logPath, logStart: st.Size(), rec: rec, exited: make(chan struct{})}
	m.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	rec.track(cmd.Process.Pid, spec.Name)
	go func() {
		m.waitErr = cmd.Wait()
		rec.untrack(cmd.Process.Pid)
		close(m.exited)
	}()
	return m, nil
}

// PID is the member's process id.
func (m *Member) PID() int { return m.cmd.Process.Pid }

// Memory reads the member's RSS and peak RSS now (and records the sample).
func (m *Member) Memory() (Memory, error) {
	return m.rec.sample(m.PID(), m.Spec.Name)
}

// CPU returns the CPU time (user + system) the member has used so far.
func (m *Member) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.PID()))
	if err != nil {
		return 0, err
	}
	cpu, err := parseStatCPU(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", m.PID(), err)
	}
	return cpu, nil
}

// parseStatCPU returns utime+stime of a /proc/PID/stat line. They are the
// 14th and 15th fields, in clock ticks; the fields are counted after the
// parenthesised command name, which may itself contain spaces.
func parseStatCPU(stat string) (time.Duration, error) {
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(fields) < 13 {
		return 0, errors.New("too few fields")
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// WaitServing polls, every few milliseconds, a linearizable Get of key until
// one succeeds, and returns the response and the time from process start.
// Any key will do to wait for service; a known key also checks the data.
func (m *Member) WaitServing(ctx context.Context, key string, timeout time.Duration) (*clientv3.GetResponse, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := newClient(m.Spec.ClientURL)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		resp, err := c.Get(attempt, key)
		cancelAttempt()
		if err == nil {
			return resp, time.Since(m.Started), nil
		}
		last = err
		select {
		case <-m.exited:
			return nil, 0, fmt.Errorf("%s exited before serving: %v\n%s", m.Spec.Name, m.waitErr, m.logTail())
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%s not serving after %s: %v\n%s", m.Spec.Name, timeout, last, m.logTail())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It returns how long the exit took.
func (m *Member) stop(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, err
	}
	select {
	case <-m.exited:
	case <-time.After(timeout):
		m.kill()
		return 0, fmt.Errorf("%s did not exit within %s of SIGTERM; killed\n%s", m.Spec.Name, timeout, m.logTail())
	}
	took := time.Since(start)
	if !cleanExit(m.waitErr) {
		return took, fmt.Errorf("%s exited with %v after SIGTERM\n%s", m.Spec.Name, m.waitErr, m.logTail())
	}
	return took, nil
}

// cleanExit reports whether a process stopped by SIGTERM exited cleanly:
// status 0 (Cairn), or killed by SIGTERM itself (etcd re-raises the signal
// after its own shutdown).
func cleanExit(err error) bool {
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

// kill kills the process and waits for it.
func (m *Member) kill() {
	_ = m.cmd.Process.Kill()
	<-m.exited
}

// logTail returns the end of the member's log, for error messages.
func (m *Member) logTail() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return ""
	}
	const tailBytes = 2000
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
	}
	return fmt.Sprintf("--- end of %s:\n%s", m.logPath, b)
}
