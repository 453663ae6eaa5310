package tailstreamextension

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The scenario of internal/tracetest: trace t1 with jobs j1 (a retry) and j2 (started by j1),
// and j3, which has only started, in t3.
const (
	t1  = tracetest.T1
	t3  = tracetest.T3
	sA  = tracetest.SA
	sB  = tracetest.SB
	sC1 = tracetest.SC1
	sC2 = tracetest.SC2
	sD  = tracetest.SD
	sE  = tracetest.SE
	sF  = tracetest.SF
	sG  = tracetest.SG
)

// publishScenario sends the scenario's spans and lifecycle logs.
func publishScenario(t *testing.T, ext *tailstream) {
	td, ld := tracetest.Scenario()
	require.NoError(t, ext.PublishTraces(context.Background(), td))
	require.NoError(t, ext.PublishLogs(context.Background(), ld))
}

func jobIDs(body map[string]any) []string {
	var out []string
	for _, j := range body["jobs"].([]any) {
		out = append(out, j.(map[string]any)["id"].(string))
	}
	return out
}

func TestJobsEndpoint(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishScenario(t, srv.ext)

	code, body := srv.get(t, "/jobs", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"j3", "j2", "j1"}, jobIDs(body), "newest first")
	j1 := body["jobs"].([]any)[2].(map[string]any)
	assert.Equal(t, "high_priority", j1["queue"])
	assert.Equal(t, "succeeded", j1["status"])
	assert.EqualValues(t, 2, j1["attempts"])
	assert.Equal(t, "w2", j1["worker_id"])
	assert.Equal(t, t1, j1["trace_id"])
	assert.Equal(t, "2026-11-27T09:00:00.4Z", j1["started_at"])
	assert.Equal(t, "2026-11-27T09:00:00.9Z", j1["ended_at"])
	j3 := body["jobs"].([]any)[0].(map[string]any)
	assert.Equal(t, "running", j3["status"])
	assert.Nil(t, j3["ended_at"])

	for q, want := range map[string][]string{
		"status=running":                       {"j3"},
		"queue=low_priority":                   {"j2"},
		"worker_id=w2":                         {"j1"},
		"since=2026-11-27T09:00:00.95Z":        {"j3", "j2"},
		"queue=high_priority&status=succeeded": {"j1"},
	} {
		code, body = srv.get(t, "/jobs?"+q, tokViewer)
		require.Equal(t, http.StatusOK, code, q)
		assert.Equal(t, want, jobIDs(body), q)
	}

	// Paging: two pages of 2 and 1.
	code, body = srv.get(t, "/jobs?limit=2", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"j3", "j2"}, jobIDs(body))
	cursor := body["next_cursor"].(string)
	code, body = srv.get(t, "/jobs?limit=2&cursor="+url.QueryEscape(cursor), tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"j1"}, jobIDs(body))
	assert.Nil(t, body["next_cursor"])

	// Scopes: a queue-scoped user sees its queue only; an attribute-scoped one its jobs only.
	_, body = srv.get(t, "/jobs", tokScoped)
	assert.Equal(t, []string{"j2"}, jobIDs(body))
	_, body = srv.get(t, "/jobs", tokOwner)
	assert.Equal(t, []string{"j1"}, jobIDs(body))

	for _, tc := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=abc", "limit"}, {"limit=100000", "limit"},
		{"status=exploded", "status"}, {"since=yesterday", "since"}, {"cursor=@@@", "cursor"},
	} {
		code, body = srv.get(t, "/jobs?"+tc.query, tokViewer)
		assert.Equal(t, http.StatusBadRequest, code, tc.query)
		assert.Equal(t, tc.field, errorOf(t, body)["field"], tc.query)
	}
}

