package tracequery

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
	"github.com/jobtrace/jobtrace/internal/testutil/cputime"
)

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkTraceSummary1000 measures building and encoding the summary of a cached
// 1,000-span trace (what the handler does after authentication), and reports p50/p99.
func BenchmarkTraceSummary1000(b *testing.B) {
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	svc := newTestService(b, defaultSettings())
	svc.IngestTraces(tracetest.BigTrace(traceID, 1000))
	id := tracetest.MustTID(traceID)
	durs := make([]time.Duration, 0, b.N)
	cpus := make([]time.Duration, 0, b.N)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start, cpu := time.Now(), cputime.Thread()
		sum, err := svc.Summary(context.Background(), Unscoped, id, 1000)
		if err != nil || sum.SpansCount != 1000 {
			b.Fatalf("summary: %v %d", err, sum.SpansCount)
		}
		if out := sum.AppendJSON(make([]byte, 0, 512*len(sum.Spans)+1024)); len(out) == 0 {
			b.Fatal("empty summary")
		}
		durs = append(durs, time.Since(start))
		cpus = append(cpus, time.Duration(cputime.Thread()-cpu))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(durs, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(durs, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(percentile(cpus, 0.5).Microseconds())/1000, "cpu-p50-ms")
	b.ReportMetric(float64(percentile(cpus, 0.99).Microseconds())/1000, "cpu-p99-ms")
}

// lookupService holds 10,000 jobs, each with a 10-span trace.
func lookupService(b *testing.B) (*Service, []string) {
	svc := newTestService(b, defaultSettings())
	const jobs = 10000
	for i := range jobs {
		traceID := fmt.Sprintf("%032x", i+1)
		svc.IngestTraces(tracetest.Build(traceID, tracetest.Span{Service: "jobqueue", Name: "process high_priority", ID: fmt.Sprintf("%016x", i+1),
			Kind: ptrace.SpanKindConsumer, Start: i, End: i + 5, Attrs: tracetest.JobAttrs(fmt.Sprintf("job-%d", i), "high_priority", "w1", "succeeded", 1, nil)}))
		svc.IngestTraces(tracetest.BigTraceChildren(traceID, fmt.Sprintf("%016x", i+1), 9))
	}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%d", (i*7919)%jobs)
	}
	return svc, ids
}

// BenchmarkJobTraceLookup measures GET /jobs/{id}/trace's work (scope-checked catalog lookup
// plus the cached trace's counts) with 10,000 jobs held, each with a 10-span trace.
func BenchmarkJobTraceLookup(b *testing.B) {
	svc, ids := lookupService(b)
	durs := make([]time.Duration, 0, b.N)
	cpus := make([]time.Duration, 0, b.N)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		start, cpu := time.Now(), cputime.Thread()
		out, err := svc.JobTrace(context.Background(), Unscoped, ids[i%len(ids)])
		if err != nil || out.SpansCount != 10 {
			b.Fatalf("trace: %v %d", err, out.SpansCount)
		}
		durs = append(durs, time.Since(start))
		cpus = append(cpus, time.Duration(cputime.Thread()-cpu))
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(durs, 0.99).Nanoseconds())/1000, "p99-µs")
	b.ReportMetric(float64(percentile(cpus, 0.5).Nanoseconds())/1000, "cpu-p50-µs")
	b.ReportMetric(float64(percentile(cpus, 0.99).Nanoseconds())/1000, "cpu-p99-µs")
}

// BenchmarkJobTraceLookupMean is the same work without per-iteration timers, whose own cost
// (a clock_gettime syscall for thread CPU time) is close to the operation's on this VM.
func BenchmarkJobTraceLookupMean(b *testing.B) {
	svc, ids := lookupService(b)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if out, err := svc.JobTrace(context.Background(), Unscoped, ids[i%len(ids)]); err != nil || out.SpansCount != 10 {
			b.Fatal("trace")
		}
		i++
	}
}

// BenchmarkIngestTraces100 is the pipeline-side cost of PublishTraces for a 100-span batch.
func BenchmarkIngestTraces100(b *testing.B) {
	svc := newTestService(b, defaultSettings())
	batches := make([]ptrace.Traces, 64)
	for i := range batches {
		batches[i] = tracetest.BigTrace(fmt.Sprintf("%032x", i+1), 100)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		svc.IngestTraces(batches[i%len(batches)])
		i++
	}
}
