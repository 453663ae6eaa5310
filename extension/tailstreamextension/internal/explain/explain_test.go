package explain

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func sid(name string) pcommon.SpanID {
	sum := sha256.Sum256([]byte(name))
	var id pcommon.SpanID
	copy(id[:], sum[:8])
	return id
}

var trace1 = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// sp builds a span of trace1; id and parent are names hashed into ids.
type sp struct {
	id, parent, name, service string
	start, end                int
	err                       string // status message; "!" alone: error without message
	kind                      ptrace.SpanKind
	attrs                     map[string]string
	exception                 *Exception
}

func (s sp) span() tracecache.Span {
	out := tracecache.Span{TraceID: trace1, SpanID: sid(s.id), Name: s.name, Service: s.service, Kind: s.kind,
		Start: at(s.start).UnixNano(), End: at(s.end).UnixNano(), Status: ptrace.StatusCodeOk}
	if s.parent != "" {
		out.ParentSpanID = sid(s.parent)
	}
	if s.err != "" {
		out.Status = ptrace.StatusCodeError
		out.StatusMessage = strings.TrimPrefix(s.err, "!")
	}
	for k, v := range s.attrs {
		out.Attrs = append(out.Attrs, tracecache.KV{Key: k, Value: v})
	}
	if ex := s.exception; ex != nil {
		out.Events = append(out.Events, tracecache.Event{Time: out.End, Name: "exception", Attrs: []tracecache.KV{
			{Key: "exception.type", Value: ex.Type}, {Key: "exception.message", Value: ex.Message}, {Key: "exception.stacktrace", Value: ex.Stacktrace},
		}})
	}
	return out
}

func spans(specs ...sp) []tracecache.Span {
	out := make([]tracecache.Span, len(specs))
	for i, s := range specs {
		out[i] = s.span()
	}
	return out
}

// jobSpan is the receiver's span of attempt n of job "j1".
func jobSpan(jobID string, n int, start, end int, status string, extra map[string]string) sp {
	attrs := map[string]string{conventions.AttrJobID: jobID, conventions.AttrJobAttempt: strconv.Itoa(n), conventions.AttrJobStatus: status}
	for k, v := range extra {
		attrs[k] = v
	}
	s := sp{id: jobID + "/" + strconv.Itoa(n), parent: "enqueue-" + jobID, name: "process default", service: "jobqueue",
		start: start, end: end, kind: ptrace.SpanKindConsumer, attrs: attrs}
	if status != conventions.StatusSucceeded {
		s.err = "!" + extra[conventions.AttrJobErrorMessage]
	}
	return s
}

func attempt(jobID string, n int, status string, start, end int) Attempt {
	return Attempt{N: n, Status: status, WorkerID: "w-" + strconv.Itoa(n), TraceID: trace1, SpanID: sid(jobID + "/" + strconv.Itoa(n)),
		ParentSpanID: sid("enqueue-" + jobID), Started: at(start), Ended: at(end)}
}

var seq uint64

func logLine(jobID string, ms int, level, msg string, attrs map[string]any) *ring.Entry {
	seq++
	e := &ring.Entry{Seq: seq, Timestamp: at(ms), Level: level, JobID: jobID, Message: msg, Attrs: ring.AttrsOf(attrs)}
	if s, ok := attrs["span_id"].(string); ok {
		e.SpanID = s
	}
	return e
}

