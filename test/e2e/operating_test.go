package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"gopkg.in/yaml.v3"

	"github.com/jobtrace/jobtrace/internal/jobsim"
)

// promMetric finds the collector's metric names in PromQL: all of jobtrace's and the
// collector's own telemetry is exposed under the otelcol_ prefix.
var promMetric = regexp.MustCompile(`\botelcol_[a-z0-9_]+`)

// ruleMetrics returns the metric names the alert rules' expressions use.
func ruleMetrics(t *testing.T, path string) []string {
	t.Helper()
	var doc struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	return metricsIn(exprs...)
}

// dashboardPanel is the part of a Grafana panel the checks read.
type dashboardPanel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // rows hold panels
}

func dashboardPanels(t *testing.T, path string) []dashboardPanel {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string           `json:"title"`
		UID    string           `json:"uid"`
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", path, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Fatalf("%s: a dashboard needs a title and a uid", path)
	}
	var flat []dashboardPanel
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			flat = append(flat, p)
		}
	}
	walk(d.Panels)
	return flat
}

func metricsIn(exprs ...string) []string {
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, m := range promMetric.FindAllString(e, -1) {
			seen[m] = true
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// scrapeMetricNames reads a Prometheus text exposition and returns the sample names in it.
func scrapeMetricNames(t *testing.T, url string, into map[string]bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i > 0 {
			name = line[:i]
		}
		into[name] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// missingMetrics lists the names that are not exposed. A histogram is exposed as its _bucket,
// _count and _sum series; an expression may name any of them.
func missingMetrics(names []string, exposed map[string]bool) []string {
	var missing []string
	for _, n := range names {
		if exposed[n] || exposed[n+"_bucket"] || exposed[n+"_count"] {
			continue
		}
		missing = append(missing, n)
	}
	return missing
}

func (c *Collector) metricsURL() string {
	return fmt.Sprintf("http://%s:%s/metrics", c.Env["METRICS_HOST"], c.Env["METRICS_PORT"])
}

// postLogsIgnoringStatus sends logs that the collector may refuse (memory_limiter).
func (c *Collector) postLogsIgnoringStatus(t *testing.T, ld plog.Logs) {
	t.Helper()
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(c.OTLPHTTPURL+"/v1/logs", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("OTLP post: %v", err)
	}
	resp.Body.Close()
}

// postTracesIgnoringStatus sends one span that the collector may refuse (memory_limiter).
func (c *Collector) postTracesIgnoringStatus(t *testing.T) {
	t.Helper()
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("refused")
	sp.SetTraceID(pcommon.TraceID{1, 2, 3})
	sp.SetSpanID(pcommon.SpanID{4, 5, 6})
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(c.OTLPHTTPURL+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("OTLP post: %v", err)
	}
	resp.Body.Close()
}

// tracedLogs returns n log records on random traces no job has: the lines jobcorrelation holds.
func tracedLogs(n int, prefix string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e-app")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr(fmt.Sprintf("%s request %d", prefix, i))
		var tid pcommon.TraceID
		copy(tid[:], fmt.Sprintf("%-16s", fmt.Sprintf("%s%d", prefix, i)))
		lr.SetTraceID(tid)
	}
	return ld
}

// exerciseCollector drives every part of a collector whose telemetry the rules and the dashboard
// read, so that each metric has a sample: jobs with failures, a malformed carrier, worker logs
// with PII, a stream that is rate limited, API calls, a trace backend that is down, a full hold,
// and finally Redis going away.
func exerciseCollector(t *testing.T) *Collector {
	t.Helper()
	deadBackend := freePorts(t, 1)[0]
	c := StartCollector(t, WithOverlay(fmt.Sprintf(`
extensions:
  tailstream:
    backends:
      - name: jaeger
        type: jaeger
        endpoint: http://127.0.0.1:%d
        timeout: 200ms
        circuit_breaker: {failure_threshold: 1, open_duration: 1m}
receivers:
  queuejob:
    windows: {completed: 2, dead_letter: 2, page: 1}
processors:
  jobcorrelation:
    hold: {max_records: 5}
`, deadBackend)))
	api := c.TailstreamURL + "/api/v1"

	// A live stream that asks for one line per second, attached, so lines flow and drop.
	code, b := tsRequest(t, http.MethodPost, api+"/logs/streams", "", map[string]any{
		"options": map[string]any{"follow": true, "rate_limit": 1},
	})
	if code != http.StatusCreated {
		t.Fatalf("create stream: %d %s", code, b)
	}
	var created struct {
		Endpoint string `json:"endpoint"`
	}
	if err := json.Unmarshal(b, &created); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, created.Endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	go func() {
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}()

	// A job whose trace-context carrier is malformed: counted as a rejection.
	bad := `{"id":"e2e-bad-carrier","filepath":"/data/x.csv","filesize":1,"priority":"high","retries":0,` +
		`"creation_time":"2026-11-27T10:27:24Z","trace_id":"zz-not-a-trace-id","span_id":"not-a-span"}`
	c.Redis.Cmd("LPUSH", "jobqueue:high_priority", bad)
	// And a payload that is not a job at all: counted as bad and skipped.
	c.Redis.Cmd("LPUSH", "jobqueue:completed", "not json at all")

	c.SendLogs(t, tsLogs("e2e-worker",
		[3]string{"e2e-job-1", "error", "card 4111 1111 1111 1111 declined for jane.customer@example.com"},
	))
	c.SendLogs(t, tracedLogs(50, "hold"))
	runJobsimDrained(t, c, 16)

	// API traffic, and a trace lookup the (down) backend has to answer.
	tsRequest(t, http.MethodGet, api+"/jobs", "", nil)
	tsRequest(t, http.MethodGet, api+"/traces/0123456789abcdef0123456789abcdef/summary", "", nil)
	tsRequest(t, http.MethodGet, api+"/health/tracing", "", nil)

	c.Redis.Down()
	return c
}

// TestRulesAndDashboardUseExposedMetrics scrapes the built collector after exercising it and
// fails when an alert rule or a dashboard panel names a metric the collector does not expose.
func TestRulesAndDashboardUseExposedMetrics(t *testing.T) {
	rules := ruleMetrics(t, filepath.Join(repoRoot, "deploy", "prometheus", "jobtrace-rules.yaml"))
	var exprs []string
	panels := dashboardPanels(t, filepath.Join(repoRoot, "deploy", "grafana", "jobtrace.json"))
	for _, p := range panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if promMetric.FindString(tg.Expr) == "" {
				t.Errorf("dashboard panel %q: expression %q names no collector metric", p.Title, tg.Expr)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	dashboard := metricsIn(exprs...)
	if len(rules) < 10 || len(dashboard) < 10 {
		t.Fatalf("rules name %d metrics and the dashboard %d: the files were not read", len(rules), len(dashboard))
	}

	all := metricsIn(append(exprs, strings.Join(rules, " "))...)
	exposed := map[string]bool{}
	c := exerciseCollector(t)
	// A second collector whose memory_limiter limit is below any heap: it refuses what it gets.
	over := StartCollector(t, WithoutRedis(), WithOverlay(`
processors:
  memory_limiter:
    check_interval: 100ms
    limit_percentage: 0
    spike_limit_percentage: 0
    limit_mib: 2
    spike_limit_mib: 1
`))
	// Some counts appear only after a hold releases or a poll fails against the stopped Redis:
	// scrape until every name is there, or the time is up and the test says which are not.
	deadline := time.Now().Add(45 * time.Second)
	for {
		over.postLogsIgnoringStatus(t, tracedLogs(5, "refused"))
		over.postTracesIgnoringStatus(t)
		scrapeMetricNames(t, c.metricsURL(), exposed)
		scrapeMetricNames(t, over.metricsURL(), exposed)
		if len(missingMetrics(all, exposed)) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}

	if missing := missingMetrics(rules, exposed); len(missing) > 0 {
		t.Errorf("alert rules name metrics the collector does not expose: %s", strings.Join(missing, ", "))
	}
	if missing := missingMetrics(dashboard, exposed); len(missing) > 0 {
		t.Errorf("dashboard panels name metrics the collector does not expose: %s", strings.Join(missing, ", "))
	}
	// The check itself must catch a name the binary lacks.
	if missing := missingMetrics(append(rules, "otelcol_receiver_queuejob_no_such_metric"), exposed); len(missing) != 1 {
		t.Errorf("a rule naming a missing metric should be reported once, got %v", missing)
	}
}

// TestNoDeprecationWarningAtStartup: collector.yaml uses every component by its current name.
func TestNoDeprecationWarningAtStartup(t *testing.T) {
	c := StartCollector(t, WithoutRedis())
	c.Stop(t)
	if out := c.Output(); strings.Contains(strings.ToLower(out), "deprecated") {
		t.Fatalf("start-up log has a deprecation warning:\n%s", out)
	}
}

// TestFilelogAliasStillWorks: configs written before the rename keep working.
func TestFilelogAliasStillWorks(t *testing.T) {
	overlay := filepath.Join(t.TempDir(), "old-name.yaml")
	if err := os.WriteFile(overlay, []byte(`
receivers:
  filelog/old:
    include: [/nonexistent/*.log]
service:
  pipelines:
    logs:
      receivers: [queuejob, otlp, file_log, filelog/old]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := RunBinary(t, "validate", "--config", filepath.Join(repoRoot, "collector.yaml"), "--config", overlay)
	if err != nil {
		t.Fatalf("a config that still says filelog should validate: %v\n%s", err, out)
	}
}

// apiJobs lists the jobs the extension knows, straight from the API.
func apiJobs(t *testing.T, c *Collector) []apiJob {
	t.Helper()
	code, b := tsRequest(t, http.MethodGet, c.TailstreamURL+"/api/v1/jobs?limit=500", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /jobs: %d %s", code, b)
	}
	var page struct {
		Jobs []apiJob `json:"jobs"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatalf("GET /jobs: %v: %s", err, b)
	}
	return page.Jobs
}

// runJobsimDrained runs a small failure-heavy jobsim (as startJobsim) until every job is final.
func runJobsimDrained(t *testing.T, c *Collector, jobs int) *jobsim.Summary {
	t.Helper()
	cfg := jobsim.DefaultConfig()
	cfg.Redis = c.Redis.Addr
	cfg.Jobs = jobs
	cfg.Rate = 8
	cfg.Workers = 2
	cfg.FailRatio = 0.45
	cfg.MaxRetries = 2
	cfg.WorkTime = 100 * time.Millisecond
	cfg.RetryBackoff = 200 * time.Millisecond
	cfg.Duration = 90 * time.Second
	cfg.Drain = true
	cfg.Seed = 11
	cfg.LogFile = filepath.Join(c.Dir, "worker-logs", "jobsim.log")
	cfg.OTLPEndpoint = c.OTLPHTTPURL
	sum, err := jobsim.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("jobsim: %v", err)
	}
	return sum
}

// derivedTraceID is the trace the receiver gives a job without a trace context (CONVENTIONS.md).
func derivedTraceID(jobID string) string {
	sum := sha256.Sum256([]byte("jobtrace/trace/" + jobID))
	return hex.EncodeToString(sum[:16])
}

// TestDegradedExtractionOff: with trace_context.enabled false the receiver still observes every
// job and its outcome; it only stops joining the producers' traces.
func TestDegradedExtractionOff(t *testing.T) {
	c := StartCollector(t, WithOverlay(`
receivers:
  queuejob:
    trace_context:
      enabled: false
`))
	sum := runJobsimDrained(t, c, 8)
	if sum.Final() < 8 {
		t.Fatalf("jobsim did not finish its jobs: %+v", sum)
	}
	want := map[string]*jobsim.Job{}
	for id, j := range sum.Jobs {
		if j.Outcome == jobsim.Succeeded || j.Outcome == jobsim.DeadLettered {
			want[id] = j
		}
	}
	var got map[string]apiJob
	Eventually(t, 30*time.Second, func() bool {
		got = map[string]apiJob{}
		for _, j := range apiJobs(t, c) {
			got[j.ID] = j
		}
		for id, j := range want {
			if g, ok := got[id]; !ok || g.Status != string(j.Outcome) {
				return false
			}
		}
		return true
	}, "every finished job should be listed with its outcome")
	for id, j := range want {
		if got[id].TraceID != derivedTraceID(id) {
			t.Errorf("job %s: trace %s, want the derived %s (the payload's %s must be ignored)",
				id, got[id].TraceID, derivedTraceID(id), j.TraceID)
		}
	}
}

// TestDegradedTracingBackendsUnreachable: with every trace backend down the collector runs, jobs
// and traces it holds are answered from memory, and a trace it lacks is a clear partial answer.
func TestDegradedTracingBackendsUnreachable(t *testing.T) {
	dead := freePorts(t, 2)
	c := StartCollector(t, WithOverlay(fmt.Sprintf(`
extensions:
  tailstream:
    backends:
      - {name: jaeger, type: jaeger, endpoint: "http://127.0.0.1:%d", timeout: 300ms}
      - {name: zipkin, type: zipkin, endpoint: "http://127.0.0.1:%d", timeout: 300ms}
`, dead[0], dead[1])))
	sum := runJobsimDrained(t, c, 6)
	if sum.Final() < 6 {
		t.Fatalf("jobsim did not finish its jobs: %+v", sum)
	}
	var jobs []apiJob
	Eventually(t, 30*time.Second, func() bool {
		jobs = apiJobs(t, c)
		return len(jobs) >= 6
	}, "jobs should be listed from memory")
	for _, j := range jobs[:3] {
		code, b := tsRequest(t, http.MethodGet, c.TailstreamURL+"/api/v1/jobs/"+j.ID+"/trace", "", nil)
		if code != http.StatusOK {
			t.Errorf("job %s trace with backends down: %d %s", j.ID, code, b)
		}
		code, b = tsRequest(t, http.MethodGet, c.TailstreamURL+"/api/v1/traces/"+j.TraceID+"/summary", "", nil)
		if code != http.StatusOK {
			t.Errorf("summary of cached trace %s with backends down: %d %s", j.TraceID, code, b)
		}
	}
	code, b := tsRequest(t, http.MethodGet, c.TailstreamURL+"/api/v1/traces/0123456789abcdef0123456789abcdef/summary", "", nil)
	if code < 400 || code >= 600 || !json.Valid(b) || !strings.Contains(string(b), `"error"`) {
		t.Errorf("a trace no one can answer: %d %s, want an error status with a JSON error", code, b)
	}
	code, b = tsRequest(t, http.MethodGet, c.TailstreamURL+"/api/v1/health/tracing", "", nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"degraded"`) {
		t.Errorf("health with backends down: %d %s, want degraded", code, b)
	}
	if resp, err := http.Get(c.HealthURL); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the collector itself should stay healthy: %v %v", resp, err)
	}
}

// TestDegradedStreamingOff: with streams.enabled false no live stream can be opened, and the
// pipeline still fills history and the job API.
func TestDegradedStreamingOff(t *testing.T) {
	c := StartCollector(t, WithoutRedis(), WithOverlay(`
extensions:
  tailstream:
    streams:
      enabled: false
`))
	api := c.TailstreamURL + "/api/v1"
	code, b := tsRequest(t, http.MethodPost, api+"/logs/streams", "", map[string]any{"filters": map[string]any{"job_id": "e2e-off"}})
	if code != http.StatusServiceUnavailable || !strings.Contains(string(b), "streaming_disabled") {
		t.Fatalf("creating a stream with streaming off: %d %s", code, b)
	}
	c.SendLogs(t, tsLogs("e2e-worker", [3]string{"e2e-off", "error", "e2e-off still recorded"}))
	Eventually(t, 20*time.Second, func() bool {
		code, b := tsRequest(t, http.MethodGet, api+"/logs/history?job_id=e2e-off", "", nil)
		return code == http.StatusOK && strings.Contains(string(b), "e2e-off still recorded")
	}, "history should still answer with streaming off")
	if code, b := tsRequest(t, http.MethodGet, api+"/jobs", "", nil); code != http.StatusOK {
		t.Errorf("jobs with streaming off: %d %s", code, b)
	}
}
