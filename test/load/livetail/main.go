// Command livetail is the load harness of the live tail as a user sees it (make bench runs
// it). It runs the BUILT collector (otelcol-dev/otelcol-jobtrace) with collector.yaml, sends
// OTLP/HTTP from one child process and reads WebSocket and SSE streams from another, so that
// neither shares the server's goroutines, and reports send→read latency:
//
//	(a) 1 unfiltered stream, 1k lines/s, lines with unknown trace ids;
//	(b) 1 stream following a job, lines that carry only the job's trace id;
//	(c) 500 streams (one job each) at 50k lines/s in total;
//	(d) (c) plus 50 stalled clients (unfiltered streams whose clients never read).
//
// Each scenario has one WebSocket (?batch=true) and one SSE client per stream half: streams
// alternate between the two. Latency is read time minus the record's timestamp, which the
// sender sets when it sends; both processes use the same clock.
//
// Then it measures a 200,000-record burst through the default pipeline and through a
// contrib peer (otlp → redaction → batch → file, built from peer/builder-config.yaml into
// bin/peer), one after the other in the same run: end-to-end time and peak RSS.
//
//	go run ./test/load/livetail [-duration 10s] [-only latency|burst] [-scenarios abcd] [-timeline [-bucket 100ms]] [-gomemlimit 60MiB]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	role        = flag.String("role", "", "internal: sender or reader (child processes)")
	duration    = flag.Duration("duration", 10*time.Second, "length of each latency scenario")
	only        = flag.String("only", "", "latency or burst (default both)")
	scenarios   = flag.String("scenarios", "abcd", "latency scenarios to run")
	burstN      = flag.Int("burst", 200_000, "records in the burst")
	binary      = flag.String("binary", "otelcol-dev/otelcol-jobtrace", "the built distribution")
	peerBin     = flag.String("peer", "bin/peer/otelcol-peer", "the contrib peer")
	timeline    = flag.Bool("timeline", false, "also print each scenario's p99 per second (tells a start-up spike from a steady state)")
	bucket      = flag.Duration("bucket", time.Second, "-timeline's interval (e.g. 100ms to see a start-up spike)")
	extraConfig = flag.String("config", "", "one more config file for jobtrace (e.g. a smaller retention.buffer_size, or pprof)")
	goMemLimit  = flag.String("gomemlimit", "", "burst: GOMEMLIMIT for both collectors (e.g. 60MiB), to see the peaks without Go's default GC headroom")

	// Child flags.
	otlpURL  = flag.String("otlp", "", "sender: OTLP/HTTP base URL")
	apiURL   = flag.String("api", "", "reader: tailstream base URL")
	rate     = flag.Int("rate", 1000, "sender: lines/s")
	kind     = flag.String("kind", "unknown", "sender: unknown | jobtrace | jobs")
	nStreams = flag.Int("streams", 1, "reader: streams")
	nStalled = flag.Int("stalled", 0, "reader: stalled clients")
	filter   = flag.String("filter", "none", "reader: none | job | jobs")
)

const (
	benchJob   = "bench-job"
	benchTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	jobs       = 500
)

