package tailstreamextension

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
)

// Hand-built traces for the explanation: one trace per case, job spans as the queuejob
// receiver emits them, worker spans under them.
const (
	xT1 = "11111111111111111111111111111111"
	xT2 = "22222222222222222222222222222222"
	xT3 = "33333333333333333333333333333333"
	xT4 = "44444444444444444444444444444444"
	xT5 = "55555555555555555555555555555555"
	xT6 = "66666666666666666666666666666666"
	xT7 = "77777777777777777777777777777777"
)

// xid builds a 16-hex span id from a small number, readable in failures.
func xid(n int) string { return fmt.Sprintf("%016x", n) }

func attemptSpan(jobID, queue string, n int, id, parent string, start, end int, status string, extra map[string]any) spanSpec {
	s := spanSpec{Service: "jobqueue", Name: "process " + queue, ID: id, Parent: parent, Kind: ptrace.SpanKindConsumer,
		Start: start, End: end, Attrs: jobAttrs(jobID, queue, "w"+fmt.Sprint(n), status, n, extra)}
	if status != conventions.StatusSucceeded {
		s.ErrMsg = "job " + strings.ReplaceAll(status, "_", "-")
	}
	return s
}

// addException puts a semconv exception event on span id of td.
func addException(td ptrace.Traces, id, typ, msg, stack string) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if sp := spans.At(k); sp.SpanID() == mustSID(id) {
					ev := sp.Events().AppendEmpty()
					ev.SetName("exception")
					ev.SetTimestamp(sp.EndTimestamp())
					ev.Attributes().PutStr("exception.type", typ)
					ev.Attributes().PutStr("exception.message", msg)
					ev.Attributes().PutStr("exception.stacktrace", stack)
				}
			}
		}
	}
}

// workerLog is a worker's zap line after the collector's filelog + jobcorrelation: a level,
// a body, job.id, and the job's trace.
func workerLog(ld plog.Logs, jobID string, ms int, sev plog.SeverityNumber, level, msg, traceID, spanID string, attrs map[string]any) {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "worker")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(at(ms))
	lr.SetSeverityNumber(sev)
	lr.SetSeverityText(level)
	lr.Body().SetStr(msg)
	if jobID != "" {
		lr.Attributes().PutStr("job.id", jobID)
	}
	for k, v := range attrs {
		lr.Attributes().PutStr(k, fmt.Sprint(v))
	}
	if traceID != "" {
		lr.SetTraceID(mustTID(traceID))
	}
	if spanID != "" {
		lr.SetSpanID(mustSID(spanID))
	}
}

func (s *testServer) explain(t *testing.T, jobID, query string) (int, map[string]any) {
	t.Helper()
	return s.get(t, "/jobs/"+jobID+"/explain"+query, tokViewer)
}

func attemptsOf(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["attempts"].([]any)
	require.True(t, ok, "attempts: %v", body)
	out := make([]map[string]any, len(raw))
	for i, a := range raw {
		out[i] = a.(map[string]any)
	}
	return out
}

func logMessages(a map[string]any) []string {
	var out []string
	for _, l := range a["logs"].([]any) {
		out = append(out, l.(map[string]any)["message"].(string))
	}
	return out
}

