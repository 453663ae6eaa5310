package queuejobreceiver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/internal/testutil/syncbuf"
)

// The harness for the real-library integration tests: a private redis-server with the
// README's ACL line for the library, one receiver polling as that read-only user (its output is
// checked), a second one polling as the default user under MONITOR (it must send no write), the
// library's own worker as a subprocess, and the library's own API queried by a script at the end.

const aclPassword = "jobtrace-test-pw"

// libRun is one library test's environment.
type libRun struct {
	t       *testing.T
	srv     *redistest.Server
	r       *running // the read-only ACL user's receiver
	watched *running // the receiver under MONITOR
	mon     *monitor
	admin   *redis.Client
}

func startLibrary(t *testing.T, preset, aclLine string, mutate func(*Config)) *libRun {
	t.Helper()
	srv := redistest.Start(t, strings.ReplaceAll(aclLine, "<password>", aclPassword))
	l := &libRun{t: t, srv: srv, mon: startMonitor(t, srv.Addr)}
	l.admin = redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	t.Cleanup(func() { _ = l.admin.Close() })

	cfg := testConfig(srv.Addr)
	cfg.Preset = preset
	cfg.EmitEnqueued = true
	cfg.Username, cfg.Password = "jobtrace", aclPassword
	if mutate != nil {
		mutate(cfg)
	}
	l.r = startReceiver(t, cfg)

	wcfg := *cfg
	wcfg.Username, wcfg.Password = "", ""
	wcfg.ClientName = "jobtrace-monitored"
	l.watched = startReceiverNamed(t, &wcfg, "monitored")
	l.r.waitOK(t)
	l.watched.waitOK(t)
	return l
}

// checkReadOnly asserts the ACL user cannot write, no poll failed, and MONITOR saw only read
// commands from the monitored receiver.
func (l *libRun) checkReadOnly(t *testing.T, wantCmds ...string) {
	t.Helper()
	ro := redis.NewClient(&redis.Options{Addr: l.srv.Addr, Username: "jobtrace", Password: aclPassword, DisableIdentity: true})
	defer ro.Close()
	require.ErrorContains(t, ro.Set(context.Background(), "jobtrace:probe", "x", 0).Err(), "NOPERM")
	require.Zero(t, l.r.metric(t, "otelcol_receiver_queuejob_polls_failed")[""], "the ACL user's polls failed")

	ours := l.mon.addrsNamed(t, l.admin, "jobtrace-monitored")
	require.NotEmpty(t, ours)
	l.watched.stop()
	time.Sleep(50 * time.Millisecond)
	seen := l.mon.commandsFrom(t, ours, libReadCommands)
	for _, c := range wantCmds {
		require.Positive(t, seen[c], "MONITOR saw no %s from the receiver: %v", c, seen)
	}
	t.Logf("receiver commands seen by MONITOR: %v", seen)
}

// libReadCommands are every command a library adapter may send, connection setup included.
var libReadCommands = map[string]bool{
	"scan": true, "get": true, "mget": true, "exists": true, "type": true, "pttl": true,
	"lrange": true, "llen": true, "smembers": true, "sscan": true, "sismember": true,
	"zcard": true, "zscore": true, "zmscore": true, "zrange": true, "zrevrange": true,
	"zrangebyscore": true, "zrevrangebyscore": true,
	"hget": true, "hmget": true, "hgetall": true, "hlen": true, "hkeys": true, "hscan": true,
	"xlen": true, "xrange": true, "xrevrange": true, "xread": true, "xinfo": true, // xinfo: STREAM only
	"ping": true, "hello": true, "auth": true, "select": true, "client": true, // client: SETNAME only
}

type monitor struct {
	mu    sync.Mutex
	lines []string
}

func startMonitor(t *testing.T, addr string) *monitor {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.Write([]byte("MONITOR\r\n"))
	require.NoError(t, err)
	m := &monitor{}
	go func() {
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			m.mu.Lock()
			m.lines = append(m.lines, sc.Text())
			m.mu.Unlock()
		}
	}()
	return m
}

func (m *monitor) addrsNamed(t *testing.T, admin *redis.Client, name string) map[string]bool {
	list, err := admin.ClientList(context.Background()).Result()
	require.NoError(t, err)
	ours := map[string]bool{}
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name="+name+" ") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "addr=") {
					ours[strings.TrimPrefix(f, "addr=")] = true
				}
			}
		}
	}
	return ours
}

// commandsFrom counts the commands sent from addrs and fails on any that allowed lacks.
func (m *monitor) commandsFrom(t *testing.T, addrs map[string]bool, allowed map[string]bool) map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]int{}
	for _, l := range m.lines {
		open, end := strings.IndexByte(l, '['), strings.IndexByte(l, ']')
		if open < 0 || end < open {
			continue
		}
		parts := strings.Fields(l[open+1 : end])
		if len(parts) != 2 || !addrs[parts[1]] {
			continue
		}
		rest := strings.Fields(l[end+1:])
		require.NotEmpty(t, rest, l)
		cmd := strings.ToLower(strings.Trim(rest[0], `"`))
		seen[cmd]++
		require.True(t, allowed[cmd], "receiver issued %q: %s", cmd, l)
		if cmd == "client" {
			require.Equal(t, "setname", strings.ToLower(strings.Trim(rest[1], `"`)), l)
		}
	}
	return seen
}

