package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

type tsEntry struct {
	Type      string         `json:"type"`
	Seq       uint64         `json:"seq"`
	Message   string         `json:"message"`
	Level     string         `json:"level"`
	JobID     string         `json:"job_id"`
	WorkerID  string         `json:"worker_id"`
	Service   string         `json:"service"`
	TraceID   string         `json:"trace_id"`
	Attrs     map[string]any `json:"attributes"`
	Timestamp time.Time      `json:"timestamp"`
}

func tsLogs(service string, recs ...[3]string) plog.Logs { // {job, level, message}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, r := range recs {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.SetSeverityText(r[1])
		lr.Body().SetStr(r[2])
		lr.Attributes().PutStr("job.id", r[0])
		lr.Attributes().PutStr("worker.id", "e2e-host-1-1700000000000000000-ab12-0")
		lr.Attributes().PutStr("customer.email", "jane.customer@example.com")
	}
	return ld
}

func tsRequest(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestTailstreamEndToEnd: OTLP logs into the built collector (collector.yaml pipelines:
// jobcorrelation, piiredaction, tailstream exporter), filtered out over WebSocket and SSE.
func TestTailstreamEndToEnd(t *testing.T) {
	c := StartCollector(t, WithoutRedis())
	api := c.TailstreamURL + "/api/v1"

	// A WebSocket stream for one job, errors only, created through the API.
	code, b := tsRequest(t, http.MethodPost, api+"/logs/streams", "", map[string]any{
		"filters": map[string]any{"job_id": "e2e-job-1", "log_level": []string{"error"}},
		"options": map[string]any{"follow": true},
	})
	require.Equal(t, http.StatusCreated, code, string(b))
	var created struct {
		StreamID    string `json:"stream_id"`
		Endpoint    string `json:"endpoint"`
		SSEEndpoint string `json:"sse_endpoint"`
	}
	require.NoError(t, json.Unmarshal(b, &created))
	require.True(t, strings.HasPrefix(created.Endpoint, "ws://"), created.Endpoint)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, created.Endpoint, nil)
	require.NoError(t, err)
	defer ws.CloseNow()

	// An SSE one-shot tail with an OTTL filter, the way curl -N would use it.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		api+"/logs/tail?follow=true&ottl="+url.QueryEscape(`IsMatch(body, "^e2e-sse")`), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	c.SendLogs(t, tsLogs("e2e-worker",
		[3]string{"e2e-job-1", "info", "e2e-ws started"},
		[3]string{"e2e-job-1", "error", "e2e-ws failed for jane.customer@example.com"},
		[3]string{"e2e-job-2", "error", "e2e-ws other job"},
		[3]string{"e2e-job-3", "warn", "e2e-sse retrying"},
	))

	_, data, err := ws.Read(ctx)
	require.NoError(t, err)
	var got tsEntry
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, "e2e-job-1", got.JobID)
	assert.Equal(t, "error", got.Level)
	assert.Equal(t, "e2e-worker", got.Service)
	assert.True(t, strings.HasPrefix(got.Message, "e2e-ws failed for "), got.Message)
	assert.NotContains(t, string(data), "jane.customer@example.com", "piiredaction runs before the stream")
	assert.NotZero(t, got.Seq)

	sc := bufio.NewScanner(resp.Body)
	var id string
	var sse tsEntry
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "id: ") {
			id = line[4:]
		}
		if strings.HasPrefix(line, "data: ") {
			require.NoError(t, json.Unmarshal([]byte(line[6:]), &sse))
			if sse.Type == "" {
				break
			}
		}
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, "e2e-sse retrying", sse.Message)
	assert.Equal(t, "e2e-job-3", sse.JobID)
	assert.NotEmpty(t, id)

	// The history API saw all four lines.
	code, b = tsRequest(t, http.MethodGet, api+"/logs/history?text=e2e-", "", nil)
	require.Equal(t, http.StatusOK, code, string(b))
	var hist struct {
		Total int `json:"total"`
	}
	require.NoError(t, json.Unmarshal(b, &hist))
	assert.Equal(t, 4, hist.Total)

	code, b = tsRequest(t, http.MethodGet, api+"/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(b), `"/api/v1/logs/streams"`)
}

// TestTailstreamEndToEndAuth: with an admin user whose token comes from JOBTRACE_TOKEN the
// API refuses anonymous callers.
func TestTailstreamEndToEndAuth(t *testing.T) {
	c := StartCollector(t, WithoutRedis(), WithEnv("JOBTRACE_TOKEN", "e2e-secret-token"), WithOverlay(`
extensions:
  tailstream:
    users:
      - name: admin
        token: ${env:JOBTRACE_TOKEN}
        roles: [admin]
`))
	api := c.TailstreamURL + "/api/v1"
	code, b := tsRequest(t, http.MethodGet, api+"/logs/streams", "", nil)
	assert.Equal(t, http.StatusUnauthorized, code, string(b))
	code, _ = tsRequest(t, http.MethodGet, api+"/logs/streams", "wrong", nil)
	assert.Equal(t, http.StatusUnauthorized, code)
	code, b = tsRequest(t, http.MethodGet, api+"/logs/streams", "e2e-secret-token", nil)
	assert.Equal(t, http.StatusOK, code, string(b))
	assert.NotContains(t, c.Output(), "e2e-secret-token", "the token is never logged")
}
