package tailstreamextension

// Regression tests for issue 18's findings on the tailstream API, one per finding; the
// SECURITY.md at the repository root links here.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
)

// TestAccessTokenOnlyOnStreams (finding 10): ?access_token= authenticates the WebSocket and
// SSE endpoints a browser attaches to, nothing else, and is never logged.
func TestAccessTokenOnlyOnStreams(t *testing.T) {
	srv := rbacServer(t)
	srv.publish(t, rec{job: "h1", queue: "high", msg: "high queue line"})
	v := srv.create(t, "tok-high", map[string]any{"filters": map[string]any{"job_id": "h1"}, "options": map[string]any{"follow": true, "tail_lines": 10}})
	q := "?access_token=" + url.QueryEscape("tok-high")

	for _, path := range []string{
		"/api/v1/logs/streams", "/api/v1/logs/history", "/api/v1/logs/streams/" + v.StreamID,
		"/api/v1/jobs", "/api/v1/health/tracing", "/api/v1/config/tracing",
	} {
		code, b := srv.do(t, http.MethodGet, path+q, "", nil)
		assert.Equal(t, http.StatusUnauthorized, code, "%s: %s", path, b)
		assert.Contains(t, apiErr(t, b).Message, "only accepted on WebSocket and SSE", path)
		assert.NotContains(t, string(b), "tok-high", "the token is never echoed")
	}

	// SSE attach, WebSocket attach (both paths) and tail take it.
	sse := openSSE(t, srv.base+"/api/v1/logs/streams/"+v.StreamID+"/events"+q, "", nil)
	assert.Equal(t, []string{"high queue line"}, messages(entries(sse.read(t, nEntries(1)))))
	sse.close()
	ws := dialWS(t, "ws"+srv.base[4:]+"/api/v1/logs/streams/"+v.StreamID+q, "", nil)
	ws.CloseNow()
	ws = dialWS(t, "ws"+srv.base[4:]+"/api/v1/logs/streams/"+v.StreamID+"/ws"+q, "", nil)
	ws.CloseNow()
	tail := openSSE(t, srv.base+"/api/v1/logs/tail"+q+"&job_id=h1&tail_lines=1", "", nil)
	assert.Equal(t, []string{"high queue line"}, messages(entries(tail.readAll(t))))
	_, err := tryDialWS("ws"+srv.base[4:]+"/api/v1/logs/tail?access_token=wrong", "", nil)
	assert.ErrorContains(t, err, "401")

	for _, e := range srv.audit.All() {
		assert.NotContains(t, e.Message, "tok-high")
		for _, f := range e.ContextMap() {
			assert.NotContains(t, toString(f), "tok-high", "no token in the logs: %v", e.ContextMap())
		}
	}
}

// stripAccessToken leaves nothing of the token in the request handlers see.
func TestStripAccessToken(t *testing.T) {
	r, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://x/api/v1/logs/tail?job_id=a&access_token=s3cret&since=1", nil)
	require.NoError(t, err)
	r.RequestURI = r.URL.RequestURI()
	stripAccessToken(r)
	assert.False(t, strings.Contains(r.URL.String()+r.RequestURI, "s3cret"))
	assert.Equal(t, "a", r.URL.Query().Get("job_id"))
}