// An error three levels below the job span, on the critical path: it is the first error span,
// its exception is the error, and the summary names it.
func TestErrorThreeLevelsDeepOnCriticalPath(t *testing.T) {
	in := Input{
		Job: Job{ID: "j1", Queue: "default", Type: "charge", Status: conventions.StatusDeadLettered,
			Attempts: []Attempt{attempt("j1", 1, conventions.StatusDeadLettered, 0, 1000)}},
		Spans: spans(
			sp{id: "enqueue-j1", name: "enqueue", service: "api", start: -20, end: -10, kind: ptrace.SpanKindProducer},
			jobSpan("j1", 1, 0, 1000, conventions.StatusDeadLettered, nil),
			sp{id: "handle", parent: "j1/1", name: "handle job", service: "worker", start: 10, end: 990, err: "charge failed"},
			sp{id: "charge", parent: "handle", name: "charge card", service: "payments", start: 300, end: 980, err: "upstream 502"},
			sp{id: "post", parent: "charge", name: "POST /v1/charges", service: "payments", start: 400, end: 680, err: "502",
				exception: &Exception{Type: "UpstreamError", Message: "upstream 502 from gw-17", Stacktrace: "at charge()\nat handle()"}},
		),
	}
	out := Explain(in)
	require.Len(t, out.Attempts, 1)
	a := out.Attempts[0]
	require.NotNil(t, a.FirstErrorSpan)
	assert.Equal(t, "POST /v1/charges", a.FirstErrorSpan.Name)
	assert.Equal(t, sid("post").String(), a.FirstErrorSpan.SpanID)
	assert.True(t, a.FirstErrorSpan.OnCriticalPath)
	require.NotNil(t, a.FirstErrorSpan.Exception)
	assert.Equal(t, "UpstreamError", a.FirstErrorSpan.Exception.Type)
	require.NotNil(t, a.Error)
	assert.Equal(t, Error{Type: "UpstreamError", Message: "upstream 502 from gw-17", Stacktrace: "at charge()\nat handle()", Source: SourceSpanEvent}, *a.Error)
	assert.Equal(t, "attempt 1 of 1 failed in payments › POST /v1/charges: upstream … from … (after 280 ms)", out.Summary)
	require.NotNil(t, a.WaitMS)
	assert.InDelta(t, 10, *a.WaitMS, 1e-9, "enqueue span end → start")
	require.NotNil(t, a.RunMS)
	assert.InDelta(t, 1000, *a.RunMS, 1e-9)
	assert.False(t, out.Partial)
}

// Two error spans: the one off the critical path ends first, but the one on it is chosen.
// Without an error on the path, the earliest error span is chosen and says so.
func TestTwoErrorSpansOneOnCriticalPath(t *testing.T) {
	base := []sp{
		jobSpan("j1", 1, 0, 1000, conventions.StatusRetried, nil),
		// Two children run in parallel; "slow" finishes last, so it is on the path; "cache"
		// failed early and was retried around, off the path.
		sp{id: "cache", parent: "j1/1", name: "read cache", service: "worker", start: 10, end: 100, err: "cache miss storm"},
		sp{id: "slow", parent: "j1/1", name: "render", service: "worker", start: 20, end: 900, err: "render timed out"},
	}
	job := Job{ID: "j1", Queue: "default", Status: conventions.StatusRetried,
		Attempts: []Attempt{attempt("j1", 1, conventions.StatusRetried, 0, 1000)}}
	out := Explain(Input{Job: job, Spans: spans(base...)})
	fe := out.Attempts[0].FirstErrorSpan
	require.NotNil(t, fe)
	assert.Equal(t, "render", fe.Name)
	assert.True(t, fe.OnCriticalPath)
	assert.Equal(t, &Error{Message: "render timed out", Source: SourceSpanStatus}, out.Attempts[0].Error)
	assert.Contains(t, out.Summary, "; it will be retried")

	// Now the span on the path succeeds: the off-path error is the first error span.
	base[2].err = ""
	out = Explain(Input{Job: job, Spans: spans(base...)})
	fe = out.Attempts[0].FirstErrorSpan
	require.NotNil(t, fe)
	assert.Equal(t, "read cache", fe.Name)
	assert.False(t, fe.OnCriticalPath)
}

