package queuejobreceiver

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/jobtrace/jobtrace/internal/jobsim"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

// statusHost records component status events.
type statusHost struct {
	mu     sync.Mutex
	events []componentstatus.Status
}

func (h *statusHost) GetExtensions() map[component.ID]component.Component { return nil }
func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev.Status())
}

func (h *statusHost) statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]componentstatus.Status(nil), h.events...)
}

type running struct {
	traces *consumertest.TracesSink
	logs   *consumertest.LogsSink
	host   *statusHost
	reader *sdkmetric.ManualReader
	stop   func()
}

// startReceiver runs both signals of one component ID, as a collector would.
func startReceiver(t *testing.T, cfg *Config) *running {
	t.Helper()
	return startReceiverNamed(t, cfg, "")
}

// startReceiverNamed runs a second receiver in the same test under its own component ID.
func startReceiverNamed(t *testing.T, cfg *Config, name string) *running {
	t.Helper()
	require.NoError(t, cfg.Validate())
	f := NewFactory()
	set := receivertest.NewNopSettings(typ)
	set.ID = component.NewIDWithName(typ, t.Name()+name)
	reader := sdkmetric.NewManualReader()
	set.TelemetrySettings.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	r := &running{traces: new(consumertest.TracesSink), logs: new(consumertest.LogsSink), host: &statusHost{}, reader: reader}
	tr, err := f.CreateTraces(context.Background(), set, cfg, r.traces)
	require.NoError(t, err)
	lr, err := f.CreateLogs(context.Background(), set, cfg, r.logs)
	require.NoError(t, err)
	require.NoError(t, tr.Start(context.Background(), r.host))
	require.NoError(t, lr.Start(context.Background(), r.host))
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			require.NoError(t, tr.Shutdown(context.Background()))
			require.NoError(t, lr.Shutdown(context.Background()))
		})
	}
	t.Cleanup(r.stop)
	return r
}

// waitOK waits for the first successful poll: jobs finished before it are history.
func (r *running) waitOK(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		st := r.host.statuses()
		return len(st) > 0 && st[len(st)-1] == componentstatus.StatusOK
	}, 10*time.Second, 5*time.Millisecond)
}

func (r *running) metric(t *testing.T, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					label := ""
					for _, kv := range dp.Attributes.ToSlice() {
						label += kv.Value.Emit()
					}
					out[label] += dp.Value
				}
			}
		}
	}
	return out
}

func testConfig(addr string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = addr
	cfg.PollInterval = 20 * time.Millisecond
	cfg.MaxBackoff = 200 * time.Millisecond
	cfg.DialTimeout = time.Second
	cfg.ReadTimeout = time.Second
	return cfg
}

type spanRec struct {
	traceID, spanID, parent, jobID, worker, status, queue string
	attempt                                               int64
	events                                                []string
}

func spans(sink *consumertest.TracesSink) []spanRec {
	var out []spanRec
	for _, td := range sink.AllTraces() {
		for i := range td.ResourceSpans().Len() {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := range ss.Len() {
				sp := ss.At(j).Spans()
				for k := range sp.Len() {
					s := sp.At(k)
					a := s.Attributes()
					rec := spanRec{traceID: s.TraceID().String(), spanID: s.SpanID().String(), parent: s.ParentSpanID().String()}
					rec.jobID = str(a, "job.id")
					rec.worker = str(a, "worker.id")
					rec.status = str(a, "job.status")
					rec.queue = str(a, "queue.name")
					if v, ok := a.Get("job.attempt"); ok {
						rec.attempt = v.Int()
					}
					for e := range s.Events().Len() {
						rec.events = append(rec.events, s.Events().At(e).Name())
					}
					out = append(out, rec)
				}
			}
		}
	}
	return out
}

type logRec struct {
	event, jobID, worker, traceID, spanID string
	attempt                               int64
	severity                              plog.SeverityNumber
}

func logRecords(sink *consumertest.LogsSink) []logRec {
	var out []logRec
	for _, ld := range sink.AllLogs() {
		for i := range ld.ResourceLogs().Len() {
			sl := ld.ResourceLogs().At(i).ScopeLogs()
			for j := range sl.Len() {
				lr := sl.At(j).LogRecords()
				for k := range lr.Len() {
					l := lr.At(k)
					a := l.Attributes()
					rec := logRec{event: str(a, "event.name"), jobID: str(a, "job.id"), worker: str(a, "worker.id"),
						traceID: l.TraceID().String(), spanID: l.SpanID().String(), severity: l.SeverityNumber()}
					if v, ok := a.Get("job.attempt"); ok {
						rec.attempt = v.Int()
					}
					out = append(out, rec)
				}
			}
		}
	}
	return out
}

