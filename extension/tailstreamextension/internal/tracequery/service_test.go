package tracequery

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

func defaultSettings() Settings {
	return Settings{CacheMaxBytes: 100 << 20, CacheMaxAge: time.Hour, RefetchAfter: 30 * time.Second, MaxJobs: 10_000}
}

func newTestService(tb testing.TB, s Settings) *Service {
	tb.Helper()
	svc, err := New(s, Options{})
	require.NoError(tb, err)
	tb.Cleanup(svc.Shutdown)
	return svc
}

// scenarioService holds internal/tracetest's scenario: j1 (two attempts) started j2 in T1.
func scenarioService(t *testing.T) *Service {
	t.Helper()
	svc := newTestService(t, defaultSettings())
	td, ld := tracetest.Scenario()
	svc.IngestTraces(td)
	svc.IngestLogs(ld)
	return svc
}

// queueScope sees the jobs of some queues; ownerScope those whose job.owner is one value.
type queueScope []string

func (q queueScope) Scoped() bool { return true }
func (q queueScope) AllowsJob(queue string, _ func(string) (string, bool)) bool {
	return slices.Contains(q, queue)
}

type ownerScope string

func (o ownerScope) Scoped() bool { return true }
func (o ownerScope) AllowsJob(_ string, attr func(string) (string, bool)) bool {
	if attr == nil {
		return false
	}
	v, ok := attr("job.owner")
	return ok && v == string(o)
}

func spanIDs(spans []*tracecache.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.SpanID.String())
	}
	return out
}

func TestParentAndChildJobs(t *testing.T) {
	svc := scenarioService(t)
	j1, err := svc.Job(context.Background(), Unscoped, "j1")
	require.NoError(t, err)
	j2, err := svc.Job(context.Background(), Unscoped, "j2")
	require.NoError(t, err)

	// From the cache alone (no spans handed in): j2's attempt hangs under j1's span E.
	assert.Equal(t, []string{"j1"}, svc.ParentJobs(&j2, nil))
	// j1 was enqueued by order-api, which is no job.
	assert.Equal(t, []string{}, svc.ParentJobs(&j1, nil))
	assert.Equal(t, []string{"j2"}, svc.ChildJobs(&j1, Unscoped))
	assert.Equal(t, []string{}, svc.ChildJobs(&j2, Unscoped))

	// A child outside the caller's scope is not listed.
	assert.Equal(t, []string{}, svc.ChildJobs(&j1, queueScope{"high_priority"}))
	assert.Equal(t, []string{"j2"}, svc.ChildJobs(&j1, queueScope{"high_priority", "low_priority"}))
}

func TestParentJobsFromHandedSpans(t *testing.T) {
	// Only j2's attempt span is cached; the spans up to j1 come from the caller (a backend
	// answer, say), and j1's tagged span is found there.
	svc := newTestService(t, defaultSettings())
	td, _ := tracetest.Scenario()
	all := tracecache.FromPdata(td)
	var j2span []tracecache.Span
	for _, s := range all {
		if s.SpanID == tracetest.MustSID(tracetest.SF) {
			j2span = append(j2span, s)
		}
	}
	svc.cache.Put(j2span)
	svc.catalog.ObserveSpan(spanObservation(&j2span[0], "j2"))
	j2, err := svc.Job(context.Background(), Unscoped, "j2")
	require.NoError(t, err)
	assert.Equal(t, []string{}, svc.ParentJobs(&j2, nil), "the parent span is not known")
	got := svc.ParentJobs(&j2, map[pcommon.TraceID][]tracecache.Span{tracetest.MustTID(tracetest.T1): all})
	assert.Equal(t, []string{"j1"}, got)
}

func TestJobSubtree(t *testing.T) {
	td, _ := tracetest.Scenario()
	spans := tracecache.FromPdata(td)
	roots := map[pcommon.SpanID]bool{tracetest.MustSID(tracetest.SC1): true, tracetest.MustSID(tracetest.SC2): true}

	// j1: both attempts and what ran under attempt 2, in start order; j2's span F (under E)
	// belongs to j2 and ends the walk.
	assert.Equal(t, []string{tracetest.SC1, tracetest.SC2, tracetest.SD, tracetest.SE, tracetest.SG},
		spanIDs(JobSubtree(spans, roots, "j1")))
	// Without roots, spans tagged with the job id start the walk.
	assert.Equal(t, []string{tracetest.SC1, tracetest.SC2, tracetest.SD, tracetest.SE, tracetest.SG},
		spanIDs(JobSubtree(spans, nil, "j1")))
	assert.Equal(t, []string{tracetest.SF}, spanIDs(JobSubtree(spans, map[pcommon.SpanID]bool{tracetest.MustSID(tracetest.SF): true}, "j2")))
	assert.Empty(t, JobSubtree(spans, nil, "nobody"))
	assert.Nil(t, JobSubtree(nil, roots, "j1"))
}

