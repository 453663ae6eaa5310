package tailstreamextension

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func lines(job string, from, to int) []rec {
	var out []rec
	for i := from; i <= to; i++ {
		out = append(out, rec{job: job, queue: "high", level: "info", msg: fmt.Sprintf("%s line %d", job, i)})
	}
	return out
}

func seqs(ms []msg) []uint64 {
	var out []uint64
	for _, m := range entries(ms) {
		out = append(out, m.Seq)
	}
	return out
}

// TestSSEResumeWithoutDuplicates reads part of a stream over SSE, disconnects, lets lines
// arrive, and resumes with Last-Event-ID: every line arrives exactly once, in order.
func TestSSEResumeWithoutDuplicates(t *testing.T) {
	srv := startServer(t, nil)
	v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}})

	c1 := openSSE(t, v.SSEEndpoint, "", nil)
	srv.publish(t, lines("j1", 1, 5)...)
	srv.publish(t, lines("other", 1, 3)...)
	first := c1.read(t, nEntries(5))
	c1.close()
	lastID := entries(first)[2].ID // resume from the 3rd: lines 4 and 5 must come again, once

	srv.publish(t, lines("j1", 6, 8)...)
	c2 := openSSE(t, v.SSEEndpoint, "", http.Header{"Last-Event-ID": {lastID}})
	second := c2.read(t, nEntries(5))
	assert.Equal(t, []string{"j1 line 4", "j1 line 5", "j1 line 6", "j1 line 7", "j1 line 8"}, messages(second))

	srv.publish(t, lines("j1", 9, 9)...)
	third := c2.read(t, nEntries(1))
	assert.Equal(t, []string{"j1 line 9"}, messages(third))
	all := append(seqs(second), seqs(third)...)
	for i := 1; i < len(all); i++ {
		assert.Greater(t, all[i], all[i-1], "seqs strictly increase: %v", all)
	}

	// Reattaching without Last-Event-ID continues after what was delivered: no repeats.
	c2.close()
	c3 := openSSE(t, v.SSEEndpoint, "", nil)
	srv.publish(t, lines("j1", 10, 10)...)
	assert.Equal(t, []string{"j1 line 10"}, messages(c3.read(t, nEntries(1))))
}

func TestWebSocketResumeAndSuffix(t *testing.T) {
	srv := startServer(t, nil)
	v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}})
	c := dialWS(t, v.Endpoint+"/ws", "", nil)
	srv.publish(t, lines("j1", 1, 4)...)
	got := readWS(t, c, nEntries(4))
	c.Close(websocket.StatusNormalClosure, "")

	srv.publish(t, lines("j1", 5, 6)...)
	c2 := dialWS(t, v.Endpoint, "", http.Header{"Last-Event-ID": {strconv.FormatUint(entries(got)[1].Seq, 10)}})
	assert.Equal(t, []string{"j1 line 3", "j1 line 4", "j1 line 5", "j1 line 6"}, messages(readWS(t, c2, nEntries(4))))

	code, b := srv.do(t, http.MethodGet, "/api/v1/logs/streams/"+v.StreamID+"/events?last_event_id=abc", "", nil)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "Last-Event-ID", apiErr(t, b).Field)
}

