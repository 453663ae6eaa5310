package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/termcheck"
)

// escSequences is issue 18's payload: OSC 52 sets the clipboard to "hacked", OSC 0 sets the
// pane title to "pwned", CSI 6n makes the terminal type a cursor position report into the
// shell, CSI 2J clears the screen, and a carriage return lets "fake-ok" overwrite "real-error".
const escSequences = "\u001b]52;c;aGFja2Vk\u0007 \u001b]0;pwned\u0007 \u001b[6n \u001b[2J real-error\rfake-ok"

var escTraceID = pcommon.TraceID{0xe5, 0xc0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}

// sendEscJob pushes, through OTLP, a job span and a log line of job "escjob" whose message,
// attributes, span name, worker id and service carry the sequences.
func sendEscJob(t *testing.T, c *Collector) {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc"+escSequences)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	now := time.Now()
	sp.SetName("process " + escSequences)
	sp.SetKind(ptrace.SpanKindConsumer)
	sp.SetTraceID(escTraceID)
	sp.SetSpanID(pcommon.SpanID{0xe5, 1, 2, 3, 4, 5, 6, 7})
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	sp.Status().SetCode(ptrace.StatusCodeError)
	a := sp.Attributes()
	a.PutStr(conventions.AttrJobID, "escjob")
	a.PutStr(conventions.AttrJobStatus, conventions.StatusDeadLettered)
	a.PutInt(conventions.AttrJobAttempt, 1)
	a.PutStr(conventions.AttrQueueName, "high_priority")
	a.PutStr(conventions.AttrWorkerID, "w"+escSequences)
	a.PutStr("db.statement", escSequences)
	c.SendTraces(t, td)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc"+escSequences)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(now))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetSeverityText("error")
	lr.SetTraceID(escTraceID)
	lr.Body().SetStr(escSequences)
	lr.Attributes().PutStr(conventions.AttrJobID, "escjob")
	lr.Attributes().PutStr("error", escSequences)
	c.SendLogs(t, ld)
}

// TestJobtailTerminalInjectionTmux runs jobtail in a real terminal (tmux) against the built
// collector fed hostile data: the plain `logs` and `trace` output and the interactive UI show
// the sequences escaped, and the clipboard, the pane title and the shell's input are untouched.
func TestJobtailTerminalInjectionTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required in CI for the terminal injection test")
		}
		t.Skip("tmux not installed")
	}
	c := StartCollector(t)
	var logs string
	Eventually(t, 30*time.Second, func() bool {
		sendEscJob(t, c)
		var err error
		logs, err = runJobtail(t, c, "logs", "--job-id", "escjob", "--tail", "10")
		return err == nil && strings.Contains(logs, "real-error")
	}, "no escjob line from jobtail logs:\n%s", logs)
	// Lines reach the live path at once; the job span takes the traces pipeline's batch.
	Eventually(t, 30*time.Second, func() bool {
		code, _ := tsRequest(t, http.MethodGet, c.TailstreamURL+"/api/v1/jobs/escjob/trace", "", nil)
		return code == http.StatusOK
	}, "job escjob should be known from its span")

	sock := fmt.Sprintf("jobtail-esc-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", sock, "kill-server").Run() })
	// A first session holds the server while the options are set: set-clipboard on makes
	// tmux turn an application's OSC 52 into a paste buffer, which is what the test watches.
	tmux("-f", "/dev/null", "new-session", "-d", "-s", "boot", "sleep 600")
	tmux("set-option", "-g", "set-clipboard", "on")
	tmux("set-option", "-g", "allow-rename", "on")
	env := fmt.Sprintf("env TERM=xterm-256color JOBTAIL_TOKEN= JOBTRACE_TOKEN= JOBTAIL_ENDPOINT=%s", c.TailstreamURL)
	bin := jobtailBin(t)

	// The shell after jobtail reads, without waiting for a newline, whatever the terminal
	// typed into it (a cursor position report), and shows it with cat -v.
	script := fmt.Sprintf(`stty -icanon -echo min 0 time 10; %s %s logs --job-id escjob --tail 10; %s %s trace escjob; echo TYPED-BEGIN; cat -v; echo TYPED-END; sleep 600`,
		env, bin, env, bin)
	tmux("new-session", "-d", "-s", "plain", "-x", "200", "-y", "50", "sh", "-c", script)
	screen := func(target string) string { return tmux("capture-pane", "-p", "-J", "-t", target) }
	waitFor := func(target, what string, cond func(string) bool) string {
		t.Helper()
		var s string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if s = screen(target); cond(s) {
				return s
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s never showed %s; screen:\n%s", target, what, s)
		return ""
	}
	out := waitFor("plain", "the end of the shell's input", func(s string) bool { return strings.Contains(s, "TYPED-END") })
	typed := out[strings.Index(out, "TYPED-BEGIN")+len("TYPED-BEGIN") : strings.Index(out, "TYPED-END")]
	if strings.Contains(typed, "^[") {
		t.Errorf("the terminal typed %q into the shell (cursor position report)", strings.TrimSpace(typed))
	}
	for _, want := range []string{`\x1b]52;c;aGFja2Vk\x07`, `\x1b]0;pwned\x07`, `\x1b[6n`, `real-error\x0dfake-ok`, `process \x1b]52`} {
		if !strings.Contains(out, want) {
			t.Errorf("plain output lacks the escaped form %q:\n%s", want, out)
		}
	}
	assertTerminalUntouched := func(where string) {
		t.Helper()
		if b := strings.TrimSpace(tmux("list-buffers")); b != "" {
			t.Errorf("%s: an OSC 52 reached tmux, paste buffers: %s", where, b)
		}
		for _, target := range []string{"plain", "ui"} {
			out, err := exec.Command("tmux", "-L", sock, "display-message", "-p", "-t", target, "#{pane_title}").CombinedOutput()
			if err != nil {
				continue // the ui session does not exist yet
			}
			if title := strings.TrimSpace(string(out)); strings.Contains(title, "pwned") {
				t.Errorf("%s: the pane title of %s became %q", where, target, title)
			}
		}
	}
	assertTerminalUntouched("plain output")

	// The interactive UI, started on the job: its trace (span names, services) and its logs.
	tmux("new-session", "-d", "-s", "ui", "-x", "160", "-y", "40", env+" PATH=/nonexistent "+bin+" --job-id escjob")
	ui := waitFor("ui", "the job's trace and logs", func(s string) bool {
		return strings.Contains(s, "● connected") && strings.Contains(s, `real-error\x0dfake-ok`) && strings.Contains(s, `process \x1b]52`)
	})
	if !strings.Contains(ui, "jobtail") || !strings.Contains(ui, "Jobs") {
		t.Errorf("the UI's frame is gone (screen cleared?):\n%s", ui)
	}
	assertTerminalUntouched("interactive UI")
	tmux("send-keys", "-t", "ui", "q")
}

