// Package e2e runs the built distribution (otelcol-dev/otelcol-jobtrace) with collector.yaml
// on free loopback ports and checks what comes out. Add a case by calling StartCollector with
// the options it needs; see README.md in this folder.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/internal/testutil/syncbuf"
)

// repoRoot is the repository root, found from this file's location.
var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}()

var binaryPath string

func TestMain(m *testing.M) {
	binaryPath = os.Getenv("JOBTRACE_BINARY")
	if binaryPath == "" {
		binaryPath = filepath.Join(repoRoot, "otelcol-dev", "otelcol-jobtrace")
		// make decides whether the binary is older than its sources; the Makefile serialises builds.
		cmd := exec.Command("make", "-s", "build")
		cmd.Dir = repoRoot
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: make build failed: %v\n", err)
			os.Exit(1)
		}
	}
	if _, err := os.Stat(binaryPath); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: no collector binary at %s: %v\n", binaryPath, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// Collector is one running distribution process.
type Collector struct {
	// Dir is the collector's private working directory (file exporter output, worker logs).
	Dir string
	// Env is the environment the collector was started with (addresses chosen for this run).
	Env map[string]string

	TailstreamURL string // http://127.0.0.1:<port>
	OTLPHTTPURL   string // http://127.0.0.1:<port>
	OTLPGRPCAddr  string // 127.0.0.1:<port>
	HealthURL     string // http://127.0.0.1:<port>/
	Redis         *redistest.Server

	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	exitErr error
	stopped bool
	// healthyAt: when WaitHealthy first saw health_check answer 200.
	healthyAt time.Time
}

type options struct {
	env         map[string]string
	overlays    []string
	fileOut     bool
	redisAddr   string
	noRedis     bool
	noWait      bool
	extraConfig []string
}

// Option configures StartCollector.
type Option func(*options)

// WithEnv sets an environment variable for the collector (overrides the harness's choice).
func WithEnv(key, value string) Option {
	return func(o *options) { o.env[key] = value }
}

// WithOverlay adds an inline YAML config merged after collector.yaml (a second --config).
// Lists such as a pipeline's exporters are replaced, not appended, by the merge.
func WithOverlay(yaml string) Option {
	return func(o *options) { o.overlays = append(o.overlays, yaml) }
}

// WithConfigFile adds a config file (for example examples/jaeger.yaml) after collector.yaml.
func WithConfigFile(path string) Option {
	return func(o *options) { o.extraConfig = append(o.extraConfig, path) }
}

// WithFileExporter adds a `file/e2e` exporter to the traces pipeline, next to tailstream, and
// makes it the logs export path's exporter (the `logs` pipeline, with jobcorrelation's hold), so a test
// can read what left the pipeline with FileLogs and FileTraces.
func WithFileExporter() Option {
	return func(o *options) { o.fileOut = true }
}

// WithRedis points the queuejob receiver at addr instead of a private redis-server.
func WithRedis(addr string) Option {
	return func(o *options) { o.redisAddr = addr }
}

// WithoutRedis points the queuejob receiver at a port where nothing listens.
func WithoutRedis() Option {
	return func(o *options) { o.noRedis = true }
}