func TestTailLinesSinceUntil(t *testing.T) {
	srv := startServer(t, nil)
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	var recs []rec
	for i := 1; i <= 10; i++ {
		recs = append(recs, rec{job: "j1", level: "info", msg: fmt.Sprintf("line %d", i), ts: base.Add(time.Duration(i) * time.Minute)})
	}
	srv.publish(t, recs...)

	t.Run("tail_lines then live over WebSocket", func(t *testing.T) {
		v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}, "options": map[string]any{"tail_lines": 3}})
		c := dialWS(t, v.Endpoint, "", nil)
		srv.publish(t, rec{job: "j1", msg: "live 1"})
		got := readWS(t, c, nEntries(4))
		assert.Equal(t, []string{"line 8", "line 9", "line 10", "live 1"}, messages(got))
	})
	t.Run("follow without tail_lines is live only", func(t *testing.T) {
		v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}})
		c := dialWS(t, v.Endpoint, "", nil)
		srv.publish(t, rec{job: "j1", msg: "live 2"})
		assert.Equal(t, []string{"live 2"}, messages(readWS(t, c, nEntries(1))))
	})
	t.Run("one-shot tail: since and until, NDJSON", func(t *testing.T) {
		q := "/api/v1/logs/tail?job_id=j1&since=" + base.Add(4*time.Minute).Format(time.RFC3339) + "&until=" + base.Add(6*time.Minute).Format(time.RFC3339)
		req, _ := http.NewRequest(http.MethodGet, srv.base+q, nil)
		req.Header.Set("Accept", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
		var got []string
		dec := json.NewDecoder(resp.Body)
		for dec.More() {
			var m msg
			require.NoError(t, dec.Decode(&m))
			got = append(got, m.Message)
		}
		assert.Equal(t, []string{"line 4", "line 5", "line 6"}, got)
		assert.Equal(t, 2, srv.ext.hub.Len(), "the one-shot stream is gone; the two above remain")
	})
	t.Run("one-shot tail: follow over SSE with tail_lines", func(t *testing.T) {
		c := openSSE(t, srv.base+"/api/v1/logs/tail?job_id=j1&follow=true&tail_lines=2&level=info,warn", "", nil)
		srv.publish(t, rec{job: "j1", level: "warn", msg: "live 3"}, rec{job: "j1", level: "error", msg: "not this"})
		got := c.read(t, nEntries(3))
		msgs := messages(got)
		assert.Equal(t, "live 3", msgs[len(msgs)-1])
		assert.Len(t, msgs, 3)
		c.close()
		require.Eventually(t, func() bool { return srv.ext.hub.Len() == 2 }, 5*time.Second, 10*time.Millisecond, "one-shot stream removed on disconnect")
	})
	t.Run("one-shot tail over WebSocket", func(t *testing.T) {
		c := dialWS(t, "ws"+srv.base[4:]+"/api/v1/logs/tail?job_id=j1&tail_lines=2", "", nil)
		got := readWS(t, c, nEntries(2))
		assert.Len(t, messages(got), 2)
		_, _, err := c.Read(context.Background())
		assert.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err), "non-follow ends with a normal close")
	})
}

// TestRateLimitReported checks the token bucket drops with reason rate_limited, reports
// them in-band and shows rate_limited as the status.
func TestRateLimitReported(t *testing.T) {
	srv := startServer(t, nil)
	v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}, "options": map[string]any{"rate_limit": 5}})
	c := dialWS(t, v.Endpoint, "", nil)
	srv.publish(t, lines("j1", 1, 50)...)
	got := readWS(t, c, func(ms []msg) bool {
		for _, m := range ms {
			if m.Type == "dropped" {
				return len(entries(ms)) >= 5
			}
		}
		return false
	})
	assert.Len(t, entries(got), 5, "burst = one second of the rate")
	var dropped uint64
	for _, m := range got {
		if m.Type == "dropped" {
			assert.Equal(t, "rate_limited", m.Reason)
			dropped += m.Count
		}
	}
	assert.EqualValues(t, 45, dropped)
	st := getStream(t, srv, v.StreamID)
	assert.Equal(t, "rate_limited", st["status"])
	assert.EqualValues(t, 45, st["stats"].(map[string]any)["lines_dropped"])

	// PATCH raises the rate: new lines flow again.
	code, b := srv.do(t, http.MethodPatch, "/api/v1/logs/streams/"+v.StreamID, "", map[string]any{"options": map[string]any{"rate_limit": 1000}})
	require.Equal(t, http.StatusOK, code, string(b))
	srv.publish(t, lines("j1", 51, 60)...)
	more := readWS(t, c, nEntries(10))
	assert.Equal(t, "j1 line 60", messages(more)[9])
}

