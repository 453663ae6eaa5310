package tailstreamextension

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore/logstoretest"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
)

// startStoreServer is startServer with a log store configured and replaced by a fake
// before Start, so the warm-up reads the fake.
func startStoreServer(t *testing.T, fake *logstoretest.Fake, mutate func(*Config)) *testServer {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Store.Logs = LogStoreConfig{Type: "victorialogs", Endpoint: "http://127.0.0.1:1"}
	cfg.Store.WarmWindow = -1
	cfg.Users = []UserConfig{
		{Name: "root", Token: "tok-admin", Roles: []string{roleAdmin}},
		{Name: "hi", Token: "tok-high", Roles: []string{roleLogViewer, roleTraceViewer}, Scope: ScopeConfig{Queues: []string{"high"}}},
		{Name: "alice", Token: "tok-alice", Roles: []string{roleLogViewer}, Scope: ScopeConfig{Attribute: &AttributeRule{Key: "job.owner", Values: []string{"alice"}}}},
	}
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zap.InfoLevel)
	set := extensiontest.NewNopSettings(typ)
	set.Logger = zap.New(core)
	ext := newTailstream(cfg, set)
	ext.store.logs = fake
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return &testServer{ext: ext, base: "http://" + ext.Addr(), audit: logs}
}

// stored converts records as the store would return them.
func stored(recs ...rec) []*ring.Entry {
	ld := logsOf(recs...)
	var out []*ring.Entry
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		sl := rl.ScopeLogs().At(0)
		for k := 0; k < sl.LogRecords().Len(); k++ {
			e := ring.FromRecord(rl.Resource(), sl.Scope(), sl.LogRecords().At(k), time.Now())
			e.Ingested = e.Timestamp
			out = append(out, e)
		}
	}
	return out
}

type historyAnswer struct {
	Entries    []*ring.Entry  `json:"entries"`
	NextCursor string         `json:"next_cursor"`
	Partial    bool           `json:"partial"`
	Warnings   []string       `json:"warnings"`
	Sources    map[string]any `json:"sources"`
}

func (s *testServer) history(t *testing.T, token string, q url.Values) (int, historyAnswer) {
	t.Helper()
	code, b := s.do(t, http.MethodGet, "/api/v1/logs/history?"+q.Encode(), token, nil)
	var h historyAnswer
	if code == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, &h), string(b))
	}
	return code, h
}

func msgs(es []*ring.Entry) []string { return msgsOf(es) }

