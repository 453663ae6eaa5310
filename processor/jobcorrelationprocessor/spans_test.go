package jobcorrelationprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// sqlSpan is a span deeper in a job's trace that names no job.
func sqlSpan(td ptrace.Traces, trace pcommon.TraceID) ptrace.Span {
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName("SELECT users")
	s.SetKind(ptrace.SpanKindClient)
	s.SetTraceID(trace)
	s.SetSpanID(span9)
	return s
}

func spanAttrs(s ptrace.Span) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"job.id", "worker.id", "queue.name", "job.type"} {
		if v, ok := s.Attributes().Get(k); ok {
			out[k] = v.AsRaw()
		}
	}
	return out
}

func TestSpanTagging(t *testing.T) {
	tagged := map[string]any{"job.id": "j1", "worker.id": worker1, "queue.name": "high", "job.type": "resize"}
	tests := []struct {
		name    string
		mode    SpanTagging
		sameTD  bool // job span and SQL span in one batch
		wantSQL map[string]any
	}{
		{name: "whole trace, job span first", mode: SpanTaggingWholeTrace, wantSQL: tagged},
		{name: "whole trace, same batch", mode: SpanTaggingWholeTrace, sameTD: true, wantSQL: tagged},
		{name: "job spans only", mode: SpanTaggingJobSpansOnly, wantSQL: map[string]any{}},
		{name: "job spans only, same batch", mode: SpanTaggingJobSpansOnly, sameTD: true, wantSQL: map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipelines(t, func(c *Config) { c.SpanTagging = tt.mode })
			td := ptrace.NewTraces()
			if !tt.sameTD {
				p.spans(oneJobSpan("j1", "high", worker1, "resize", trace1, span1))
			} else {
				jobSpan(td, "j1", "high", worker1, "resize", trace1, span1)
			}
			sql := sqlSpan(td, trace1)
			other := sqlSpan(td, trace2)
			p.spans(td)
			assert.Equal(t, tt.wantSQL, spanAttrs(sql))
			assert.Empty(t, spanAttrs(other), "a span of another trace was tagged")
			want := int64(0)
			if len(tt.wantSQL) > 0 {
				want = 1
			}
			assert.Equal(t, want, p.metric("otelcol_processor_jobcorrelation_spans_tagged"))
		})
	}
}

// Sidekiq/Celery/BullMQ-style spans name the job with messaging attributes or configured keys.
func TestInstrumentationSpansTeachTheIndex(t *testing.T) {
	p := newPipelines(t, func(c *Config) { c.SpanTagging = SpanTaggingJobSpansOnly })
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetKind(ptrace.SpanKindConsumer)
	s.SetTraceID(trace2)
	s.SetSpanID(span2)
	s.Attributes().PutStr("messaging.message.id", "sidekiq-42")
	s.Attributes().PutStr("messaging.destination.name", "default")
	p.spans(td)
	// The job span itself is completed with job.id and queue.name.
	assert.Equal(t, map[string]any{"job.id": "sidekiq-42", "queue.name": "default"}, spanAttrs(s))

	p.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace2) }))
	got := p.waitEmitted(1)
	assert.Equal(t, "sidekiq-42", attrStr(t, got[0], "job.id"))
	assert.Equal(t, "default", attrStr(t, got[0], "queue.name"))
	assert.Equal(t, trace2, got[0].TraceID())
}

// bullmq-otel's consumer span names its job by bullmq.job.id and bullmq.queue.name; the index
// learns it as jobtrace's BullMQ job id <queue>:<id> (the queuejob receiver's), with queue, type
// and worker from bullmq-otel's attributes.
func TestBullMQOtelConsumerSpanTeachesTheIndex(t *testing.T) {
	p := newPipelines(t, func(c *Config) { c.SpanTagging = SpanTaggingJobSpansOnly })
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetKind(ptrace.SpanKindConsumer)
	s.SetTraceID(trace2)
	s.SetSpanID(span2)
	s.Attributes().PutStr("bullmq.job.id", "7")
	s.Attributes().PutStr("bullmq.queue.name", "mails")
	s.Attributes().PutStr("bullmq.job.name", "send")
	s.Attributes().PutStr("bullmq.worker.id", "w-uuid")
	s.Attributes().PutInt("bullmq.job.attempts.made", 1)
	p.spans(td)
	assert.Equal(t, map[string]any{"job.id": "mails:7", "queue.name": "mails", "job.type": "send", "worker.id": "w-uuid"}, spanAttrs(s))

	p.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace2) }))
	got := p.waitEmitted(1)
	assert.Equal(t, "mails:7", attrStr(t, got[0], "job.id"))
	assert.Equal(t, "mails", attrStr(t, got[0], "queue.name"))
}

// Issue 18 #5: a span from another source cannot relabel the queue of a job the receiver
// reported, so later worker lines of that job keep the receiver's queue.
func TestReceiverQueueNotRelabelledBySpans(t *testing.T) {
	p := newPipelines(t, func(c *Config) { c.SpanTagging = SpanTaggingJobSpansOnly })
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/jobtrace/jobtrace/receiver/queuejobreceiver")
	s := ss.Spans().AppendEmpty()
	s.SetKind(ptrace.SpanKindConsumer)
	s.SetTraceID(trace2)
	s.SetSpanID(span2)
	s.Attributes().PutStr("job.id", "lo1")
	s.Attributes().PutStr("queue.name", "low_priority")
	s.Attributes().PutStr("job.status", "succeeded")
	p.spans(td)

	forged := ptrace.NewTraces()
	f := forged.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	f.SetKind(ptrace.SpanKindConsumer)
	f.SetTraceID(trace2)
	f.SetSpanID(span9)
	f.Attributes().PutStr("job.id", "lo1")
	f.Attributes().PutStr("queue.name", "high_priority")
	p.spans(forged)

	p.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace2) }))
	got := p.waitEmitted(1)
	assert.Equal(t, "low_priority", attrStr(t, got[0], "queue.name"))
}

func TestProducerSpanDoesNotReplaceConsumerTrace(t *testing.T) {
	p := newPipelines(t, noHold)
	p.spans(oneJobSpan("j1", "high", worker1, "", trace1, span1))
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetKind(ptrace.SpanKindProducer)
	s.SetTraceID(trace3)
	s.SetSpanID(span2)
	s.Attributes().PutStr("messaging.message.id", "j1")
	p.spans(td)

	p.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace1) }))
	got := p.emitted()
	require.Len(t, got, 1)
	assert.Equal(t, "j1", attrStr(t, got[0], "job.id"), "the producer's trace replaced the job's")
}

func TestProducerSpanTeachesUnknownJobWithoutQueue(t *testing.T) {
	p := newPipelines(t, noHold)
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetKind(ptrace.SpanKindProducer)
	s.SetTraceID(trace3)
	s.SetSpanID(span2)
	s.Attributes().PutStr("job.id", "j5")
	s.Attributes().PutStr("messaging.destination.name", "jobqueue:high_priority")
	p.spans(td)

	p.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace3) }))
	got := p.emitted()
	require.Len(t, got, 1)
	assert.Equal(t, "j5", attrStr(t, got[0], "job.id"))
	assert.Empty(t, attrStr(t, got[0], "queue.name"), "a producer's destination is not the queue name")

	// The consumer side then takes over, queue included.
	p.spans(oneJobSpan("j5", "high_priority", worker1, "", trace3, span1))
	p.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace3) }))
	got = p.emitted()
	require.Len(t, got, 2)
	assert.Equal(t, "high_priority", attrStr(t, got[1], "queue.name"))
}
