package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/internal/jobsim"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

// gatewayFileOverlay adds file exporters next to the durable overlay's exporters, so a test
// reads what each gateway exported.
func gatewayFileOverlay(dir string) string {
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
      exporters: [otlp_http/victorialogs, file/e2e_logs]
    traces:
      exporters: [tailstream, otlp_grpc/jaeger, file/e2e_traces]
`, dir)
}

type gateway struct {
	*Collector
	out string
}

func startGateway(t *testing.T, tier *durableTier, name string) *gateway {
	t.Helper()
	out := t.TempDir()
	c := StartCollector(t,
		WithoutRedis(),
		WithConfigFile("examples/durable.yaml"),
		WithConfigFile("examples/scale-out/gateway.yaml"),
		WithOverlay(gatewayFileOverlay(out)),
		WithEnv("VICTORIALOGS_ENDPOINT", tier.VL.URL),
		WithEnv("JAEGER_OTLP_ENDPOINT", tier.otlpGRPC),
		WithEnv("JAEGER_QUERY_ENDPOINT", tier.queryURL),
		WithEnv("STORE_SYNC_INTERVAL", "2s"),
		WithEnv("JOBTRACE_GATEWAY", name),
	)
	return &gateway{Collector: c, out: out}
}

// exported reads the log records the gateway exported.
func (g *gateway) exported(t *testing.T) []plog.LogRecord {
	t.Helper()
	var recs []plog.LogRecord
	u := &plog.JSONUnmarshaler{}
	for _, line := range readLines(t, filepath.Join(g.out, "out-logs.json")) {
		ld, err := u.UnmarshalLogs(line)
		if err != nil {
			continue // a line being flushed
		}
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

// metricTotal sums the samples of a metric (every label set) the collector exposes; 0 when
// it exposes none.
func metricTotal(t *testing.T, c *Collector, name string) float64 {
	t.Helper()
	total := 0.0
	for _, line := range strings.Split(scrapeMetrics(t, c), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			total += v
		}
	}
	return total
}

// kill ends the gateway at once (SIGKILL): no drain, no clean shutdown.
func (g *gateway) kill(t *testing.T) {
	t.Helper()
	g.stopped = true
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
}

// liveTail reads an NDJSON live tail in the background.
type liveTail struct {
	mu  sync.Mutex
	got map[string]int // "timestamp job trace message" -> deliveries
}

func (l *liveTail) lines() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.got))
	for k, v := range l.got {
		out[k] = v
	}
	return out
}

func followNDJSON(t *testing.T, c *Collector) *liveTail {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.TailstreamURL+"/api/v1/logs/tail?follow=true&rate_limit=100000&buffer_size=100000", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	l := &liveTail{got: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dec := json.NewDecoder(resp.Body)
		for {
			var e struct {
				Timestamp time.Time `json:"timestamp"`
				Message   string    `json:"message"`
				JobID     string    `json:"job_id"`
				TraceID   string    `json:"trace_id"`
			}
			if dec.Decode(&e) != nil {
				return
			}
			if e.Message == "" {
				continue // control messages (drops, end)
			}
			l.mu.Lock()
			l.got[e.Timestamp.UTC().Format(time.RFC3339Nano)+" "+e.JobID+" "+e.TraceID+" "+e.Message]++
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return l
}

func startAgent(t *testing.T, redisAddr, workerLogs string, gws ...*gateway) *Collector {
	t.Helper()
	list := "["
	for i, g := range gws {
		if i > 0 {
			list += ", "
		}
		list += g.OTLPGRPCAddr
	}
	list += "]"
	return StartCollector(t,
		WithRedis(redisAddr),
		WithConfigFile("examples/scale-out/agent.yaml"),
		WithEnv("GATEWAYS", list),
		WithEnv("WORKER_LOGS", filepath.Join(workerLogs, "*.log")),
	)
}

// tagging counts the worker job lines the gateways exported and those tagged with the
// right job, worker and queue (jobsim's ground truth).
func tagging(t *testing.T, sum *jobsim.Summary, gws ...*gateway) (lines, tagged, wrong int) {
	t.Helper()
	untaggedLogged := 0
	for _, g := range gws {
		for _, r := range g.exported(t) {
			if _, ok := r.Attributes().Get("jobtrace.route"); ok {
				t.Errorf("gateway %s exported the agents' routing attribute", g.TailstreamURL)
			}
			msg := r.Body().AsString()
			if !jobMessages[msg] {
				continue
			}
			id := str(r, "id")
			job := sum.Jobs[id]
			if job == nil {
				continue // another run's job
			}
			lines++
			jobID, q, w := str(r, "job.id"), str(r, "queue.name"), str(r, "worker.id")
			switch {
			case jobID == "" || q == "":
				if untaggedLogged < 5 {
					untaggedLogged++
					t.Logf("gateway %s: untagged line %q of job %s (trace %s): job.id=%q queue.name=%q worker.id=%q",
						g.TailstreamURL, msg, id, r.TraceID(), jobID, q, w)
				}
			case jobID != id || q != job.Queue || (w != "" && str(r, "worker_id") != "" && w != str(r, "worker_id")):
				wrong++
				t.Errorf("gateway %s: line %q of job %s tagged job.id=%q queue.name=%q worker.id=%q", g.TailstreamURL, msg, id, jobID, q, w)
			default:
				tagged++
			}
		}
	}
	return lines, tagged, wrong
}

// TestScaleOut runs one agent and two gateways sharing VictoriaLogs and Jaeger: every job
// answers on both gateways, every job line is tagged on export, and when a gateway dies the
// survivor answers every job that reached the stores.
func TestScaleOut(t *testing.T) {
	tier := startDurableTier(t)
	redis := redistest.Start(t)
	a, b := startGateway(t, tier, "gw-a"), startGateway(t, tier, "gw-b")
	// A live tail on gateway A, open before any job runs.
	liveA := followNDJSON(t, a.Collector)
	logs := filepath.Join(t.TempDir(), "worker-logs")
	require.NoError(t, os.MkdirAll(logs, 0o755))
	agent := startAgent(t, redis.Addr, logs, a, b)

	sum := runDurableJobsim(t, redis.Addr, logs, agent.OTLPHTTPURL, 16, 41)
	ids := sortedJobIDs(sum.Jobs)

	// Every job answers on both gateways, with its trace; at least one gateway saw it live.
	for _, id := range ids {
		want := sum.Jobs[id]
		for _, g := range []*gateway{a, b} {
			Eventually(t, 45*time.Second, func() bool {
				var jt jobTraceAnswer
				return getJSON(t, g.Collector, "/jobs/"+url.PathEscape(id)+"/trace", &jt) == http.StatusOK &&
					jt.TraceID == want.TraceID && jt.Status == string(want.Outcome)
			}, "job %s final on gateway %s", id, g.TailstreamURL)
		}
	}
	// Both gateways got a share of the jobs (routing by trace id spreads them).
	var onA, onB int
	for _, g := range []*gateway{a, b} {
		n := 0
		for _, r := range g.exported(t) {
			if str(r, "event.name") == "job_started" && sum.Jobs[str(r, "job.id")] != nil {
				n++
			}
		}
		if g == a {
			onA = n
		} else {
			onB = n
		}
	}
	t.Logf("job_started lifecycle logs exported: gateway A %d, gateway B %d", onA, onB)
	assert.Positive(t, onA)
	assert.Positive(t, onB)

	// 100% of job lines tagged on export, 0 wrong. Wait until every worker line went out.
	want := 0
	for _, l := range readWorkerLines(t, filepath.Join(logs, "jobsim.log")) {
		if l.json != nil && jobMessages[fmt.Sprint(l.json["msg"])] {
			want++
		}
	}
	var lines, tagged, wrong int
	Eventually(t, 30*time.Second, func() bool {
		lines, tagged, wrong = tagging(t, sum, a, b)
		return lines >= want
	}, "every worker job line exported by a gateway (want %d)", want)
	t.Logf("worker job lines: %d exported, %d tagged with job, worker and queue, %d wrong", lines, tagged, wrong)
	assert.Equal(t, lines, tagged, "100%% of job lines tagged on export")
	assert.Zero(t, wrong)

	// Lines that name only a job id (no trace context) are routed by that id, so about half land
	// on the gateway that never saw their job's span; its jobcorrelation asks its tailstream
	// extension (lookup.extension in gateway.yaml), which finds the job in its catalog or the
	// store. Every one must leave tagged with its job's queue.
	lookupsOf := func(g *gateway) (asked, hits float64) {
		return metricTotal(t, g.Collector, "otelcol_processor_jobcorrelation_lookups"), metricTotal(t, g.Collector, "otelcol_processor_jobcorrelation_lookup_hits")
	}
	type lookupCount struct{ asked, hits float64 }
	before := map[*gateway]lookupCount{}
	for _, g := range []*gateway{a, b} {
		asked, hits := lookupsOf(g)
		t.Logf("gateway %s during the jobsim run: %.0f lookups, %.0f hits", g.TailstreamURL, asked, hits)
		before[g] = lookupCount{asked, hits}
	}
	only := plog.NewLogs()
	rl := only.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "app")
	for _, id := range ids {
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr("job-id-only line")
		lr.Attributes().PutStr("job.id", id)
	}
	agent.SendLogs(t, only)
	var idOnly, idOnlyTagged, idOnlyWrong int
	perGateway := map[*gateway]int{}
	Eventually(t, 30*time.Second, func() bool {
		idOnly, idOnlyTagged, idOnlyWrong = 0, 0, 0
		for _, g := range []*gateway{a, b} {
			perGateway[g] = 0
			for _, r := range g.exported(t) {
				if r.Body().AsString() != "job-id-only line" {
					continue
				}
				idOnly++
				perGateway[g]++
				job := sum.Jobs[str(r, "job.id")]
				switch q := str(r, "queue.name"); {
				case job != nil && q == job.Queue && r.TraceID().String() == job.TraceID:
					idOnlyTagged++
				case q != "":
					idOnlyWrong++
					t.Errorf("job-id-only line of %s tagged with queue %q, trace %s", str(r, "job.id"), q, r.TraceID())
				}
			}
		}
		return idOnly >= len(ids)
	}, "every job-id-only line exported")
	lookups := map[*gateway]lookupCount{}
	for _, g := range []*gateway{a, b} {
		asked, hits := lookupsOf(g)
		lookups[g] = lookupCount{asked - before[g].asked, hits - before[g].hits}
	}
	t.Logf("job-id-only lines (routed by job id, lookup on): %d of %d tagged with their queue and trace, %d wrong; exported by A %d, B %d; their lookups A %.0f (hits %.0f), B %.0f (hits %.0f)",
		idOnlyTagged, idOnly, idOnlyWrong, perGateway[a], perGateway[b],
		lookups[a].asked, lookups[a].hits, lookups[b].asked, lookups[b].hits)
	assert.Equal(t, idOnly, idOnlyTagged, "100%% of job-id-only lines tagged on export")
	assert.Zero(t, idOnlyWrong)

	// The live tail on A received the lines that went through B, each once.
	viaB := map[string]bool{}
	for _, r := range b.exported(t) {
		if id := str(r, "job.id"); sum.Jobs[id] != nil {
			viaB[r.Timestamp().AsTime().UTC().Format(time.RFC3339Nano)+" "+id+" "+r.TraceID().String()+" "+r.Body().AsString()] = true
		}
	}
	require.NotEmpty(t, viaB)
	Eventually(t, 30*time.Second, func() bool {
		got := liveA.lines()
		for k := range viaB {
			if got[k] == 0 {
				return false
			}
		}
		return true
	}, "A's live tail got all %d lines of B's jobs", len(viaB))
	for k, n := range liveA.lines() {
		assert.Equal(t, 1, n, "live tail on A: line %q delivered %d times", k, n)
	}

	// Every job's history is complete on both gateways (memory for one, the store for the other).
	for _, id := range ids {
		la, _ := jobHistory(t, a.Collector, id)
		Eventually(t, 20*time.Second, func() bool {
			lb, _ := jobHistory(t, b.Collector, id)
			la, _ = jobHistory(t, a.Collector, id)
			return len(la) > 0 && len(lineSet(la)) == len(lineSet(lb)) && fmt.Sprint(lineSet(la)) == fmt.Sprint(lineSet(lb))
		}, "job %s: the same history on both gateways", id)
	}

	// Kill gateway B mid-run. The survivor answers every job that reached a store.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *jobsim.Summary, 1)
	go func() {
		cfg := jobsim.DefaultConfig()
		cfg.Redis, cfg.Jobs, cfg.Rate, cfg.Workers, cfg.WorkTime = redis.Addr, 16, 8, 3, 150*time.Millisecond
		cfg.Duration, cfg.Carrier, cfg.Seed = 60*time.Second, "w3c", 42
		cfg.LogFile, cfg.OTLPEndpoint = filepath.Join(logs, "jobsim.log"), agent.OTLPHTTPURL
		s, err := jobsim.Run(ctx, cfg)
		if err != nil {
			t.Errorf("jobsim: %v", err)
		}
		done <- s
	}()
	time.Sleep(time.Second)
	b.kill(t)
	second := <-done
	require.NotNil(t, second)
	for _, id := range ids {
		var jt jobTraceAnswer
		assert.Equal(t, http.StatusOK, getJSON(t, a.Collector, "/jobs/"+url.PathEscape(id)+"/trace", &jt), "job %s on the survivor", id)
	}
	stored, lost := 0, 0
	// Give the survivor's exporter time to write what it received, then look at the store.
	time.Sleep(3 * time.Second)
	tier.VL.Flush()
	time.Sleep(time.Second)
	for _, id := range sortedJobIDs(second.Jobs) {
		// A gateway rebuilds a job it never saw from its lifecycle records. B may have stored
		// some of a job's worker lines and died with its lifecycle records still in its
		// exporter's batch (seen under load): such a job is not known to the store yet.
		if vlLifecycleCount(t, tier, id) <= 0 {
			if n := vlCount(t, tier, id); n > 0 {
				t.Logf("job %s: %d lines in the store, none of its lifecycle", id, n)
			}
			lost++ // routed to B: queued in the agent until B is back
			continue
		}
		stored++
		Eventually(t, 30*time.Second, func() bool {
			var jt jobTraceAnswer
			return getJSON(t, a.Collector, "/jobs/"+url.PathEscape(id)+"/trace", &jt) == http.StatusOK && jt.TraceID == second.Jobs[id].TraceID
		}, "job %s (in the store) answers on the survivor", id)
	}
	t.Logf("after killing gateway B: %d jobs of the second run in the store and answered by A, %d held for B in the agent's queue", stored, lost)
	assert.Positive(t, stored)
}