// No span failed below the job span and nothing recorded an exception: the worker's ERROR
// line is the error, and the lines before it come with it.
func TestErrorOnlyAsLog(t *testing.T) {
	var logs []*ring.Entry
	for i := range 25 {
		logs = append(logs, logLine("j1", 100+i*10, "info", "step "+strconv.Itoa(i), nil))
	}
	logs = append(logs,
		logLine("j1", 500, "error", "charge card failed", map[string]any{"error": "card declined (code 51)", "stacktrace": "main.charge\n\tcharge.go:12"}),
		logLine("j1", 600, "info", "after the error", nil),
		logLine("j1", 990, "error", "job dead-lettered", map[string]any{conventions.AttrEventName: conventions.EventJobDeadLettered, conventions.AttrJobAttempt: int64(1)}),
	)
	in := Input{
		Job: Job{ID: "j1", Queue: "default", Status: conventions.StatusDeadLettered,
			Attempts: []Attempt{attempt("j1", 1, conventions.StatusDeadLettered, 0, 1000)}},
		Spans: spans(jobSpan("j1", 1, 0, 1000, conventions.StatusDeadLettered, nil),
			sp{id: "work", parent: "j1/1", name: "work", service: "worker", start: 10, end: 990}),
		Logs: logs,
	}
	out := Explain(in)
	a := out.Attempts[0]
	assert.Nil(t, a.FirstErrorSpan)
	require.NotNil(t, a.Error)
	assert.Equal(t, Error{Message: "charge card failed: card declined (code 51)", Stacktrace: "main.charge\n\tcharge.go:12", Source: SourceLog}, *a.Error)
	assert.Equal(t, "attempt 1 of 1 failed: charge card failed: card declined (code …) (after 1.0 s)", out.Summary)
	// 20 context lines (steps 5..24), the error, and the dead-letter line; not "after the error".
	var msgs []string
	for _, e := range a.Logs {
		msgs = append(msgs, e.Message)
	}
	require.Len(t, msgs, 22, "%v", msgs)
	assert.Equal(t, "step 5", msgs[0])
	assert.Equal(t, "step 24", msgs[19])
	assert.Equal(t, "charge card failed", msgs[20])
	assert.Equal(t, "job dead-lettered", msgs[21])
	assert.NotContains(t, msgs, "after the error")

	in.Options.ContextLines = 3
	out = Explain(in)
	assert.Len(t, out.Attempts[0].Logs, 5)
	in.Options.ContextLines = NoContext
	out = Explain(in)
	assert.Len(t, out.Attempts[0].Logs, 2)
}

// Only the queue stored an error (Sidekiq's error_message, say): it is the error.
func TestErrorOnlyAsQueueStoredError(t *testing.T) {
	stored := map[string]string{conventions.AttrJobErrorType: "Net::ReadTimeout", conventions.AttrJobErrorMessage: "Net::ReadTimeout with #<TCPSocket:(closed)>",
		conventions.AttrJobErrorStacktrace: "app/jobs/sync.rb:10"}
	in := Input{
		Job: Job{ID: "j1", Queue: "default", Status: conventions.StatusRetried,
			Attempts: []Attempt{attempt("j1", 1, conventions.StatusRetried, 0, 1000)}},
		Spans: spans(jobSpan("j1", 1, 0, 1000, conventions.StatusRetried, stored)),
	}
	out := Explain(in)
	a := out.Attempts[0]
	assert.Nil(t, a.FirstErrorSpan, "the job span's own status is not a first error span")
	assert.Equal(t, &Error{Type: "Net::ReadTimeout", Message: "Net::ReadTimeout with #<TCPSocket:(closed)>", Stacktrace: "app/jobs/sync.rb:10", Source: SourceQueue}, a.Error)

	// Only on the lifecycle line (the span was lost): still found.
	in.Spans = nil
	in.Logs = []*ring.Entry{logLine("j1", 1000, "warn", "job retried", map[string]any{
		conventions.AttrEventName: conventions.EventJobRetried, conventions.AttrJobAttempt: int64(1),
		conventions.AttrJobErrorMessage: "boom", conventions.AttrJobErrorType: "RuntimeError",
	})}
	out = Explain(in)
	assert.Equal(t, &Error{Type: "RuntimeError", Message: "boom", Source: SourceQueue}, out.Attempts[0].Error)
	assert.True(t, out.Partial, "the attempt's span is missing")
}

