package jobcorrelationprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// longWait makes the span (or shutdown, or a full buffer) the only way out of the buffer.
func longWait(c *Config) { c.Hold.MaxWait = time.Hour }

func jobIDRec(id string) func(plog.LogRecord) {
	return func(r plog.LogRecord) {
		r.Body().SetStr("working on " + id)
		r.Attributes().PutStr("job_id", id)
	}
}

func bodies(recs []plog.LogRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Body().AsString()
	}
	return out
}

func TestHeldUntilJobSpanArrives(t *testing.T) {
	p := newPipelines(t, longWait)
	p.sendLogs(logs(jobIDRec("j1")))
	assert.Equal(t, 0, p.logSink.LogRecordCount(), "a log of an unknown job was not held")
	assert.Equal(t, int64(1), p.metric("otelcol_processor_jobcorrelation_log_records_held"))

	p.spans(oneJobSpan("j1", "high", worker1, "", trace1, span1))
	got := p.waitEmitted(1)
	require.Len(t, got, 1)
	assert.Equal(t, "high", attrStr(t, got[0], "queue.name"))
	assert.Equal(t, worker1, attrStr(t, got[0], "worker.id"))
	assert.Equal(t, trace1, got[0].TraceID())
	assert.Equal(t, span1, got[0].SpanID())
	assert.Equal(t, int64(1), p.metric("otelcol_processor_jobcorrelation_log_records_tagged"))
	// Resource and scope travel with held records.
	rl := p.logSink.AllLogs()[0].ResourceLogs().At(0)
	v, _ := rl.Resource().Attributes().Get("service.name")
	assert.Equal(t, "worker", v.Str())
}

func TestHeldOrderWithinScope(t *testing.T) {
	p := newPipelines(t, longWait)
	p.spans(oneJobSpan("j2", "low", worker1, "", trace2, span2))

	ld := logs(
		jobIDRec("j1"), // unknown: waits
		body("plain"),  // no ids, but behind a waiting record of its scope
		func(r plog.LogRecord) { r.Body().SetStr("known"); r.SetTraceID(trace2) },
	)
	other := ld.ResourceLogs().AppendEmpty()
	other.Resource().Attributes().PutStr("service.name", "other")
	other.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("other scope")
	p.sendLogs(ld)

	assert.Equal(t, []string{"other scope"}, bodies(p.emitted()), "another resource's log must not wait")
	// A later batch of the same resource and scope queues behind too.
	p.sendLogs(logs(body("later")))
	assert.Len(t, p.emitted(), 1)

	p.spans(oneJobSpan("j1", "high", worker1, "", trace1, span1))
	got := p.waitEmitted(5)
	assert.Equal(t, []string{"other scope", "working on j1", "plain", "known", "later"}, bodies(got))
	assert.Equal(t, "high", attrStr(t, got[1], "queue.name"))
	assert.Equal(t, "low", attrStr(t, got[3], "queue.name"))
	assert.Empty(t, attrStr(t, got[2], "job.id"))
}

func TestHeldThenEmittedUntaggedAfterMaxWait(t *testing.T) {
	p := newPipelines(t, func(c *Config) { c.Hold.MaxWait = 20 * time.Millisecond })
	p.sendLogs(logs(jobIDRec("ghost"), func(r plog.LogRecord) { r.SetTraceID(trace3) }))
	got := p.waitEmitted(2)
	require.Len(t, got, 2)
	assert.Equal(t, "ghost", attrStr(t, got[0], "job.id"), "the record's own job id stays")
	assert.Empty(t, attrStr(t, got[0], "queue.name"))
	assert.Empty(t, attrStr(t, got[1], "job.id"))
	assert.Equal(t, int64(2), p.metric("otelcol_processor_jobcorrelation_log_records_held"))
	assert.Equal(t, int64(2), p.metric("otelcol_processor_jobcorrelation_log_records_untagged"))
	assert.Equal(t, int64(0), p.metric("otelcol_processor_jobcorrelation_log_records_tagged"))
}

func TestTracedLogsNotHeldWhenOff(t *testing.T) {
	p := newPipelines(t, func(c *Config) { longWait(c); c.Hold.TracedLogs = false })
	p.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace3) }, jobIDRec("j1")))
	got := p.emitted()
	require.Len(t, got, 1, "the traced log should pass, the job log wait")
	assert.Equal(t, trace3, got[0].TraceID())
}