func main() {
	flag.Parse()
	switch *role {
	case "sender":
		sender()
		return
	case "reader":
		reader()
		return
	}
	root, err := os.Getwd()
	must(err)
	fmt.Printf("# livetail load harness (%s, %d CPUs, %s)\n\n", runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	if *only == "" || *only == "latency" {
		fmt.Println("| scenario | transport | lines read | p50 | p99 | max | dropped (server) |")
		fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
		for _, s := range *scenarios {
			runScenario(root, s)
		}
		fmt.Println()
	}
	if *only == "" || *only == "burst" {
		burst(root)
	}
}

// ---- orchestration ----

type proc struct {
	cmd  *exec.Cmd
	env  map[string]string
	dir  string
	out  *bytes.Buffer
	wait chan error
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCollector runs bin with configs; env gets free ports. api: wait for the tailstream API
// as well as OTLP.
func startCollector(bin string, api bool, extra map[string]string, configs ...string) *proc {
	dir, err := os.MkdirTemp("", "livetail-")
	must(err)
	must(os.MkdirAll(filepath.Join(dir, "worker-logs"), 0o755))
	env := map[string]string{
		"TAILSTREAM_ENDPOINT": fmt.Sprintf("127.0.0.1:%d", freePort()),
		"OTLP_HTTP_ENDPOINT":  fmt.Sprintf("127.0.0.1:%d", freePort()),
		"OTLP_GRPC_ENDPOINT":  fmt.Sprintf("127.0.0.1:%d", freePort()),
		"HEALTH_ENDPOINT":     fmt.Sprintf("127.0.0.1:%d", freePort()),
		"METRICS_HOST":        "127.0.0.1",
		"METRICS_PORT":        strconv.Itoa(freePort()),
		"REDIS_ENDPOINT":      fmt.Sprintf("127.0.0.1:%d", freePort()), // nothing listens
		"WORKER_LOGS":         filepath.Join(dir, "worker-logs", "*.log"),
		"JOBTRACE_TOKEN":      "",
		"LOG_LEVEL":           "warn",
		"OUT_FILE":            filepath.Join(dir, "out.json"),
	}
	for k, v := range extra {
		env[k] = v
	}
	var args []string
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(bin, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"))
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(cmd.Start())
	p := &proc{cmd: cmd, env: env, dir: dir, out: out, wait: make(chan error, 1)}
	go func() { p.wait <- cmd.Wait() }()
	// Ready when OTLP/HTTP answers.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", env["OTLP_HTTP_ENDPOINT"]); err == nil {
			c.Close()
			if api {
				if c2, err := net.Dial("tcp", env["TAILSTREAM_ENDPOINT"]); err == nil {
					c2.Close()
					return p
				}
			} else {
				return p
			}
		}
		select {
		case err := <-p.wait:
			fatalf("collector exited: %v\n%s", err, out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	fatalf("collector not ready:\n%s", out)
	return nil
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.wait:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.wait
	}
	_ = os.RemoveAll(p.dir)
}

// peakRSS is the process's VmHWM in MiB.
func (p *proc) peakRSS() float64 { return p.status("VmHWM:") }

// rss is the process's current VmRSS in MiB.
func (p *proc) rss() float64 { return p.status("VmRSS:") }

func (p *proc) status(field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func child(args ...string) (*exec.Cmd, io.ReadCloser) {
	self, err := os.Executable()
	must(err)
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(err)
	must(cmd.Start())
	return cmd, out
}

type summary struct {
	Transport string  `json:"transport"`
	N         int     `json:"n"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
	// P99BySecond is each second's p99 (ms), printed with -timeline.
	P99BySecond []float64 `json:"p99_by_second_ms,omitempty"`
}

// limitsOverlay raises the stream limits for 550 streams of one (anonymous) user; the rest
// is collector.yaml as shipped.
const limitsOverlay = `
extensions:
  tailstream:
    streams:
      max_streams: 1000
      max_streams_per_user: 1000
`

func runScenario(root string, s rune) {
	overlay := filepath.Join(os.TempDir(), fmt.Sprintf("livetail-limits-%d.yaml", os.Getpid()))
	must(os.WriteFile(overlay, []byte(limitsOverlay), 0o600))
	defer os.Remove(overlay)
	cfgs := []string{filepath.Join(root, "collector.yaml"), overlay}
	if *extraConfig != "" {
		cfgs = append(cfgs, *extraConfig)
	}
	col := startCollector(filepath.Join(root, *binary), true, nil, cfgs...)
	defer col.stop()
	api := "http://" + col.env["TAILSTREAM_ENDPOINT"]
	otlp := "http://" + col.env["OTLP_HTTP_ENDPOINT"]
	var rd []string
	var snd []string
	name := ""
	switch s {
	case 'a':
		name = "(a) 1 unfiltered stream, 1k lines/s, unknown trace ids"
		rd = []string{"-streams", "2", "-filter", "none"}
		snd = []string{"-rate", "1000", "-kind", "unknown"}
	case 'b':
		name = "(b) 1 stream following a job, trace-id-only lines, 1k lines/s"
		sendJobSpan(otlp)
		waitJob(api)
		rd = []string{"-streams", "2", "-filter", "job"}
		snd = []string{"-rate", "1000", "-kind", "jobtrace"}
	case 'c':
		name = "(c) 500 streams, 50k lines/s total"
		rd = []string{"-streams", "500", "-filter", "jobs"}
		snd = []string{"-rate", "50000", "-kind", "jobs"}
	case 'd':
		name = "(d) (c) + 50 stalled clients"
		rd = []string{"-streams", "500", "-filter", "jobs", "-stalled", "50"}
		snd = []string{"-rate", "50000", "-kind", "jobs"}
	default:
		return
	}
	dur := duration.String()
	rcmd, rout := child(append([]string{"-role", "reader", "-api", api, "-duration", dur, "-bucket", bucket.String()}, rd...)...)
	sc := bufio.NewScanner(rout)
	if !sc.Scan() || sc.Text() != "ready" {
		fatalf("reader did not get ready: %q", sc.Text())
	}
	scmd, _ := child(append([]string{"-role", "sender", "-otlp", otlp, "-duration", dur}, snd...)...)
	must(scmd.Wait())
	var sums []summary
	for sc.Scan() {
		var sm summary
		if json.Unmarshal(sc.Bytes(), &sm) == nil {
			sums = append(sums, sm)
		}
	}
	_ = rcmd.Wait()
	dropped := serverDropped(api)
	for _, sm := range sums {
		fmt.Printf("| %s | %s | %d | %.1f ms | %.1f ms | %.1f ms | %s |\n", name, sm.Transport, sm.N, sm.P50, sm.P99, sm.Max, dropped)
	}
	if *timeline {
		for _, sm := range sums {
			fmt.Fprintf(os.Stderr, "%s %s p99 per %s (ms): %.1f\n", name, sm.Transport, *bucket, sm.P99BySecond)
		}
	}
}

// serverDropped sums the drops the streams report (the stalled clients' streams drop).
func serverDropped(api string) string {
	resp, err := http.Get(api + "/api/v1/logs/streams?all=true")
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	var v struct {
		Streams []struct {
			Stats struct {
				Dropped uint64 `json:"lines_dropped"`
			} `json:"stats"`
		} `json:"streams"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return "?"
	}
	var n uint64
	for _, s := range v.Streams {
		n += s.Stats.Dropped
	}
	return strconv.FormatUint(n, 10)
}

func sendJobSpan(otlp string) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "jobqueue")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(traceID(benchTrace))
	sp.SetSpanID(pcommon.SpanID{0xbe, 1, 2, 3, 4, 5, 6, 7})
	sp.SetKind(ptrace.SpanKindConsumer)
	sp.SetName("process high_priority")
	now := time.Now()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	sp.Attributes().PutStr("job.id", benchJob)
	sp.Attributes().PutStr("job.status", "running")
	sp.Attributes().PutStr("queue.name", "high_priority")
	sp.Attributes().PutInt("job.attempt", 1)
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	must(err)
	resp, err := http.Post(otlp+"/v1/traces", "application/x-protobuf", bytes.NewReader(b))
	must(err)
	resp.Body.Close()
}

func waitJob(api string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(api + "/api/v1/jobs")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(b, []byte(benchJob)) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	fatalf("job span never reached the catalog")
}

// ---- sender ----

func traceID(s string) pcommon.TraceID {
	var id pcommon.TraceID
	for i := range id {
		v, _ := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		id[i] = byte(v)
	}
	return id
}

func sender() {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	const tick = 10 * time.Millisecond
	perTick := max(*rate/int(time.Second/tick), 1)
	t := time.NewTicker(tick)
	defer t.Stop()
	end := time.Now().Add(*duration)
	var seq uint64
	m := &plog.ProtoMarshaler{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for now := range t.C {
		if now.After(end) {
			break
		}
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "bench-app")
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		ts := pcommon.NewTimestampFromTime(time.Now())
		for range perTick {
			seq++
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(ts)
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr("handled request " + strconv.FormatUint(seq, 10))
			switch *kind {
			case "unknown":
				var id pcommon.TraceID
				id[0], id[1] = 0x77, 1
				for i := 2; i < 10; i++ {
					id[i] = byte(seq >> (8 * (i - 2)))
				}
				lr.SetTraceID(id)
			case "jobtrace":
				lr.SetTraceID(traceID(benchTrace))
			case "jobs":
				lr.Attributes().PutStr("job.id", "job-"+strconv.FormatUint(seq%jobs, 10))
			}
		}
		b, err := m.MarshalLogs(ld)
		must(err)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := client.Post(*otlpURL+"/v1/logs", "application/x-protobuf", bytes.NewReader(b))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// ---- reader ----

type lat struct {
	mu sync.Mutex
	d  []time.Duration
	at []time.Time // read times, for the per-second breakdown
}

// add records one line; each connection has its own lat (no lock: a lock shared by 500
// connections' readers was the reader's own contention) and merges it at the end.
func (l *lat) add(ts time.Time, now time.Time) {
	l.d = append(l.d, now.Sub(ts))
	l.at = append(l.at, now)
}

func (l *lat) merge(o *lat) {
	l.mu.Lock()
	l.d = append(l.d, o.d...)
	l.at = append(l.at, o.at...)
	l.mu.Unlock()
}

// bySecond returns the p99 of each second (-bucket) of the run (from the first read), so that a
// transient (a start-up spike) can be told from a steady state.
func (l *lat) bySecond() []float64 {
	if len(l.d) == 0 {
		return nil
	}
	t0 := slices.MinFunc(l.at, time.Time.Compare)
	var secs [][]time.Duration
	for i, d := range l.d {
		k := int(l.at[i].Sub(t0) / *bucket)
		for len(secs) <= k {
			secs = append(secs, nil)
		}
		secs[k] = append(secs[k], d)
	}
	out := make([]float64, len(secs))
	for k, ds := range secs {
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		out[k] = float64(ds[min(len(ds)-1, int(0.99*float64(len(ds))))]) / 1e6
	}
	return out
}

func (l *lat) summary(tr string) summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	bySec := l.bySecond()
	slices.Sort(l.d)
	s := summary{Transport: tr, N: len(l.d)}
	if len(l.d) == 0 {
		return s
	}
	q := func(p float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))]) / 1e6
	}
	s.P50, s.P99, s.Max = q(0.50), q(0.99), float64(l.d[len(l.d)-1])/1e6
	s.P99BySecond = bySec
	return s
}