// TestBufferFullReported fills a stream's queue while no client is attached: the overflow
// is dropped (ingest never waits), and the client hears about it and about the warning.
func TestBufferFullReported(t *testing.T) {
	srv := startServer(t, nil)
	v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}, "options": map[string]any{"buffer_size": 10}})
	srv.publish(t, lines("j1", 1, 30)...)
	st := getStream(t, srv, v.StreamID)["stats"].(map[string]any)
	assert.EqualValues(t, 1, st["buffer_usage"])
	assert.EqualValues(t, 20, st["lines_dropped"])

	c := openSSE(t, v.SSEEndpoint, "", nil)
	got := c.read(t, nEntries(10))
	var sawDrop, sawWarn bool
	for _, m := range got {
		switch m.Type {
		case "dropped":
			sawDrop = true
			assert.Equal(t, "dropped", m.Event)
			assert.Equal(t, "buffer_full", m.Reason)
			assert.EqualValues(t, 20, m.Count)
		case "warning":
			sawWarn = true
			assert.Greater(t, m.Usage, 0.8)
		}
	}
	assert.True(t, sawDrop, "drop report: %+v", got)
	assert.True(t, sawWarn, "buffer warning: %+v", got)
	assert.Equal(t, "j1 line 1", messages(got)[0], "the queue keeps the oldest lines")
}

func TestPatchPauseResumeAndFilterChange(t *testing.T) {
	srv := startServer(t, nil)
	v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}})
	c := dialWS(t, v.Endpoint, "", nil)

	oldExp := v.ExpiresAt
	code, b := srv.do(t, http.MethodPatch, "/api/v1/logs/streams/"+v.StreamID, "", map[string]any{"status": "paused"})
	require.Equal(t, http.StatusOK, code, string(b))
	var pv streamView
	require.NoError(t, json.Unmarshal(b, &pv))
	assert.Equal(t, "paused", pv.Status)
	assert.True(t, pv.ExpiresAt.After(oldExp), "PATCH renews the expiry")
	got := readWS(t, c, func(ms []msg) bool { return len(ms) > 0 && ms[len(ms)-1].Status == "paused" })
	assert.Empty(t, entries(got))

	srv.publish(t, lines("j1", 1, 2)...)
	code, _ = srv.do(t, http.MethodPatch, "/api/v1/logs/streams/"+v.StreamID, "", map[string]any{"action": "resume", "filters": map[string]any{"job_id": "j2"}})
	require.Equal(t, http.StatusOK, code)
	srv.publish(t, lines("j1", 3, 3)...)
	srv.publish(t, lines("j2", 1, 1)...)
	got = readWS(t, c, nEntries(3))
	assert.Equal(t, []string{"j1 line 1", "j1 line 2", "j2 line 1"}, messages(got), "lines queued while paused arrive on resume; then the new filter applies")

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"status": "sleeping"}, "status"},
		{map[string]any{"options": map[string]any{"buffer_size": 5}}, "options"},
		{map[string]any{"options": map[string]any{"rate_limit": -1}}, "options.rate_limit"},
		{map[string]any{"filters": map[string]any{"ottl": "attributes[\"x\" =="}}, "filters.ottl"},
	} {
		code, b := srv.do(t, http.MethodPatch, "/api/v1/logs/streams/"+v.StreamID, "", tc.body)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Equal(t, tc.field, apiErr(t, b).Field, string(b))
	}
}

func TestDeleteClosesConnections(t *testing.T) {
	srv := startServer(t, nil)
	v := srv.create(t, "", map[string]any{})
	c := dialWS(t, v.Endpoint, "", nil)
	waitAttached(t, srv, 1)
	sse := openSSE(t, v.SSEEndpoint, "", nil) // takes the stream over from the WebSocket
	_, _, err := c.Read(context.Background())
	assert.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "replaced attachment is told not to reconnect")

	code, _ := srv.do(t, http.MethodDelete, "/api/v1/logs/streams/"+v.StreamID, "", nil)
	assert.Equal(t, http.StatusNoContent, code)
	got := sse.readAll(t)
	require.NotEmpty(t, got)
	assert.Equal(t, "closed", got[len(got)-1].Status)
	code, _ = srv.do(t, http.MethodGet, "/api/v1/logs/streams/"+v.StreamID, "", nil)
	assert.Equal(t, http.StatusNotFound, code)

	c2 := srv.create(t, "", map[string]any{})
	ws := dialWS(t, c2.Endpoint, "", nil)
	srv.do(t, http.MethodDelete, "/api/v1/logs/streams/"+c2.StreamID, "", nil)
	_, _, err = ws.Read(context.Background())
	assert.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))
}

