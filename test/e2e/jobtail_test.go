package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/internal/jobsim"
)

// buildJobtail builds cmd/jobtail once per test binary run.
var buildJobtail = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "jobtail-e2e-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "jobtail")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/jobtail")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/jobtail: %v\n%s", err, out)
	}
	return bin, nil
})

func jobtailBin(t *testing.T) string {
	t.Helper()
	bin, err := buildJobtail()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// jobtailEnv is the test's environment with the endpoint set and no token from the
// developer's shell (the harness's collector has no users).
func jobtailEnv(endpoint string) []string {
	return append(os.Environ(), "JOBTAIL_ENDPOINT="+endpoint, "JOBTAIL_TOKEN=", "JOBTRACE_TOKEN=")
}

// runJobtail runs the scriptable mode against the collector and returns stdout; a non-zero
// exit fails the test with stderr.
func runJobtail(t *testing.T, c *Collector, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, jobtailBin(t), args...)
	cmd.Env = jobtailEnv(c.TailstreamURL)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("jobtail %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// startJobsim runs a small, failure-heavy simulation against the collector's private Redis,
// writing worker logs where the filelog receiver reads them and enqueue spans to OTLP.
func startJobsim(t *testing.T, c *Collector, jobs int, duration time.Duration) <-chan *jobsim.Summary {
	t.Helper()
	if c.Redis == nil {
		t.Fatal("jobsim needs the collector's private Redis")
	}
	cfg := jobsim.DefaultConfig()
	cfg.Redis = c.Redis.Addr
	cfg.Jobs = jobs
	cfg.Rate = 4
	cfg.Workers = 2
	cfg.FailRatio = 0.45
	cfg.MaxRetries = 2
	cfg.WorkTime = 300 * time.Millisecond
	cfg.RetryBackoff = time.Second
	cfg.Duration = duration
	cfg.Seed = 7
	cfg.LogFile = filepath.Join(c.Dir, "worker-logs", "jobsim.log")
	cfg.OTLPEndpoint = c.OTLPHTTPURL
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *jobsim.Summary, 1)
	go func() {
		sum, err := jobsim.Run(ctx, cfg)
		if err != nil {
			t.Errorf("jobsim: %v", err)
		}
		done <- sum
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return done
}

type apiJob struct {
	ID       string `json:"id"`
	Queue    string `json:"queue"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	TraceID  string `json:"trace_id"`
}

func listJobs(t *testing.T, c *Collector, args ...string) []apiJob {
	t.Helper()
	out, err := runJobtail(t, c, append([]string{"jobs", "--json", "--limit", "500"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []apiJob
	if err := json.Unmarshal([]byte(out), &jobs); err != nil {
		t.Fatalf("jobs --json: %v\n%s", err, out)
	}
	return jobs
}

// TestJobtailScriptable drives the scriptable mode against the built collector fed by jobsim:
// it lists jobs, shows a dead-lettered job's trace with its critical path, and follows a
// retrying job's logs until its next attempt's lines arrive.
func TestJobtailScriptable(t *testing.T) {
	c := StartCollector(t)
	startJobsim(t, c, 24, 90*time.Second)

	// A job jobsim retried; its past lines come with a one-shot `logs`.
	var retried apiJob
	Eventually(t, 60*time.Second, func() bool {
		for _, j := range listJobs(t, c, "--status", "retried") {
			retried = j
			return true
		}
		return false
	}, "no retried job listed by `jobtail jobs --status retried`")
	var past string
	Eventually(t, 30*time.Second, func() bool {
		var err error
		past, err = runJobtail(t, c, "logs", "--job-id", retried.ID, "--tail", "1000")
		return err == nil && strings.Contains(past, retried.ID)
	}, "no past log lines for job %s:\n%s", retried.ID, past)

	// Follow that job with no replay (--tail 0): every line printed is live. Then push one
	// log line for it and one for another job through the pipeline (OTLP in).
	var out strings.Builder
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow := exec.CommandContext(ctx, jobtailBin(t), "logs", "--job-id", retried.ID, "--follow", "--tail", "0", "--json")
	follow.Env = jobtailEnv(c.TailstreamURL)
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e struct {
				JobID   string `json:"job_id"`
				Message string `json:"message"`
				Seq     uint64 `json:"seq"`
			}
			line := sc.Text()
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Errorf("logs --json line is not JSON: %q", line)
				continue
			}
			mu.Lock()
			if e.JobID != retried.ID {
				t.Errorf("followed job %s but got a line of job %q: %s", retried.ID, e.JobID, line)
			}
			seqs = append(seqs, e.Seq)
			out.WriteString(e.Message + "\n")
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	// The stream exists once the server lists it; lines pushed before that are not "live".
	time.Sleep(time.Second)
	marker := fmt.Sprintf("e2e follow marker %d", time.Now().UnixNano())
	Eventually(t, 30*time.Second, func() bool {
		c.SendLogs(t, jobLog("other-job-e2e", "not for this job"))
		c.SendLogs(t, jobLog(retried.ID, marker))
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), marker)
	}, "following job %s never showed the pushed line; stderr:\n%s\nlines:\n%s", retried.ID, &stderr, &out)
	cancel()
	_ = follow.Wait()
	<-readerDone
	mu.Lock()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Errorf("seq not strictly increasing (duplicate or reorder): %v", seqs)
			break
		}
	}
	if strings.Contains(out.String(), "not for this job") {
		t.Errorf("another job's line leaked into the followed stream:\n%s", out.String())
	}
	mu.Unlock()

	// The listing shows every status jobsim produced, and a dead-lettered job's trace.
	var dead apiJob
	Eventually(t, 90*time.Second, func() bool {
		for _, j := range listJobs(t, c, "--status", "dead_lettered") {
			dead = j
			return true
		}
		return false
	}, "no dead-lettered job")
	table, err := runJobtail(t, c, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table, dead.ID) || !strings.Contains(table, "dead_lettered") {
		t.Errorf("jobs table lacks the dead-lettered job %s:\n%s", dead.ID, table)
	}

	var trace string
	Eventually(t, 30*time.Second, func() bool {
		trace, err = runJobtail(t, c, "trace", dead.ID)
		return err == nil && strings.Contains(trace, "critical path: ") && strings.Contains(trace, "process ")
	}, "jobtail trace %s: %v\n%s", dead.ID, err, trace)
	if !strings.Contains(trace, "✗") || !strings.Contains(trace, "error spans: ") {
		t.Errorf("a dead-lettered job's trace must show its error spans:\n%s", trace)
	}
	if !strings.Contains(trace, dead.TraceID) {
		t.Errorf("trace output lacks trace id %s:\n%s", dead.TraceID, trace)
	}

	js, err := runJobtail(t, c, "trace", dead.ID, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Summary struct {
			CriticalPath []string `json:"critical_path"`
			Spans        []struct {
				SpanID string `json:"span_id"`
			} `json:"spans"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("trace --json: %v\n%s", err, js)
	}
	if len(got.Summary.CriticalPath) == 0 {
		t.Fatalf("empty critical path:\n%s", js)
	}
	ids := map[string]bool{}
	for _, s := range got.Summary.Spans {
		ids[s.SpanID] = true
	}
	for _, id := range got.Summary.CriticalPath {
		if !ids[id] {
			t.Errorf("critical path span %s is not among the trace's spans", id)
		}
	}

	// One-shot logs of the dead job end by themselves and include its dead-lettering. The job
	// list learns the status from the job span (traces pipeline), the lines come through the logs
	// pipeline (file_log's polling, then the correlation hold): on a loaded machine they can be
	// many seconds apart.
	var logs string
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		logs, err = runJobtail(t, c, "logs", "--job-id", dead.ID, "--tail", "1000")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs, dead.ID) && strings.Contains(strings.ToLower(logs), "dead") || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !strings.Contains(logs, dead.ID) || !strings.Contains(strings.ToLower(logs), "dead") {
		t.Errorf("logs of %s lack its dead-lettering:\n%s", dead.ID, logs)
	}
}

