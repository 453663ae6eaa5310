package tracequery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

var base = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type spanSpec struct {
	scope   string
	kind    ptrace.SpanKind
	trace   byte
	span    byte
	parent  byte
	startS  int
	endS    int
	err     bool
	attrs   map[string]any
	failEvt string // a bullmq-otel "job failed" event with this reason
}

func traces(specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(conventions.AttrServiceName, "worker")
	for _, sp := range specs {
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(sp.scope)
		s := ss.Spans().AppendEmpty()
		s.SetKind(sp.kind)
		s.SetTraceID(pcommon.TraceID{15: sp.trace})
		s.SetSpanID(pcommon.SpanID{7: sp.span})
		if sp.parent != 0 {
			s.SetParentSpanID(pcommon.SpanID{7: sp.parent})
		}
		s.SetName("process")
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(sp.startS) * time.Second)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(sp.endS) * time.Second)))
		if sp.err {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
		if err := s.Attributes().FromRaw(sp.attrs); err != nil {
			panic(err)
		}
		if sp.failEvt != "" {
			e := s.Events().AppendEmpty()
			e.SetName("job failed")
			e.Attributes().PutStr(conventions.AttrBullMQFailedReason, sp.failEvt)
		}
	}
	return td
}

func bullmqSpan(span byte, attempt int, startS int, failed string) spanSpec {
	return spanSpec{scope: "jobtrace-workload", kind: ptrace.SpanKindConsumer, trace: 7, span: span, startS: startS, endS: startS + 1,
		failEvt: failed, attrs: map[string]any{
			"bullmq.job.id": "1", "bullmq.queue.name": "mails", "bullmq.job.name": "flaky",
			"bullmq.worker.id": "w-uuid", "bullmq.job.attempts.made": attempt,
		}}
}

func receiverSpan(id, queue, status string, attempt int, span byte, startS int) spanSpec {
	return spanSpec{scope: conventions.ReceiverScope, kind: ptrace.SpanKindConsumer, trace: 7, span: span, startS: startS, endS: startS + 1,
		err: status != conventions.StatusSucceeded, attrs: map[string]any{
			conventions.AttrJobID: id, conventions.AttrQueueName: queue, conventions.AttrJobStatus: status,
			conventions.AttrJobAttempt: attempt, conventions.AttrMessagingMessageID: id,
		}}
}

func attemptStatuses(j jobcatalog.Job) []string {
	var out []string
	for _, a := range j.Attempts {
		out = append(out, a.Status)
	}
	return out
}

// The reproduction: one CONSUMER span with job.id, queue.name and worker.id.
func TestSingleConsumerSpanIsAJob(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	svc.IngestTraces(traces(spanSpec{scope: "app", kind: ptrace.SpanKindConsumer, trace: 1, span: 1, startS: 0, endS: 2,
		attrs: map[string]any{conventions.AttrJobID: "solo", conventions.AttrQueueName: "q", conventions.AttrWorkerID: "w1"}}))
	page, err := svc.Jobs(Unscoped, JobQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 1)
	assert.Equal(t, JobView{ID: "solo", Queue: "q", Status: conventions.StatusSucceeded, Attempts: 1, WorkerID: "w1",
		StartedAt: timePtr(base), EndedAt: timePtr(base.Add(2 * time.Second)), TraceID: pcommon.TraceID{15: 1}.String()}, page.Jobs[0])
	jt, err := svc.JobTrace(context.Background(), Unscoped, "solo")
	require.NoError(t, err)
	assert.Equal(t, pcommon.TraceID{15: 1}.String(), jt.TraceID)
	assert.Equal(t, 1, jt.SpansCount)
}

// bullmq-otel's spans: the attempt count from bullmq.job.attempts.made, failure from its
// "job failed" event (it leaves the status unset).
func TestBullMQOtelSpansMakeAttempts(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	svc.IngestTraces(traces(bullmqSpan(2, 2, 5, "")))
	svc.IngestTraces(traces(bullmqSpan(1, 1, 1, "flaky: first attempt fails")))
	j, err := svc.Job(context.Background(), Unscoped, "mails:1")
	require.NoError(t, err)
	assert.Equal(t, []string{conventions.StatusRetried, conventions.StatusSucceeded}, attemptStatuses(j))
	assert.Equal(t, "mails", j.Queue)
	assert.Equal(t, "flaky", j.Type)
	a, _ := j.Latest()
	assert.Equal(t, "w-uuid", a.WorkerID)

	svc.IngestTraces(traces(spanSpec{scope: "x", kind: ptrace.SpanKindConsumer, trace: 2, span: 9, err: true,
		attrs: map[string]any{"messaging.message_id": "jid9", "messaging.destination": "default"}}))
	j, err = svc.Job(context.Background(), Unscoped, "jid9")
	require.NoError(t, err)
	assert.Equal(t, conventions.StatusFailed, j.Status(), "an error with no later attempt: failed")
	assert.Equal(t, "default", j.Queue)
}