// TestCreateBodyIsExactlyOneObject (finding 11): null, non-objects and trailing JSON are 400s,
// an oversized body a 413.
func TestCreateBodyIsExactlyOneObject(t *testing.T) {
	srv := startServer(t, nil)
	post := func(body string) (int, apiError) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.base+"/api/v1/logs/streams", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 400 {
			return resp.StatusCode, apiError{}
		}
		return resp.StatusCode, apiErr(t, b)
	}
	for _, tc := range []struct{ body, want string }{
		{"null", "not null"},
		{"[]", "not an array"},
		{`"x"`, "not a string"},
		{`{"filters":{}} {"filters":{}}`, "data after the JSON object"},
		{`{"filters":{}}]`, "data after the JSON object"},
		{`{"filters":{}} x`, "data after the JSON object"},
		{"", "empty"},
	} {
		code, e := post(tc.body)
		assert.Equal(t, http.StatusBadRequest, code, tc.body)
		assert.Contains(t, e.Message, tc.want, tc.body)
	}
	code, e := post(`{"filters":{"text":"` + strings.Repeat("x", maxBodyBytes) + `"}}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code, e.Message)
	code, _ = post(`{"filters":{}}` + " \n")
	assert.Equal(t, http.StatusCreated, code, "whitespace after the object is fine")
}

// TestHugeTailLinesIsClamped (finding 11): tail_lines beyond what the ring holds means "all
// retained", reported as the ring's size, and still replays.
func TestHugeTailLinesIsClamped(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.Retention.BufferSize = 1000 })
	srv.publish(t, lines("j1", 1, 3)...)
	v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"},
		"options": map[string]any{"follow": true, "tail_lines": int64(math.MaxInt64)}})
	assert.Equal(t, 1000, v.Options.TailLines)
	got := readWS(t, dialWS(t, v.Endpoint, "", nil), nEntries(3))
	assert.Len(t, entries(got), 3)
	tail := openSSE(t, srv.base+"/api/v1/logs/tail?job_id=j1&tail_lines=9223372036854775807", "", nil)
	assert.Len(t, entries(tail.readAll(t)), 3)
}

// TestREADMEStallTimeoutMatchesCode (finding 11): the README's stalled-client bound is the
// code's: a ping goes out every ping_interval and waits writeTimeout for its answer.
func TestREADMEStallTimeoutMatchesCode(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	doc := strings.Join(strings.Fields(string(readme)), " ")
	ts := &tailstream{cfg: createDefaultConfig().(*Config)}
	assert.Equal(t, max(10*time.Second, 2*ts.cfg.Streams.PingInterval), ts.writeTimeout(), "the formula the README quotes")
	assert.Contains(t, doc, "longer than `max(10s, 2×ping_interval)`")
	worst := ts.cfg.Streams.PingInterval + ts.writeTimeout()
	assert.Contains(t, doc, fmt.Sprintf("within `ping_interval + max(10s, 2×ping_interval)` (%d s with the defaults)", int(worst.Seconds())))
}

// sharedTrace is finding 4's reproduction: a high_priority job's payload carried the trace id
// of a low_priority job, so one trace holds both jobs' spans. The viewer scoped to
// low_priority must see lo1's subtree and the job-less enqueue span, never hi1's spans.
const sharedTrace = "5c0be5c0be5c0be5c0be5c0be5c0be50"

func publishSharedTrace(t *testing.T, ext *tailstream) {
	t.Helper()
	require.NoError(t, ext.PublishTraces(context.Background(), buildTraces(sharedTrace,
		spanSpec{Service: "api", Name: "enqueue", ID: "e000000000000001", Kind: ptrace.SpanKindProducer, Start: 0, End: 5},
		spanSpec{Service: "jobqueue", Name: "process low_priority", ID: "1000000000000001", Parent: "e000000000000001", Kind: ptrace.SpanKindConsumer,
			Start: 10, End: 100, Attrs: jobAttrs("lo1", "low_priority", "w1", "succeeded", 1, nil)},
		spanSpec{Service: "worker", Name: "db mine", ID: "1000000000000002", Parent: "1000000000000001", Start: 20, End: 30,
			Attrs: map[string]any{"db.statement": "SELECT low"}},
		spanSpec{Service: "jobqueue", Name: "process high_priority", ID: "2000000000000001", Parent: "e000000000000001", Kind: ptrace.SpanKindConsumer,
			Start: 10, End: 200, ErrMsg: "boom", Attrs: jobAttrs("hi1", "high_priority", "w2", "dead_lettered", 1, nil)},
		// Correlation over the whole trace may have tagged this span with the other job's id:
		// its place under hi1's job span decides.
		spanSpec{Service: "worker", Name: "db secret", ID: "2000000000000002", Parent: "2000000000000001", Start: 20, End: 40,
			Attrs: map[string]any{"db.statement": "SELECT password FROM high", "job.id": "lo1"}},
		spanSpec{Service: "worker", Name: "db secret child", ID: "2000000000000003", Parent: "2000000000000002", Start: 21, End: 22},
	)))
}

// TestScopeAppliesPerSpan (finding 4): /spans, /summary and /correlation of a shared trace.
func TestScopeAppliesPerSpan(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishSharedTrace(t, srv.ext)
	names := func(spans any) []string {
		var out []string
		for _, s := range spans.([]any) {
			out = append(out, s.(map[string]any)["operation_name"].(string))
		}
		return out
	}
	code, body := srv.get(t, "/traces/"+sharedTrace+"/spans", tokScoped)
	require.Equal(t, http.StatusOK, code, body)
	assert.ElementsMatch(t, []string{"enqueue", "process low_priority", "db mine"}, names(body["spans"]))
	assert.NotContains(t, toJSONString(t, body), "SELECT password")

	code, body = srv.get(t, "/traces/"+sharedTrace+"/summary", tokScoped)
	require.Equal(t, http.StatusOK, code, body)
	assert.ElementsMatch(t, []string{"enqueue", "process low_priority", "db mine"}, names(body["spans"]))
	js := toJSONString(t, body)
	for _, leak := range []string{"2000000000000001", "2000000000000002", "process high_priority", "boom"} {
		assert.NotContains(t, js, leak, "summary leaks %s", leak)
	}

	code, body = srv.get(t, "/correlation/lo1", tokScoped)
	require.Equal(t, http.StatusOK, code, body)
	js = toJSONString(t, body)
	assert.NotContains(t, js, "SELECT password")
	assert.NotContains(t, js, "hi1", "another scope's job id")
	assert.Contains(t, js, "SELECT low")

	// An unscoped viewer still sees the whole trace.
	code, body = srv.get(t, "/traces/"+sharedTrace+"/spans", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, body["spans"], 6)
}

// TestCorrelationScopesEachLine (finding 5): the job is in scope, but a line naming it is
// judged on its own queue, as history does: an OTLP sender can write any job id.
func TestCorrelationScopesEachLine(t *testing.T) {
	srv := startTraceServer(t, nil)
	publishSharedTrace(t, srv.ext)
	srv.publish(t,
		rec{job: "lo1", queue: "low_priority", msg: "low line"},
		rec{job: "lo1", queue: "high_priority", msg: "high secret line"},
		rec{job: "lo1", msg: "line without a queue"},
	)
	code, body := srv.get(t, "/correlation/lo1", tokScoped)
	require.Equal(t, http.StatusOK, code, body)
	js := toJSONString(t, body)
	assert.Contains(t, js, "low line")
	assert.NotContains(t, js, "high secret line")
	assert.NotContains(t, js, "line without a queue", "an absent queue never widens a scope")
	code, body = srv.get(t, "/logs/history?job_id=lo1", tokScoped)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, body["entries"], 1, "history and correlation agree")

	code, body = srv.get(t, "/correlation/lo1", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, toJSONString(t, body), "high secret line", "unscoped viewers see every line")
}

// TestBackendCredentialsNotEchoed (finding 6): userinfo and queries in an endpoint are refused
// at validate and through PUT; sensitive query values in templates and logs are redacted; only
// admins see where the backends are; the audit log holds no secret.
func TestBackendCredentialsNotEchoed(t *testing.T) {
	zk, _ := zipkinFake(t)
	srv, logs := startTraceServerWithLogs(t, withZipkin(zk.URL))
	for _, ep := range []string{
		"http://svcuser:PASSWORD@127.0.0.1:1", "http://127.0.0.1:1/?access_token=SECRETTOKEN", "http://127.0.0.1:1/#", "http://127.0.0.1:1/?",
	} {
		code, body := srv.api(t, http.MethodPut, "/config/tracing", tokAdmin, `{"backends":[{"name":"x","type":"jaeger","endpoint":"`+ep+`"}]}`)
		assert.Equal(t, http.StatusBadRequest, code, ep)
		assert.Equal(t, "backends[0].endpoint", errorOf(t, body)["field"], ep)
		js := toJSONString(t, body)
		assert.NotContains(t, js, "PASSWORD")
		assert.NotContains(t, js, "SECRETTOKEN")
		cfg := createDefaultConfig().(*Config)
		cfg.Backends = []BackendConfig{backendConfig("x", "jaeger", ep, nil)}
		assert.ErrorContains(t, cfg.Validate(), "backends[0].endpoint", "collector validate refuses %s too", ep)
	}
	code, body := srv.api(t, http.MethodPut, "/config/tracing", tokAdmin,
		`{"trace_url_template":"http://ui:PASSWORD@ui.example/t/{trace_id}"}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.NotContains(t, toJSONString(t, body), "PASSWORD")
	code, body = srv.api(t, http.MethodPut, "/config/tracing", tokAdmin,
		`{"backends":[{"name":"zipkin","type":"zipkin","endpoint":"`+zk.URL+`","url_template":"http://ui.example/t/{trace_id}?api_key=SECRETKEY&uiEmbed=v0"}]}`)
	assert.Equal(t, http.StatusBadRequest, code, "every viewer sees trace_url: no key in it")
	assert.NotContains(t, toJSONString(t, body), "SECRETKEY")
	code, _ = srv.api(t, http.MethodPut, "/config/tracing", tokAdmin,
		`{"backends":[{"name":"zipkin","type":"zipkin","endpoint":"`+zk.URL+`","url_template":"http://ui.example/t/{trace_id}?uiEmbed=v0"}]}`)
	require.Equal(t, http.StatusOK, code, "a query without credentials is fine in a template")

	for _, path := range []string{"/config/tracing", "/health/tracing"} {
		code, body = srv.get(t, path, tokAdmin)
		require.Equal(t, http.StatusOK, code)
		js := toJSONString(t, body)
		assert.NotContains(t, js, "SECRETKEY", path)
		if path == "/config/tracing" {
			assert.Contains(t, js, zk.URL, "admins see the endpoint")
		}
		for _, tok := range []string{tokViewer, tokScoped} {
			code, body = srv.get(t, path, tok)
			require.Equal(t, http.StatusOK, code)
			assert.NotContains(t, toJSONString(t, body), strings.TrimPrefix(zk.URL, "http://"), "%s shows %s the endpoint", path, tok)
		}
	}
	for _, e := range logs.All() {
		js := e.Message + toJSONString(t, e.ContextMap())
		for _, secret := range []string{"PASSWORD", "SECRETTOKEN", "SECRETKEY"} {
			assert.NotContains(t, js, secret, "logged: %s", js)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:p@h:1/x":                          "http://redacted@h:1/x",
		"http://h/t?api_key=s&uiEmbed=v0":           "http://h/t?api_key=redacted&uiEmbed=v0",
		"http://h/t?X-Amz-Signature=s&token=t&id=1": "http://h/t?X-Amz-Signature=redacted&id=1&token=redacted",
		"http://h:16686":                            "http://h:16686",
		"%zz":                                       "[unparsable URL]",
	} {
		assert.Equal(t, want, backends.RedactURL(in), in)
	}
}

// TestBackendSSRFHardening (finding 7): no redirect to another host (the configured header
// stays home), errors carry the status and a fixed text but never the body, and health
// answers from state with at most one probe per backend per interval.
func TestBackendSSRFHardening(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "" {
			leaked.Add(1)
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"data":[]}`))
	}))
	t.Cleanup(other.Close)
	var probes atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v3/services"):
			probes.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("db_password=hunter2 internal error"))
		case strings.HasPrefix(r.URL.Path, "/api/v3/traces/"):
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		}
	}))
	t.Cleanup(backend.Close)
	srv := startTraceServer(t, func(c *Config) {
		c.Backends = []BackendConfig{backendConfig("j", "jaeger", backend.URL, func(b *BackendConfig) {
			b.Headers.Set("X-Api-Key", "key-material")
			b.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 100}
		})}
	})
	code, body := srv.get(t, "/traces/"+strings.Repeat("ab", 16)+"/summary", tokViewer)
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	assert.Zero(t, leaked.Load(), "the API key followed a redirect to another host")
	_, body = srv.get(t, "/health/tracing?probe=false", tokViewer)
	assert.Contains(t, toJSONString(t, body), "redirected to another host; refused")
	assert.Zero(t, probes.Load(), "probe=false answers from state")

	for range 5 {
		code, body = srv.get(t, "/health/tracing", tokViewer)
		require.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, int32(1), probes.Load(), "five health calls, one probe")
	js := toJSONString(t, body)
	assert.NotContains(t, js, "hunter2", "a backend's error body reached the health answer")
	assert.Contains(t, js, "HTTP 500 Internal Server Error")
	assert.Equal(t, false, body["backends"].([]any)[0].(map[string]any)["reachable"])
}

// TestStreamURLsIgnoreHostHeader (finding 9): the Host and X-Forwarded-Proto a client sends
// never make the stream endpoints; public_url does, else the listen address when it names a
// host, else relative paths.
func TestStreamURLsIgnoreHostHeader(t *testing.T) {
	create := func(srv *testServer) streamView {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.base+"/api/v1/logs/streams", strings.NewReader(`{}`))
		require.NoError(t, err)
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "evil.example")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		var v streamView
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		assert.NotContains(t, v.Endpoint+v.SSEEndpoint, "evil")
		return v
	}
	srv := startServer(t, nil)
	v := create(srv)
	assert.Equal(t, "ws"+strings.TrimPrefix(srv.base, "http")+"/api/v1/logs/streams/"+v.StreamID, v.Endpoint)

	srv = startServer(t, func(c *Config) { c.PublicURL = "https://jobtrace.example.com/proxy/" })
	v = create(srv)
	assert.Equal(t, "wss://jobtrace.example.com/proxy/api/v1/logs/streams/"+v.StreamID, v.Endpoint)
	assert.Equal(t, "https://jobtrace.example.com/proxy/api/v1/logs/streams/"+v.StreamID+"/events", v.SSEEndpoint)

	srv = startServer(t, func(c *Config) {
		c.NetAddr.Endpoint = "0.0.0.0:0"
		c.Users = []UserConfig{{Name: "a", Token: "tok-a", Roles: []string{roleAdmin}}}
	})
	code, b := srv.do(t, http.MethodPost, "/api/v1/logs/streams", "tok-a", map[string]any{})
	require.Equal(t, http.StatusCreated, code)
	require.NoError(t, json.Unmarshal(b, &v))
	assert.Equal(t, "/api/v1/logs/streams/"+v.StreamID, v.Endpoint, "a wildcard listen address names no host: relative")

	cfg := createDefaultConfig().(*Config)
	cfg.PublicURL = "https://u:p@x.example/?a=1"
	assert.ErrorContains(t, cfg.Validate(), "public_url")
}

// TestSmallerInconsistencies (finding 11): an oversized PUT /config/* is a 413, and a scoped
// viewer's /health/tracing carries no global job or trace counts.
func TestSmallerInconsistencies(t *testing.T) {
	srv := startTraceServer(t, nil)
	big := `{"trace_url_template":"` + strings.Repeat("x", 10<<20) + `"}`
	for _, path := range []string{"/config/tracing", "/config/logging"} {
		code, body := srv.api(t, http.MethodPut, path, tokAdmin, big)
		assert.Equal(t, http.StatusRequestEntityTooLarge, code, path)
		assert.Equal(t, "body_too_large", errorOf(t, body)["code"])
		code, _ = srv.api(t, http.MethodPut, path, tokAdmin, "null")
		assert.Equal(t, http.StatusBadRequest, code, path)
	}
	publishScenario(t, srv.ext)
	code, body := srv.get(t, "/health/tracing", tokScoped)
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, "job_catalog")
	assert.NotContains(t, body, "trace_cache")
	code, body = srv.get(t, "/health/tracing", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "job_catalog", "unscoped viewers keep the counts")
	code, body = srv.get(t, "/health/logging", tokScoped)
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, "buffer_head_seq")
	assert.NotContains(t, body, "buffer_bytes")
	assert.NotContains(t, body, "active_streams")
	code, body = srv.get(t, "/health/logging", tokAdmin)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "active_streams")
}
