package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/cairnkv/cairn/cairntest"
)

// TestEtcdctlCompat runs the etcdctl commands of testdata/etcdctl.txt against
// the real etcd 3.7.3 and against the member binary, each a process of its
// own, and checks that both print the output recorded in the file (stdout,
// stderr and exit status), after normalising what differs by design.
//
// The file is etcd's behaviour: regenerate it from etcd alone with
//
//	go test ./cmd/node -run TestEtcdctlCompat -rewrite
//
// and only commit the diff if you understand it.
//
// Transcript language: each case is the directive "etcdctl"; the first line
// of its input is etcdctl's arguments (split at spaces; "..." and '...'
// quote), the other lines are its standard input (for txn, followed by
// blank lines, which end every section of "txn --interactive=false"). Input
// containing "{{" is a text/template first, with repeat (strings.Repeat) and
// seq (the integers from a to b).
//
// Both servers start with the same --name, --initial-advertise-peer-urls and
// token, so member and cluster IDs are equal and compared as they are.
func TestEtcdctlCompat(t *testing.T) {
	etcdctl := cairntest.Tool(t, "etcdctl")
	const name, peerURL = "compat", "http://127.0.0.1:2380"
	common := []string{"--max-request-bytes=10000"}

	t.Run("etcd", func(t *testing.T) {
		t.Parallel()
		s := cairntest.StartEtcd(t, cairntest.EtcdConfig{Name: name, AdvertisePeerURL: peerURL, Args: common})
		waitStorageVersion(t, s.Endpoint, "3.7.0")
		datadriven.RunTest(t, "testdata/etcdctl.txt", func(t *testing.T, td *datadriven.TestData) string {
			return runEtcdctl(t, etcdctl, s.Endpoint, td)
		})
	})
	t.Run("cairn", func(t *testing.T) {
		if rewriting() {
			t.Skip("-rewrite records etcd's output only")
		}
		t.Parallel()
		s := cairntest.StartNodeProcess(t, "", append([]string{"--name", name, "--initial-advertise-peer-urls", peerURL}, common...)...)
		datadriven.RunTest(t, "testdata/etcdctl.txt", func(t *testing.T, td *datadriven.TestData) string {
			got := runEtcdctl(t, etcdctl, s.Endpoint, td)
			cmd, _, _ := strings.Cut(td.Input, "\n")
			cause, known := knownDifferences[cmd]
			switch {
			case got == td.Expected && known:
				t.Errorf("%s: %q is a known difference (%s) but Cairn now prints what etcd prints: remove it from knownDifferences", td.Pos, cmd, cause)
			case got == td.Expected:
			case known:
				t.Logf("%s: known difference (%s)\nwant (etcd):\n%sgot (cairn):\n%s", td.Pos, cause, td.Expected, got)
			default:
				t.Errorf("%s: %s\nwant (etcd):\n%sgot (cairn):\n%s", td.Pos, cmd, td.Expected, got)
			}
			// Go on as if Cairn had printed what etcd prints, so that one
			// run reports every difference, not just the first.
			return td.Expected
		})
	})
}