func failingAttempt(n int, start int, status, service, name, msg string) []sp {
	id := "j1/" + strconv.Itoa(n)
	return []sp{
		jobSpan("j1", n, start, start+500, status, nil),
		sp{id: "work" + strconv.Itoa(n), parent: id, name: name, service: service, start: start + 10, end: start + 210, err: msg},
	}
}

// Three attempts fail alike: the summary says so once. A fourth that fails differently is
// not "the same failure", and the summary names the earlier one.
func TestSameFailureThenDifferent(t *testing.T) {
	var specs []sp
	var attempts []Attempt
	for n := 1; n <= 3; n++ {
		st := conventions.StatusRetried
		if n == 3 {
			st = conventions.StatusDeadLettered
		}
		specs = append(specs, failingAttempt(n, n*1000, st, "payments", "charge card", "upstream 50"+strconv.Itoa(n)+" after "+strconv.Itoa(n*100)+"ms")...)
		attempts = append(attempts, attempt("j1", n, st, n*1000, n*1000+500))
	}
	job := Job{ID: "j1", Queue: "default", Status: conventions.StatusDeadLettered, Attempts: attempts}
	out := Explain(Input{Job: job, Spans: spans(specs...)})
	assert.True(t, out.SameFailureAsPrevious)
	assert.Equal(t, "attempt 3 of 3 failed in payments › charge card: upstream … after … (after 200 ms); attempts 1–2 failed the same way", out.Summary)
	require.Len(t, out.Attempts, 3)
	assert.Equal(t, "upstream 503 after 300ms", out.Attempts[2].Error.Message, "the structured error keeps the raw message")
	assert.InDelta(t, 500, *out.Attempts[1].WaitMS, 1e-9, "a retry waits from the previous attempt's end")

	job.Attempts[2].Status = conventions.StatusRetried
	for i := range specs {
		if specs[i].attrs != nil {
			specs[i].attrs[conventions.AttrJobStatus] = conventions.StatusRetried
		}
	}
	specs = append(specs, failingAttempt(4, 4000, conventions.StatusDeadLettered, "ledger", "write entry", "constraint violation")...)
	job.Attempts = append(job.Attempts, attempt("j1", 4, conventions.StatusDeadLettered, 4000, 4500))
	out = Explain(Input{Job: job, Spans: spans(specs...)})
	assert.False(t, out.SameFailureAsPrevious)
	assert.Equal(t, "attempt 4 of 4 failed in ledger › write entry: constraint violation (after 200 ms); "+
		"attempts 1–3 failed in payments › charge card: upstream … after … (after 200 ms)", out.Summary)
}

func TestSucceeded(t *testing.T) {
	job := Job{ID: "j1", Queue: "default", Status: conventions.StatusSucceeded, Attempts: []Attempt{
		attempt("j1", 1, conventions.StatusRetried, 0, 500), attempt("j1", 2, conventions.StatusSucceeded, 1000, 1500)}}
	out := Explain(Input{Job: job, Spans: spans(
		jobSpan("j1", 1, 0, 500, conventions.StatusRetried, map[string]string{conventions.AttrJobErrorMessage: "flaky"}),
		jobSpan("j1", 2, 1000, 1500, conventions.StatusSucceeded, nil))})
	assert.Equal(t, "succeeded on attempt 2", out.Summary)
	require.Len(t, out.Attempts, 2)
	assert.Equal(t, "flaky", out.Attempts[0].Error.Message)
	assert.Nil(t, out.Attempts[1].Error)
	assert.False(t, out.SameFailureAsPrevious)
	assert.Nil(t, out.ComparedWith)
}