func TestExplainErrorThreeLevelsDeepOnCriticalPath(t *testing.T) {
	srv := startTraceServer(t, nil)
	td := buildTraces(xT1,
		spanSpec{Service: "api", Name: "enqueue charges", ID: xid(1), Kind: ptrace.SpanKindProducer, Start: 0, End: 5},
		attemptSpan("deep", "charges", 1, xid(2), xid(1), 20, 1020, conventions.StatusDeadLettered, map[string]any{"job.type": "charge"}),
		spanSpec{Service: "worker", Name: "handle job", ID: xid(3), Parent: xid(2), Start: 25, End: 1010, ErrMsg: "charge failed"},
		spanSpec{Service: "payments", Name: "charge card", ID: xid(4), Parent: xid(3), Start: 300, End: 1000, ErrMsg: "upstream 502"},
		spanSpec{Service: "payments", Name: "POST /v1/charges", ID: xid(5), Parent: xid(4), Kind: ptrace.SpanKindClient, Start: 400, End: 680, ErrMsg: "502"},
		spanSpec{Service: "worker", Name: "read file", ID: xid(6), Parent: xid(3), Start: 30, End: 290},
	)
	addException(td, xid(5), "payments.UpstreamError", "upstream 502 from gw-17", "charge.go:12")
	require.NoError(t, srv.ext.PublishTraces(context.Background(), td))

	code, body := srv.explain(t, "deep", "")
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, "deep", body["job_id"])
	assert.Equal(t, "charges", body["queue"])
	assert.Equal(t, "charge", body["job_type"])
	assert.Equal(t, "dead_lettered", body["status"])
	assert.Equal(t, false, body["partial"])
	assert.Equal(t, "attempt 1 of 1 failed in payments › POST /v1/charges: upstream … from … (after 280 ms)", body["summary"])
	a := attemptsOf(t, body)
	require.Len(t, a, 1)
	fe := a[0]["first_error_span"].(map[string]any)
	assert.Equal(t, xid(5), fe["span_id"])
	assert.Equal(t, "POST /v1/charges", fe["name"])
	assert.Equal(t, "payments", fe["service"])
	assert.Equal(t, true, fe["on_critical_path"])
	assert.Equal(t, map[string]any{"type": "payments.UpstreamError", "message": "upstream 502 from gw-17", "stacktrace": "charge.go:12"}, fe["exception"])
	assert.Equal(t, map[string]any{"type": "payments.UpstreamError", "message": "upstream 502 from gw-17", "stacktrace": "charge.go:12", "source": "span_event"}, a[0]["error"])
	assert.InDelta(t, 15, a[0]["wait_ms"], 1e-9, "enqueue span end → attempt start")
	assert.InDelta(t, 1000, a[0]["run_ms"], 1e-9)
	assert.Equal(t, xT1, a[0]["trace_id"])
	assert.Equal(t, xid(2), a[0]["span_id"])
	assert.Equal(t, "w1", a[0]["worker_id"])
}

func TestExplainTwoErrorSpansOneOnCriticalPath(t *testing.T) {
	srv := startTraceServer(t, nil)
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT2,
		attemptSpan("two", "default", 1, xid(1), "", 0, 1000, conventions.StatusRetried, nil),
		// Fails first, but its parent went on: off the critical path.
		spanSpec{Service: "worker", Name: "read cache", ID: xid(2), Parent: xid(1), Start: 10, End: 100, ErrMsg: "cache unavailable"},
		spanSpec{Service: "worker", Name: "render", ID: xid(3), Parent: xid(1), Start: 20, End: 900, ErrMsg: "render timed out"},
	)))
	code, body := srv.explain(t, "two", "")
	require.Equal(t, http.StatusOK, code)
	a := attemptsOf(t, body)
	fe := a[0]["first_error_span"].(map[string]any)
	assert.Equal(t, "render", fe["name"])
	assert.Equal(t, true, fe["on_critical_path"])
	assert.Equal(t, map[string]any{"message": "render timed out", "source": "span_status"}, a[0]["error"])
	assert.Equal(t, "attempt 1 of 1 failed in worker › render: render timed out (after 880 ms); it will be retried", body["summary"])
}