func jobLog(jobID, body string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e-worker")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetSeverityText("error")
	lr.Body().SetStr(body)
	lr.Attributes().PutStr("job.id", jobID)
	return ld
}

// TestJobtailTmux starts the interactive UI in a detached tmux session against a live
// collector fed by jobsim, navigates to a dead-lettered job with the keyboard, and asserts
// that its trace and its logs are on screen. JOBTAIL_CAPTURE=path saves the final screen.
func TestJobtailTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required in CI for the interactive UI test")
		}
		t.Skip("tmux not installed")
	}
	c := StartCollector(t)
	startJobsim(t, c, 24, 90*time.Second)

	Eventually(t, 90*time.Second, func() bool {
		return len(listJobs(t, c, "--status", "dead_lettered")) > 0
	}, "no dead-lettered job")

	// A private tmux server (-L) so the test never touches the user's sessions.
	sock := fmt.Sprintf("jobtail-e2e-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", sock, "kill-server").Run() })
	// PATH is emptied so `o` finds no xdg-open (no browser opens on a developer's machine) and
	// takes the show-and-copy path.
	cmdline := fmt.Sprintf("env PATH=/nonexistent TERM=xterm-256color JOBTAIL_TOKEN= JOBTRACE_TOKEN= JOBTAIL_ENDPOINT=%s %s", c.TailstreamURL, jobtailBin(t))
	tmux("-f", "/dev/null", "new-session", "-d", "-s", "ui", "-x", "150", "-y", "36", cmdline)

	screen := func() string { return tmux("capture-pane", "-p", "-t", "ui") }
	waitScreen := func(what string, cond func(string) bool) string {
		t.Helper()
		var s string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			s = screen()
			if cond(s) {
				return s
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("screen never showed %s; last screen:\n%s", what, s)
		return ""
	}
	waitScreen("the jobs list", func(s string) bool { return strings.Contains(s, "● API ok") && strings.Contains(s, "dead_lettered") })

	// Filter to dead-lettered jobs with the keyboard: s cycles all → queued → running →
	// succeeded → retried → dead_lettered.
	for range 5 {
		tmux("send-keys", "-t", "ui", "s")
		time.Sleep(100 * time.Millisecond)
	}
	waitScreen("the dead_lettered filter", func(s string) bool {
		return strings.Contains(s, "status:dead_lettered") && strings.Contains(s, "✗ dead_lettered")
	})
	tmux("send-keys", "-t", "ui", "Enter")
	final := waitScreen("the trace and the logs", func(s string) bool {
		return strings.Contains(s, "critical path") && strings.Contains(s, "process ") &&
			strings.Contains(s, "● connected") && strings.Contains(s, "job=") && strings.Contains(s, "ERROR")
	})
	if !strings.Contains(final, "◆") && !strings.Contains(final, "✗") {
		t.Errorf("no critical-path or error marker in the span tree:\n%s", final)
	}

	// Enter on a span shows its (redacted) tags.
	tmux("send-keys", "-t", "ui", "Enter")
	waitScreen("span tags", func(s string) bool {
		return strings.Contains(s, "(enter/esc: back to tree)") && strings.Contains(s, "span_id ") && strings.Contains(s, " = ")
	})
	tmux("send-keys", "-t", "ui", "Escape")
	// A terminal cannot tell Escape then o from Alt+o (ESC o) when both arrive in one read, as
	// they do under load if sent back to back: wait until the Escape took effect.
	waitScreen("the span tree again", func(s string) bool {
		return !strings.Contains(s, "(enter/esc: back to tree)") && strings.Contains(s, "critical path")
	})

	// Open Trace without a browser: the URL is shown (and copied with OSC 52).
	tmux("send-keys", "-t", "ui", "o")
	waitScreen("the trace URL", func(s string) bool { return strings.Contains(s, "trace URL (copied to clipboard): http") })

	if p := os.Getenv("JOBTAIL_CAPTURE"); p != "" {
		if err := os.WriteFile(p, []byte(final), 0o644); err != nil {
			t.Error(err)
		}
	}
	tmux("send-keys", "-t", "ui", "q")
}