func TestStoreHistoryMergesRingAndStore(t *testing.T) {
	base := time.Now().Add(-2 * time.Hour).UTC()
	line := func(n int, msg string) rec {
		return rec{job: "j1", queue: "high", msg: msg, ts: base.Add(time.Duration(n) * time.Second)}
	}
	fake := &logstoretest.Fake{}
	// Lines 1-5 were stored before this collector started; 4 and 5 also reach its ring (the
	// pipeline gives every line to both), 6 is only in the ring (not exported yet).
	fake.Add(stored(line(1, "one"), line(2, "two"), line(3, "three"), line(4, "four"), line(5, "five"))...)
	fake.Add(stored(rec{job: "other", queue: "high", msg: "not this job", ts: base.Add(2500 * time.Millisecond)})...)
	srv := startStoreServer(t, fake, nil)
	srv.publish(t, line(4, "four"), line(5, "five"), line(6, "six"))

	var got []string
	q := url.Values{"job_id": {"j1"}, "limit": {"2"}}
	for page := 0; page < 10; page++ {
		code, h := srv.history(t, "tok-admin", q)
		require.Equal(t, http.StatusOK, code)
		assert.False(t, h.Partial)
		got = append(got, msgs(h.Entries)...)
		if h.NextCursor == "" {
			break
		}
		q.Set("cursor", h.NextCursor)
	}
	assert.Equal(t, []string{"six", "five", "four", "three", "two", "one"}, got, "newest first, no duplicates, every page")
	assert.Equal(t, "j1", fake.LastQuery().JobID, "the job filter is pushed to the store")

	// The range reaches past nothing the ring lacks: the store is not asked.
	before := fake.Queries()
	code, h := srv.history(t, "tok-admin", url.Values{"job_id": {"j1"}, "since": {time.Now().Add(-time.Minute).Format(time.RFC3339Nano)}, "until": {time.Now().Add(time.Hour).Format(time.RFC3339Nano)}})
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, h.Entries, "the ring's lines of j1 are stamped two hours ago")
	assert.Equal(t, before, fake.Queries()-1, "the ring lacks the job in range, so the store is asked")
	code, h = srv.history(t, "tok-admin", url.Values{"job_id": {"j1"}, "since": {base.Add(4 * time.Second).Format(time.RFC3339Nano)}})
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"six", "five", "four"}, msgs(h.Entries))

	// Recent lines fill a page from the ring alone: the store is not asked.
	srv.publish(t, rec{job: "j2", queue: "high", msg: "new 1"}, rec{job: "j2", queue: "high", msg: "new 2"}, rec{job: "j2", queue: "high", msg: "new 3"})
	before = fake.Queries()
	code, h = srv.history(t, "tok-admin", url.Values{"job_id": {"j2"}, "limit": {"2"}})
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, h.Entries, 2)
	assert.NotEmpty(t, h.NextCursor)
	assert.Equal(t, before, fake.Queries(), "a page the ring fills completely needs no store query")
	assert.Equal(t, false, h.Sources["store_queried"])

	code, _ = srv.history(t, "tok-admin", url.Values{"cursor": {"bm90IGEgY3Vyc29y"}})
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = srv.history(t, "tok-admin", url.Values{"offset": {"5"}})
	assert.Equal(t, http.StatusBadRequest, code)
}

func TestStoreHistoryScope(t *testing.T) {
	old := time.Now().Add(-3 * time.Hour).UTC()
	fake := &logstoretest.Fake{}
	fake.Add(stored(
		rec{job: "h1", queue: "high", msg: "high line", ts: old, attrs: map[string]any{"job.owner": "bob"}},
		rec{job: "l1", queue: "low", msg: "low line", ts: old.Add(time.Second), attrs: map[string]any{"job.owner": "alice"}},
		rec{job: "n1", msg: "no queue line", ts: old.Add(2 * time.Second), attrs: map[string]any{"job.owner": "alice"}},
	)...)
	srv := startStoreServer(t, fake, nil)

	// A user scoped to the high queue asks the store for a low-queue job: nothing, exactly as
	// the ring would answer.
	code, h := srv.history(t, "tok-high", url.Values{"job_id": {"l1"}})
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, h.Entries)
	assert.Equal(t, []string{"high"}, fake.LastQuery().Queues, "the scope's queues are pushed down too")
	code, h = srv.history(t, "tok-high", url.Values{})
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"high line"}, msgs(h.Entries))

	// An attribute scope cannot be pushed to the store: it is applied to what comes back.
	code, h = srv.history(t, "tok-alice", url.Values{})
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"no queue line", "low line"}, msgs(h.Entries))
	code, h = srv.history(t, "tok-alice", url.Values{"job_id": {"h1"}})
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, h.Entries)

	// The same holds for a job rebuilt from the store.
	fake.Add(storedLifecycle("job_started", "l2", "low", 1, old)...)
	code, body := srv.do(t, http.MethodGet, "/api/v1/correlation/l2", "tok-high", nil)
	assert.Equal(t, http.StatusNotFound, code, string(body))
	code, body = srv.do(t, http.MethodGet, "/api/v1/correlation/l2", "tok-admin", nil)
	assert.Equal(t, http.StatusOK, code, string(body))
}

