package jobcorrelationprocessor

import (
	"go.opentelemetry.io/collector/component"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func noHold(c *Config) { c.Hold.MaxWait = 0 }

// The rules of issue #4, section 3, one row each. Every row runs against an index that knows
// job "j1" from its queuejob span (trace1, span1, worker1, queue high, type resize).
func TestLogTaggingRules(t *testing.T) {
	type want struct {
		attrs   map[string]any // expected attribute values; nil value = must be absent
		trace   pcommon.TraceID
		span    pcommon.SpanID
		tagged  int64
		untag   int64
		conflic int64
	}
	full := map[string]any{
		"job.id": "j1", "worker.id": worker1, "worker.host": "vm", "worker.pid": int64(15485),
		"worker.slot": int64(44), "queue.name": "high", "job.type": "resize",
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		rec    func(plog.LogRecord)
		want   want
	}{
		{
			name: "trace id gets job, worker, queue and type",
			rec:  func(r plog.LogRecord) { r.SetTraceID(trace1); r.SetSpanID(span9) },
			want: want{attrs: full, trace: trace1, span: span9, tagged: 1},
		},
		{
			name: "job id without trace context gets trace and job span",
			rec:  func(r plog.LogRecord) { r.Attributes().PutStr("job.id", "j1") },
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name: "upstream zap line: id on a job message, worker_id, trace_id and span_id",
			rec: func(r plog.LogRecord) {
				r.Body().SetStr("job completed")
				a := r.Attributes()
				a.PutStr("id", "j1")
				a.PutStr("worker_id", worker1)
				a.PutStr("trace_id", "a10102030405060708090a0b0c0d0e0f")
				a.PutStr("span_id", "b901020304050607")
			},
			want: want{attrs: full, trace: trace1, span: span9, tagged: 1},
		},
		{
			name: "W3C traceparent attribute",
			rec: func(r plog.LogRecord) {
				r.Attributes().PutStr("traceparent", "00-a10102030405060708090a0b0c0d0e0f-b901020304050607-01")
			},
			want: want{attrs: full, trace: trace1, span: span9, tagged: 1},
		},
		{
			name: "malformed trace_id is ignored",
			rec: func(r plog.LogRecord) {
				r.Attributes().PutStr("trace_id", "not-a-trace")
			},
			want: want{attrs: map[string]any{"job.id": nil}, untag: 1},
		},
		{
			name: "id on a message that is not a job message is not a job id",
			rec: func(r plog.LogRecord) {
				r.Body().SetStr("request served")
				r.Attributes().PutStr("id", "j1")
			},
			want: want{attrs: map[string]any{"job.id": nil, "queue.name": nil}, untag: 1},
		},
		{
			name:   "configured job message",
			mutate: func(c *Config) { c.JobMessages = []string{"job finished"} },
			rec: func(r plog.LogRecord) {
				r.Body().SetStr("job finished")
				r.Attributes().PutStr("id", "j1")
			},
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name: "msg attribute when the body is not the message",
			rec: func(r plog.LogRecord) {
				r.Body().SetStr(`{"raw":"line"}`)
				r.Attributes().PutStr("msg", "job retried")
				r.Attributes().PutStr("id", "j1")
			},
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name: "job_id key", rec: func(r plog.LogRecord) { r.Attributes().PutStr("job_id", "j1") },
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name: "jobId key", rec: func(r plog.LogRecord) { r.Attributes().PutStr("jobId", "j1") },
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name: "jid key", rec: func(r plog.LogRecord) { r.Attributes().PutStr("jid", "j1") },
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name: "task_id key", rec: func(r plog.LogRecord) { r.Attributes().PutStr("task_id", "j1") },
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name: "messaging.message.id key", rec: func(r plog.LogRecord) { r.Attributes().PutStr("messaging.message.id", "j1") },
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name:   "configured key",
			mutate: func(c *Config) { c.JobIDAttributes = []string{"celery.task_id"} },
			rec:    func(r plog.LogRecord) { r.Attributes().PutStr("celery.task_id", "j1") },
			want:   want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name:   "key not configured any more",
			mutate: func(c *Config) { c.JobIDAttributes = []string{"celery.task_id"} },
			rec:    func(r plog.LogRecord) { r.Attributes().PutStr("jid", "j1") },
			want:   want{attrs: map[string]any{"job.id": nil}, untag: 1},
		},
		{
			name: "existing different values are kept and counted",
			rec: func(r plog.LogRecord) {
				r.SetTraceID(trace1)
				r.Attributes().PutStr("queue.name", "mine")
				r.Attributes().PutStr("worker.id", "other-1-2-abcd-3")
			},
			want: want{attrs: map[string]any{
				"job.id": "j1", "queue.name": "mine", "worker.id": "other-1-2-abcd-3",
				"worker.host": "other", "worker.pid": int64(1), "worker.slot": int64(3), "job.type": "resize",
			}, trace: trace1, tagged: 1, conflic: 2},
		},
		{
			name: "record's own trace differing from its job's is kept and counted",
			rec: func(r plog.LogRecord) {
				r.SetTraceID(trace3)
				r.Attributes().PutStr("job.id", "j1")
			},
			want: want{attrs: full, trace: trace3, tagged: 1, conflic: 1},
		},
		{
			name: "equal existing values are no conflict",
			rec: func(r plog.LogRecord) {
				r.Attributes().PutStr("job.id", "j1")
				r.Attributes().PutStr("queue.name", "high")
				r.Attributes().PutInt("worker.slot", 44)
			},
			want: want{attrs: full, trace: trace1, span: span1, tagged: 1},
		},
		{
			name: "unknown trace stays untagged",
			rec:  func(r plog.LogRecord) { r.SetTraceID(trace2) },
			want: want{attrs: map[string]any{"job.id": nil}, trace: trace2, untag: 1},
		},
		{
			name: "no ids at all",
			rec:  body("2026/11/27 10:27:26 traces export: connection refused"),
			want: want{attrs: map[string]any{"job.id": nil}, untag: 1},
		},
		{
			name: "unparsable worker id is kept whole",
			rec: func(r plog.LogRecord) {
				r.Attributes().PutStr("worker_id", "celery@host")
			},
			want: want{attrs: map[string]any{"worker.id": "celery@host", "worker.host": nil, "worker.slot": nil}, untag: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipelines(t, func(c *Config) {
				noHold(c)
				if tt.mutate != nil {
					tt.mutate(c)
				}
			})
			p.spans(oneJobSpan("j1", "high", worker1, "resize", trace1, span1))
			p.sendLogs(logs(tt.rec))
			got := p.emitted()
			require.Len(t, got, 1)
			r := got[0]
			for k, v := range tt.want.attrs {
				cur, ok := r.Attributes().Get(k)
				if v == nil {
					if ok {
						t.Errorf("%s should be absent, is %v", k, cur.AsRaw())
					}
					continue
				}
				require.True(t, ok, "%s missing", k)
				assert.Equal(t, v, cur.AsRaw(), k)
			}
			assert.Equal(t, tt.want.trace, r.TraceID(), "trace id")
			assert.Equal(t, tt.want.span, r.SpanID(), "span id")
			assert.Equal(t, tt.want.tagged, p.metric("otelcol_processor_jobcorrelation_log_records_tagged"), "tagged")
			assert.Equal(t, tt.want.untag, p.metric("otelcol_processor_jobcorrelation_log_records_untagged"), "untagged")
			assert.Equal(t, tt.want.conflic, p.metric("otelcol_processor_jobcorrelation_conflicts"), "conflicts")
		})
	}
}

func TestZapTimestamp(t *testing.T) {
	p := newPipelines(t, noHold)
	p.sendLogs(logs(
		func(r plog.LogRecord) { r.Attributes().PutDouble("ts", 1795775244.151045) },
		func(r plog.LogRecord) {
			r.SetTimestamp(7)
			r.Attributes().PutDouble("ts", 1795775244.151045)
		},
		func(r plog.LogRecord) { r.Attributes().PutStr("ts", "yesterday") },
	))
	got := p.emitted()
	require.Len(t, got, 3)
	assert.Equal(t, time.Unix(1795775244, 151045000).UTC(), got[0].Timestamp().AsTime())
	assert.Equal(t, pcommon.Timestamp(7), got[1].Timestamp(), "an existing timestamp was replaced")
	assert.Equal(t, pcommon.Timestamp(0), got[2].Timestamp())
}

func TestLogsTeachTheIndex(t *testing.T) {
	p := newPipelines(t, noHold)
	// A worker line links job j7 to trace2; a later line with only trace2 finds the job.
	p.sendLogs(logs(
		func(r plog.LogRecord) {
			r.Body().SetStr("job completed")
			r.Attributes().PutStr("id", "j7")
			r.Attributes().PutStr("worker_id", worker1)
			r.Attributes().PutStr("trace_id", "a20102030405060708090a0b0c0d0e0f")
		},
		func(r plog.LogRecord) { r.SetTraceID(trace2) },
	))
	got := p.emitted()
	require.Len(t, got, 2)
	assert.Equal(t, "j7", attrStr(t, got[1], "job.id"))
	assert.Equal(t, worker1, attrStr(t, got[1], "worker.id"))
	assert.Equal(t, int64(1), p.metric("otelcol_processor_jobcorrelation_index_size"), "index holds j7")
}

func TestLateWorkerLineDoesNotMoveJobBack(t *testing.T) {
	p := newPipelines(t, noHold)
	// Attempt 2 ran on worker B; attempt 1's "job retried" line from worker A arrives late.
	const workerA, workerB = "a-1-1-aaaa-1", "b-2-2-bbbb-2"
	p.spans(oneJobSpan("j1", "high", workerB, "", trace1, span1))
	p.sendLogs(logs(func(r plog.LogRecord) {
		r.Body().SetStr("job retried")
		r.Attributes().PutStr("id", "j1")
		r.Attributes().PutStr("worker_id", workerA)
		r.Attributes().PutStr("trace_id", "a10102030405060708090a0b0c0d0e0f")
	}))
	p.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace1) }))
	got := p.emitted()
	require.Len(t, got, 2)
	assert.Equal(t, workerA, attrStr(t, got[0], "worker.id"), "the line's own worker")
	assert.Equal(t, workerB, attrStr(t, got[1], "worker.id"), "the index moved back to the old attempt's worker")
}