// Lines of another job, even in the same trace and the same time, never appear; nor do its
// spans count as this job's.
func TestOtherJobsLinesAndSpansStayOut(t *testing.T) {
	in := Input{
		Job: Job{ID: "j1", Queue: "default", Status: conventions.StatusDeadLettered,
			Attempts: []Attempt{attempt("j1", 1, conventions.StatusDeadLettered, 0, 1000)}},
		Spans: spans(
			jobSpan("j1", 1, 0, 1000, conventions.StatusDeadLettered, nil),
			sp{id: "w", parent: "j1/1", name: "work", service: "worker", start: 10, end: 900},
			// A child job enqueued from this one fails under it: its error is its own.
			sp{id: "child", parent: "w", name: "child step", service: "worker", start: 20, end: 30, err: "child broke",
				attrs: map[string]string{conventions.AttrJobID: "j2"}},
		),
		Logs: []*ring.Entry{
			logLine("j2", 25, "error", "child broke", nil),
			logLine("", 26, "error", "no job at all", nil),
			logLine("j1", 500, "warn", "slow disk", nil),
		},
	}
	out := Explain(in)
	a := out.Attempts[0]
	assert.Nil(t, a.FirstErrorSpan)
	require.Len(t, a.Logs, 1)
	assert.Equal(t, "slow disk", a.Logs[0].Message)
	assert.Nil(t, a.Error)
	assert.Equal(t, "attempt 1 of 1 failed (no error recorded) (after 1.0 s)", out.Summary)
}

// Lines go to the attempt that ran them: by job.attempt, by span, else by time.
func TestLogsAssignedToAttempts(t *testing.T) {
	job := Job{ID: "j1", Queue: "default", Status: conventions.StatusDeadLettered, Attempts: []Attempt{
		attempt("j1", 1, conventions.StatusRetried, 0, 1000), attempt("j1", 2, conventions.StatusDeadLettered, 3000, 4000)}}
	in := Input{Job: job, Spans: spans(
		jobSpan("j1", 1, 0, 1000, conventions.StatusRetried, nil),
		jobSpan("j1", 2, 3000, 4000, conventions.StatusDeadLettered, nil),
		sp{id: "w2", parent: "j1/2", name: "work", service: "worker", start: 3010, end: 3900},
	), Logs: []*ring.Entry{
		logLine("j1", 500, "warn", "a1 by time", nil),
		logLine("j1", 1900, "warn", "a1 before the midpoint", nil),
		logLine("j1", 2100, "warn", "a2 after the midpoint (start seen late)", nil),
		logLine("j1", 3500, "warn", "a1 by attribute", map[string]any{conventions.AttrJobAttempt: int64(1)}),
		logLine("j1", 100, "warn", "a2 by span", map[string]any{"span_id": sid("w2").String()}),
	}}
	out := Explain(in)
	msgs := func(a AttemptInfo) []string {
		var s []string
		for _, e := range a.Logs {
			s = append(s, e.Message)
		}
		return s
	}
	assert.Equal(t, []string{"a1 by time", "a1 before the midpoint", "a1 by attribute"}, msgs(out.Attempts[0]))
	assert.Equal(t, []string{"a2 by span", "a2 after the midpoint (start seen late)"}, msgs(out.Attempts[1]))
}

