package tailstreamextension

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeBodyErrors(t *testing.T) {
	type body struct {
		N int `json:"n"`
	}
	for _, tc := range []struct {
		in, code, field string
		status          int
	}{
		{`{"n":1,"surprise":true}`, "unknown_field", "surprise", http.StatusBadRequest},
		{`{"n":"one"}`, "invalid_field", "n", http.StatusBadRequest},
		{``, "invalid_body", "", http.StatusBadRequest},
		{`{"n":`, "invalid_body", "", http.StatusBadRequest},
		{`{"n":1,"pad":"` + strings.Repeat("x", maxBodyBytes) + `"}`, "body_too_large", "", http.StatusRequestEntityTooLarge},
	} {
		rec := httptest.NewRecorder()
		var v body
		ok := decodeBody(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.in)), &v)
		require.False(t, ok, tc.in[:min(len(tc.in), 30)])
		assert.Equal(t, tc.status, rec.Code)
		e := apiErr(t, rec.Body.Bytes())
		assert.Equal(t, tc.code, e.Code)
		assert.Equal(t, tc.field, e.Field)
	}
	rec := httptest.NewRecorder()
	var v body
	require.True(t, decodeBody(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"n":3}`)), &v))
	assert.Equal(t, 3, v.N)
}

func TestQueryParamReaders(t *testing.T) {
	q := url.Values{"limit": {"0"}, "big": {"5000"}, "word": {"ten"}, "ok": {"7"}, "since": {"-15m"}, "at": {"2026-11-27T09:00:00Z"}}
	for key, field := range map[string]string{"limit": "limit", "big": "big", "word": "word"} {
		rec := httptest.NewRecorder()
		_, ok := boundedInt(rec, q, key, 50, 1000)
		require.False(t, ok, key)
		e := apiErr(t, rec.Body.Bytes())
		assert.Equal(t, "invalid_parameter", e.Code)
		assert.Equal(t, field, e.Field)
		assert.True(t, strings.HasPrefix(e.Message, key+": "), e.Message)
	}
	n, ok := boundedInt(httptest.NewRecorder(), q, "ok", 50, 1000)
	assert.True(t, ok)
	assert.Equal(t, 7, n)
	n, ok = boundedInt(httptest.NewRecorder(), q, "absent", 50, 1000)
	assert.True(t, ok)
	assert.Equal(t, 50, n)

	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	rec := httptest.NewRecorder()
	_, ok = timeParam(rec, q, "since", now)
	require.False(t, ok)
	assert.Equal(t, "since", apiErr(t, rec.Body.Bytes()).Field)
	ts, ok := timeParam(httptest.NewRecorder(), q, "at", now)
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), ts)
}

// Both halves read since with one rule and the extension's clock.
func TestSinceUsesInjectedClockAndOneRule(t *testing.T) {
	// The scenario's jobs started at base+100ms..base+2s; the wall clock is days later.
	srv := launch(t, traceUsers, serverOpts{now: func() time.Time { return base.Add(10 * time.Minute) }})
	publishScenario(t, srv.ext)

	code, body := srv.get(t, "/jobs?since=15m", tokViewer)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Len(t, body["jobs"], 3, "15m before the injected now covers every job")
	code, body = srv.get(t, "/jobs?since=1m", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, body["jobs"])

	code, body = srv.get(t, "/jobs?since=-15m", tokViewer)
	require.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "since", errorOf(t, body)["field"])
	assert.Contains(t, errorOf(t, body)["message"], "must not be negative")

	code, body = srv.get(t, "/logs/history?since=-15m", tokScoped)
	require.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "filters.since", errorOf(t, body)["field"])
	assert.Contains(t, errorOf(t, body)["message"], "must not be negative")
}

func TestConfigPutsShareTheDecoder(t *testing.T) {
	srv := startTraceServer(t, nil)
	for _, path := range []string{"/config/tracing", "/config/logging", "/logs/streams"} {
		method := http.MethodPut
		if path == "/logs/streams" {
			method = http.MethodPost
		}
		code, body := srv.api(t, method, path, tokAdmin, `{"surprise":true}`)
		require.Equal(t, http.StatusBadRequest, code, path)
		e := errorOf(t, body)
		assert.Equal(t, "unknown_field", e["code"], path)
		assert.Equal(t, "surprise", e["field"], path)
	}
}