func TestSharedTraceDoesNotGuess(t *testing.T) {
	p := newPipelines(t, noHold)
	td := ptrace.NewTraces()
	jobSpan(td, "parent", "high", worker1, "", trace1, span1)
	jobSpan(td, "child", "low", worker1, "", trace1, span2)
	p.spans(td)
	p.sendLogs(logs(
		func(r plog.LogRecord) { r.SetTraceID(trace1) },
		func(r plog.LogRecord) { r.SetTraceID(trace1); r.Attributes().PutStr("job_id", "child") },
	))
	got := p.emitted()
	require.Len(t, got, 2)
	assert.Empty(t, attrStr(t, got[0], "job.id"), "a trace shared by two jobs tagged one of them")
	assert.Equal(t, "child", attrStr(t, got[1], "job.id"))
	assert.Equal(t, "low", attrStr(t, got[1], "queue.name"))
}

func TestIndexSharedPerComponentIDOnly(t *testing.T) {
	a := newPipelines(t, noHold)
	t.Run("other", func(t *testing.T) {
		b := newPipelines(t, noHold) // another component ID
		a.spans(oneJobSpan("j1", "high", worker1, "", trace1, span1))
		b.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace1) }))
		got := b.emitted()
		require.Len(t, got, 1)
		assert.Empty(t, attrStr(t, got[0], "job.id"), "another component ID saw this one's index")
	})
	a.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace1) }))
	got := a.emitted()
	require.Len(t, got, 1)
	assert.Equal(t, "j1", attrStr(t, got[0], "job.id"))
}

