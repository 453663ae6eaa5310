package tailstreamextension

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const zipkinTrace = "4bf92f3577b34da6a3ce929d0e0e4736" // internal/backends/testdata/zipkin_trace.json

// zipkinFake serves the recorded Zipkin v2 answer (written in Zipkin's own field order and
// units) and 404s for other traces, as Zipkin does.
func zipkinFake(t *testing.T) (*httptest.Server, *atomic.Int32) {
	body, err := os.ReadFile("internal/backends/testdata/zipkin_trace.json")
	require.NoError(t, err)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v2/trace/" + zipkinTrace:
			calls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		case "/api/v2/services":
			_, _ = w.Write([]byte(`["billing","order-api","queue-worker"]`))
		default:
			calls.Add(1)
			http.Error(w, "trace not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func withZipkin(endpoint string) func(*Config) {
	return func(c *Config) {
		c.Backends = []BackendConfig{backendConfig("zipkin", "zipkin", endpoint, func(b *BackendConfig) {
			b.URLTemplate = "http://zipkin.example:9411/zipkin/traces/{trace_id}"
			b.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 1}
		})}
	}
}

func TestSummaryFromZipkin(t *testing.T) {
	zk, calls := zipkinFake(t)
	srv := startTraceServer(t, withZipkin(zk.URL))

	code, body := srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "backend", body["source"])
	assert.Equal(t, false, body["partial"])
	assert.EqualValues(t, 5, body["spans_count"])
	assert.Equal(t, "http://zipkin.example:9411/zipkin/traces/"+zipkinTrace, body["trace_url"])
	assert.Equal(t, "a1a1a1a1a1a1a1a1", body["root_span"].(map[string]any)["span_id"])
	// By hand: a1 [0,45ms] with producer child b2 → a1, b2. The CONSUMER c3 hangs off the
	// PRODUCER b2, so it is a root of its own: LFC e5 (ends 2.45 s) → e5; back at e5's start
	// (180 ms) the child ending before is d4 (175 ms) → d4.
	assert.Equal(t, []any{"a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2", "c3c3c3c3c3c3c3c3", "e5e5e5e5e5e5e5e5", "d4d4d4d4d4d4d4d4"}, body["critical_path"])
	assert.Len(t, body["error_spans"], 2)
	assert.EqualValues(t, 2460, body["duration_ms"])
	assert.Equal(t, int32(1), calls.Load())

	// The fetched trace is cached: the next answer is local.
	code, body = srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "cache", body["source"])
	assert.Equal(t, int32(1), calls.Load())

	// Unknown everywhere: 404 after asking the backend.
	code, body = srv.get(t, "/traces/00000000000000000000000000000abc/summary", tokViewer)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "trace_not_found", errorOf(t, body)["code"])
}

// partOfZipkinTrace is the worker's side of the recorded trace, as this collector saw it
// through its pipeline, plus one span the backend does not have.
func partOfZipkinTrace() ptrace.Traces {
	return buildTraces(zipkinTrace,
		spanSpec{Service: "queue-worker", Name: "process high_priority", ID: "c3c3c3c3c3c3c3c3", Parent: "b2b2b2b2b2b2b2b2",
			Kind: ptrace.SpanKindConsumer, Start: 0, End: 2340},
		spanSpec{Service: "queue-worker", Name: "render receipt", ID: "f6f6f6f6f6f6f6f6", Parent: "c3c3c3c3c3c3c3c3",
			Kind: ptrace.SpanKindInternal, Start: 2300, End: 2330},
	)
}

func TestSummaryMergesCacheAndBackend(t *testing.T) {
	zk, _ := zipkinFake(t)
	srv := startTraceServer(t, withZipkin(zk.URL))
	require.NoError(t, srv.ext.PublishTraces(context.Background(), partOfZipkinTrace()))

	code, body := srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "cache+backend", body["source"])
	assert.EqualValues(t, 6, body["spans_count"], "5 from Zipkin, c3 deduplicated, f6 only cached")
	assert.Equal(t, false, body["partial"])
}

func TestSummaryPartialWhenBackendsDown(t *testing.T) {
	zk, _ := zipkinFake(t)
	srv := startTraceServer(t, withZipkin(zk.URL))
	zk.Close() // every backend is down
	require.NoError(t, srv.ext.PublishTraces(context.Background(), partOfZipkinTrace()))

	code, body := srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code, "answer from the cache rather than fail")
	assert.Equal(t, true, body["partial"])
	assert.Equal(t, "cache", body["source"])
	assert.EqualValues(t, 2, body["spans_count"])
	require.NotEmpty(t, body["warnings"])
	assert.Contains(t, body["warnings"].([]any)[0], "zipkin")

	// The breaker opened after the failure (threshold 1): health shows it without probing.
	code, body = srv.get(t, "/health/tracing?probe=false", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "degraded", body["status"])
	b := body["backends"].([]any)[0].(map[string]any)
	assert.Equal(t, "open", b["circuit_breaker"])
	assert.NotEmpty(t, b["last_error"])

	// Nothing cached and every backend down: 503, not 404.
	code, body = srv.get(t, "/traces/0000000000000000000000000000beef/summary", tokViewer)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "backends_unavailable", errorOf(t, body)["code"])
}

func TestHealthProbesBackends(t *testing.T) {
	zk, _ := zipkinFake(t)
	srv := startTraceServer(t, func(c *Config) {
		withZipkin(zk.URL)(c)
		c.Backends = append(c.Backends, backendConfig("dead", "jaeger", "http://127.0.0.1:1", nil))
	})
	code, body := srv.get(t, "/health/tracing", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "degraded", body["status"])
	bs := body["backends"].([]any)
	assert.Equal(t, true, bs[0].(map[string]any)["reachable"])
	assert.Equal(t, false, bs[1].(map[string]any)["reachable"])
	assert.Equal(t, "dead", bs[1].(map[string]any)["name"])
}