func TestExplainErrorOnlyAsLogLine(t *testing.T) {
	srv := startTraceServer(t, nil)
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT3,
		attemptSpan("logonly", "default", 1, xid(1), "", 0, 1000, conventions.StatusDeadLettered, nil),
		spanSpec{Service: "worker", Name: "work", ID: xid(2), Parent: xid(1), Start: 10, End: 990},
	)))
	ld := plog.NewLogs()
	for i := range 30 {
		workerLog(ld, "logonly", 100+i*10, plog.SeverityNumberInfo, "info", fmt.Sprintf("step %d", i), xT3, "", nil)
	}
	workerLog(ld, "logonly", 500, plog.SeverityNumberError, "error", "charge card failed", xT3, "",
		map[string]any{"error": "card declined", "stacktrace": "main.charge"})
	workerLog(ld, "logonly", 600, plog.SeverityNumberInfo, "info", "after the error", xT3, "", nil)
	lifecycleLog(ld, "job_dead_lettered", "logonly", "default", "w1", 1, xT3, xid(1), 1000)
	require.NoError(t, srv.ext.PublishLogs(context.Background(), ld))

	code, body := srv.explain(t, "logonly", "?context=5")
	require.Equal(t, http.StatusOK, code)
	a := attemptsOf(t, body)
	assert.Nil(t, a[0]["first_error_span"])
	assert.Equal(t, map[string]any{"message": "charge card failed: card declined", "stacktrace": "main.charge", "source": "log"}, a[0]["error"])
	assert.Equal(t, []string{"step 25", "step 26", "step 27", "step 28", "step 29", "charge card failed"}, logMessages(a[0]),
		"5 lines of context, then the error; the lifecycle line is INFO in this fixture and comes after")
	assert.Equal(t, "attempt 1 of 1 failed: charge card failed: card declined (after 1.0 s)", body["summary"])

	code, body = srv.explain(t, "logonly", "?context=0")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"charge card failed"}, logMessages(attemptsOf(t, body)[0]))
	code, body = srv.explain(t, "logonly", "?context=nope")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "context", errorOf(t, body)["field"])
}

func TestExplainErrorOnlyAsQueueStoredError(t *testing.T) {
	srv := startTraceServer(t, nil)
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT4,
		attemptSpan("stored", "default", 1, xid(1), "", 0, 400, conventions.StatusRetried, map[string]any{
			conventions.AttrJobErrorType: "Net::ReadTimeout", conventions.AttrJobErrorMessage: "Net::ReadTimeout with #<TCPSocket:(closed)>",
			conventions.AttrJobErrorStacktrace: "app/jobs/sync_job.rb:12:in `perform'",
		}),
	)))
	code, body := srv.explain(t, "stored", "")
	require.Equal(t, http.StatusOK, code)
	a := attemptsOf(t, body)
	assert.Nil(t, a[0]["first_error_span"], "the job span's own status is not a first error span")
	assert.Equal(t, map[string]any{"type": "Net::ReadTimeout", "message": "Net::ReadTimeout with #<TCPSocket:(closed)>",
		"stacktrace": "app/jobs/sync_job.rb:12:in `perform'", "source": "queue"}, a[0]["error"])
	assert.Equal(t, "attempt 1 of 1 failed: Net::ReadTimeout with #<TCPSocket:(closed)> (after 400 ms); it will be retried", body["summary"])
}

func TestExplainThreeSameFailuresThenADifferentOne(t *testing.T) {
	srv := startTraceServer(t, nil)
	var specs []spanSpec
	for n := 1; n <= 4; n++ {
		st := conventions.StatusRetried
		if n == 4 {
			st = conventions.StatusDeadLettered
		}
		s0 := n * 1000
		specs = append(specs, attemptSpan("flaky", "default", n, xid(n*10), "", s0, s0+500, st, nil))
		if n < 4 {
			specs = append(specs, spanSpec{Service: "payments", Name: "charge card", ID: xid(n*10 + 1), Parent: xid(n * 10),
				Start: s0 + 10, End: s0 + 290, ErrMsg: fmt.Sprintf("upstream 50%d", n)})
		} else {
			specs = append(specs, spanSpec{Service: "ledger", Name: "write entry", ID: xid(n*10 + 1), Parent: xid(n * 10),
				Start: s0 + 10, End: s0 + 110, ErrMsg: "constraint violation"})
		}
	}
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT5, specs...)))
	code, body := srv.explain(t, "flaky", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, false, body["same_failure_as_previous"])
	assert.Equal(t, "attempt 4 of 4 failed in ledger › write entry: constraint violation (after 100 ms); "+
		"attempts 1–3 failed in payments › charge card: upstream … (after 280 ms)", body["summary"])
	a := attemptsOf(t, body)
	require.Len(t, a, 4)
	assert.InDelta(t, 500, a[1]["wait_ms"], 1e-9, "a retry waits from the previous attempt's end")

	// Up to attempt 3 (as it looked then), the same failure repeated.
	specs = specs[:6]
	srv2 := startTraceServer(t, nil)
	specs[4] = attemptSpan("flaky", "default", 3, xid(30), "", 3000, 3500, conventions.StatusDeadLettered, nil)
	require.NoError(t, srv2.ext.PublishTraces(context.Background(), buildTraces(xT5, specs...)))
	code, body = srv2.explain(t, "flaky", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, true, body["same_failure_as_previous"])
	assert.Equal(t, "attempt 3 of 3 failed in payments › charge card: upstream … (after 280 ms); attempts 1–2 failed the same way", body["summary"])
}