func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}

// expectedAttempts counts the attempts of final jobs, the spans the receiver must emit.
func expectedAttempts(sum *jobsim.Summary) int {
	n := 0
	for _, j := range sum.Jobs {
		if j.TraceID != "" && (j.Outcome == jobsim.Succeeded || j.Outcome == jobsim.DeadLettered) {
			n += len(j.Attempts)
		}
	}
	return n
}

// verifyAgainstSummary checks that every attempt of every final job came out exactly once, as
// a span and as an ending lifecycle log, with jobsim's trace id, worker id and attempt.
func verifyAgainstSummary(t *testing.T, sum *jobsim.Summary, r *running, checkWorkers bool) {
	t.Helper()
	want := expectedAttempts(sum)
	require.Positive(t, want)
	// No hard stop here: on a timeout the checks below name the missing attempts.
	for deadline := time.Now().Add(20 * time.Second); r.traces.SpanCount() < want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a few more polls: anything extra would be a duplicate
	all := spans(r.traces)
	byKey := map[string]spanRec{}
	seenSpanIDs := map[string]bool{}
	for _, s := range all {
		key := fmt.Sprintf("%s/%d", s.jobID, s.attempt)
		require.NotContains(t, byKey, key, "attempt emitted twice: %s", key)
		require.False(t, seenSpanIDs[s.spanID], "span id reused: %s", s.spanID)
		seenSpanIDs[s.spanID] = true
		byKey[key] = s
	}
	logs := logRecords(r.logs)
	logByKey := map[string]logRec{}
	for _, l := range logs {
		key := fmt.Sprintf("%s/%s/%d", l.event, l.jobID, l.attempt)
		require.NotContains(t, logByKey, key, "log emitted twice: %s", key)
		logByKey[key] = l
	}
	for _, j := range sum.Jobs {
		if j.TraceID == "" || (j.Outcome != jobsim.Succeeded && j.Outcome != jobsim.DeadLettered) {
			continue
		}
		for _, a := range j.Attempts {
			key := fmt.Sprintf("%s/%d", j.ID, a.Number)
			s, ok := byKey[key]
			if !assert.True(t, ok, "no span for job %s attempt %d (%s)", j.ID, a.Number, a.Outcome) {
				continue
			}
			assert.Equal(t, j.TraceID, s.traceID, key)
			assert.Equal(t, string(a.Outcome), s.status, key)
			assert.Equal(t, j.Queue, s.queue, key)
			assert.Equal(t, j.SpanID, s.parent, "parent is the enqueue span: %s", key)
			wantSpan := spanID(j.ID, a.Number, 0)
			assert.Equal(t, hex.EncodeToString(wantSpan[:]), s.spanID, key)
			if checkWorkers {
				assert.Equal(t, a.WorkerID, s.worker, key)
			}
			switch a.Outcome {
			case jobsim.Retried:
				assert.Equal(t, []string{"job_retried"}, s.events, key)
			case jobsim.DeadLettered:
				assert.Equal(t, []string{"job_dead_lettered"}, s.events, key)
			}
			l, ok := logByKey[fmt.Sprintf("job_%s/%s/%d", a.Outcome, j.ID, a.Number)]
			if assert.True(t, ok, "no %s log for %s", a.Outcome, key) {
				assert.Equal(t, s.traceID, l.traceID)
				assert.Equal(t, s.spanID, l.spanID)
				if checkWorkers {
					assert.Equal(t, a.WorkerID, l.worker)
				}
			}
		}
	}
	known := 0
	for _, sp := range all {
		j, ok := sum.Jobs[sp.jobID]
		require.True(t, ok, "span for a job jobsim never saw: %s", sp.jobID)
		if j.TraceID != "" {
			known++
		}
		// Jobs without ground truth landed from an enqueue whose reply a restart swallowed.
	}
	require.Equal(t, want, known, "spans for attempts jobsim did not make")
}