// waitStorageVersion waits until the server at endpoint reports want as its
// storage version: etcd starts at 3.5.0 and raises it a moment after it
// serves, which endpoint status would otherwise catch now and then.
func waitStorageVersion(t *testing.T, endpoint, want string) {
	t.Helper()
	cli := cairntest.NewClient(t, endpoint)
	ctx := cairntest.Ctx(t)
	for {
		st, err := cli.Status(ctx, endpoint)
		if err == nil && st.StorageVersion == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("storage version of %s: %v (last error %v), want %s", endpoint, st, err, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// knownDifferences are the commands (first input line, as written in the
// transcript) on which Cairn may print something other than etcd, each with
// its cause. Every entry is a bug to fix; remove the entry with the fix.
var knownDifferences = map[string]string{}

func rewriting() bool {
	f := flag.Lookup("rewrite")
	return f != nil && f.Value.String() == "true"
}

// runEtcdctl runs one transcript case against endpoint and returns its
// normalised output.
func runEtcdctl(t *testing.T, etcdctl, endpoint string, td *datadriven.TestData) string {
	t.Helper()
	if td.Cmd != "etcdctl" {
		td.Fatalf(t, "unknown directive %q", td.Cmd)
	}
	input := td.Input
	if strings.Contains(input, "{{") {
		input = expand(t, td, input)
	}
	line, stdin, _ := strings.Cut(input, "\n")
	args, err := splitArgs(line)
	if err != nil {
		td.Fatalf(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, etcdctl, append([]string{"--endpoints=" + endpoint}, args...)...)
	cmd.Env = cleanEnv()
	if len(args) > 0 && args[0] == "txn" {
		// Blank lines end the sections etcdctl reads.
		stdin += "\n\n\n\n"
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		td.Fatalf(t, "run etcdctl: %v", err)
	}
	var out strings.Builder
	out.WriteString(stdout.String())
	for _, l := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(&out, "stderr: %s\n", l)
		}
	}
	if exit != nil {
		fmt.Fprintf(&out, "exit %d\n", exit.ExitCode())
	}
	return normalise(args, endpoint, out.String())
}

// expand runs input as a text/template.
func expand(t *testing.T, td *datadriven.TestData, input string) string {
	tmpl, err := template.New(td.Pos).Funcs(template.FuncMap{
		"repeat": strings.Repeat,
		"seq": func(a, b int) []int {
			var s []int
			for i := a; i <= b; i++ {
				s = append(s, i)
			}
			return s
		},
	}).Parse(input)
	if err != nil {
		td.Fatalf(t, "%v", err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, nil); err != nil {
		td.Fatalf(t, "%v", err)
	}
	return b.String()
}

// cleanEnv is the environment without ETCDCTL_* variables, which would change
// etcdctl's flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCDCTL_") {
			env = append(env, kv)
		}
	}
	return env
}

// splitArgs splits a command line at spaces; '...' and "..." quote (and
// may be empty).
func splitArgs(line string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inArg = r, true
		case r == ' ' || r == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

// normalisers replace what differs by design between etcd and Cairn, or
// between two runs of either.
var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	// The etcd client's retry warnings: time, the client's address in
	// memory, the local port.
	{regexp.MustCompile(`"ts":"[^"]*"`), `"ts":"<time>"`},
	{regexp.MustCompile(`"target":"etcd-endpoints://0x[0-9a-f]+/`), `"target":"etcd-endpoints://<client>/`},
	{regexp.MustCompile(`LocalAddr: '[^']*'`), `LocalAddr: '<address>'`},
	// Raft terms and indexes: Cairn's log holds different entries (etcd
	// logs its membership and more).
	{regexp.MustCompile(`"raft_term":\d+`), `"raft_term":<term>`},
	{regexp.MustCompile(`"RaftTerm" : \d+`), `"RaftTerm" : <term>`},
	{regexp.MustCompile(`"(raftTerm|raftIndex|raftAppliedIndex)":\d+`), `"$1":<raft>`},
	// Sizes of the storage engines (bbolt and pebble).
	{regexp.MustCompile(`"(dbSize|dbSizeInUse)":\d+`), `"$1":<bytes>`},
	// Cairn has no backend quota (etcd's --quota-backend-bytes, 2 GiB by
	// default) and reports 0, which JSON leaves out. Remove this when it has.
	{regexp.MustCompile(`,"dbSizeQuota":\d+`), ``},
	// Latencies (endpoint health, defrag).
	{regexp.MustCompile(`took (= )?[0-9.]+[µnm]?s`), `took $1<duration>`},
	{regexp.MustCompile(`"took":"[^"]*"`), `"took":"<duration>"`},
}

func normalise(args []string, endpoint, out string) string {
	out = strings.ReplaceAll(out, endpoint, "<endpoint>")
	for _, n := range normalisers {
		out = n.re.ReplaceAllString(out, n.with)
	}
	if len(args) >= 2 && args[0] == "endpoint" && args[1] == "status" && !strings.Contains(strings.Join(args, " "), "-w") {
		out = normaliseStatusLines(out)
	}
	return out
}

// normaliseStatusLines replaces the sizes (db size, in use, percentage not
// in use, quota) and raft term and indexes of endpoint status's simple
// output:
//
//	endpoint, id, version, storage version, db size, in use, % not in use, quota,
//	is leader, is learner, raft term, raft index, applied index, errors, downgrade...
func normaliseStatusLines(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		f := strings.Split(l, ", ")
		if len(f) < 13 || f[0] != "<endpoint>" {
			continue
		}
		for _, j := range []int{4, 5, 6, 7} {
			f[j] = "<size>"
		}
		for _, j := range []int{10, 11, 12} {
			f[j] = "<raft>"
		}
		lines[i] = strings.Join(f, ", ")
	}
	return strings.Join(lines, "\n")
}