func TestJobKnownOnlyFromLogsWaitsForItsSpan(t *testing.T) {
	p := newPipelines(t, longWait)
	// The worker line teaches job j1 ↔ trace1 but the queue comes with the span.
	p.sendLogs(logs(func(r plog.LogRecord) {
		r.Body().SetStr("job completed")
		r.Attributes().PutStr("id", "j1")
		r.Attributes().PutStr("worker_id", worker1)
		r.Attributes().PutStr("trace_id", "a10102030405060708090a0b0c0d0e0f")
	}))
	assert.Equal(t, 0, p.logSink.LogRecordCount())
	p.spans(oneJobSpan("j1", "high", worker1, "", trace1, span1))
	got := p.waitEmitted(1)
	assert.Equal(t, "high", attrStr(t, got[0], "queue.name"))
	assert.Equal(t, "j1", attrStr(t, got[0], "job.id"))
}

// A record that already names everything a span could tag it with (the receiver's lifecycle
// logs) leaves at once, even while its job's span has not come; one that lacks any of it waits.
func TestCompleteRecordOfUnknownJobIsNotHeld(t *testing.T) {
	complete := func(r plog.LogRecord) {
		r.Body().SetStr("job_started")
		r.SetTraceID(trace1)
		a := r.Attributes()
		a.PutStr("job.id", "j1")
		a.PutStr("worker.id", worker1)
		a.PutStr("queue.name", "high")
		a.PutStr("job.type", "resize")
	}
	p := newPipelines(t, longWait)
	p.sendLogs(logs(complete))
	got := p.emitted()
	require.Len(t, got, 1, "a complete record must not wait for its job's span")
	assert.Equal(t, "high", attrStr(t, got[0], "queue.name"))
	assert.Zero(t, p.metric("otelcol_processor_jobcorrelation_log_records_held"))

	p = newPipelines(t, longWait)
	p.sendLogs(logs(func(r plog.LogRecord) { complete(r); r.Attributes().Remove("job.type") }))
	assert.Empty(t, p.emitted(), "without its job type a span could still add a tag: it waits")
}

func TestFullBufferPassesThroughInOrder(t *testing.T) {
	p := newPipelines(t, func(c *Config) { longWait(c); c.Hold.MaxRecords = 2 })
	p.sendLogs(logs(jobIDRec("a"), jobIDRec("b"), jobIDRec("c"), body("d")))
	got := p.emitted()
	assert.Equal(t, []string{"working on a", "working on b", "working on c", "d"}, bodies(got),
		"a full buffer must let records through, oldest first, none dropped")
	assert.Equal(t, int64(2), p.metric("otelcol_processor_jobcorrelation_log_records_held"))
	assert.Equal(t, int64(4), p.metric("otelcol_processor_jobcorrelation_log_records_untagged"))
	// a and b were held and left early with c, the record that found the buffer full; d
	// waits for nothing and passed as usual.
	assert.Equal(t, int64(3), p.metric("otelcol_processor_jobcorrelation_log_records_released_early"))
}

func TestByteBound(t *testing.T) {
	p := newPipelines(t, func(c *Config) { longWait(c); c.Hold.MaxBytes = 400 })
	big := func(r plog.LogRecord) {
		r.Body().SetStr(string(make([]byte, 500)))
		r.Attributes().PutStr("job_id", "x")
	}
	p.sendLogs(logs(jobIDRec("small")))
	assert.Equal(t, 0, p.logSink.LogRecordCount())
	p.sendLogs(logs(big))
	assert.Equal(t, 2, p.logSink.LogRecordCount(), "a record over the byte bound was held, or its scope's queue not flushed first")
}

func TestShutdownFlushesHeld(t *testing.T) {
	p := newPipelines(t, longWait)
	p.sendLogs(logs(jobIDRec("a"), jobIDRec("b")))
	assert.Equal(t, 0, p.logSink.LogRecordCount())
	p.shutdown()
	assert.Equal(t, []string{"working on a", "working on b"}, bodies(p.emitted()))
}
