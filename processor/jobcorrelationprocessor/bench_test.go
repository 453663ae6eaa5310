package jobcorrelationprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/jobtrace/jobtrace/internal/testutil/cputime"
)

const benchJobs = 100_000

func benchTrace(i int) pcommon.TraceID {
	return pcommon.TraceID{byte(i), byte(i >> 8), byte(i >> 16), 0xbe, 0xec}
}

func benchJobID(i int) string { return fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15) }

// benchProcessors starts a traces and logs processor of one ID and fills the index with
// benchJobs jobs through the traces processor, as queuejob spans would.
func benchProcessors(b *testing.B) (processor.Logs, func()) {
	set := processortest.NewNopSettings(typ)
	set.ID = component.NewIDWithName(typ, b.Name())
	cfg := createDefaultConfig()
	f := NewFactory()
	tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	lp, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	host := componenttest.NewNopHost()
	if err = tp.Start(context.Background(), host); err != nil {
		b.Fatal(err)
	}
	if err = lp.Start(context.Background(), host); err != nil {
		b.Fatal(err)
	}
	for start := 0; start < benchJobs; start += 1000 {
		td := ptrace.NewTraces()
		for i := start; i < start+1000; i++ {
			jobSpan(td, benchJobID(i), "high_priority", fmt.Sprintf("vm-15485-1795775243850107691-4b53-%d", i%64), "", benchTrace(i), pcommon.SpanID{1, byte(i)})
		}
		if err = tp.ConsumeTraces(context.Background(), td); err != nil {
			b.Fatal(err)
		}
	}
	return lp, func() {
		_ = lp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	}
}

// benchmarkTagging runs batches of 1000 records, each job's lines in runs of 4 (a worker
// writes a few lines per job), all of known jobs, and reports records/s on one goroutine.
func benchmarkTagging(b *testing.B, fill func(r plog.LogRecord, job int)) {
	lp, stop := benchProcessors(b)
	defer stop()
	const batch = 1000
	master := plog.NewLogs()
	rl := master.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "worker")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	job := 0
	for i := 0; i < batch; i++ {
		if i%4 == 0 {
			job = (job + 7919) % benchJobs
		}
		fill(recs.AppendEmpty(), job)
	}
	ld := plog.NewLogs()
	records := 0
	var cpu int64
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		master.CopyTo(ld)
		b.StartTimer()
		c0 := cputime.Thread()
		if err := lp.ConsumeLogs(context.Background(), ld); err != nil {
			b.Fatal(err)
		}
		cpu += cputime.Thread() - c0
		records += batch
	}
	b.StopTimer()
	v, _ := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get("queue.name")
	if v.Str() != "high_priority" {
		b.Fatalf("records were not tagged: %v", ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw())
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	if cpu > 0 {
		b.ReportMetric(float64(records)/(float64(cpu)/1e9), "records/cpu-s")
	}
}

// OTLP logs from instrumented workers: the record carries its trace context.
func BenchmarkTagLogsByTrace(b *testing.B) {
	benchmarkTagging(b, func(r plog.LogRecord, job int) {
		r.Body().SetStr("resizing image")
		r.SetTraceID(benchTrace(job))
		r.SetSpanID(pcommon.SpanID{9, 9})
		r.Attributes().PutStr("caller", "worker/worker.go:224")
	})
}

// Upstream zap lines as filelog parses them: job id in `id`, worker_id, hex trace_id/span_id.
func BenchmarkTagLogsUpstreamZap(b *testing.B) {
	benchmarkTagging(b, func(r plog.LogRecord, job int) {
		r.Body().SetStr("job completed")
		a := r.Attributes()
		a.PutStr("caller", "worker/worker.go:224")
		a.PutStr("id", benchJobID(job))
		t := benchTrace(job)
		a.PutStr("trace_id", fmt.Sprintf("%x", t[:]))
		a.PutStr("span_id", "90f6b561148da7ea")
		a.PutStr("worker_id", fmt.Sprintf("vm-15485-1795775243850107691-4b53-%d", job%64))
	})
}

// Records whose trace no job has: the hold keeps them until max_wait or until it is full,
// then releases them early. At a burst every record goes through the hold, so what holding
// one costs (allocations above all) is what the export path adds to the collector's memory.
func BenchmarkHoldUnknownTraces(b *testing.B) {
	lp, stop := benchProcessors(b)
	defer stop()
	const batch = 1000
	master := plog.NewLogs()
	rl := master.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < batch; i++ {
		r := recs.AppendEmpty()
		r.Body().SetStr("GET /orders 200 user=someone@example.com")
		r.SetTraceID(pcommon.TraceID{0xaa, byte(i), byte(i >> 8), 0xfe}) // no job has it
		r.SetSpanID(pcommon.SpanID{9, 9})
		r.Attributes().PutStr("http.route", "/orders")
	}
	ld := plog.NewLogs()
	records := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		master.CopyTo(ld)
		b.StartTimer()
		if err := lp.ConsumeLogs(context.Background(), ld); err != nil {
			b.Fatal(err)
		}
		records += batch
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