func storedLifecycle(event, job, queue string, attempt int, ts time.Time) []*ring.Entry {
	ld := plog.NewLogs()
	lifecycleLog(ld, event, job, queue, "w-1", attempt, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0)
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	lr.SetTimestamp(pcommonTS(ts))
	rl := ld.ResourceLogs().At(0)
	e := ring.FromRecord(rl.Resource(), rl.ScopeLogs().At(0).Scope(), lr, time.Now())
	e.Ingested = e.Timestamp
	return []*ring.Entry{e}
}

func TestStoreRebuildsJobsAbsentFromMemory(t *testing.T) {
	old := time.Now().Add(-5 * time.Hour).UTC()
	fake := &logstoretest.Fake{}
	fake.Add(storedLifecycle("job_enqueued", "j9", "high", 1, old)...)
	fake.Add(storedLifecycle("job_started", "j9", "high", 1, old.Add(time.Second))...)
	fake.Add(storedLifecycle("job_dead_lettered", "j9", "high", 1, old.Add(2*time.Second))...)
	fake.Add(stored(rec{job: "j9", queue: "high", msg: "boom", ts: old.Add(1500 * time.Millisecond)})...)
	srv := startStoreServer(t, fake, nil)

	code, body := srv.do(t, http.MethodGet, "/api/v1/jobs/j9/trace", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	var jt tracequery.JobTrace
	require.NoError(t, json.Unmarshal(body, &jt))
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", jt.TraceID)
	assert.Equal(t, "00f067aa0ba902b7", jt.SpanID)
	assert.Equal(t, "dead_lettered", jt.Status)

	code, body = srv.do(t, http.MethodGet, "/api/v1/correlation/j9", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	var c tracequery.Correlation
	require.NoError(t, json.Unmarshal(body, &c))
	assert.Equal(t, []string{"enqueued", "started", "boom", "dead lettered"}, msgsOf(c.LogEntries))
	assert.Equal(t, "w-1", c.Job.WorkerID)
	assert.False(t, c.Partial)

	// Not in memory, not in the store: 404. Store down: 503, never a false "no such job".
	code, _ = srv.do(t, http.MethodGet, "/api/v1/jobs/nope/trace", "tok-admin", nil)
	assert.Equal(t, http.StatusNotFound, code)
	fake.SetDown(true)
	code, body = srv.do(t, http.MethodGet, "/api/v1/jobs/nope/trace", "tok-admin", nil)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, string(body), "store_unavailable")
	// A job already in memory still answers, its correlation marked partial.
	code, body = srv.do(t, http.MethodGet, "/api/v1/correlation/j9?log_limit=10", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal(body, &c))
	assert.True(t, c.Partial)
}

func msgsOf(es []*ring.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Message
	}
	return out
}

func TestStoreDownHistoryIsPartial(t *testing.T) {
	fake := &logstoretest.Fake{}
	srv := startStoreServer(t, fake, nil)
	srv.publish(t, rec{job: "j1", queue: "high", msg: "in memory"})
	fake.SetDown(true)
	code, h := srv.history(t, "tok-admin", url.Values{"job_id": {"j1"}})
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"in memory"}, msgs(h.Entries))
	assert.True(t, h.Partial)
	require.Len(t, h.Warnings, 1)
	assert.Contains(t, h.Warnings[0], "log store")
}

func TestStoreWarmsCatalog(t *testing.T) {
	now := time.Now().UTC()
	fake := &logstoretest.Fake{}
	fake.Add(storedLifecycle("job_started", "too-old", "high", 1, now.Add(-3*time.Hour))...)
	for i, id := range []string{"a", "b", "c"} {
		ts := now.Add(-time.Duration(30-i) * time.Minute)
		fake.Add(storedLifecycle("job_started", id, "high", 1, ts)...)
		fake.Add(storedLifecycle("job_succeeded", id, "high", 1, ts.Add(time.Second))...)
	}
	srv := startStoreServer(t, fake, func(c *Config) { c.Store.WarmWindow = time.Hour; c.Store.WarmMaxJobs = 2 })
	require.Eventually(t, func() bool { return srv.ext.store.warmDone.Load() }, 10*time.Second, 10*time.Millisecond)
	code, body := srv.do(t, http.MethodGet, "/api/v1/jobs", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code)
	var out struct{ Jobs []tracequery.JobView }
	require.NoError(t, json.Unmarshal(body, &out))
	ids := []string{}
	for _, j := range out.Jobs {
		ids = append(ids, j.ID)
		assert.Equal(t, "succeeded", j.Status)
	}
	assert.Equal(t, []string{"c", "b"}, ids, "the newest warm_max_jobs jobs of the window")
	code, body = srv.do(t, http.MethodGet, "/api/v1/health/logging", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(body), `"warm_up"`)
}