func createStream(api string, filters map[string]any) string {
	body, _ := json.Marshal(map[string]any{"filters": filters, "options": map[string]any{"follow": true, "rate_limit": 100000, "buffer_size": 10000}})
	resp, err := http.Post(api+"/api/v1/logs/streams", "application/json", bytes.NewReader(body))
	must(err)
	defer resp.Body.Close()
	var v struct {
		ID string `json:"stream_id"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &v) != nil {
		fatalf("create stream: %d %s", resp.StatusCode, b)
	}
	return v.ID
}

// tsOf pulls the "timestamp" of an entry without decoding all of it.
func tsOf(b []byte) (time.Time, bool) {
	const key = `"timestamp":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return time.Time{}, false
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[:j]))
	return t, err == nil
}

// entriesOf splits a WebSocket message (an object or an array of objects) into entries,
// leaving out control messages.
func entriesOf(b []byte, fn func([]byte)) {
	if len(b) > 0 && b[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(b, &arr) == nil {
			for _, e := range arr {
				fn(e)
			}
		}
		return
	}
	if bytes.HasPrefix(b, []byte(`{"type"`)) {
		return
	}
	fn(b)
}

func reader() {
	api := *apiURL
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws, sse := &lat{}, &lat{}
	var wg sync.WaitGroup
	var errs atomic.Int64
	var wsConns []*websocket.Conn
	for i := range *nStreams {
		var f map[string]any
		switch *filter {
		case "job":
			f = map[string]any{"job_id": benchJob}
		case "jobs":
			f = map[string]any{"job_id": "job-" + strconv.Itoa(i%jobs)}
		default:
			f = map[string]any{}
		}
		id := createStream(api, f)
		wg.Add(1)
		if i%2 == 0 {
			c, _, err := websocket.Dial(ctx, strings.Replace(api, "http", "ws", 1)+"/api/v1/logs/streams/"+id+"?batch=true", nil)
			must(err)
			c.SetReadLimit(64 << 20)
			wsConns = append(wsConns, c)
			go func() {
				defer wg.Done()
				defer c.CloseNow()
				local := &lat{}
				defer ws.merge(local)
				for {
					// No context per read (the library would register one on ctx, shared by
					// every connection, per message): the end closes the connection instead.
					_, b, err := c.Read(context.Background())
					if err != nil {
						if ctx.Err() == nil {
							errs.Add(1)
						}
						return
					}
					now := time.Now()
					entriesOf(b, func(e []byte) {
						if ts, ok := tsOf(e); ok {
							local.add(ts, now)
						}
					})
				}
			}()
		} else {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v1/logs/streams/"+id+"/events", nil)
			resp, err := http.DefaultClient.Do(req)
			must(err)
			go func() {
				defer wg.Done()
				defer resp.Body.Close()
				local := &lat{}
				defer sse.merge(local)
				sc := bufio.NewScanner(resp.Body)
				sc.Buffer(make([]byte, 1<<20), 16<<20)
				event := ""
				for sc.Scan() {
					l := sc.Bytes()
					switch {
					case bytes.HasPrefix(l, []byte("event: ")):
						event = string(l[7:])
					case bytes.HasPrefix(l, []byte("data: ")):
						if event == "" {
							if ts, ok := tsOf(l[6:]); ok {
								local.add(ts, time.Now())
							}
						}
					case len(l) == 0:
						event = ""
					}
				}
			}()
		}
	}
	var stalled []*websocket.Conn
	for range *nStalled {
		id := createStream(api, map[string]any{})
		c, _, err := websocket.Dial(ctx, strings.Replace(api, "http", "ws", 1)+"/api/v1/logs/streams/"+id, nil)
		must(err)
		stalled = append(stalled, c) // never read
	}
	fmt.Println("ready")
	time.Sleep(*duration + 3*time.Second)
	cancel()
	for _, c := range append(stalled, wsConns...) {
		c.CloseNow()
	}
	wg.Wait()
	for tr, l := range map[string]*lat{"websocket": ws, "sse": sse} {
		if s := l.summary(tr); s.N > 0 {
			b, _ := json.Marshal(s)
			fmt.Println(string(b))
		}
	}
	if n := errs.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "reader: %d connections failed\n", n)
	}
}