func simConfig(addr string) jobsim.Config {
	c := jobsim.DefaultConfig()
	c.Redis = addr
	c.Jobs = 40
	c.Rate = 200
	c.Workers = 6
	c.FailRatio = 0.35
	c.WorkTime = 250 * time.Millisecond // a dozen polls per attempt, so every worker id is seen
	c.Duration = 60 * time.Second
	return c
}

func TestJobsimLifecycle(t *testing.T) {
	for _, carrier := range []string{"upstream", "w3c", "datadog"} {
		t.Run(carrier, func(t *testing.T) {
			srv := redistest.Start(t)
			r := startReceiver(t, testConfig(srv.Addr))
			r.waitOK(t)
			sc := simConfig(srv.Addr)
			sc.Carrier = carrier
			sum, err := jobsim.Run(context.Background(), sc)
			require.NoError(t, err)
			require.Equal(t, sc.Jobs, sum.Final())
			require.Positive(t, sum.Retried)
			verifyAgainstSummary(t, sum, r, true)

			started := 0
			for _, l := range logRecords(r.logs) {
				if l.event == "job_started" {
					started++
					assert.NotEmpty(t, l.worker)
				}
			}
			assert.Equal(t, expectedAttempts(sum), started, "every attempt's start is visible for 250ms")
			assert.Equal(t, int64(sc.Jobs), r.metric(t, "otelcol_receiver_queuejob_jobs_observed")[""])
			formats := r.metric(t, "otelcol_receiver_queuejob_trace_context_extractions")
			assert.Equal(t, int64(sc.Jobs), formats[carrier], "formats: %v", formats)
		})
	}
}

func TestRedisRestartMidRun(t *testing.T) {
	// AOF with fsync always, so the restarted server still holds what workers pushed: the
	// receiver must neither lose those events nor emit them again.
	srv := redistest.Start(t, "appendonly yes", "appendfsync always")
	r := startReceiver(t, testConfig(srv.Addr))
	r.waitOK(t)
	sc := simConfig(srv.Addr)
	sc.Jobs = 80
	sc.Rate = 40
	sc.WorkTime = 50 * time.Millisecond
	var sum *jobsim.Summary
	done := make(chan error, 1)
	go func() {
		var err error
		sum, err = jobsim.Run(context.Background(), sc)
		done <- err
	}()
	require.Eventually(t, func() bool { return r.traces.SpanCount() > 10 }, 20*time.Second, 10*time.Millisecond)
	srv.Down()
	time.Sleep(700 * time.Millisecond)
	srv.Up()
	require.NoError(t, <-done)
	for _, j := range sum.Jobs {
		// Jobs whose enqueue reply was lost in the restart have no ground truth (no trace id).
		if j.TraceID != "" {
			require.Contains(t, []jobsim.Outcome{jobsim.Succeeded, jobsim.DeadLettered}, j.Outcome, j.ID)
		}
	}
	verifyAgainstSummary(t, sum, r, false)

	st := r.host.statuses()
	require.Contains(t, st, componentstatus.StatusRecoverableError)
	require.Equal(t, componentstatus.StatusOK, st[len(st)-1], "status after recovery: %v", st)
	require.Positive(t, r.metric(t, "otelcol_receiver_queuejob_polls_failed")[""])
}

func TestStartsWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Down()
	r := startReceiver(t, testConfig(srv.Addr))
	require.Eventually(t, func() bool {
		st := r.host.statuses()
		return len(st) > 0 && st[0] == componentstatus.StatusRecoverableError
	}, 10*time.Second, 10*time.Millisecond)
	srv.Up()
	r.waitOK(t)
	sc := simConfig(srv.Addr)
	sc.Jobs = 10
	sum, err := jobsim.Run(context.Background(), sc)
	require.NoError(t, err)
	verifyAgainstSummary(t, sum, r, true)
}

func TestReadOnlyACLUser(t *testing.T) {
	srv := redistest.Start(t, "user reader on >readerpw ~* &* -@all +@read +ping")
	cfg := testConfig(srv.Addr)
	cfg.Username = "reader"
	cfg.Password = "readerpw"
	r := startReceiver(t, cfg)
	r.waitOK(t)

	// The reader really cannot write.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "reader", Password: "readerpw", DisableIdentity: true})
	defer rdb.Close()
	require.ErrorContains(t, rdb.LPush(context.Background(), "jobqueue:completed", "x").Err(), "NOPERM")

	sc := simConfig(srv.Addr)
	sc.Jobs = 20
	sum, err := jobsim.Run(context.Background(), sc)
	require.NoError(t, err)
	verifyAgainstSummary(t, sum, r, true)
	require.Zero(t, r.metric(t, "otelcol_receiver_queuejob_polls_failed")[""])
}

