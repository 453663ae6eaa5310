package tailstreamextension

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/cputime"
)

// explainFixture publishes a dead-lettered job with 3 attempts in one 1,000-span trace (an
// enqueue span, and under each attempt's job span a 333-span tree ten wide, every 40th span
// failing and one with an exception), 300 lines of the job among 30,000 of other jobs, and a
// succeeded job of the same type to compare with.
func explainFixture(tb testing.TB, ext *tailstream) {
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	tid := mustTID(traceID)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "worker")
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	sid := func(i int) pcommon.SpanID { return pcommon.SpanID{1, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i), 1} }
	add := func(i int, parent pcommon.SpanID, name string, kind ptrace.SpanKind, startMS, endMS int) ptrace.Span {
		s := ss.AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(sid(i))
		s.SetParentSpanID(parent)
		s.SetName(name)
		s.SetKind(kind)
		s.SetStartTimestamp(at(startMS))
		s.SetEndTimestamp(at(endMS))
		s.Status().SetCode(ptrace.StatusCodeOk)
		return s
	}
	add(0, pcommon.SpanID{}, "enqueue", ptrace.SpanKindProducer, 0, 1)
	n := 1
	for a := 1; a <= 3; a++ {
		t0 := a * 10000
		status := conventions.StatusRetried
		if a == 3 {
			status = conventions.StatusDeadLettered
		}
		job := add(n, sid(0), "process high_priority", ptrace.SpanKindConsumer, t0, t0+5000)
		_ = job.Attributes().FromRaw(jobAttrs("bench-job", "high_priority", "w1", status, a, map[string]any{"job.type": "charge"}))
		job.Status().SetCode(ptrace.StatusCodeError)
		root := n
		n++
		for k := 0; k < 332; k++ {
			p := root
			if k >= 10 {
				p = root + 1 + (k-10)/10
			}
			s := add(n, sid(p), fmt.Sprintf("op-%d", k%37), ptrace.SpanKindClient, t0+1+k*10, t0+4000-k*5)
			s.Attributes().PutStr("job.id", "bench-job")
			s.Attributes().PutStr("db.statement", "SELECT * FROM orders WHERE id = $1")
			if k%40 == 39 {
				s.Status().SetCode(ptrace.StatusCodeError)
				s.Status().SetMessage("boom 17")
			}
			if k == 331 {
				ev := s.Events().AppendEmpty()
				ev.SetName("exception")
				ev.Attributes().PutStr("exception.type", "UpstreamError")
				ev.Attributes().PutStr("exception.message", "upstream 502")
			}
			n++
		}
	}
	require.Equal(tb, 1000, td.SpanCount())
	require.NoError(tb, ext.PublishTraces(context.Background(), td))
	require.NoError(tb, ext.PublishTraces(context.Background(), buildTraces("1af7651916cd43dd8448eb211c80319c",
		attemptSpan("bench-ok", "high_priority", 1, xid(1), "", 0, 900, conventions.StatusSucceeded, map[string]any{"job.type": "charge"}),
		spanSpec{Service: "worker", Name: "op-1", ID: xid(2), Parent: xid(1), Start: 10, End: 100},
		spanSpec{Service: "worker", Name: "op-2", ID: xid(3), Parent: xid(1), Start: 100, End: 800},
	)))
	ld := plog.NewLogs()
	levels := []struct {
		sev  plog.SeverityNumber
		text string
	}{{plog.SeverityNumberInfo, "info"}, {plog.SeverityNumberInfo, "info"}, {plog.SeverityNumberWarn, "warn"}, {plog.SeverityNumberError, "error"}}
	for i := range 30300 {
		job := fmt.Sprintf("other-%d", i%50)
		if i%101 == 0 {
			job = "bench-job"
		}
		l := levels[i%len(levels)]
		workerLog(ld, job, 10000+i, l.sev, l.text, fmt.Sprintf("line %d of the worker", i), traceID, "", nil)
	}
	require.NoError(tb, ext.PublishLogs(context.Background(), ld))
}

// succeededJobs adds n succeeded jobs of the fixture's type (100 per trace): the catalog a busy
// collector holds, which the search for a baseline walks.
func succeededJobs(tb testing.TB, ext *tailstream, n int) {
	for i := 0; i < n; i += 100 {
		var specs []spanSpec
		for k := range min(100, n-i) {
			specs = append(specs, attemptSpan(fmt.Sprintf("ok-%d", i+k), "high_priority", 1, fmt.Sprintf("%016x", i+k+1), "",
				0, 900, conventions.StatusSucceeded, map[string]any{"job.type": "charge"}))
		}
		require.NoError(tb, ext.PublishTraces(context.Background(), buildTraces(fmt.Sprintf("%032x", i/100+1000), specs...)))
	}
}

// BenchmarkExplain3Attempts1000Spans measures GET /jobs/{id}/explain's work after
// authentication for a job with 3 attempts over a 1,000-span cached trace: catalog lookup,
// spans, the job's lines out of the ring, the baseline, the explanation and its JSON.
func BenchmarkExplain3Attempts1000Spans(b *testing.B) { benchExplain(b, 0) }

// BenchmarkExplain3Attempts1000Spans10kJobs is the same with 10,000 succeeded jobs held.
func BenchmarkExplain3Attempts1000Spans10kJobs(b *testing.B) { benchExplain(b, 10000) }

func benchExplain(b *testing.B, jobs int) {
	srv := startTraceServer(&testing.T{}, nil)
	b.Cleanup(func() { _ = srv.ext.Shutdown(context.Background()) })
	succeededJobs(b, srv.ext, jobs)
	explainFixture(b, srv.ext)
	p := &principal{Name: "bench", roles: []string{roleTraceViewer}}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/jobs/bench-job/explain", http.NoBody)
	req.SetPathValue("job_id", "bench-job")
	rec := httptest.NewRecorder()
	srv.ext.handleExplain(rec, req, p)
	require.Equal(b, http.StatusOK, rec.Code, rec.Body.String())
	var out map[string]any
	require.NoError(b, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Len(b, out["attempts"], 3)
	require.NotNil(b, out["compared_with"])

	durs := make([]time.Duration, 0, b.N)
	cpus := make([]time.Duration, 0, b.N)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start, cpu := time.Now(), cputime.Thread()
		rec := httptest.NewRecorder()
		srv.ext.handleExplain(rec, req, p)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
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

// BenchmarkExplainHTTP3Attempts1000Spans is the same through the real server: HTTP, auth, audit.
func BenchmarkExplainHTTP3Attempts1000Spans(b *testing.B) {
	srv := startTraceServer(&testing.T{}, nil)
	b.Cleanup(func() { _ = srv.ext.Shutdown(context.Background()) })
	explainFixture(b, srv.ext)
	req, _ := http.NewRequest(http.MethodGet, srv.base+"/api/v1/jobs/bench-job/explain", http.NoBody)
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
