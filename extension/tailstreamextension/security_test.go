package tailstreamextension

// Regression tests for issue 18's findings on the tailstream API, one per finding; the
// SECURITY.md at the repository root links here.

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