func TestTraceAPIAuth(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishScenario(t, srv.ext)
	paths := []string{
		"/jobs", "/jobs/j1/trace", "/traces/" + t1 + "/summary", "/traces/" + t1 + "/spans",
		"/correlation/j1", "/health/tracing", "/config/tracing",
	}
	for _, p := range paths {
		code, body := srv.get(t, p, "")
		assert.Equal(t, http.StatusUnauthorized, code, p)
		assert.Equal(t, "unauthorized", errorOf(t, body)["code"], p)
		code, _ = srv.get(t, p, "wrong-token")
		assert.Equal(t, http.StatusUnauthorized, code, p)
		code, body = srv.get(t, p, tokLogsOnly)
		assert.Equal(t, http.StatusForbidden, code, p)
		assert.Equal(t, "forbidden", errorOf(t, body)["code"], p)
	}
	// The logging health and config need log_viewer, which a trace-only viewer lacks.
	code, _ := srv.get(t, "/health/logging", tokViewer)
	assert.Equal(t, http.StatusForbidden, code)
	code, _ = srv.get(t, "/config/logging", tokViewer)
	assert.Equal(t, http.StatusForbidden, code)
	// PUT needs admin.
	code, _ = srv.api(t, http.MethodPut, "/config/tracing", tokViewer, `{}`)
	assert.Equal(t, http.StatusForbidden, code)
	code, _ = srv.api(t, http.MethodPut, "/config/logging", tokScoped, `{}`)
	assert.Equal(t, http.StatusForbidden, code)
}

func TestJobTraceEndpoint(t *testing.T) {
	srv := startTraceServer(t, func(c *Config) { c.TraceURLTemplate = "http://jaeger.example:16686/trace/{trace_id}" })
	publishScenario(t, srv.ext)

	code, body := srv.get(t, "/jobs/j1/trace", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "j1", body["job_id"])
	assert.Equal(t, t1, body["trace_id"])
	assert.Equal(t, sC2, body["span_id"], "the latest attempt's span")
	assert.Equal(t, sB, body["parent_span_id"])
	assert.Equal(t, "http://jaeger.example:16686/trace/"+t1, body["trace_url"])
	assert.EqualValues(t, 8, body["spans_count"])
	assert.EqualValues(t, 1000, body["duration_ms"], "the whole cached trace: 0 to 1000 ms")
	assert.EqualValues(t, 2, body["errors"])
	assert.Equal(t, "succeeded", body["status"])
	assert.Equal(t, "payload", body["extraction_method"])
	assert.Equal(t, "w3c", body["format"])
	assert.NotEmpty(t, body["extracted_at"])

	// j3 is known from its job_started log only: its trace is not cached, trace_url is still set.
	code, body = srv.get(t, "/jobs/j3/trace", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, t3, body["trace_id"])
	assert.EqualValues(t, 0, body["spans_count"])
	assert.Equal(t, false, body["cached"])
	assert.Equal(t, "http://jaeger.example:16686/trace/"+t3, body["trace_url"])

	code, body = srv.get(t, "/jobs/nope/trace", tokViewer)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "job_not_found", errorOf(t, body)["code"])
	// Out of scope looks like unknown.
	code, _ = srv.get(t, "/jobs/j1/trace", tokScoped)
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = srv.get(t, "/jobs/j1/trace", tokOwner)
	assert.Equal(t, http.StatusOK, code, "j1's span carries job.owner=bob")
}