func TestLogsBounded(t *testing.T) {
	var logs []*ring.Entry
	for i := range 300 {
		logs = append(logs, logLine("j1", i, "error", strings.Repeat("x", 100)+strconv.Itoa(i), nil))
	}
	in := Input{Job: Job{ID: "j1", Status: conventions.StatusDeadLettered,
		Attempts: []Attempt{attempt("j1", 1, conventions.StatusDeadLettered, 0, 1000)}}, Logs: logs}
	out := Explain(in)
	assert.Len(t, out.Attempts[0].Logs, DefaultMaxLogs)
	assert.True(t, out.Attempts[0].LogsTruncated)
	in.Options.MaxLogBytes = 2000
	out = Explain(in)
	total := 0
	for _, e := range out.Attempts[0].Logs {
		total += len(e.JSON())
	}
	assert.LessOrEqual(t, total, 2000)
	assert.NotEmpty(t, out.Attempts[0].Logs)
	for i := 1; i < len(out.Attempts[0].Logs); i++ {
		assert.False(t, out.Attempts[0].Logs[i].Timestamp.Before(out.Attempts[0].Logs[i-1].Timestamp), "timestamp order")
	}
}

func TestComparedWith(t *testing.T) {
	trace2 := pcommon.TraceID{9}
	baseSpans := spans(
		jobSpan("ok", 1, 0, 500, conventions.StatusSucceeded, nil),
		sp{id: "b-fetch", parent: "ok/1", name: "fetch", service: "worker", start: 10, end: 50},
		sp{id: "b-charge", parent: "ok/1", name: "charge card", service: "payments", start: 60, end: 100},
		sp{id: "b-notify", parent: "ok/1", name: "notify", service: "worker", start: 100, end: 120},
	)
	for i := range baseSpans {
		baseSpans[i].TraceID = trace2
	}
	ba := attempt("ok", 1, conventions.StatusSucceeded, 0, 500)
	ba.TraceID = trace2
	in := Input{
		Job: Job{ID: "j1", Type: "charge", Status: conventions.StatusDeadLettered,
			Attempts: []Attempt{attempt("j1", 1, conventions.StatusDeadLettered, 0, 2000)}},
		Spans: spans(
			jobSpan("j1", 1, 0, 2000, conventions.StatusDeadLettered, nil),
			sp{id: "fetch", parent: "j1/1", name: "fetch", service: "worker", start: 10, end: 60},
			sp{id: "charge", parent: "j1/1", name: "charge card", service: "payments", start: 60, end: 960, err: "timeout"},
			sp{id: "retry", parent: "j1/1", name: "retry charge", service: "payments", start: 960, end: 1900},
		),
		Baseline: &Baseline{JobID: "ok", Attempt: ba, Spans: baseSpans},
	}
	out := Explain(in)
	c := out.ComparedWith
	require.NotNil(t, c)
	assert.Equal(t, "ok", c.JobID)
	assert.Equal(t, 1, c.Attempt)
	assert.Equal(t, conventions.StatusSucceeded, c.Status)
	assert.Equal(t, []string{"notify"}, c.SpansMissing)
	assert.Equal(t, []string{"retry charge"}, c.SpansExtra)
	assert.Equal(t, []Slower{{Name: "charge card", MS: 900, BaselineMS: 40}}, c.Slower, "fetch took 50 ms against 40: not over 2×")
}

func TestNoAttempts(t *testing.T) {
	out := Explain(Input{Job: Job{ID: "j1", Status: conventions.StatusQueued}})
	assert.Equal(t, "queued; no attempt has started yet", out.Summary)
	assert.Empty(t, out.Attempts)
	assert.NotNil(t, out.Attempts)
}