func TestPutTracingConfig(t *testing.T) {
	zk, _ := zipkinFake(t)
	srv, logs := startTraceServerWithLogs(t, func(c *Config) {
		c.Backends = []BackendConfig{backendConfig("old", "jaeger", "http://127.0.0.1:1", func(b *BackendConfig) { b.Headers.Set("Authorization", "Bearer keep-me-secret") })}
	})

	code, body := srv.get(t, "/config/tracing", tokViewer)
	require.Equal(t, http.StatusOK, code)
	raw := toJSONString(t, body)
	assert.NotContains(t, raw, "keep-me-secret", "header values are never echoed")
	assert.Contains(t, raw, `"header_names":["Authorization"]`)
	assert.Equal(t, false, body["modified_at_runtime"])
	assert.Contains(t, body["note"], "until the collector restarts")

	// Admin adds the Zipkin backend and changes the template; the old backend keeps its
	// headers without them being sent again.
	put := `{"trace_url_template":"http://ui.example/t/{trace_id}","trace_cache":{"max_age":"10m"},` +
		`"backends":[{"name":"old","type":"jaeger","endpoint":"http://127.0.0.1:1"},{"name":"zk","type":"zipkin","endpoint":"` + zk.URL + `"}]}`
	code, body = srv.api(t, http.MethodPut, "/config/tracing", tokAdmin, put)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, true, body["effective_until_restart"])
	cfg := srv.ext.traces.Settings()
	assert.Equal(t, "http://ui.example/t/{trace_id}", cfg.TraceURLTemplate)
	auth, _ := cfg.Backends[0].Client.Headers.Get("Authorization")
	assert.Equal(t, "Bearer keep-me-secret", string(auth))
	assert.Len(t, srv.ext.traces.Health(context.Background(), false).Backends, 2)
	assert.NotContains(t, toJSONString(t, body), "keep-me-secret")

	// The new backend serves at once.
	code, body = srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.EqualValues(t, 5, body["spans_count"])

	// Audited, without secrets.
	audits := logs.FilterMessage("audit").FilterFieldKey("action").All()
	var actions []string
	for _, e := range audits {
		actions = append(actions, e.ContextMap()["action"].(string))
		assert.NotContains(t, toJSONString(t, e.ContextMap()), "keep-me-secret")
	}
	assert.Contains(t, actions, "config.tracing.update")
	assert.Contains(t, actions, "trace.summary")

	for _, tc := range []struct{ body, field string }{
		{`{"trace_url_template":"http://no-placeholder/"}`, "trace_url_template"},
		{`{"trace_cache":{"max_bytes":0}}`, "trace_cache.max_bytes"},
		{`{"backends":[{"type":"tempo","endpoint":"http://x"}]}`, "backends[0].type"},
		{`{"trace_cache":{"max_age":"soon"}}`, ""},
		{`{"surprise":true}`, "surprise"},
		{`not json`, ""},
	} {
		code, body = srv.api(t, http.MethodPut, "/config/tracing", tokAdmin, tc.body)
		assert.Equal(t, http.StatusBadRequest, code, tc.body)
		e := errorOf(t, body)
		if tc.field != "" {
			assert.Equal(t, tc.field, e["field"], tc.body)
		}
	}
	cfg = srv.ext.traces.Settings()
	assert.Equal(t, "http://ui.example/t/{trace_id}", cfg.TraceURLTemplate, "a rejected PUT changes nothing")
}

func TestPutLoggingConfig(t *testing.T) {
	srv := startTraceServer(t, nil)
	code, body := srv.get(t, "/config/logging", tokScoped)
	require.Equal(t, http.StatusOK, code)
	assert.EqualValues(t, 1000, body["config"].(map[string]any)["streams"].(map[string]any)["default_rate_limit"])

	code, body = srv.api(t, http.MethodPut, "/config/logging", tokAdmin, `{"streams":{"default_rate_limit":50,"max_rate_limit":500}}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, true, body["effective_until_restart"])
	assert.Equal(t, 50, srv.ext.streamsConfig().DefaultRateLimit)
	assert.Equal(t, 500, srv.ext.streamsConfig().MaxRateLimit)

	code, body = srv.api(t, http.MethodPut, "/config/logging", tokAdmin, `{"streams":{"default_rate_limit":5000}}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "streams.default_rate_limit", errorOf(t, body)["field"])
	code, body = srv.api(t, http.MethodPut, "/config/logging", tokAdmin, `{"retention":{"buffer_size":10}}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "not_tunable", errorOf(t, body)["code"])
	assert.Equal(t, 50, srv.ext.streamsConfig().DefaultRateLimit)
	assert.True(t, strings.Contains(toJSONString(t, body), "restart"))
}

func TestConcurrentLookupsShareOneFetch(t *testing.T) {
	body, err := os.ReadFile("internal/backends/testdata/zipkin_trace.json")
	require.NoError(t, err)
	var calls atomic.Int32
	release := make(chan struct{})
	zk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release // hold the answer until every client is waiting
		_, _ = w.Write(body)
	}))
	defer zk.Close()
	srv := startTraceServer(t, withZipkin(zk.URL))

	const clients = 8
	codes := make(chan int, clients)
	for range clients {
		go func() {
			code, _ := srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
			codes <- code
		}()
	}
	// Wait until the one fetch is out, give the others time to queue behind it, then answer.
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	close(release)
	for range clients {
		assert.Equal(t, http.StatusOK, <-codes)
	}
	assert.Equal(t, int32(1), calls.Load(), "one backend request for %d concurrent lookups", clients)
}