// StartCollector starts the distribution with collector.yaml on free loopback ports and waits
// until health_check answers 200. A private redis-server backs the queuejob receiver unless an
// option says otherwise. The collector is stopped (and its clean exit asserted) at test cleanup.
func StartCollector(t *testing.T, opts ...Option) *Collector {
	t.Helper()
	o := &options{env: map[string]string{}}
	for _, opt := range opts {
		opt(o)
	}
	dir := t.TempDir()
	c := &Collector{Dir: dir, out: &syncBuffer{}, done: make(chan struct{})}

	ports := freePorts(t, 6)
	tail, httpP, grpcP, health, metrics := ports[0], ports[1], ports[2], ports[3], ports[4]
	redisAddr := o.redisAddr
	switch {
	case o.noRedis:
		redisAddr = fmt.Sprintf("127.0.0.1:%d", ports[5])
	case redisAddr == "":
		c.Redis = redistest.Start(t)
		redisAddr = c.Redis.Addr
	}
	workerLogs := filepath.Join(dir, "worker-logs")
	if err := os.MkdirAll(workerLogs, 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TAILSTREAM_ENDPOINT": fmt.Sprintf("127.0.0.1:%d", tail),
		"OTLP_HTTP_ENDPOINT":  fmt.Sprintf("127.0.0.1:%d", httpP),
		"OTLP_GRPC_ENDPOINT":  fmt.Sprintf("127.0.0.1:%d", grpcP),
		"HEALTH_ENDPOINT":     fmt.Sprintf("127.0.0.1:%d", health),
		"METRICS_HOST":        "127.0.0.1",
		"METRICS_PORT":        fmt.Sprint(metrics),
		"REDIS_ENDPOINT":      redisAddr,
		"WORKER_LOGS":         filepath.Join(workerLogs, "*.log"),
		"JOBTRACE_TOKEN":      "",
	}
	for k, v := range o.env {
		env[k] = v
	}
	c.Env = env
	c.TailstreamURL = "http://" + env["TAILSTREAM_ENDPOINT"]
	c.OTLPHTTPURL = "http://" + env["OTLP_HTTP_ENDPOINT"]
	c.OTLPGRPCAddr = env["OTLP_GRPC_ENDPOINT"]
	c.HealthURL = "http://" + env["HEALTH_ENDPOINT"] + "/"

	args := []string{"--config", filepath.Join(repoRoot, "collector.yaml")}
	for _, f := range o.extraConfig {
		if !filepath.IsAbs(f) {
			f = filepath.Join(repoRoot, f)
		}
		args = append(args, "--config", f)
	}
	overlays := o.overlays
	if o.fileOut {
		overlays = append([]string{fileExporterOverlay(dir)}, overlays...)
	}
	for i, y := range overlays {
		p := filepath.Join(dir, fmt.Sprintf("overlay-%d.yaml", i))
		if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", p)
	}

	c.cmd = exec.Command(binaryPath, args...)
	c.cmd.Dir = dir
	c.cmd.Env = os.Environ()
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	go func() {
		c.exitErr = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		if !c.stopped {
			c.Stop(t)
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", c.Output())
		}
	})
	if !o.noWait {
		c.WaitHealthy(t, 60*time.Second)
	}
	return c
}

func fileExporterOverlay(dir string) string {
	return fileExportersBeside(dir, nil, []string{"tailstream"})
}

// fileExportersBeside makes the logs and traces pipelines export to files in dir, after the
// exporters named (an overlay replaces a pipeline's exporter list, so the others are repeated).
func fileExportersBeside(dir string, logs, traces []string) string {
	list := func(names []string, file string) string {
		return "[" + strings.Join(append(append([]string(nil), names...), file), ", ") + "]"
	}
	return fmt.Sprintf(`
exporters:
  file/e2e_logs:
    path: %[1]s/out-logs.json
    flush_interval: 100ms
  file/e2e_traces:
    path: %[1]s/out-traces.json
    flush_interval: 100ms
service:
  pipelines:
    logs:
      exporters: %[2]s
    traces:
      exporters: %[3]s
`, dir, list(logs, "file/e2e_logs"), list(traces, "file/e2e_traces"))
}

// WaitHealthy waits for health_check to answer 200.
func (c *Collector) WaitHealthy(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			t.Fatalf("collector exited before it was healthy: %v\n%s", c.exitErr, c.Output())
		default:
		}
		resp, err := http.Get(c.HealthURL)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.healthyAt = time.Now()
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("collector not healthy after %s\n%s", timeout, c.Output())
}

// Stop sends SIGTERM and asserts the collector exits with code 0 within 30 seconds.
func (c *Collector) Stop(t *testing.T) {
	t.Helper()
	c.stopped = true
	c.waitSignalHandler()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Errorf("collector did not exit within 30s of SIGTERM\n%s", c.Output())
		return
	}
	if c.exitErr != nil {
		t.Errorf("collector exited uncleanly after SIGTERM: %v\n%s", c.exitErr, c.Output())
	}
}