func TestTraceSummaryEndpoint(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishScenario(t, srv.ext)

	code, body := srv.get(t, "/traces/"+t1+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, t1, body["trace_id"])
	root := body["root_span"].(map[string]any)
	assert.Equal(t, sA, root["span_id"])
	assert.Equal(t, "POST /orders", root["operation_name"])
	assert.Equal(t, "order-api", root["service_name"])
	assert.EqualValues(t, 50, root["duration_ms"])
	assert.Equal(t, "ok", root["status"])
	assert.Equal(t, "http://localhost:16686/trace/"+t1, body["trace_url"], "default template")
	assert.Equal(t, "cache", body["source"])
	assert.Equal(t, false, body["partial"])

	// Derived by hand (see critpath tests for the rules): A's tree gives A, B; the consumer
	// attempts C1 and C2 and job j2's F hang off PRODUCER spans, so they are walked as roots
	// of their own, by start time. C2: LFC G (880) → C2[880,900]; G[620,880]; back at 620 the
	// latest child ending before is E (615) → E[610,615]; back at 610 → D (600) → D[420,600];
	// then C2[400,420]. F alone.
	assert.Equal(t, []any{sA, sB, sC1, sC2, sG, sE, sD, sF}, body["critical_path"])
	sections := body["critical_path_sections"].([]any)
	assert.Len(t, sections, 12, "A:3, C1:1, C2 and its children:7, F:1")
	first := sections[0].(map[string]any)
	assert.Equal(t, map[string]any{"span_id": sA, "start": "2026-11-27T09:00:00.012Z", "end": "2026-11-27T09:00:00.05Z"}, first)

	var errIDs []any
	for _, e := range body["error_spans"].([]any) {
		errIDs = append(errIDs, e.(map[string]any)["span_id"])
	}
	assert.ElementsMatch(t, []any{sC1, sG}, errIDs)
	assert.Equal(t, []any{
		map[string]any{"name": "jobqueue", "span_count": 3.0, "error_count": 1.0},
		map[string]any{"name": "worker", "span_count": 3.0, "error_count": 1.0},
		map[string]any{"name": "order-api", "span_count": 2.0, "error_count": 0.0},
	}, body["services"])

	spans := body["spans"].([]any)
	require.Len(t, spans, 8)
	g := spans[6].(map[string]any) // by start: A B C1 C2 D E G F
	assert.Equal(t, sG, g["span_id"])
	assert.Equal(t, sC2, g["parent_span_id"])
	assert.Equal(t, "client", g["kind"])
	assert.Equal(t, "error", g["status"])
	assert.Equal(t, "504", g["tags"].(map[string]any)["http.response.status_code"])
	assert.EqualValues(t, 260, g["duration_ms"])

	code, body = srv.get(t, "/traces/"+t1+"/summary?max_spans=3", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, body["spans"], 3)
	assert.Equal(t, true, body["spans_truncated"])
	assert.Len(t, body["critical_path"], 8, "the path still covers every span")

	for _, bad := range []string{"0AF7651916CD43DD8448EB211C80319C", "0af7651916cd43dd", "00000000000000000000000000000000", "zaf7651916cd43dd8448eb211c80319c"} {
		code, body = srv.get(t, "/traces/"+bad+"/summary", tokViewer)
		assert.Equal(t, http.StatusBadRequest, code, bad)
		assert.Equal(t, "trace_id", errorOf(t, body)["field"], bad)
	}
	code, body = srv.get(t, "/traces/"+t1+"/summary?max_spans=-1", tokViewer)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "max_spans", errorOf(t, body)["field"])

	code, body = srv.get(t, "/traces/"+t3+"/summary", tokViewer)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "trace_not_found", errorOf(t, body)["code"])

	// Scope: the queue-scoped user may see t1 (its job j2 ran in it); bob may too (j1).
	code, _ = srv.get(t, "/traces/"+t1+"/summary", tokScoped)
	assert.Equal(t, http.StatusOK, code)
	code, _ = srv.get(t, "/traces/"+t1+"/summary", tokOwner)
	assert.Equal(t, http.StatusOK, code)
}

func TestTraceScopeHidesForeignTrace(t *testing.T) {
	srv := startTraceServer(t, nil)
	other := "11111111111111111111111111111111"
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(other,
		spanSpec{Service: "jobqueue", Name: "process high_priority", ID: "1000000000000001", Kind: ptrace.SpanKindConsumer, Start: 0, End: 10,
			Attrs: jobAttrs("jx", "high_priority", "w1", "succeeded", 1, nil)})))
	code, _ := srv.get(t, "/traces/"+other+"/summary", tokScoped)
	assert.Equal(t, http.StatusNotFound, code, "no job of the trace is in the user's scope")
	code, _ = srv.get(t, "/traces/"+other+"/spans", tokScoped)
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = srv.get(t, "/traces/"+other+"/summary", tokViewer)
	assert.Equal(t, http.StatusOK, code)
}