// cutProxy forwards TCP to target and can cut every connection and refuse new ones, so a
// test can break jobtail's WebSocket while the collector keeps running.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() {
		_ = ln.Close()
		p.setDown(true)
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
	}
}

// followLines runs `jobtail logs --follow --json` with args and collects the messages.
type followLines struct {
	mu     sync.Mutex
	msgs   []string
	seqs   []uint64
	stderr syncBuffer
	done   chan struct{}
}

func startFollow(t *testing.T, endpoint string, args ...string) (*followLines, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, jobtailBin(t), append([]string{"logs", "--follow", "--json", "--endpoint", endpoint}, args...)...)
	cmd.Env = jobtailEnv(endpoint)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &followLines{done: make(chan struct{})}
	cmd.Stderr = &f.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e struct {
				Message string `json:"message"`
				Seq     uint64 `json:"seq"`
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("not JSON: %q", sc.Text())
				continue
			}
			f.mu.Lock()
			f.msgs = append(f.msgs, e.Message)
			f.seqs = append(f.seqs, e.Seq)
			f.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	return f, func() { cancel(); <-f.done }
}

func (f *followLines) count(msg string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// TestJobtailLogsResume breaks jobtail's WebSocket to the real collector while lines keep
// flowing, then restarts the collector itself: every line arrives exactly once.
func TestJobtailLogsResume(t *testing.T) {
	tailPort := freePorts(t, 1)[0]
	tailAddr := fmt.Sprintf("127.0.0.1:%d", tailPort)
	c := StartCollector(t, WithEnv("TAILSTREAM_ENDPOINT", tailAddr))
	proxy := newCutProxy(t, tailAddr)
	const job = "e2e-resume-job"
	f, stop := startFollow(t, "http://"+proxy.ln.Addr().String(), "--job-id", job)
	defer stop()

	send := func(c *Collector, msg string) { c.SendLogs(t, jobLog(job, msg)) }
	// Attached once the first line arrives (sent until then: nothing is replayed with tail 0).
	Eventually(t, 30*time.Second, func() bool {
		if f.count("before") == 0 {
			send(c, "before")
		}
		return f.count("before") > 0
	}, "no live line before the cut; stderr:\n%s", &f.stderr)
	time.Sleep(500 * time.Millisecond) // let the repeated sends land before counting

	// Cut the connection and refuse reconnection while three lines are written.
	proxy.setDown(true)
	for _, m := range []string{"during-1", "during-2", "during-3"} {
		send(c, m)
	}
	time.Sleep(time.Second)
	proxy.setDown(false)
	send(c, "after-cut")
	Eventually(t, 30*time.Second, func() bool { return f.count("after-cut") == 1 },
		"no line after the reconnect; stderr:\n%s", &f.stderr)
	for _, m := range []string{"during-1", "during-2", "during-3", "after-cut"} {
		if n := f.count(m); n != 1 {
			t.Errorf("%q arrived %d times, want exactly once (resume from the last seq)", m, n)
		}
	}
	if !strings.Contains(f.stderr.String(), "reconnecting") {
		t.Errorf("jobtail did not report the reconnect; stderr:\n%s", &f.stderr)
	}

	// Restart the collector on the same API port: the stream is gone (404), jobtail creates
	// a new one, and the new process's lines (numbered from 1 again) still arrive.
	c.Stop(t)
	c2 := StartCollector(t, WithEnv("TAILSTREAM_ENDPOINT", tailAddr))
	// Sent once: whether it lands before jobtail's new stream (replayed by since) or after
	// (live), it must arrive although its seq is below the last one jobtail saw.
	send(c2, "after-restart")
	Eventually(t, 60*time.Second, func() bool { return f.count("after-restart") == 1 },
		"the restarted collector's line never arrived; stderr:\n%s", &f.stderr)
	for _, m := range []string{"during-1", "during-2", "during-3", "after-cut"} {
		if n := f.count(m); n != 1 {
			t.Errorf("after the restart %q was seen %d times, want once", m, n)
		}
	}
}
