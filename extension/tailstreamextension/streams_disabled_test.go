package tailstreamextension

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With streams.enabled false every way to open a live stream answers 503, and history, the
// stream list, a one-shot tail and the trace API still answer.
func TestStreamsDisabledKeepsHistory(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Streams.Enabled = false })
	s.publish(t, rec{job: "j1", level: "error", msg: "boom while disabled"})

	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/api/v1/logs/streams"},
		{http.MethodGet, "/api/v1/logs/streams/0123456789abcdef0123456789abcdef/ws"},
		{http.MethodGet, "/api/v1/logs/streams/0123456789abcdef0123456789abcdef/events"},
		{http.MethodGet, "/api/v1/logs/streams/0123456789abcdef0123456789abcdef"},
		{http.MethodGet, "/api/v1/logs/tail"},
		{http.MethodGet, "/api/v1/logs/tail?follow=true"},
	} {
		var body any
		if tc.method == http.MethodPost {
			body = map[string]any{"filters": map[string]any{"job_id": "j1"}}
		}
		code, b := s.do(t, tc.method, tc.path, "", body)
		assert.Equal(t, http.StatusServiceUnavailable, code, "%s %s: %s", tc.method, tc.path, b)
		var e struct {
			Error apiError `json:"error"`
		}
		require.NoError(t, json.Unmarshal(b, &e), "%s %s", tc.method, tc.path)
		assert.Equal(t, "streaming_disabled", e.Error.Code, "%s %s", tc.method, tc.path)
	}

	code, b := s.do(t, http.MethodGet, "/api/v1/logs/history?job_id=j1", "", nil)
	require.Equal(t, http.StatusOK, code, string(b))
	assert.Contains(t, string(b), "boom while disabled")
	code, b = s.do(t, http.MethodGet, "/api/v1/logs/tail?follow=false&job_id=j1", "", nil)
	require.Equal(t, http.StatusOK, code, string(b))
	assert.True(t, strings.Contains(string(b), "boom while disabled"), string(b))
	code, _ = s.do(t, http.MethodGet, "/api/v1/logs/streams", "", nil)
	assert.Equal(t, http.StatusOK, code)
	code, _ = s.do(t, http.MethodGet, "/api/v1/jobs", "", nil)
	assert.Equal(t, http.StatusOK, code)
}

// The default keeps streams on.
func TestStreamsEnabledByDefault(t *testing.T) {
	s := startServer(t, nil)
	code, b := s.do(t, http.MethodPost, "/api/v1/logs/streams", "", map[string]any{"filters": map[string]any{"job_id": "j1"}})
	assert.Equal(t, http.StatusCreated, code, string(b))
}