// ---- burst ----

func burst(root string) {
	fmt.Printf("Burst: %d records (unknown trace ids, one e-mail address each) sent as fast as 4 concurrent OTLP/HTTP requests of 1,000 records go.\n\n", *burstN)
	fmt.Println("| collector | accepted in | live path done | export path done | records/s (end to end) | idle RSS | peak RSS |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	// Ours: collector.yaml with the export path writing to a file like the peer does.
	overlay := filepath.Join(os.TempDir(), fmt.Sprintf("livetail-overlay-%d.yaml", os.Getpid()))
	must(os.WriteFile(overlay, []byte(`
exporters:
  file/bench:
    path: ${env:OUT_FILE}
    flush_interval: 100ms
service:
  pipelines:
    logs:
      exporters: [file/bench]
`), 0o600))
	defer os.Remove(overlay)
	cfgs := []string{filepath.Join(root, "collector.yaml"), overlay}
	if *extraConfig != "" {
		cfgs = append(cfgs, *extraConfig)
	}
	var env map[string]string
	if *goMemLimit != "" {
		env = map[string]string{"GOMEMLIMIT": *goMemLimit}
	}
	ours := startCollector(filepath.Join(root, *binary), true, env, cfgs...)
	runBurst("jobtrace (collector.yaml)", ours, true)
	ours.stop()

	pb := filepath.Join(root, *peerBin)
	if _, err := os.Stat(pb); err != nil {
		fmt.Printf("\n(peer not built: %v; build it with bin/builder --config test/load/livetail/peer/builder-config.yaml)\n", err)
		return
	}
	peer := startCollector(pb, false, env, filepath.Join(root, "test/load/livetail/peer/collector.yaml"))
	runBurst("contrib peer (otlp → redaction → batch → file)", peer, false)
	peer.stop()

	// jobtrace's binary with the peer's pipeline: what the binary costs (its idle pages) apart
	// from what jobtrace's pipeline does (the live path's ring, the export path's hold).
	samePipe := filepath.Join(os.TempDir(), fmt.Sprintf("livetail-peerpipe-%d.yaml", os.Getpid()))
	must(os.WriteFile(samePipe, []byte(peerPipelineOnJobtrace), 0o600))
	defer os.Remove(samePipe)
	both := startCollector(filepath.Join(root, *binary), false, env, samePipe)
	runBurst("jobtrace's binary, the peer's pipeline (otlp → piiredaction → batch → file)", both, false)
	both.stop()
}

// peerPipelineOnJobtrace is the peer's pipeline with jobtrace's redaction processor, which
// masks e-mail addresses by default as the peer's blocked_values do.
const peerPipelineOnJobtrace = `
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${env:OTLP_HTTP_ENDPOINT}
processors:
  piiredaction:
  batch:
    timeout: 200ms
    send_batch_size: 2048
exporters:
  file:
    path: ${env:OUT_FILE}
    flush_interval: 100ms
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [piiredaction, batch]
      exporters: [file]
  telemetry:
    metrics:
      level: none
`

func runBurst(name string, p *proc, live bool) {
	// What the process takes before any record: the part of the peak no pipeline change moves.
	time.Sleep(time.Second)
	idle := p.rss()
	otlp := "http://" + p.env["OTLP_HTTP_ENDPOINT"]
	const per = 1000
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	m := &plog.ProtoMarshaler{}
	bodies := make(chan []byte, 8)
	go func() {
		for i := 0; i < *burstN; i += per {
			ld := plog.NewLogs()
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", "burst-app")
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for k := i; k < min(i+per, *burstN); k++ {
				lr := lrs.AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
				lr.Body().SetStr("order " + strconv.Itoa(k) + " placed by jane.customer@example.com")
				var id pcommon.TraceID
				id[0] = 0x66
				for j := 1; j < 9; j++ {
					id[j] = byte(k >> (8 * (j - 1)))
				}
				lr.SetTraceID(id)
			}
			b, err := m.MarshalLogs(ld)
			must(err)
			bodies <- b
		}
		close(bodies)
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range bodies {
				for {
					resp, err := client.Post(otlp+"/v1/logs", "application/x-protobuf", bytes.NewReader(b))
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
					}
					time.Sleep(10 * time.Millisecond) // refused (memory_limiter): retry like an SDK
				}
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	liveDone := time.Duration(0)
	if live {
		api := "http://" + p.env["TAILSTREAM_ENDPOINT"]
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if head := ringHead(api); head >= uint64(*burstN) {
				liveDone = time.Since(start)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	exportDone, n := fileDone(p.env["OUT_FILE"], *burstN, start)
	rss := p.peakRSS()
	liveCol := "—"
	if live {
		liveCol = fmt.Sprintf("%.2f s", liveDone.Seconds())
	}
	end := exportDone
	if live && liveDone > 0 {
		end = liveDone
	}
	fmt.Printf("| %s | %.2f s | %s | %.2f s (%d records) | %.0f | %.0f MiB | %.0f MiB |\n", name, accepted.Seconds(), liveCol, exportDone.Seconds(), n, float64(*burstN)/end.Seconds(), idle, rss)
}

func ringHead(api string) uint64 {
	resp, err := http.Get(api + "/api/v1/health/logging")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var v map[string]any
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return 0
	}
	var find func(any) uint64
	find = func(x any) uint64 {
		switch t := x.(type) {
		case map[string]any:
			if h, ok := t["buffer_head_seq"].(float64); ok {
				return uint64(h)
			}
			for _, c := range t {
				if h := find(c); h > 0 {
					return h
				}
			}
		}
		return 0
	}
	return find(v)
}

// fileDone waits until the file exporter's output holds want records and returns when its
// last write happened (its modification time) relative to start.
func fileDone(path string, want int, start time.Time) (time.Duration, int) {
	deadline := time.Now().Add(2 * time.Minute)
	var lastSize int64 = -1
	n := 0
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		if st.Size() != lastSize {
			lastSize = st.Size()
			continue
		}
		n = countRecords(path)
		if n >= want {
			return st.ModTime().Sub(start), n
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, n
	}
	return st.ModTime().Sub(start), n
}

func countRecords(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	u := &plog.JSONUnmarshaler{}
	n := 0
	for sc.Scan() {
		ld, err := u.UnmarshalLogs(sc.Bytes())
		if err == nil {
			n += ld.LogRecordCount()
		}
	}
	return n
}

func must(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "livetail: "+format+"\n", args...)
	os.Exit(1)
}