// readOnlyCommands are the only commands the receiver may send, connection setup included.
var readOnlyCommands = map[string]bool{
	"scan": true, "get": true, "pttl": true, "lrange": true, "llen": true, "multi": true, "exec": true,
	"ping": true, "hello": true, "auth": true, "select": true, "client": true, // client: only SETNAME

}

func TestMonitorSeesNoWrite(t *testing.T) {
	srv := redistest.Start(t)
	mon := startMonitor(t, srv.Addr)

	cfg := testConfig(srv.Addr)
	cfg.EmitEnqueued = true
	cfg.ClientName = "jobtrace-queuejob"
	r := startReceiver(t, cfg)
	r.waitOK(t)
	sc := simConfig(srv.Addr)
	sc.Jobs = 20
	sum, err := jobsim.Run(context.Background(), sc)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.traces.SpanCount() >= expectedAttempts(sum) }, 20*time.Second, 20*time.Millisecond)

	// Attribute MONITOR lines to connections by address, using the name the receiver sets.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer rdb.Close()
	ours := mon.addrsNamed(t, rdb, "jobtrace-queuejob")
	require.NotEmpty(t, ours, "receiver connections not found in CLIENT LIST")
	r.stop()
	time.Sleep(50 * time.Millisecond)

	seen := mon.commandsFrom(t, ours, readOnlyCommands)
	require.Positive(t, seen["lrange"], "MONITOR saw no receiver reads: %v", seen)
	require.Positive(t, seen["scan"])
	require.Positive(t, seen["pttl"])
}

// TestAbandonedJobs lets jobsim's workers die mid-attempt. Each abandonment the receiver
// reports must be one jobsim made (same job, attempt, worker), the requeued re-run must be a
// separate span, and every other attempt must still come out once.
func TestAbandonedJobs(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig(srv.Addr)
	cfg.AbandonGrace = 40 * time.Millisecond
	r := startReceiver(t, cfg)
	r.waitOK(t)
	sc := simConfig(srv.Addr)
	sc.Jobs = 30
	sc.FailRatio = 0.2
	sc.AbandonRatio = 0.3
	sc.WorkTime = 150 * time.Millisecond
	sc.HeartbeatTTL = 200 * time.Millisecond
	sc.ReaperInterval = time.Second // heartbeats stay missing for up to 1s before the requeue
	sum, err := jobsim.Run(context.Background(), sc)
	require.NoError(t, err)
	require.Positive(t, sum.Abandoned)

	type key struct {
		job     string
		attempt int64
		status  string
	}
	want := map[key][]string{} // workers; one attempt can be abandoned more than once
	nonAbandoned := 0
	for _, j := range sum.Jobs {
		for _, a := range j.Attempts {
			k := key{j.ID, int64(a.Number), string(a.Outcome)}
			want[k] = append(want[k], a.WorkerID)
			if a.Outcome != jobsim.Abandoned {
				nonAbandoned++
			}
		}
	}
	countEnds := func() (ends, abandoned int) {
		for _, s := range spans(r.traces) {
			if s.status == "abandoned" {
				abandoned++
			} else {
				ends++
			}
		}
		return
	}
	require.Eventually(t, func() bool { e, _ := countEnds(); return e >= nonAbandoned }, 20*time.Second, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)

	seenSpanIDs := map[string]bool{}
	detected := 0
	for _, s := range spans(r.traces) {
		require.False(t, seenSpanIDs[s.spanID], "span id reused: %+v", s)
		seenSpanIDs[s.spanID] = true
		workers, ok := want[key{s.jobID, s.attempt, s.status}]
		require.True(t, ok, "span for an attempt outcome jobsim did not produce: %+v", s)
		if s.status == "abandoned" {
			detected++
			require.Contains(t, workers, s.worker)
			require.Equal(t, []string{"job_abandoned"}, s.events)
		}
	}
	ends, _ := countEnds()
	require.Equal(t, nonAbandoned, ends, "every non-abandoned attempt exactly once")
	require.Positive(t, detected, "jobsim abandoned %d attempts, none detected", sum.Abandoned)
	t.Logf("abandoned: %d by jobsim, %d detected", sum.Abandoned, detected)
}
