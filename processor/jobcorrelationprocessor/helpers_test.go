package jobcorrelationprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// pipelines is one component ID's traces and logs processors, as a collector with a traces
// and a logs pipeline builds them, started, with sinks behind them.
type pipelines struct {
	t         *testing.T
	traces    processor.Traces
	logs      processor.Logs
	traceSink *consumertest.TracesSink
	logSink   *consumertest.LogsSink
	tel       *componenttest.Telemetry
	stopped   bool
}

func newPipelines(t *testing.T, mutate func(*Config)) *pipelines {
	t.Helper()
	return newPipelinesOn(t, componenttest.NewNopHost(), mutate)
}

// newPipelinesOn is newPipelines with a host, for the extensions the processors look up.
func newPipelinesOn(t *testing.T, host component.Host, mutate func(*Config)) *pipelines {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	p := &pipelines{
		t:         t,
		traceSink: new(consumertest.TracesSink),
		logSink:   new(consumertest.LogsSink),
		tel:       componenttest.NewTelemetry(),
	}
	set := processortest.NewNopSettings(typ)
	// A component ID per test: instances of one ID share an index.
	set.ID = component.NewIDWithName(typ, t.Name())
	set.TelemetrySettings = p.tel.NewTelemetrySettings()
	f := NewFactory()
	var err error
	p.traces, err = f.CreateTraces(context.Background(), set, cfg, p.traceSink)
	require.NoError(t, err)
	p.logs, err = f.CreateLogs(context.Background(), set, cfg, p.logSink)
	require.NoError(t, err)
	require.NoError(t, p.traces.Start(context.Background(), host))
	require.NoError(t, p.logs.Start(context.Background(), host))
	t.Cleanup(func() {
		p.shutdown()
		require.NoError(t, p.tel.Shutdown(context.Background()))
	})
	return p
}

func (p *pipelines) shutdown() {
	if p.stopped {
		return
	}
	p.stopped = true
	require.NoError(p.t, p.logs.Shutdown(context.Background()))
	require.NoError(p.t, p.traces.Shutdown(context.Background()))
}

func (p *pipelines) spans(td ptrace.Traces) {
	require.NoError(p.t, p.traces.ConsumeTraces(context.Background(), td))
}

func (p *pipelines) sendLogs(ld plog.Logs) {
	require.NoError(p.t, p.logs.ConsumeLogs(context.Background(), ld))
}

// emitted returns every log record that left the logs processor, in order.
func (p *pipelines) emitted() []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range p.logSink.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				recs := sls.At(j).LogRecords()
				for k := 0; k < recs.Len(); k++ {
					out = append(out, recs.At(k))
				}
			}
		}
	}
	return out
}

func (p *pipelines) waitEmitted(n int) []plog.LogRecord {
	p.t.Helper()
	require.Eventually(p.t, func() bool { return p.logSink.LogRecordCount() >= n }, 10*time.Second, 5*time.Millisecond)
	return p.emitted()
}

// metric sums an int64 counter or gauge of the test's telemetry; 0 when never recorded.
func (p *pipelines) metric(name string) int64 {
	p.t.Helper()
	m, err := p.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var total int64
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			total += dp.Value
		}
	case metricdata.Gauge[int64]:
		for _, dp := range d.DataPoints {
			total += dp.Value
		}
	default:
		p.t.Fatalf("metric %s has unexpected type %T", name, m.Data)
	}
	return total
}

var (
	trace1 = pcommon.TraceID{0xa1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	trace2 = pcommon.TraceID{0xa2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	trace3 = pcommon.TraceID{0xa3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	span1  = pcommon.SpanID{0xb1, 1, 2, 3, 4, 5, 6, 7}
	span2  = pcommon.SpanID{0xb2, 1, 2, 3, 4, 5, 6, 7}
	span9  = pcommon.SpanID{0xb9, 1, 2, 3, 4, 5, 6, 7}
)

const worker1 = "vm-15485-1795775243850107691-4b53-44"

// jobSpan is a span as the queuejob receiver emits it (docs/CONVENTIONS.md).
func jobSpan(td ptrace.Traces, jobID, queue, worker, jobType string, trace pcommon.TraceID, spanID pcommon.SpanID) ptrace.Span {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "jobqueue")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/jobtrace/jobtrace/receiver/queuejobreceiver")
	s := ss.Spans().AppendEmpty()
	s.SetName("process " + queue)
	s.SetKind(ptrace.SpanKindConsumer)
	s.SetTraceID(trace)
	s.SetSpanID(spanID)
	a := s.Attributes()
	a.PutStr("messaging.system", "redis")
	a.PutStr("messaging.destination.name", queue)
	a.PutStr("messaging.message.id", jobID)
	a.PutStr("job.id", jobID)
	a.PutStr("queue.name", queue)
	if worker != "" {
		a.PutStr("worker.id", worker)
	}
	if jobType != "" {
		a.PutStr("job.type", jobType)
	}
	return s
}

func oneJobSpan(jobID, queue, worker, jobType string, trace pcommon.TraceID, spanID pcommon.SpanID) ptrace.Traces {
	td := ptrace.NewTraces()
	jobSpan(td, jobID, queue, worker, jobType, trace, spanID)
	return td
}

// logs builds one resource and scope holding records made by the given funcs.
func logs(recs ...func(plog.LogRecord)) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "worker")
	sl := rl.ScopeLogs().AppendEmpty()
	for _, f := range recs {
		f(sl.LogRecords().AppendEmpty())
	}
	return ld
}

func body(s string) func(plog.LogRecord) {
	return func(r plog.LogRecord) { r.Body().SetStr(s) }
}

func attrStr(t *testing.T, r plog.LogRecord, k string) string {
	t.Helper()
	v, ok := r.Attributes().Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}