func TestTraceSpansEndpoint(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishScenario(t, srv.ext)
	var got []any
	path := "/traces/" + t1 + "/spans?limit=3"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		code, body := srv.get(t, path, tokViewer)
		require.Equal(t, http.StatusOK, code)
		assert.EqualValues(t, 8, body["total"])
		for _, s := range body["spans"].([]any) {
			got = append(got, s.(map[string]any)["span_id"])
		}
		next, ok := body["next_cursor"].(string)
		if !ok {
			break
		}
		path = "/traces/" + t1 + "/spans?limit=3&cursor=" + url.QueryEscape(next)
	}
	assert.Equal(t, []any{sA, sB, sC1, sC2, sD, sE, sG, sF}, got, "all spans once, by start time")

	_, body := srv.get(t, "/traces/"+t1+"/spans?limit=3", tokViewer)
	c1 := body["spans"].([]any)[2].(map[string]any)
	assert.Equal(t, t1, c1["trace_id"])
	assert.Equal(t, "2026-11-27T09:00:00.3Z", c1["end_time"])
	assert.Equal(t, "job_retried", c1["logs"].([]any)[0].(map[string]any)["message"])

	for _, q := range []string{"limit=0", "limit=5000", "cursor=bad!"} {
		code, body := srv.get(t, "/traces/"+t1+"/spans?"+q, tokViewer)
		assert.Equal(t, http.StatusBadRequest, code, q)
		assert.NotEmpty(t, errorOf(t, body)["field"], q)
	}
	code, _ := srv.get(t, "/traces/"+t3+"/spans", tokViewer)
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = srv.get(t, "/traces/nothex/spans", tokViewer)
	assert.Equal(t, http.StatusBadRequest, code)
}

func TestCorrelationEndpoint(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishScenario(t, srv.ext)

	code, body := srv.get(t, "/correlation/j1", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "j1", body["job_id"])
	tcs := body["trace_contexts"].([]any)
	require.Len(t, tcs, 2, "one per attempt")
	assert.Equal(t, map[string]any{
		"trace_id": t1, "span_id": sC1, "parent_span_id": sB, "extracted_from": "payload", "format": "w3c",
		"attempt": 1.0, "extraction_time": "2026-11-27T09:00:00.1Z", "trace_url": "http://localhost:16686/trace/" + t1,
	}, tcs[0])
	rel := body["relationships"].(map[string]any)
	assert.Equal(t, []any{}, rel["parent_jobs"])
	assert.Equal(t, []any{"j2"}, rel["child_jobs"])
	assert.Equal(t, []any{t1}, rel["related_traces"])
	attempts := rel["attempts"].([]any)
	require.Len(t, attempts, 2)
	assert.Equal(t, "retried", attempts[0].(map[string]any)["status"])
	assert.Equal(t, "w1", attempts[0].(map[string]any)["worker_id"])
	assert.Equal(t, "succeeded", attempts[1].(map[string]any)["status"])

	logs := body["log_entries"].([]any)
	require.Len(t, logs, 5, "the job's lifecycle lines from the log ring")
	assert.Equal(t, "j1", logs[0].(map[string]any)["job_id"])

	// Timeline: j1's spans (its attempts and what ran under them, not job j2's span), the
	// span event, and the 5 logs, in time order.
	var kinds []string
	var prev time.Time
	spanIDs := map[any]bool{}
	for _, it := range body["timeline"].([]any) {
		item := it.(map[string]any)
		ts, err := time.Parse(time.RFC3339Nano, item["timestamp"].(string))
		require.NoError(t, err)
		assert.False(t, ts.Before(prev), "time ordered")
		prev = ts
		kinds = append(kinds, item["type"].(string))
		if item["type"] == "span" {
			spanIDs[item["data"].(map[string]any)["span_id"]] = true
		}
	}
	assert.Equal(t, map[any]bool{sC1: true, sC2: true, sD: true, sE: true, sG: true}, spanIDs)
	assert.Len(t, kinds, 5+1+5)

	code, body = srv.get(t, "/correlation/j2", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []any{"j1"}, body["relationships"].(map[string]any)["parent_jobs"])
	assert.Equal(t, []any{}, body["log_entries"])

	// j3 has no span and no trace in the cache: its lifecycle still shows.
	code, body = srv.get(t, "/correlation/j3", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, body["trace_contexts"], 1)
	assert.NotEmpty(t, body["timeline"])

	code, body = srv.get(t, "/correlation/unknown", tokViewer)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "job_id", errorOf(t, body)["field"])
	code, _ = srv.get(t, "/correlation/j1", tokScoped)
	assert.Equal(t, http.StatusNotFound, code)
	code, body = srv.get(t, "/correlation/j1?log_limit=0", tokViewer)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "log_limit", errorOf(t, body)["field"])
}