// TestExpiryAndIdle drives the sweeper with a clock far ahead instead of sleeping.
func TestExpiryAndIdle(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.Streams.Expiry = time.Hour; c.Streams.IdleTimeout = 5 * time.Minute })
	attached := srv.create(t, "", map[string]any{})
	idle := srv.create(t, "", map[string]any{})
	c := dialWS(t, attached.Endpoint, "", nil)
	waitAttached(t, srv, 1)

	srv.ext.sweep(time.Now().Add(10 * time.Minute))
	_, ok := srv.ext.hub.Get(idle.StreamID)
	assert.False(t, ok, "unattached stream idles out")
	_, ok = srv.ext.hub.Get(attached.StreamID)
	assert.True(t, ok, "attached stream is not idle")

	srv.ext.sweep(time.Now().Add(2 * time.Hour))
	_, _, err := c.Read(context.Background())
	var ce websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.StatusNormalClosure, ce.Code)
	assert.Equal(t, "stream expired", ce.Reason)
	code, _ := srv.do(t, http.MethodGet, "/api/v1/logs/streams/"+attached.StreamID, "", nil)
	assert.Equal(t, http.StatusNotFound, code)
}

func TestLimitsAndValidation(t *testing.T) {
	srv := startServer(t, func(c *Config) {
		c.Streams.MaxStreams = 3
		c.Streams.MaxStreamsPerUser = 2
		c.Streams.MaxFilterBytes = 200
		c.Users = []UserConfig{
			{Name: "a", Token: "token-a", Roles: []string{roleLogViewer}},
			{Name: "b", Token: "token-b", Roles: []string{roleLogViewer}},
		}
	})
	srv.create(t, "token-a", map[string]any{})
	srv.create(t, "token-a", map[string]any{})
	code, b := srv.do(t, http.MethodPost, "/api/v1/logs/streams", "token-a", map[string]any{})
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Contains(t, apiErr(t, b).Message, "max_streams_per_user")
	srv.create(t, "token-b", map[string]any{})
	code, b = srv.do(t, http.MethodPost, "/api/v1/logs/streams", "token-b", map[string]any{})
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Contains(t, apiErr(t, b).Message, "streams.max_streams")

	for _, tc := range []struct {
		name  string
		body  any
		field string
		msg   string
	}{
		{"ottl syntax", map[string]any{"filters": map[string]any{"ottl": `attributes["x"] ==`}}, "filters.ottl", "invalid OTTL condition: "},
		{"ottl unknown function", map[string]any{"filters": map[string]any{"ottl": `Nope(body)`}}, "filters.ottl", "Nope"},
		{"level", map[string]any{"filters": map[string]any{"log_level": []string{"loud"}}}, "filters.log_level", `unknown level "loud"`},
		{"trace id", map[string]any{"filters": map[string]any{"trace_id": "xyz"}}, "filters.trace_id", "32 hex"},
		{"since", map[string]any{"filters": map[string]any{"since": "yesterday"}}, "filters.since", "RFC 3339"},
		{"until before since", map[string]any{"filters": map[string]any{"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}}, "filters.until", "before since"},
		{"filter size", map[string]any{"filters": map[string]any{"text": string(make([]byte, 300))}}, "filters", "max_filter_bytes"},
		{"rate", map[string]any{"options": map[string]any{"rate_limit": 0}}, "options.rate_limit", "between 1"},
		{"buffer", map[string]any{"options": map[string]any{"buffer_size": 1 << 30}}, "options.buffer_size", "between 1"},
		{"tail", map[string]any{"options": map[string]any{"tail_lines": -5}}, "options.tail_lines", "-1"},
		{"unknown field", map[string]any{"filter": map[string]any{}}, "filter", "unknown field"},
		{"wrong type", map[string]any{"options": map[string]any{"follow": "yes"}}, "options.follow", "bool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ext.hub.CloseAll("deleted")
			code, b := srv.do(t, http.MethodPost, "/api/v1/logs/streams", "token-a", tc.body)
			require.Equal(t, http.StatusBadRequest, code, string(b))
			e := apiErr(t, b)
			assert.Equal(t, tc.field, e.Field)
			assert.Contains(t, e.Message, tc.msg)
			assert.NotEmpty(t, e.Code)
		})
	}
	code, b = srv.do(t, http.MethodGet, "/api/v1/logs/history?limit=100000", "token-a", nil)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "limit", apiErr(t, b).Field)
}

// TestWriteTimeoutDoesNotCutStreams configures a tiny server write_timeout: ordinary
// requests keep it, but streams outlive it.
func TestWriteTimeoutDoesNotCutStreams(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.WriteTimeout = 100 * time.Millisecond })
	v := srv.create(t, "", map[string]any{})
	ws := dialWS(t, v.Endpoint+"/ws", "", nil)
	v2 := srv.create(t, "", map[string]any{})
	sse := openSSE(t, v2.SSEEndpoint, "", nil)
	time.Sleep(400 * time.Millisecond) // several write timeouts
	srv.publish(t, rec{msg: "still here"})
	assert.Equal(t, []string{"still here"}, messages(readWS(t, ws, nEntries(1))))
	assert.Equal(t, []string{"still here"}, messages(sse.read(t, nEntries(1))))
}