// A job known only from an instrumentation's consumer span (bullmq-otel): its own error status
// makes it the first error span; BullMQ's failedReason on its event is the queue's error.
func TestInstrumentationConsumerSpan(t *testing.T) {
	consumer := sp{id: "c1", name: "process payments", service: "worker", start: 0, end: 300, kind: ptrace.SpanKindConsumer,
		attrs: map[string]string{conventions.AttrJobID: "payments:7", conventions.AttrJobAttempt: "1"}}
	a := Attempt{N: 1, Status: conventions.StatusFailed, TraceID: trace1, SpanID: sid("c1"), Started: at(0), Ended: at(300)}
	job := Job{ID: "payments:7", Queue: "payments", Status: conventions.StatusFailed, Attempts: []Attempt{a}}

	withStatus := consumer
	withStatus.err = "card declined"
	out := Explain(Input{Job: job, Spans: spans(withStatus)})
	require.NotNil(t, out.Attempts[0].FirstErrorSpan)
	assert.Equal(t, "process payments", out.Attempts[0].FirstErrorSpan.Name)
	assert.Equal(t, &Error{Message: "card declined", Source: SourceSpanStatus}, out.Attempts[0].Error)
	assert.Equal(t, "attempt 1 of 1 failed in worker › process payments: card declined (after 300 ms)", out.Summary)

	reason := consumer.span()
	reason.Events = []tracecache.Event{{Time: reason.End, Name: "job failed", Attrs: []tracecache.KV{{Key: conventions.AttrBullMQFailedReason, Value: "Error: card declined"}}}}
	out = Explain(Input{Job: job, Spans: []tracecache.Span{reason}})
	assert.Nil(t, out.Attempts[0].FirstErrorSpan, "bullmq-otel leaves the status unset")
	assert.Equal(t, &Error{Message: "Error: card declined", Source: SourceQueue}, out.Attempts[0].Error)
}

func TestAbandonedAndRunning(t *testing.T) {
	job := Job{ID: "j1", Queue: "default", Status: conventions.StatusAbandoned, Attempts: []Attempt{
		attempt("j1", 1, conventions.StatusRetried, 0, 500), attempt("j1", 2, conventions.StatusAbandoned, 1000, 1500)}}
	out := Explain(Input{Job: job, Spans: spans(
		jobSpan("j1", 1, 0, 500, conventions.StatusRetried, map[string]string{conventions.AttrJobErrorMessage: "timeout"}),
		jobSpan("j1", 2, 1000, 1500, conventions.StatusAbandoned, nil))})
	assert.Equal(t, "attempt 2 of 2 was abandoned (its worker stopped heartbeating); attempt 1 failed: timeout (after 500 ms)", out.Summary)
	assert.False(t, out.SameFailureAsPrevious)

	job.Status = conventions.StatusRunning
	job.Attempts[1] = Attempt{N: 2, WorkerID: "w-2", TraceID: trace1, Started: at(1000)}
	out = Explain(Input{Job: job, Spans: spans(
		jobSpan("j1", 1, 0, 500, conventions.StatusRetried, map[string]string{conventions.AttrJobErrorMessage: "timeout"}))})
	assert.Equal(t, "attempt 2 is running; attempt 1 failed: timeout (after 500 ms)", out.Summary)
	assert.Equal(t, conventions.StatusRunning, out.Attempts[1].Status)
	assert.Nil(t, out.Attempts[1].RunMS)
}

// The receiver saw the attempt start a poll late: its job span begins after the worker's first
// span ended. That span is still on the attempt's critical path, and the first error.
func TestJobSpanObservedLate(t *testing.T) {
	in := Input{
		Job: Job{ID: "j1", Queue: "default", Status: conventions.StatusRetried,
			Attempts: []Attempt{attempt("j1", 1, conventions.StatusRetried, 250, 1000)}},
		Spans: spans(
			jobSpan("j1", 1, 250, 1000, conventions.StatusRetried, nil),
			sp{id: "handle", parent: "j1/1", name: "handle job", service: "worker", start: 10, end: 990, err: "file not found"},
			sp{id: "read", parent: "handle", name: "read file", service: "worker", start: 20, end: 200, err: "file not found",
				exception: &Exception{Type: "*fs.PathError", Message: "open /srv/in: no such file or directory"}},
		),
	}
	out := Explain(in)
	fe := out.Attempts[0].FirstErrorSpan
	require.NotNil(t, fe)
	assert.Equal(t, "read file", fe.Name)
	assert.True(t, fe.OnCriticalPath)
}