// The live tail path's instance has its own ID and no hold, and tags from the export path's
// index through shared_index.
func TestSharedIndexFromAnotherID(t *testing.T) {
	a := newPipelines(t, longWait)
	owner := component.NewIDWithName(typ, t.Name()).String()
	t.Run("live", func(t *testing.T) {
		b := newPipelines(t, func(c *Config) { noHold(c); c.SharedIndex = owner })
		a.spans(oneJobSpan("j1", "high", worker1, "", trace1, span1))
		b.sendLogs(logs(func(r plog.LogRecord) { r.SetTraceID(trace1) }, func(r plog.LogRecord) { r.SetTraceID(trace2) }))
		got := b.emitted()
		require.Len(t, got, 2, "the instance without a hold held something")
		assert.Equal(t, "j1", attrStr(t, got[0], "job.id"), "shared_index did not share the index")
		assert.Equal(t, "high", attrStr(t, got[0], "queue.name"))
		assert.Empty(t, attrStr(t, got[1], "job.id"))
	})
}

func TestIndexTelemetry(t *testing.T) {
	p := newPipelines(t, func(c *Config) { noHold(c); c.MaxJobs = 2 })
	td := ptrace.NewTraces()
	jobSpan(td, "j1", "q", "", "", trace1, span1)
	jobSpan(td, "j2", "q", "", "", trace2, span1)
	jobSpan(td, "j3", "q", "", "", trace3, span1)
	p.spans(td)
	assert.Equal(t, int64(2), p.metric("otelcol_processor_jobcorrelation_index_size"))
	assert.Equal(t, int64(1), p.metric("otelcol_processor_jobcorrelation_index_evictions"))
	assert.Equal(t, int64(0), p.metric("otelcol_processor_jobcorrelation_index_expirations"))
}
