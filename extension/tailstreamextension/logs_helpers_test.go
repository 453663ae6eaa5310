package tailstreamextension

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// rec describes one log record to publish.
type rec struct {
	job, worker, queue, level, service, trace, span, msg string
	attrs                                                map[string]any
	ts                                                   time.Time
}

func logsOf(recs ...rec) plog.Logs {
	ld := plog.NewLogs()
	for _, r := range recs {
		rl := ld.ResourceLogs().AppendEmpty()
		if r.service != "" {
			rl.Resource().Attributes().PutStr("service.name", r.service)
		}
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.Body().SetStr(r.msg)
		lr.SetSeverityText(r.level)
		ts := r.ts
		if ts.IsZero() {
			ts = time.Now()
		}
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		a := lr.Attributes()
		if r.job != "" {
			a.PutStr("job.id", r.job)
		}
		if r.worker != "" {
			a.PutStr("worker.id", r.worker)
		}
		if r.queue != "" {
			a.PutStr("queue.name", r.queue)
		}
		if r.trace != "" {
			b, _ := hex.DecodeString(r.trace)
			lr.SetTraceID(pcommon.TraceID(b))
		}
		if r.span != "" {
			b, _ := hex.DecodeString(r.span)
			lr.SetSpanID(pcommon.SpanID(b))
		}
		for k, v := range r.attrs {
			_ = a.PutEmpty(k).FromRaw(v)
		}
	}
	return ld
}

func (s *testServer) publish(t *testing.T, recs ...rec) {
	t.Helper()
	require.NoError(t, s.ext.PublishLogs(context.Background(), logsOf(recs...)))
}

func (s *testServer) create(t *testing.T, token string, body any) streamView {
	t.Helper()
	code, b := s.do(t, http.MethodPost, "/api/v1/logs/streams", token, body)
	require.Equal(t, http.StatusCreated, code, string(b))
	var v streamView
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

func apiErr(t *testing.T, b []byte) apiError {
	t.Helper()
	var e map[string]apiError
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	return e["error"]
}

func dialWS(t *testing.T, url, token string, hdr http.Header) *websocket.Conn {
	t.Helper()
	c, err := tryDialWS(url, token, hdr)
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func tryDialWS(url, token string, hdr http.Header) (*websocket.Conn, error) {
	if hdr == nil {
		hdr = http.Header{}
	}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err == nil {
		c.SetReadLimit(1 << 20)
	}
	return c, err
}

// msg is one decoded stream message: an entry (Type == "") or a control message.
type msg struct {
	Type    string         `json:"type"`
	Seq     uint64         `json:"seq"`
	Message string         `json:"message"`
	JobID   string         `json:"job_id"`
	Level   string         `json:"level"`
	Reason  string         `json:"reason"`
	Count   uint64         `json:"count"`
	Status  string         `json:"status"`
	Usage   float64        `json:"buffer_usage"`
	Attrs   map[string]any `json:"attributes"`
	Late    bool           `json:"late"`
	ID      string         `json:"-"` // SSE id:
	Event   string         `json:"-"` // SSE event:
}

// readWS reads messages until pred says stop (or 5 s pass, which fails the test).
func readWS(t *testing.T, c *websocket.Conn, stop func([]msg) bool) []msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []msg
	for !stop(out) {
		_, b, err := c.Read(ctx)
		require.NoError(t, err, "after %d messages: %+v", len(out), out)
		var m msg
		require.NoError(t, json.Unmarshal(b, &m), string(b))
		out = append(out, m)
	}
	return out
}

func entries(ms []msg) []msg {
	var out []msg
	for _, m := range ms {
		if m.Type == "" {
			out = append(out, m)
		}
	}
	return out
}

func nEntries(n int) func([]msg) bool {
	return func(ms []msg) bool { return len(entries(ms)) >= n }
}

func messages(ms []msg) []string {
	var out []string
	for _, m := range entries(ms) {
		out = append(out, m.Message)
	}
	return out
}

// sseClient is a minimal real EventSource-style client over net/http.
type sseClient struct {
	resp   *http.Response
	events chan msg
	done   chan struct{}
}

func openSSE(t *testing.T, url, token string, hdr http.Header) *sseClient {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	c := &sseClient{resp: resp, events: make(chan msg, 10000), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var id, event string
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if len(data) > 0 {
					var m msg
					_ = json.Unmarshal([]byte(strings.Join(data, "\n")), &m)
					m.ID, m.Event = id, event
					c.events <- m
				}
				id, event, data = "", "", nil
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[6:])
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() {
	c.resp.Body.Close()
	<-c.done
}

func (c *sseClient) read(t *testing.T, stop func([]msg) bool) []msg {
	t.Helper()
	timeout := time.After(5 * time.Second)
	var out []msg
	for !stop(out) {
		select {
		case m, ok := <-c.events:
			if !ok {
				return out
			}
			out = append(out, m)
		case <-timeout:
			require.FailNow(t, "timed out", "got %+v", out)
		}
	}
	return out
}

// readAll reads until the server ends the response.
func (c *sseClient) readAll(t *testing.T) []msg {
	return c.read(t, func([]msg) bool { return false })
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