func TestScopeHidesJobsAndTraces(t *testing.T) {
	svc := scenarioService(t)
	low := queueScope{"low_priority"}

	_, err := svc.Job(context.Background(), low, "j1")
	assert.ErrorIs(t, err, ErrJobNotFound, "a job outside the scope is reported as unknown")
	_, err = svc.JobTrace(context.Background(), low, "j1")
	assert.ErrorIs(t, err, ErrJobNotFound)
	_, err = svc.Job(context.Background(), Unscoped, "nope")
	assert.ErrorIs(t, err, ErrJobNotFound)

	page, err := svc.Jobs(low, JobQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 1)
	assert.Equal(t, "j2", page.Jobs[0].ID)
	page, err = svc.Jobs(Unscoped, JobQuery{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, page.Jobs, 3)
	_, err = svc.Jobs(Unscoped, JobQuery{Limit: 10, Cursor: "garbage"})
	assert.ErrorIs(t, err, ErrBadCursor)

	// job.owner is only on j1's spans: the attribute lookup falls back to the cached span.
	j, err := svc.Job(context.Background(), ownerScope("bob"), "j1")
	require.NoError(t, err)
	assert.Equal(t, "j1", j.ID)
	_, err = svc.Job(context.Background(), ownerScope("alice"), "j1")
	assert.ErrorIs(t, err, ErrJobNotFound)

	t1 := tracetest.MustTID(tracetest.T1)
	tr, err := svc.Trace(context.Background(), low, t1)
	require.NoError(t, err, "j2 is in T1 and in scope")
	// Only j2's span and the spans of no job (the order request, its enqueue); j1 (high) is
	// out of scope, its spans too (ScopeSpans).
	var names []string
	for _, sp := range tr.Spans {
		names = append(names, sp.Name)
	}
	assert.ElementsMatch(t, []string{"POST /orders", "enqueue high_priority", "process low_priority"}, names)
	_, err = svc.Trace(context.Background(), queueScope{"other"}, t1)
	assert.ErrorIs(t, err, ErrTraceNotFound)
	_, err = svc.Trace(context.Background(), Unscoped, tracetest.MustTID(tracetest.T3))
	assert.ErrorIs(t, err, ErrTraceNotFound, "T3 has no span anywhere")
}

func TestJobTrace(t *testing.T) {
	svc := scenarioService(t)
	out, err := svc.JobTrace(context.Background(), Unscoped, "j1")
	require.NoError(t, err)
	assert.Equal(t, tracetest.T1, out.TraceID)
	assert.Equal(t, tracetest.SC2, out.SpanID, "the latest attempt")
	assert.Equal(t, 2, out.Attempt)
	assert.True(t, out.Cached)
	assert.Equal(t, 8, out.SpansCount)
	assert.Equal(t, 2, out.Errors)
	assert.InDelta(t, 1000.0, out.DurationMS, 0.001)
	assert.Equal(t, DefaultTraceURLTemplate[:len(DefaultTraceURLTemplate)-len("{trace_id}")]+tracetest.T1, out.TraceURL)

	// j3 has only started: its trace is known from the log, not cached.
	out, err = svc.JobTrace(context.Background(), Unscoped, "j3")
	require.NoError(t, err)
	assert.False(t, out.Cached)
	assert.Equal(t, tracetest.T3, out.TraceID)
}

func TestCorrelateTakesTheLogs(t *testing.T) {
	svc := scenarioService(t)
	j1, err := svc.Job(context.Background(), Unscoped, "j1")
	require.NoError(t, err)

	logs := []*ring.Entry{{Seq: 7, Timestamp: tracetest.Base.Add(450 * time.Millisecond), JobID: "j1", Message: "charging card"}}
	c := svc.Correlate(context.Background(), Unscoped, &j1, logs)
	assert.Equal(t, "j1", c.JobID)
	assert.Equal(t, []string{"j2"}, c.Relationships.ChildJobs)
	assert.Equal(t, []string{}, c.Relationships.ParentJobs)
	assert.Equal(t, []string{tracetest.T1}, c.Relationships.RelatedTraces)
	require.Len(t, c.Relationships.Attempts, 2)
	assert.Equal(t, conventions.StatusRetried, c.Relationships.Attempts[0].Status)
	assert.Len(t, c.TraceContexts, 2)

	var kinds []string
	for i, it := range c.Timeline {
		kinds = append(kinds, it.Type)
		if i > 0 {
			assert.False(t, it.Timestamp.Before(c.Timeline[i-1].Timestamp), "timeline in time order")
		}
	}
	assert.Equal(t, 5, count(kinds, ItemSpan), "j1's five spans, not j2's")
	assert.Equal(t, 1, count(kinds, ItemLog))
	assert.Equal(t, 1, count(kinds, ItemEvent), "the span event job_retried; lifecycle events only stand in for missing logs")

	// Without log lines the catalog's lifecycle events fill in.
	c = svc.Correlate(context.Background(), Unscoped, &j1, nil)
	assert.NotNil(t, c.LogEntries)
	assert.Empty(t, c.LogEntries)
	kinds = kinds[:0]
	for _, it := range c.Timeline {
		kinds = append(kinds, it.Type)
	}
	assert.Equal(t, 0, count(kinds, ItemLog))
	assert.Equal(t, 1+5, count(kinds, ItemEvent), "the span event plus j1's five lifecycle events")

	// A child outside the scope is left out of the view too.
	c = svc.Correlate(context.Background(), queueScope{"high_priority"}, &j1, nil)
	assert.Equal(t, []string{}, c.Relationships.ChildJobs)
}

func count(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func TestIngestLogsSkipsOtherRecords(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	plain := lrs.AppendEmpty()
	plain.Attributes().PutStr(conventions.AttrJobID, "j9")
	plain.Body().SetStr("a worker line, no event")
	noJob := lrs.AppendEmpty()
	noJob.Attributes().PutStr(conventions.AttrEventName, conventions.EventJobStarted)
	ev := lrs.AppendEmpty()
	ev.SetEventName(conventions.EventJobStarted) // the record's own EventName counts too
	ev.Attributes().PutStr(conventions.AttrJobID, "j8")
	ev.Attributes().PutStr(conventions.AttrJobAttempt, "2")
	ev.SetSeverityNumber(plog.SeverityNumberWarn)
	svc.IngestLogs(ld)

	_, err := svc.Job(context.Background(), Unscoped, "j9")
	assert.ErrorIs(t, err, ErrJobNotFound)
	j, err := svc.Job(context.Background(), Unscoped, "j8")
	require.NoError(t, err)
	require.Len(t, j.Events, 1)
	assert.Equal(t, 2, j.Events[0].Attempt)
	assert.Equal(t, "warn", j.Events[0].Severity, "severity text from the number, as the ring names levels")
}

func TestUpdateSettings(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	assert.False(t, svc.Modified())
	boom := errors.New("boom")
	_, err := svc.Update(func(cur Settings) (Settings, error) {
		cur.TraceURLTemplate = "http://elsewhere/{trace_id}"
		return cur, boom
	})
	assert.ErrorIs(t, err, boom)
	assert.False(t, svc.Modified(), "a rejected change changes nothing")
	assert.Equal(t, "http://localhost:16686/trace/x", svc.TraceURL("x", ""))

	got, err := svc.Update(func(cur Settings) (Settings, error) {
		cur.TraceURLTemplate = "http://ui/{trace_id}"
		cur.Backends = []BackendSettings{
			{Name: "plain", Type: "zipkin", Client: confighttp.ClientConfig{Endpoint: "http://127.0.0.1:1"}},
			{Name: "z", Type: "zipkin", URLTemplate: "http://z/{trace_id}", Client: confighttp.ClientConfig{Endpoint: "http://127.0.0.1:1"}},
		}
		return cur, nil
	})
	require.NoError(t, err)
	assert.True(t, svc.Modified())
	assert.Len(t, got.Backends, 2)
	assert.Equal(t, "http://z/t1", svc.TraceURL("t1", "z"), "the serving backend's template")
	assert.Equal(t, "http://z/t1", svc.TraceURL("t1", "plain"), "else the first backend template")
	assert.Equal(t, "http://z/t1", svc.TraceURL("t1", ""))

	_, err = svc.Update(func(cur Settings) (Settings, error) {
		cur.Backends = []BackendSettings{{Name: "t", Type: "tempo", Client: confighttp.ClientConfig{Endpoint: "http://x"}}}
		return cur, nil
	})
	assert.ErrorContains(t, err, "backends[0].type")
	assert.Len(t, svc.Settings().Backends, 2, "a backend that cannot be built changes nothing")
}

func TestTraceFromBackendThenCache(t *testing.T) {
	body, err := os.ReadFile("../backends/testdata/zipkin_trace.json")
	require.NoError(t, err)
	var calls atomic.Int32
	zk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write(body)
	}))
	defer zk.Close()
	s := defaultSettings()
	s.Backends = []BackendSettings{{Name: "zk", Type: "zipkin", Client: confighttp.ClientConfig{Endpoint: zk.URL}}}
	now := time.Now()
	svc, err := New(s, Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer svc.Shutdown()

	id := tracetest.MustTID("4bf92f3577b34da6a3ce929d0e0e4736")
	tr, err := svc.Trace(context.Background(), Unscoped, id)
	require.NoError(t, err)
	assert.Equal(t, SourceBackend, tr.Source)
	assert.Equal(t, "zk", tr.ServedBy)
	assert.NotEmpty(t, tr.Spans)
	// The fetched trace is complete (it has its root), so the cache answers from now on.
	tr, err = svc.Trace(context.Background(), Unscoped, id)
	require.NoError(t, err)
	assert.Equal(t, SourceCache, tr.Source)
	assert.Equal(t, int32(1), calls.Load())

	h := svc.Health(context.Background(), false)
	assert.Equal(t, "ok", h.Status)
	require.Len(t, h.Backends, 1)
	assert.Equal(t, len(tr.Spans), h.TraceCache.Spans)
}