func TestExplainSucceededJob(t *testing.T) {
	srv := startTraceServer(t, nil)
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT6,
		attemptSpan("fine", "default", 1, xid(1), "", 0, 100, conventions.StatusRetried, nil),
		attemptSpan("fine", "default", 2, xid(2), "", 200, 300, conventions.StatusSucceeded, nil),
	)))
	code, body := srv.explain(t, "fine", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "succeeded on attempt 2", body["summary"])
	assert.Equal(t, "succeeded", body["status"])
	assert.Len(t, attemptsOf(t, body), 2)
	assert.Nil(t, body["compared_with"])
}

func TestExplainUnknownJobAndAccess(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishScenario(t, srv.ext)
	code, body := srv.explain(t, "no-such-job", "")
	assert.Equal(t, http.StatusNotFound, code)
	e := errorOf(t, body)
	assert.Equal(t, "job_not_found", e["code"])
	assert.Equal(t, "job_id", e["field"])

	code, _ = srv.get(t, "/jobs/j1/explain", tokLogsOnly)
	assert.Equal(t, http.StatusForbidden, code)
	code, _ = srv.get(t, "/jobs/j1/explain", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	// j1 is in high_priority: a caller scoped to low_priority does not see it exists.
	code, body = srv.get(t, "/jobs/j1/explain", tokScoped)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "job_not_found", errorOf(t, body)["code"])
	code, _ = srv.get(t, "/jobs/j2/explain", tokScoped)
	assert.Equal(t, http.StatusOK, code)
	code, _ = srv.get(t, "/jobs/j1/explain", tokOwner)
	assert.Equal(t, http.StatusOK, code, "bob owns j1")
}

// Two jobs share a trace and a time: each explanation holds only its own job's lines.
func TestExplainNeverShowsAnotherJobsLines(t *testing.T) {
	srv := startTraceServer(t, nil)
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT7,
		spanSpec{Service: "api", Name: "POST /batch", ID: xid(1), Kind: ptrace.SpanKindServer, Start: 0, End: 2000},
		attemptSpan("mine", "default", 1, xid(2), xid(1), 10, 1000, conventions.StatusDeadLettered, nil),
		attemptSpan("theirs", "default", 1, xid(3), xid(1), 10, 1000, conventions.StatusDeadLettered, nil),
		spanSpec{Service: "worker", Name: "work", ID: xid(4), Parent: xid(2), Start: 20, End: 900, ErrMsg: "mine broke"},
		spanSpec{Service: "worker", Name: "work", ID: xid(5), Parent: xid(3), Start: 20, End: 900, ErrMsg: "theirs broke"},
	)))
	ld := plog.NewLogs()
	workerLog(ld, "mine", 500, plog.SeverityNumberError, "error", "mine: failed", xT7, xid(4), nil)
	workerLog(ld, "theirs", 500, plog.SeverityNumberError, "error", "theirs: failed", xT7, xid(5), nil)
	workerLog(ld, "theirs", 510, plog.SeverityNumberWarn, "warn", "theirs: on my span", xT7, xid(4), nil)
	// Above both jobs' spans: nobody's. Below mine's span: mine's, though it names no job.
	workerLog(ld, "", 520, plog.SeverityNumberError, "error", "nobody's line in the trace", xT7, xid(1), nil)
	workerLog(ld, "", 530, plog.SeverityNumberError, "error", "mine: a line naming no job, in my work span", xT7, xid(4), nil)
	require.NoError(t, srv.ext.PublishLogs(context.Background(), ld))

	for _, c := range []struct{ job, own, other string }{{"mine", "mine", "theirs"}, {"theirs", "theirs", "mine"}} {
		code, body := srv.explain(t, c.job, "")
		require.Equal(t, http.StatusOK, code)
		a := attemptsOf(t, body)
		msgs := logMessages(a[0])
		require.NotEmpty(t, msgs)
		for _, m := range msgs {
			assert.True(t, strings.HasPrefix(m, c.own+":"), "%s's explanation shows %q", c.job, m)
		}
		for _, l := range a[0]["logs"].([]any) {
			assert.Equal(t, c.job, l.(map[string]any)["job_id"])
		}
		assert.Equal(t, c.own+" broke", a[0]["error"].(map[string]any)["message"])
	}
}