// waitSignalHandler: otelcol (v0.159 collector.go, Run) registers its SIGTERM handler only
// after every component started, health_check turned ready and "Everything is ready" was
// logged; a SIGTERM in that window kills the process with Go's default action instead of a
// graceful shutdown (seen under load right after WaitHealthy). Nothing observable follows the
// registration: wait for the last event before it, the log line, then give the collector's
// goroutine the few instructions it has left.
func (c *Collector) waitSignalHandler() {
	if c.healthyAt.IsZero() {
		return // never became healthy: nothing to race
	}
	// Bounded: a config logging above info never prints the line.
	deadline := c.healthyAt.Add(5 * time.Second)
	for !strings.Contains(c.Output(), "Everything is ready") && time.Now().Before(deadline) {
		select {
		case <-c.done:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	if d := time.Until(c.healthyAt.Add(500 * time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
}

// Output is everything the collector printed so far.
func (c *Collector) Output() string { return c.out.String() }

// SendLogs posts logs to the OTLP/HTTP receiver.
func (c *Collector) SendLogs(t *testing.T, ld plog.Logs) {
	t.Helper()
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	c.postOTLP(t, "/v1/logs", body)
}

// SendTraces posts traces to the OTLP/HTTP receiver.
func (c *Collector) SendTraces(t *testing.T, td ptrace.Traces) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	c.postOTLP(t, "/v1/traces", body)
}

func (c *Collector) postOTLP(t *testing.T, path string, body []byte) {
	t.Helper()
	resp, err := http.Post(c.OTLPHTTPURL+path, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("OTLP post %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("OTLP post %s: %s: %s", path, resp.Status, b)
	}
}

// FileLogs reads what the file/e2e_logs exporter wrote (needs WithFileExporter).
func (c *Collector) FileLogs(t *testing.T) []plog.Logs {
	t.Helper()
	var out []plog.Logs
	u := &plog.JSONUnmarshaler{}
	for _, line := range readLines(t, filepath.Join(c.Dir, "out-logs.json")) {
		ld, err := u.UnmarshalLogs(line)
		if err != nil {
			t.Fatalf("file exporter logs line: %v", err)
		}
		out = append(out, ld)
	}
	return out
}

// FileTraces reads what the file/e2e_traces exporter wrote (needs WithFileExporter).
func (c *Collector) FileTraces(t *testing.T) []ptrace.Traces {
	t.Helper()
	var out []ptrace.Traces
	u := &ptrace.JSONUnmarshaler{}
	for _, line := range readLines(t, filepath.Join(c.Dir, "out-traces.json")) {
		td, err := u.UnmarshalTraces(line)
		if err != nil {
			t.Fatalf("file exporter traces line: %v", err)
		}
		out = append(out, td)
	}
	return out
}

// AllLogRecords flattens FileLogs into records, in order.
func (c *Collector) AllLogRecords(t *testing.T) []plog.LogRecord {
	t.Helper()
	var recs []plog.LogRecord
	for _, ld := range c.FileLogs(t) {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					recs = append(recs, lr)
				}
			}
		}
	}
	return recs
}

// AllSpans flattens FileTraces into spans, in order.
func (c *Collector) AllSpans(t *testing.T) []ptrace.Span {
	t.Helper()
	var spans []ptrace.Span
	for _, td := range c.FileTraces(t) {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					spans = append(spans, sp)
				}
			}
		}
	}
	return spans
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	// A partially flushed last line is not an error: the next read sees it whole.
	return lines
}

// Eventually polls cond every 100ms until it holds or timeout passes, then fails with msg.
func Eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, fmt.Sprintf(msg, args...))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RunBinary runs the distribution binary with args and returns its combined output and error.
func RunBinary(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binaryPath, args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// syncBuffer is shared with the other suites' harnesses.
type syncBuffer = syncbuf.Buffer