// TestSlowHeadersAreCut opens, on every HTTP server of collector.yaml (OTLP/HTTP, health_check,
// the tailstream API), a connection that sends half a request header and then nothing. Each
// server must close it (read_header_timeout: 10s); 40 s is the test's patience, not a target.
func TestSlowHeadersAreCut(t *testing.T) {
	c := StartCollector(t)
	servers := map[string]string{
		"otlp http":    c.Env["OTLP_HTTP_ENDPOINT"],
		"health_check": c.Env["HEALTH_ENDPOINT"],
		"tailstream":   c.Env["TAILSTREAM_ENDPOINT"],
	}
	var wg sync.WaitGroup
	for name, addr := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nX-Slow: "); err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(40 * time.Second))
			_, err = io.Copy(io.Discard, conn) // returns at EOF (closed) or at the deadline
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("%s (%s) kept a connection with unfinished headers open for 40s: no read_header_timeout", name, addr)
			}
		}()
	}
	wg.Wait()
}

// TestHTTPServersHaveTimeouts checks collector.yaml and every example: each HTTP server block
// (the extensions' endpoints and OTLP's http protocol) sets read_header_timeout and idle_timeout.
func TestHTTPServersHaveTimeouts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "examples", "*.yaml"))
	files = append(files, filepath.Join(repoRoot, "collector.yaml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Extensions map[string]map[string]any `yaml:"extensions"`
			Receivers  map[string]struct {
				Protocols struct {
					HTTP map[string]any `yaml:"http"`
				} `yaml:"protocols"`
			} `yaml:"receivers"`
		}
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		servers := map[string]map[string]any{}
		for name, ext := range cfg.Extensions {
			typ, _, _ := strings.Cut(name, "/")
			if typ == "health_check" || typ == "tailstream" {
				servers["extensions."+name] = ext
			}
		}
		for name, r := range cfg.Receivers {
			if typ, _, _ := strings.Cut(name, "/"); typ == "otlp" && r.Protocols.HTTP != nil {
				servers["receivers."+name+".protocols.http"] = r.Protocols.HTTP
			}
		}
		for where, srv := range servers {
			if srv["endpoint"] == nil {
				continue // an overlay adding settings to a server defined elsewhere
			}
			for _, key := range []string{"read_header_timeout", "idle_timeout"} {
				if srv[key] == nil {
					t.Errorf("%s: %s has no %s", filepath.Base(f), where, key)
				}
			}
		}
	}
}