func TestHealthEndpoints(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishScenario(t, srv.ext)
	code, body := srv.get(t, "/health/tracing", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", body["status"])
	cache := body["trace_cache"].(map[string]any)
	assert.EqualValues(t, 1, cache["traces"])
	assert.EqualValues(t, 8, cache["spans"])
	assert.EqualValues(t, 100<<20, cache["max_bytes"])
	assert.EqualValues(t, 3, body["job_catalog"].(map[string]any)["jobs"])
	assert.Equal(t, []any{}, body["backends"])

	code, body = srv.get(t, "/health/logging", tokScoped)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", body["status"])
	assert.Contains(t, body, "buffer_size")
}

func TestManyBackendsConfigured(t *testing.T) {
	srv := startTraceServer(t, func(c *Config) {
		for i := range 12 {
			c.Backends = append(c.Backends, backendConfig("", "zipkin", fmt.Sprintf("http://127.0.0.1:1/z%d", i), nil))
		}
	})
	code, body := srv.get(t, "/health/tracing?probe=false", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, body["backends"], 12)
}

// TestIngestWhileQuerying runs the pipeline side and the API side at once; with -race it
// checks that answers never see a half-written trace or catalog entry.
func TestIngestWhileQuerying(t *testing.T) {
	srv := startTraceServer(t, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			tr := fmt.Sprintf("%032x", i+1)
			td := buildTraces(tr, spanSpec{Service: "jobqueue", Name: "process high_priority", ID: fmt.Sprintf("%016x", i+1),
				Kind: ptrace.SpanKindConsumer, Start: i, End: i + 5, Attrs: jobAttrs(fmt.Sprintf("c%d", i), "high_priority", "w1", "succeeded", 1, nil)})
			_ = srv.ext.PublishTraces(context.Background(), td)
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			code, body := srv.get(t, "/jobs?limit=1000", tokViewer)
			require.Equal(t, http.StatusOK, code)
			assert.Len(t, body["jobs"], 200)
			return
		default:
		}
		code, body := srv.get(t, "/jobs?limit=5", tokViewer)
		require.Equal(t, http.StatusOK, code)
		for _, j := range body["jobs"].([]any) {
			id := j.(map[string]any)["trace_id"].(string)
			code, sum := srv.get(t, "/traces/"+id+"/summary", tokViewer)
			require.Equal(t, http.StatusOK, code)
			assert.EqualValues(t, 1, sum["spans_count"])
		}
	}
}

func TestTenThousandSpanTraceThroughAPI(t *testing.T) {
	srv := startTraceServer(t, nil)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	require.NoError(t, srv.ext.PublishTraces(context.Background(), bigTrace(traceID, 10000)))

	code, body := srv.get(t, "/traces/"+traceID+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.EqualValues(t, 10000, body["spans_count"])
	assert.Len(t, body["spans"], 1000, "default max_spans")
	assert.Equal(t, true, body["spans_truncated"])
	assert.Len(t, body["error_spans"], 200, "every 50th span fails")
	// By hand: bigTrace's span i (parent (i-1)/10) starts at i ms and every span ends at
	// 10,000 ms. Each LFC ends with its parent (first child wins ties, as in Jaeger UI), so the
	// walk's sections are empty down the first-child chain 0→1→11→111→1111; the leaf 1111 gives
	// [1111, 10000]; back in 111 no child ends before 1111 ms → [111, 1111]; then 11 [11, 111],
	// 1 [1, 11], 0 [0, 1]. Span i's id is 0000000000<i as 4 hex digits>01.
	assert.Equal(t, []any{"0000000000045701", "0000000000006f01", "0000000000000b01", "0000000000000101", "0000000000000001"},
		body["critical_path"])

	code, body = srv.get(t, "/traces/"+traceID+"/summary?max_spans=10000", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, body["spans"], 10000)

	code, body = srv.get(t, "/traces/"+traceID+"/spans?limit=1000", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.EqualValues(t, 10000, body["total"])
	assert.NotEmpty(t, body["next_cursor"])
}
