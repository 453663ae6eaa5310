package e2e

import (
	"errors"
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

	"go.yaml.in/yaml/v3"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
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