// TestOTLPAuthExample validates examples/otlp-auth.yaml over collector.yaml when the
// distribution includes the bearertokenauth extension it needs.
func TestOTLPAuthExample(t *testing.T) {
	comps, err := RunBinary(t, "components")
	if err != nil {
		t.Fatalf("components: %v\n%s", err, comps)
	}
	if !strings.Contains(comps, "bearertokenauth") {
		t.Skip("the distribution has no bearertokenauth extension (builder-config.yaml); examples/otlp-auth.yaml says how to add it")
	}
	// validate does not read the certificate files.
	t.Setenv("OTLP_TOKEN", "secret")
	t.Setenv("OTLP_TLS_CERT", "/nonexistent/server.crt")
	t.Setenv("OTLP_TLS_KEY", "/nonexistent/server.key")
	out, err := RunBinary(t, "validate", "--config", filepath.Join(repoRoot, "collector.yaml"), "--config", filepath.Join(repoRoot, "examples", "otlp-auth.yaml"))
	if err != nil {
		t.Fatalf("validate with examples/otlp-auth.yaml: %v\n%s", err, out)
	}
}

// TestAPIScopeAndCredentialsThroughTheCollector replays findings 4, 5, 6, 9 and 10 against the
// built collector with two users, an admin and a viewer scoped to low_priority: a high_priority
// job shares a trace with the viewer's job, an OTLP line names the viewer's job from another
// queue, an admin tries a backend URL with a password, and the viewer sends a token in a URL
// and a forged Host.
func TestAPIScopeAndCredentialsThroughTheCollector(t *testing.T) {
	c := StartCollector(t, WithoutRedis(), WithOverlay(`
extensions:
  tailstream:
    users:
      - name: admin
        token: e2e-admin-token
        roles: [admin]
      - name: low
        token: e2e-low-token
        roles: [trace_viewer, log_viewer]
        scope:
          queues: [low_priority]
`))
	api := c.TailstreamURL + "/api/v1"
	const trace = "e2e5c0be000000000000000000000001"
	tid := pcommon.TraceID{}
	copy(tid[:], mustHex(t, trace))
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "jobqueue")
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	add := func(id, parent byte, name, job, queue, stmt string) {
		sp := ss.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(pcommon.SpanID{0xe2, 0xe5, 0, 0, 0, 0, 0, id})
		if parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{0xe2, 0xe5, 0, 0, 0, 0, 0, parent})
		}
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
		if job != "" {
			sp.SetKind(ptrace.SpanKindConsumer)
			sp.Attributes().PutStr(conventions.AttrJobID, job)
			sp.Attributes().PutStr(conventions.AttrQueueName, queue)
			sp.Attributes().PutStr(conventions.AttrJobStatus, conventions.StatusSucceeded)
			sp.Attributes().PutInt(conventions.AttrJobAttempt, 1)
		}
		if stmt != "" {
			sp.Attributes().PutStr("db.statement", stmt)
		}
	}
	add(1, 0, "process low_priority", "e2e-lo1", "low_priority", "")
	add(2, 1, "db low", "", "", "SELECT e2e_low_marker")
	add(3, 0, "process high_priority", "e2e-hi1", "high_priority", "")
	add(4, 3, "db high", "", "", "SELECT e2e_high_secret_marker")
	Eventually(t, 30*time.Second, func() bool {
		c.SendTraces(t, td)
		code, _ := tsRequest(t, http.MethodGet, api+"/traces/"+trace+"/spans", "e2e-admin-token", nil)
		return code == http.StatusOK
	}, "the shared trace never reached the API")

	// Finding 4: the viewer sees its job's spans, never the other job's.
	code, b := tsRequest(t, http.MethodGet, api+"/traces/"+trace+"/spans", "e2e-low-token", nil)
	if code != http.StatusOK || !strings.Contains(string(b), "e2e_low_marker") || strings.Contains(string(b), "e2e_high_secret_marker") {
		t.Errorf("scoped /spans: %d %s", code, b)
	}
	code, b = tsRequest(t, http.MethodGet, api+"/traces/"+trace+"/summary", "e2e-low-token", nil)
	if code != http.StatusOK || strings.Contains(string(b), "process high_priority") {
		t.Errorf("scoped /summary shows the high_priority job: %d %s", code, b)
	}

	// Finding 5: a line naming the viewer's job from another queue stays out of its correlation.
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.Body().SetStr("e2e line from the high queue")
	lr.Attributes().PutStr(conventions.AttrJobID, "e2e-lo1")
	lr.Attributes().PutStr(conventions.AttrQueueName, "high_priority")
	c.SendLogs(t, ld)
	Eventually(t, 30*time.Second, func() bool {
		_, b := tsRequest(t, http.MethodGet, api+"/correlation/e2e-lo1", "e2e-admin-token", nil)
		return strings.Contains(string(b), "e2e line from the high queue")
	}, "the line never reached the admin's correlation view")
	code, b = tsRequest(t, http.MethodGet, api+"/correlation/e2e-lo1", "e2e-low-token", nil)
	if code != http.StatusOK || strings.Contains(string(b), "e2e line from the high queue") || strings.Contains(string(b), "e2e_high_secret_marker") {
		t.Errorf("scoped /correlation: %d %s", code, b)
	}

	// Finding 6: no password in a backend URL, and no endpoint for the viewer.
	code, b = tsRequest(t, http.MethodPut, api+"/config/tracing", "e2e-admin-token", map[string]any{
		"backends": []map[string]any{{"name": "j", "type": "jaeger", "endpoint": "http://svcuser:E2EPASSWORD@127.0.0.1:1"}},
	})
	if code != http.StatusBadRequest || strings.Contains(string(b), "E2EPASSWORD") {
		t.Errorf("PUT a backend with userinfo: %d %s", code, b)
	}
	if strings.Contains(c.Output(), "E2EPASSWORD") {
		t.Error("the collector logged the backend password")
	}

	// Finding 10: the token in a URL works on streams only, and is never logged.
	code, _ = tsRequest(t, http.MethodGet, api+"/jobs?access_token=e2e-low-token", "", nil)
	if code != http.StatusUnauthorized {
		t.Errorf("?access_token= on /jobs: %d, want 401", code)
	}
	// Finding 9: a forged Host is not reflected in the stream endpoints.
	req, _ := http.NewRequest(http.MethodPost, api+"/logs/streams", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer e2e-low-token")
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || strings.Contains(string(body), "evil") {
		t.Errorf("stream created with a forged Host: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(c.Output(), "e2e-low-token") || strings.Contains(c.Output(), "e2e-admin-token") {
		t.Error("a token reached the collector's log")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJobtailEscapesQueueData is finding 1 through the queue instead of OTLP: a job id in a
// Redis payload and a worker id in a key name carry a title sequence; the queuejob receiver
// reports them, and jobtail's jobs table and log lines show them escaped.
func TestJobtailEscapesQueueData(t *testing.T) {
	c := StartCollector(t, WithOverlay(`
receivers:
  queuejob:
    poll_interval: 50ms
`))
	rdb := redis.NewClient(&redis.Options{Addr: c.Redis.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	jobID := "esc\u001b]0;pwned\u0007job\u009b2J"
	worker := "h\u001b]52;c;aGFja2Vk\u0007st-4242-1764583200000000000-ab12-0"
	payload, _ := json.Marshal(map[string]any{
		"id": jobID, "filepath": "/srv/x.log", "filesize": 1, "priority": "high", "retries": 0,
		"creation_time": time.Now().UTC().Format(time.RFC3339Nano), "trace_id": "", "span_id": "",
	})
	if err := rdb.LPush(ctx, "jobqueue:worker:"+worker+":processing", payload).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "jobqueue:processing:worker:"+worker, payload, 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	var table string
	Eventually(t, 30*time.Second, func() bool {
		var err error
		table, err = runJobtail(t, c, "jobs")
		return err == nil && strings.Contains(table, `esc\x1b]0;pwned\x07job`)
	}, "the job never showed in `jobtail jobs`:\n%s", table)
	if err := termcheck.Check(table, true); err != nil {
		t.Errorf("jobs table: %v", err)
	}
	if !strings.Contains(table, `h\x1b]52;c;aGFja2Vk\x07st`) {
		t.Errorf("the worker id is not shown escaped:\n%s", table)
	}
	var logs string
	Eventually(t, 30*time.Second, func() bool {
		var err error
		logs, err = runJobtail(t, c, "logs", "--job-id", jobID, "--tail", "10")
		return err == nil && strings.Contains(logs, "job started")
	}, "no job_started line for the job:\n%s", logs)
	if err := termcheck.Check(logs, true); err != nil {
		t.Errorf("log lines: %v", err)
	}
}