func TestStoreConfigValidate(t *testing.T) {
	for name, c := range map[string]StoreConfig{
		"type":     {Logs: LogStoreConfig{Type: "loki", Endpoint: "http://x:1"}},
		"endpoint": {Logs: LogStoreConfig{Type: "victorialogs"}},
		"scheme":   {Logs: LogStoreConfig{Type: "victorialogs", Endpoint: "x:9428"}},
		"no type":  {Logs: LogStoreConfig{Endpoint: "http://x:1"}},
		"timeout":  {Logs: LogStoreConfig{Type: "victorialogs", Endpoint: "http://x:1", Timeout: -1}},
		"tail":     {Logs: LogStoreConfig{Type: "victorialogs", Endpoint: "http://x:1"}, Tail: StoreTailConfig{Enabled: true}},
	} {
		err := c.validate()
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "store.", name)
	}
	bad := StoreConfig{Logs: LogStoreConfig{Type: "victorialogs", Endpoint: "http://x:1"}, Tail: StoreTailConfig{Enabled: true, Gateway: "gw", BackfillMaxLines: -1}}
	assert.ErrorContains(t, bad.validate(), "store.tail.backfill_max_lines: must not be negative")
	assert.NoError(t, (&StoreConfig{}).validate())
	assert.NoError(t, (&StoreConfig{Logs: LogStoreConfig{Type: "victorialogs", Endpoint: "http://localhost:9428"}}).validate())
}

func pcommonTS(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

func TestTailSeenDropsReplays(t *testing.T) {
	var seen tailSeen
	now := time.Now()
	batch := func() plog.Logs { return logsOf(rec{job: "j", msg: "a", ts: now}, rec{job: "j", msg: "b", ts: now}) }
	first := batch()
	require.True(t, seen.fresh(first, now))
	assert.Equal(t, 2, first.LogRecordCount())
	again := batch()
	assert.False(t, seen.fresh(again, now), "a reconnect's replay delivers nothing twice")
	assert.Zero(t, again.LogRecordCount())
	more := logsOf(rec{job: "j", msg: "a", ts: now}, rec{job: "j", msg: "c", ts: now})
	require.True(t, seen.fresh(more, now))
	assert.Equal(t, 1, more.LogRecordCount())
}

func TestRetentionMaxBytes(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Retention.MaxBytes = -1
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "retention.max_bytes")

	srv := startServer(t, func(c *Config) { c.Retention.MaxBytes = 4096 })
	for i := 0; i < 50; i++ {
		srv.publish(t, rec{job: "j", msg: "line"})
	}
	assert.Less(t, len(srv.ext.ring.Snapshot(0, 0, time.Now())), 50, "the byte bound keeps fewer lines than the count bound")
	assert.LessOrEqual(t, srv.ext.ring.Bytes(), int64(4096))
}