func TestHistoryPaging(t *testing.T) {
	srv := startServer(t, nil)
	srv.publish(t, lines("j1", 1, 25)...)
	srv.publish(t, lines("j2", 1, 5)...)
	var page struct {
		Entries    []msg `json:"entries"`
		Total      int   `json:"total"`
		NextOffset *int  `json:"next_offset"`
	}
	code, b := srv.do(t, http.MethodGet, "/api/v1/logs/history?job_id=j1&limit=10&offset=10", "", nil)
	require.Equal(t, http.StatusOK, code, string(b))
	require.NoError(t, json.Unmarshal(b, &page))
	assert.Equal(t, 25, page.Total)
	require.Len(t, page.Entries, 10)
	assert.Equal(t, "j1 line 15", page.Entries[0].Message, "newest first")
	assert.Equal(t, "j1 line 6", page.Entries[9].Message)
	require.NotNil(t, page.NextOffset)
	assert.Equal(t, 20, *page.NextOffset)

	code, b = srv.do(t, http.MethodGet, "/api/v1/logs/history?job_id=j1&limit=10&offset=20", "", nil)
	require.Equal(t, http.StatusOK, code)
	page.NextOffset = nil
	require.NoError(t, json.Unmarshal(b, &page))
	assert.Len(t, page.Entries, 5)
	assert.Nil(t, page.NextOffset)
}

func TestRingRetentionServesReplay(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.Retention.BufferSize = 10 })
	srv.publish(t, lines("j1", 1, 25)...)
	v := srv.create(t, "", map[string]any{"options": map[string]any{"follow": false}})
	got := openSSE(t, v.SSEEndpoint, "", nil).readAll(t)
	assert.Equal(t, "j1 line 16", messages(got)[0])
	assert.Len(t, messages(got), 10)
	assert.EqualValues(t, 25, entries(got)[9].Seq)
}

func TestLogsForJob(t *testing.T) {
	srv := startServer(t, nil)
	srv.publish(t, lines("j1", 1, 5)...)
	srv.publish(t, lines("j2", 1, 5)...)
	got := srv.ext.logsForJob("j1", 3, nil)
	require.Len(t, got, 3)
	assert.Equal(t, "j1 line 3", got[0].Message)
	assert.Equal(t, "j1 line 5", got[2].Message)
	assert.Less(t, got[0].Seq, got[2].Seq)
	assert.Len(t, srv.ext.logsForJob("j2", 0, nil), 5)
	assert.Empty(t, srv.ext.logsForJob("nope", 0, nil))
}

// waitAttached waits until n attachments were audited: the server attaches after the
// handshake returns to the client, so ordering-sensitive tests wait for it.
func waitAttached(t *testing.T, srv *testServer, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		return srv.audit.FilterField(zap.String("action", "stream.attach")).Len() >= n
	}, 5*time.Second, time.Millisecond)
}
