package tailstreamextension

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// bigTrace builds an n-span trace shaped like a busy job: a job span whose children fan out
// ten wide, each with a few attributes; every 50th span fails.
func bigTrace(traceID string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "worker")
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	tid := mustTID(traceID)
	for i := range n {
		s := ss.AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(pcommon.SpanID{0, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i), 1})
		if i > 0 {
			p := (i - 1) / 10
			s.SetParentSpanID(pcommon.SpanID{0, 0, 0, 0, byte(p >> 16), byte(p >> 8), byte(p), 1})
		}
		s.SetName(fmt.Sprintf("op-%d", i%37))
		s.SetKind(ptrace.SpanKindClient)
		start := base.Add(time.Duration(i) * time.Millisecond)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(n-i) * time.Millisecond)))
		if i%50 == 0 {
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage("boom")
		}
		a := s.Attributes()
		a.PutStr("job.id", "bench-job")
		a.PutStr("queue.name", "high_priority")
		a.PutStr("db.system", "postgresql")
		a.PutStr("db.statement", "SELECT * FROM orders WHERE id = $1")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("worker.id", "host-1-1757875600000000000-a1b2-3")
	}
	return td
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkTraceSummary1000 measures building and encoding the summary of a cached
// 1,000-span trace (what the handler does after authentication), and reports p50/p99.
func BenchmarkTraceSummary1000(b *testing.B) {
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	ts := newTraceState(defaultTracesConfig(), zap.NewNop())
	ts.ingest(bigTrace(traceID, 1000))
	id := mustTID(traceID)
	durs := make([]time.Duration, 0, b.N)
	cpus := make([]time.Duration, 0, b.N)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start, cpu := time.Now(), threadCPU()
		res, found, err := ts.lookup(context.Background(), id)
		if err != nil || !found || len(res.spans) != 1000 {
			b.Fatalf("lookup: %v %v %d", err, found, len(res.spans))
		}
		sum := summarize(traceID, res, defaultSummarySpans)
		if out := sum.appendJSON(make([]byte, 0, 512*len(sum.Spans)+1024)); len(out) == 0 {
			b.Fatal("empty summary")
		}
		durs = append(durs, time.Since(start))
		cpus = append(cpus, time.Duration(threadCPU()-cpu))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(durs, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(durs, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(percentile(cpus, 0.5).Microseconds())/1000, "cpu-p50-ms")
	b.ReportMetric(float64(percentile(cpus, 0.99).Microseconds())/1000, "cpu-p99-ms")
}

// BenchmarkTraceSummaryHTTP1000 is the same through the real server: HTTP, auth, JSON.
func BenchmarkTraceSummaryHTTP1000(b *testing.B) {
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	t := &testing.T{}
	srv := startTraceServer(t, nil)
	b.Cleanup(func() { _ = srv.ext.Shutdown(context.Background()) })
	require.NoError(b, srv.ext.PublishTraces(context.Background(), bigTrace(traceID, 1000)))
	req, _ := http.NewRequest(http.MethodGet, srv.base+"/traces/"+traceID+"/summary", http.NoBody)
	req.Header.Set("Authorization", "Bearer "+tokViewer)
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(durs, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(durs, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkJobTraceLookup measures GET /jobs/{id}/trace's work (catalog lookup plus the
// cached trace's counts) with 10,000 jobs held, each with a 10-span trace.
func BenchmarkJobTraceLookup(b *testing.B) {
	ts := newTraceState(defaultTracesConfig(), zap.NewNop())
	const jobs = 10000
	for i := range jobs {
		traceID := fmt.Sprintf("%032x", i+1)
		td := buildTraces(traceID, spanSpec{service: "jobqueue", name: "process high_priority", id: fmt.Sprintf("%016x", i+1),
			kind: ptrace.SpanKindConsumer, start: i, end: i + 5, attrs: jobAttrs(fmt.Sprintf("job-%d", i), "high_priority", "w1", "succeeded", 1, nil)})
		ts.ingest(td)
		ts.ingest(bigTraceChildren(traceID, fmt.Sprintf("%016x", i+1), 9))
	}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%d", (i*7919)%jobs)
	}
	durs := make([]time.Duration, 0, b.N)
	cpus := make([]time.Duration, 0, b.N)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		start, cpu := time.Now(), threadCPU()
		j, ok := ts.catalog.Get(ids[i%len(ids)])
		if !ok {
			b.Fatal("job missing")
		}
		out, ok := ts.jobTrace(&j)
		if !ok || out.SpansCount != 10 {
			b.Fatalf("trace: %v %d", ok, out.SpansCount)
		}
		durs = append(durs, time.Since(start))
		cpus = append(cpus, time.Duration(threadCPU()-cpu))
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
	ts := newTraceState(defaultTracesConfig(), zap.NewNop())
	const jobs = 10000
	for i := range jobs {
		traceID := fmt.Sprintf("%032x", i+1)
		ts.ingest(buildTraces(traceID, spanSpec{service: "jobqueue", name: "process high_priority", id: fmt.Sprintf("%016x", i+1),
			kind: ptrace.SpanKindConsumer, start: i, end: i + 5, attrs: jobAttrs(fmt.Sprintf("job-%d", i), "high_priority", "w1", "succeeded", 1, nil)}))
		ts.ingest(bigTraceChildren(traceID, fmt.Sprintf("%016x", i+1), 9))
	}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%d", (i*7919)%jobs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		j, ok := ts.catalog.Get(ids[i%len(ids)])
		if !ok {
			b.Fatal("job missing")
		}
		if out, ok := ts.jobTrace(&j); !ok || out.SpansCount != 10 {
			b.Fatal("trace")
		}
		i++
	}
}

func bigTraceChildren(traceID, parent string, n int) ptrace.Traces {
	specs := make([]spanSpec, n)
	for i := range specs {
		specs[i] = spanSpec{service: "worker", name: "child", id: fmt.Sprintf("%015x%x", i+1, 15), parent: parent, start: i, end: i + 1}
		specs[i].id = fmt.Sprintf("%08x%08x", i+1, hash32(traceID))
	}
	return buildTraces(traceID, specs...)
}

func hash32(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// BenchmarkIngestTraces100 is the pipeline-side cost of PublishTraces for a 100-span batch.
func BenchmarkIngestTraces100(b *testing.B) {
	ts := newTraceState(defaultTracesConfig(), zap.NewNop())
	batches := make([]ptrace.Traces, 64)
	for i := range batches {
		batches[i] = bigTrace(fmt.Sprintf("%032x", i+1), 100)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ts.ingest(batches[i%len(batches)])
		i++
	}
}