func TestLineKeyAcrossPaths(t *testing.T) {
	now := time.Now()
	// The live path's entry: typed values, the zap trace_id attribute, fewer tags.
	live := stored(rec{msg: "job completed", ts: now, attrs: map[string]any{"id": "j1", "trace_id": "775612eefbfa92571b537fe8f47eabb6", "worker.pid": int64(7)}})[0]
	// The store's: text values, the trace id folded into the record, all tags, the gateway stamp.
	st := stored(rec{job: "j1", queue: "high", worker: "w", msg: "job completed", ts: now, trace: "775612eefbfa92571b537fe8f47eabb6",
		attrs: map[string]any{"id": "j1", "worker.pid": "7", "jobtrace.gateway": "gw-a"}})[0]
	assert.Equal(t, lineKey(live), lineKey(st), "one line, whichever path and store it came back from")
	other := stored(rec{msg: "job completed", ts: now, attrs: map[string]any{"id": "j2"}})[0]
	assert.NotEqual(t, lineKey(live), lineKey(other), "another job's line at the same instant is another line")
}

func TestStoreDownJobListIsPartial(t *testing.T) {
	fake := &logstoretest.Fake{}
	fake.SetDown(true)
	srv := startStoreServer(t, fake, func(c *Config) { c.Store.WarmWindow = time.Hour })
	require.Eventually(t, func() bool { return srv.ext.store.warmDone.Load() }, 10*time.Second, 10*time.Millisecond)
	code, body := srv.do(t, http.MethodGet, "/api/v1/jobs", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(body), `"partial":true`)

	up := &logstoretest.Fake{}
	srv = startStoreServer(t, up, func(c *Config) { c.Store.WarmWindow = time.Hour })
	require.Eventually(t, func() bool { return srv.ext.store.warmDone.Load() }, 10*time.Second, 10*time.Millisecond)
	_, body = srv.do(t, http.MethodGet, "/api/v1/jobs", "tok-admin", nil)
	assert.NotContains(t, string(body), `"partial"`)
}

func TestStoreSyncAddsJobsOtherGatewaysSaw(t *testing.T) {
	fake := &logstoretest.Fake{}
	srv := startStoreServer(t, fake, func(c *Config) { c.Store.WarmWindow = time.Hour; c.Store.SyncInterval = 20 * time.Millisecond })
	require.Eventually(t, func() bool { return srv.ext.store.warmDone.Load() }, 10*time.Second, 10*time.Millisecond)
	// Another gateway stores a job after this one started.
	fake.Add(storedLifecycle("job_started", "elsewhere", "high", 1, time.Now().Add(-time.Second))...)
	fake.Add(storedLifecycle("job_succeeded", "elsewhere", "high", 1, time.Now())...)
	require.Eventually(t, func() bool {
		code, body := srv.do(t, http.MethodGet, "/api/v1/jobs", "tok-admin", nil)
		return code == http.StatusOK && strings.Contains(string(body), `"id":"elsewhere"`) && strings.Contains(string(body), `"succeeded"`)
	}, 10*time.Second, 20*time.Millisecond)
	// Syncing again and again adds no event twice.
	time.Sleep(100 * time.Millisecond)
	j, err := srv.ext.traces.Job(context.Background(), &principal{}, "elsewhere")
	require.NoError(t, err)
	assert.Len(t, j.Events, 2)
}

// The live path let a line of a job it did not know yet into the ring untagged; the export
// path tagged it (hold, lookup) before the store got it. History shows the tagged copy, once.
func TestStoreHistoryPrefersTheMoreTaggedCopy(t *testing.T) {
	ts := time.Now().Add(-time.Minute).UTC()
	fake := &logstoretest.Fake{}
	fake.Add(stored(rec{job: "j1", queue: "high", trace: "4bf92f3577b34da6a3ce929d0e0e4736", msg: "job-id-only", ts: ts})...)
	srv := startStoreServer(t, fake, nil)
	srv.publish(t, rec{job: "j1", msg: "job-id-only", ts: ts})

	code, h := srv.history(t, "tok-admin", url.Values{"job_id": {"j1"}, "since": {ts.Add(-time.Hour).Format(time.RFC3339Nano)}})
	require.Equal(t, http.StatusOK, code)
	require.Len(t, h.Entries, 1)
	assert.Equal(t, "high", h.Entries[0].QueueName)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", h.Entries[0].TraceID)
}