// fakeJobs is a JobSource holding one job, or failing.
type fakeJobs struct {
	job  jobcatalog.Job
	err  error
	asks atomic.Int32
}

func (f *fakeJobs) Job(_ context.Context, id string) (jobcatalog.Job, bool, error) {
	f.asks.Add(1)
	if f.err != nil {
		return jobcatalog.Job{}, false, f.err
	}
	return f.job, id == f.job.ID, nil
}

func TestJobSourceFallback(t *testing.T) {
	// The store rebuilds an old job from its lifecycle logs, the way IngestLogs reads them.
	ld := plog.NewLogs()
	tracetest.LifecycleLog(ld, conventions.EventJobStarted, "old", "low_priority", "w1", 1, tracetest.T3, "3000000000000001", 0)
	tracetest.LifecycleLog(ld, conventions.EventJobDeadLettered, "old", "low_priority", "w1", 1, tracetest.T3, "3000000000000001", 50)
	store := jobcatalog.New(10)
	lrs := ld.ResourceLogs()
	for i := 0; i < lrs.Len(); i++ {
		o, ok := EventObservation(lrs.At(i).ScopeLogs().At(0).LogRecords().At(0))
		require.True(t, ok)
		store.ObserveEvent(o)
	}
	old, ok := store.Get("old")
	require.True(t, ok)
	src := &fakeJobs{job: old}

	svc, err := New(defaultSettings(), Options{Jobs: src})
	require.NoError(t, err)
	defer svc.Shutdown()
	td, ld2 := tracetest.Scenario()
	svc.IngestTraces(td)
	svc.IngestLogs(ld2)

	j, err := svc.Job(context.Background(), Unscoped, "j1")
	require.NoError(t, err)
	assert.Equal(t, "j1", j.ID)
	assert.Zero(t, src.asks.Load(), "a job in memory does not ask the store")

	j, err = svc.Job(context.Background(), Unscoped, "old")
	require.NoError(t, err)
	assert.Equal(t, conventions.StatusDeadLettered, j.Status())
	out, err := svc.JobTrace(context.Background(), Unscoped, "old")
	require.NoError(t, err)
	assert.Equal(t, tracetest.T3, out.TraceID)
	_, err = svc.Job(context.Background(), queueScope{"high_priority"}, "old")
	assert.ErrorIs(t, err, ErrJobNotFound, "the scope applies to stored jobs too")
	_, err = svc.Job(context.Background(), Unscoped, "never")
	assert.ErrorIs(t, err, ErrJobNotFound)

	src.err = errors.New("disk on fire")
	_, err = svc.Job(context.Background(), Unscoped, "old")
	assert.ErrorIs(t, err, ErrJobSourceDown)
	assert.ErrorContains(t, err, "disk on fire")
}