// attemptOut is one job span, the receiver's statement about one attempt.
type attemptOut struct {
	jobID, status, queue, traceID, spanID, system, typ, worker, errType, errMsg, statusMsg string
	attempt                                                                                int64
}

func libSpans(r *running) []attemptOut {
	var out []attemptOut
	for _, td := range r.traces.AllTraces() {
		for i := range td.ResourceSpans().Len() {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := range ss.Len() {
				sp := ss.At(j).Spans()
				for k := range sp.Len() {
					s := sp.At(k)
					a := s.Attributes()
					o := attemptOut{jobID: str(a, conventions.AttrJobID), status: str(a, conventions.AttrJobStatus),
						queue: str(a, conventions.AttrQueueName), traceID: s.TraceID().String(), spanID: s.SpanID().String(),
						system: str(a, conventions.AttrMessagingSystem), typ: str(a, conventions.AttrJobType),
						worker: str(a, conventions.AttrWorkerID), errType: str(a, conventions.AttrJobErrorType),
						errMsg: str(a, conventions.AttrJobErrorMessage), statusMsg: s.Status().Message()}
					if v, ok := a.Get(conventions.AttrJobAttempt); ok {
						o.attempt = v.Int()
					}
					out = append(out, o)
				}
			}
		}
	}
	return out
}

// requireDistinctSpans: a re-run of an attempt is a span of its own, never a repeat.
func requireDistinctSpans(t *testing.T, spans []attemptOut) {
	seen := map[string]attemptOut{}
	for _, s := range spans {
		prev, dup := seen[s.spanID]
		require.False(t, dup, "span id %s twice: %+v and %+v", s.spanID, prev, s)
		seen[s.spanID] = s
	}
}

// byJob groups spans by job id, keyed by attempt; a second span for one attempt (a re-run)
// is kept under its attempt as a later element.
func byJob(spans []attemptOut) map[string]map[int64][]attemptOut {
	out := map[string]map[int64][]attemptOut{}
	for _, s := range spans {
		if out[s.jobID] == nil {
			out[s.jobID] = map[int64][]attemptOut{}
		}
		out[s.jobID][s.attempt] = append(out[s.jobID][s.attempt], s)
	}
	return out
}

type logOut struct {
	event, jobID, errMsg string
	attempt              int64
}

func libLogs(r *running) []logOut {
	var out []logOut
	for _, ld := range r.logs.AllLogs() {
		for i := range ld.ResourceLogs().Len() {
			sl := ld.ResourceLogs().At(i).ScopeLogs()
			for j := range sl.Len() {
				lr := sl.At(j).LogRecords()
				for k := range lr.Len() {
					a := lr.At(k).Attributes()
					o := logOut{event: str(a, conventions.AttrEventName), jobID: str(a, conventions.AttrJobID), errMsg: str(a, conventions.AttrJobErrorMessage)}
					if v, ok := a.Get(conventions.AttrJobAttempt); ok {
						o.attempt = v.Int()
					}
					out = append(out, o)
				}
			}
		}
	}
	return out
}

func countEvents(r *running, event string, ids map[string]bool) int {
	n := 0
	seen := map[string]bool{}
	for _, l := range libLogs(r) {
		if l.event == event && ids[l.jobID] && !seen[l.jobID] {
			seen[l.jobID] = true
			n++
		}
	}
	return n
}

// proc is a library worker run by a test.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// syncBuffer is shared with the other suites' harnesses.
type syncBuffer = syncbuf.Buffer

// startProc runs a command in its own process group, killed (group and all) at cleanup.
func startProc(t *testing.T, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(p.out.String(), 6000))
		}
	})
	return p
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	require.NoError(t, p.cmd.Process.Signal(sig))
}

func (p *proc) wait(t *testing.T, d time.Duration) {
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s did not exit within %s:\n%s", p.cmd.Path, d, tail(p.out.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// runScript runs a helper script and returns its stdout.
func runScript(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %v: %s", name, args, stderr.String())
	return string(out)
}

// jsonLines decodes one JSON object per line.
func jsonLines[T any](t *testing.T, s string) []T {
	var out []T
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var v T
		require.NoError(t, json.Unmarshal([]byte(line), &v), line)
		out = append(out, v)
	}
	return out
}

func testdataDir(t *testing.T, lib string) string {
	d, err := filepath.Abs(filepath.Join("testdata", lib))
	require.NoError(t, err)
	return d
}

// requireTool skips the test when the library's interpreter or package is missing locally;
// .ci/run installs them, so CI always runs these tests.
func requireTool(t *testing.T, pkg string, name string, args ...string) {
	t.Helper()
	if err := exec.Command(name, args...).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (apt-get install %s): %v", name, pkg, err)
		}
		t.Skipf("skipping: %s not usable (apt-get install %s; .ci/run installs it): %v", name, pkg, err)
	}
}

// readmeHasLine ties the ACL line the test used to the README's.
func readmeHasLine(t *testing.T, line string) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.Contains(t, string(b), line, "README must show the exact ACL line the test proves")
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	msg := ""
	if diag != nil {
		msg = diag()
	}
	t.Fatalf("timed out after %s waiting for %s\n%s", d, what, msg)
}

// eventSummary counts the lifecycle events per event and attempt, for timeout messages.
func eventSummary(r *running) string {
	n := map[string]int{}
	for _, l := range libLogs(r) {
		n[fmt.Sprintf("%s#%d", l.event, l.attempt)]++
	}
	return fmt.Sprint(n)
}