// One job seen both by the receiver (in Redis) and through OTLP: one set of attempts, the
// receiver's; a forged queue or status from OTLP is counted, not applied.
func TestReceiverAndInstrumentationMerge(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	svc.IngestTraces(traces(bullmqSpan(1, 1, 1, "boom"), bullmqSpan(2, 2, 5, "")))
	svc.IngestTraces(traces(receiverSpan("mails:1", "mails", conventions.StatusRetried, 1, 11, 1),
		receiverSpan("mails:1", "mails", conventions.StatusSucceeded, 2, 12, 5)))
	j, err := svc.Job(context.Background(), Unscoped, "mails:1")
	require.NoError(t, err)
	assert.Equal(t, []string{conventions.StatusRetried, conventions.StatusSucceeded}, attemptStatuses(j))
	assert.Empty(t, svc.catalog.Stats().Conflicts)

	// Issue 18 #5: unauthenticated OTLP relabels the job and claims its first attempt succeeded.
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	lr := sl.LogRecords().AppendEmpty()
	lr.Attributes().PutStr(conventions.AttrEventName, conventions.EventJobStarted)
	lr.Attributes().PutStr(conventions.AttrJobID, "mails:1")
	lr.Attributes().PutStr(conventions.AttrQueueName, "high_priority")
	lr.Attributes().PutStr(conventions.AttrWorkerID, "evil")
	svc.IngestLogs(ld)
	svc.IngestTraces(traces(spanSpec{scope: "evil", kind: ptrace.SpanKindConsumer, trace: 7, span: 30, startS: 1, endS: 2,
		attrs: map[string]any{conventions.AttrMessagingMessageID: "mails:1", conventions.AttrQueueName: "high_priority",
			conventions.AttrJobAttempt: 1, conventions.AttrJobStatus: conventions.StatusSucceeded}}))
	j, _ = svc.Job(context.Background(), Unscoped, "mails:1")
	assert.Equal(t, "mails", j.Queue)
	assert.Equal(t, []string{conventions.StatusRetried, conventions.StatusSucceeded}, attemptStatuses(j))
	page, _ := svc.Jobs(queueScope{"high_priority"}, JobQuery{Limit: 10})
	assert.Empty(t, page.Jobs, "the relabel did not move the job into another scope")
	assert.Equal(t, map[string]int64{jobcatalog.ConflictQueue: 2, jobcatalog.ConflictStatus: 1}, svc.catalog.Stats().Conflicts)
}

// A span that merely carries job.id (jobcorrelation tags whole traces) is no job, yet
// /jobs/{id}/trace finds its trace; a consumer span jobcorrelation tagged inside a known
// attempt is no extra attempt.
func TestSpansCarryingJobIDOnly(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	svc.IngestTraces(traces(spanSpec{scope: "app", kind: ptrace.SpanKindInternal, trace: 3, span: 1, startS: 0, endS: 1,
		attrs: map[string]any{conventions.AttrJobID: "tagged"}}))
	_, err := svc.Job(context.Background(), Unscoped, "tagged")
	assert.ErrorIs(t, err, ErrJobNotFound)
	jt, err := svc.JobTrace(context.Background(), Unscoped, "tagged")
	require.NoError(t, err)
	assert.Equal(t, pcommon.TraceID{15: 3}.String(), jt.TraceID)
	assert.Equal(t, StatusUnknown, jt.Status)
	_, err = svc.JobTrace(context.Background(), queueScope{"q"}, "tagged")
	assert.ErrorIs(t, err, ErrJobNotFound, "a scoped caller needs an in-scope span of the job")

	svc.IngestTraces(traces(receiverSpan("r1", "q", conventions.StatusSucceeded, 1, 20, 10),
		spanSpec{scope: "kafka", kind: ptrace.SpanKindConsumer, trace: 7, span: 21, parent: 20, startS: 10, endS: 11,
			attrs: map[string]any{conventions.AttrJobID: "r1"}}))
	j, err := svc.Job(context.Background(), Unscoped, "r1")
	require.NoError(t, err)
	assert.Len(t, j.Attempts, 1)

	// With job_id_spans_are_jobs, the INTERNAL span becomes a job.
	st := defaultSettings()
	st.JobIDSpansAreJobs = true
	require.NoError(t, svc.Apply(st))
	svc.IngestTraces(traces(spanSpec{scope: "app", kind: ptrace.SpanKindInternal, trace: 4, span: 1, startS: 0, endS: 1,
		attrs: map[string]any{conventions.AttrJobID: "tagged2"}}))
	_, err = svc.Job(context.Background(), Unscoped, "tagged2")
	assert.NoError(t, err)
}