// A trace with the attempt's span missing (it was evicted, or a backend is down) answers what
// is known and says it is partial.
func TestExplainPartialTrace(t *testing.T) {
	srv := startTraceServer(t, nil)
	ld := plog.NewLogs()
	lifecycleLog(ld, "job_started", "lost", "default", "w1", 1, xT1, xid(9), 0)
	lifecycleLog(ld, "job_dead_lettered", "lost", "default", "w1", 1, xT1, xid(9), 500)
	require.NoError(t, srv.ext.PublishLogs(context.Background(), ld))
	code, body := srv.explain(t, "lost", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, true, body["partial"])
	assert.Equal(t, "dead_lettered", body["status"])
	assert.NotEmpty(t, body["missing"])
}

func TestExplainComparedWithRecentSuccess(t *testing.T) {
	srv := startTraceServer(t, nil)
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT1,
		attemptSpan("good", "default", 1, xid(1), "", 0, 500, conventions.StatusSucceeded, map[string]any{"job.type": "charge"}),
		spanSpec{Service: "worker", Name: "fetch", ID: xid(2), Parent: xid(1), Start: 10, End: 50},
		spanSpec{Service: "payments", Name: "charge card", ID: xid(3), Parent: xid(1), Start: 60, End: 100},
		spanSpec{Service: "worker", Name: "notify", ID: xid(4), Parent: xid(1), Start: 100, End: 120},
	)))
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT2,
		attemptSpan("bad", "default", 1, xid(11), "", 1000, 3000, conventions.StatusDeadLettered, map[string]any{"job.type": "charge"}),
		spanSpec{Service: "worker", Name: "fetch", ID: xid(12), Parent: xid(11), Start: 1010, End: 1060},
		spanSpec{Service: "payments", Name: "charge card", ID: xid(13), Parent: xid(11), Start: 1060, End: 1960, ErrMsg: "timeout"},
		spanSpec{Service: "payments", Name: "retry charge", ID: xid(14), Parent: xid(11), Start: 1960, End: 2900},
	)))
	code, body := srv.explain(t, "bad", "")
	require.Equal(t, http.StatusOK, code)
	c, ok := body["compared_with"].(map[string]any)
	require.True(t, ok, "%v", body)
	assert.Equal(t, "good", c["job_id"])
	assert.EqualValues(t, 1, c["attempt"])
	assert.Equal(t, []any{"notify"}, c["spans_missing"])
	assert.Equal(t, []any{"retry charge"}, c["spans_extra"])
	assert.Equal(t, []any{map[string]any{"name": "charge card", "ms": 900.0, "baseline_ms": 40.0}}, c["slower"])
}

// Part of the trace lives in a backend that is down: the answer holds what the cache has and
// says partial, it does not fail.
func TestExplainPartialWhenBackendsDown(t *testing.T) {
	srv := startTraceServer(t, func(c *Config) {
		c.Backends = []BackendConfig{backendConfig("dead", "jaeger", "http://127.0.0.1:1", nil)}
	})
	// The job span's parent (the producer's span) was exported elsewhere.
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT3,
		attemptSpan("half", "default", 1, xid(2), xid(1), 0, 500, conventions.StatusDeadLettered, nil),
		spanSpec{Service: "worker", Name: "charge", ID: xid(3), Parent: xid(2), Start: 10, End: 400, ErrMsg: "declined"},
	)))
	code, body := srv.explain(t, "half", "")
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, true, body["partial"])
	a := attemptsOf(t, body)
	assert.Equal(t, "charge", a[0]["first_error_span"].(map[string]any)["name"], "what the cache holds is still explained")
	assert.Nil(t, a[0]["wait_ms"], "the enqueue span is not known")
}
