package tracequery

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
)

func consumerJob(trace, span, parent byte, job, worker string) spanSpec {
	return spanSpec{scope: "app", kind: ptrace.SpanKindConsumer, trace: trace, span: span, parent: parent, startS: 0, endS: 5,
		attrs: map[string]any{conventions.AttrJobID: job, conventions.AttrQueueName: "q-" + job, conventions.AttrWorkerID: worker}}
}

func inner(trace, span, parent byte) spanSpec {
	return spanSpec{scope: "app", kind: ptrace.SpanKindInternal, trace: trace, span: span, parent: parent, startS: 1, endS: 2}
}

// attributionService: trace 7 holds job p (span 1) which, in its span 3, enqueued job c
// (span 4); 2 and 3 are p's inner spans, 5 is c's. Trace 8 holds job solo (span 21) and its
// inner span 22.
func attributionService(t testing.TB) *Service {
	svc := newTestService(t, defaultSettings())
	svc.IngestTraces(traces(consumerJob(7, 1, 0, "p", "wp"), inner(7, 2, 1), inner(7, 3, 2),
		consumerJob(7, 4, 3, "c", "wc"), inner(7, 5, 4)))
	svc.IngestTraces(traces(consumerJob(8, 21, 0, "solo", "ws"), inner(8, 22, 21)))
	return svc
}

// Issue 13 leftover 2: a line carrying a span below its job's span is the job's, and in a
// trace of several jobs the nearest job span above the line's span decides.
func TestAttributeChildSpansAndMultiJobTraces(t *testing.T) {
	svc := attributionService(t)
	tr7, tr8 := pcommon.TraceID{15: 7}, pcommon.TraceID{15: 8}
	sp := func(b byte) pcommon.SpanID { return pcommon.SpanID{7: b} }
	for _, tc := range []struct {
		name          string
		trace         pcommon.TraceID
		span          pcommon.SpanID
		job, worker   string
		notAttributed bool
	}{
		{name: "the job's own span", trace: tr7, span: sp(1), job: "p", worker: "wp"},
		{name: "child of the job span", trace: tr7, span: sp(2), job: "p", worker: "wp"},
		{name: "grandchild, the span that enqueued c", trace: tr7, span: sp(3), job: "p", worker: "wp"},
		{name: "the child job's span", trace: tr7, span: sp(4), job: "c", worker: "wc"},
		{name: "below the child job: nearest job span wins", trace: tr7, span: sp(5), job: "c", worker: "wc"},
		{name: "several jobs, no span id", trace: tr7, notAttributed: true},
		{name: "several jobs, span not cached", trace: tr7, span: sp(9), notAttributed: true},
		{name: "one job, child span", trace: tr8, span: sp(22), job: "solo", worker: "ws"},
		{name: "one job, no span id", trace: tr8, job: "solo", worker: "ws"},
		{name: "unknown trace", trace: pcommon.TraceID{15: 9}, span: sp(2), notAttributed: true},
	} {
		a, ok := svc.Attribute(tc.trace, tc.span)
		if tc.notAttributed {
			assert.False(t, ok, tc.name)
			continue
		}
		require.True(t, ok, tc.name)
		assert.Equal(t, Attribution{JobID: tc.job, WorkerID: tc.worker, Queue: "q-" + tc.job}, a, tc.name)
	}
}

// The walk is bounded: a chain deeper than maxAncestors is not followed to its job.
func TestAttributeWalkIsBounded(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	specs := []spanSpec{consumerJob(3, 1, 0, "deep", "w")}
	for i := byte(2); i <= maxAncestors+2; i++ {
		specs = append(specs, inner(3, i, i-1))
	}
	// A second job makes the trace-wide fallback refuse, so only the walk can answer.
	specs = append(specs, consumerJob(3, 200, 0, "other", "w"))
	svc.IngestTraces(traces(specs...))
	_, ok := svc.Attribute(pcommon.TraceID{15: 3}, pcommon.SpanID{7: maxAncestors + 1})
	assert.True(t, ok, "maxAncestors hops up: found")
	_, ok = svc.Attribute(pcommon.TraceID{15: 3}, pcommon.SpanID{7: maxAncestors + 2})
	assert.False(t, ok, "one more: not followed")
}

// The resolver runs per line on the ingest path: it allocates nothing, walk included.
func TestAttributeAllocatesNothing(t *testing.T) {
	svc := attributionService(t)
	allocs := testing.AllocsPerRun(200, func() {
		if _, ok := svc.Attribute(pcommon.TraceID{15: 7}, pcommon.SpanID{7: 5}); !ok {
			t.Fatal("not attributed")
		}
		if _, ok := svc.Attribute(pcommon.TraceID{15: 8}, pcommon.SpanID{}); !ok {
			t.Fatal("not attributed")
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkAttributeChildSpan(b *testing.B) {
	svc := attributionService(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := svc.Attribute(pcommon.TraceID{15: 7}, pcommon.SpanID{7: 5}); !ok {
			b.Fatal("not attributed")
		}
	}
}
