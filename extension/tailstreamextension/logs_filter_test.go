package tailstreamextension

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
)

const (
	traceA = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceB = "0af7651916cd43dd8448eb211c80319c"
)

func filterCorpus(base time.Time) []rec {
	return []rec{
		{msg: "job started alpha", job: "j1", worker: "w1", queue: "high", level: "info", service: "svcA", trace: traceA, attrs: map[string]any{"retries": 1}, ts: base},
		{msg: "Database TIMEOUT beta", job: "j1", worker: "w2", queue: "high", level: "error", service: "svcA", trace: traceA, attrs: map[string]any{"error_code": "TIMEOUT"}, ts: base.Add(time.Minute)},
		{msg: "job retried gamma", job: "j2", worker: "w1", queue: "low", level: "WARNING", service: "svcB", trace: traceB, attrs: map[string]any{"retries": 3}, ts: base.Add(2 * time.Minute)},
		{msg: "cache miss delta", job: "j3", worker: "w3", queue: "low", level: "debug", service: "svcB", ts: base.Add(3 * time.Minute)},
		{msg: "worker crashed epsilon", level: "fatal", service: "svcC", ts: base.Add(4 * time.Minute)},
	}
}

// TestFilterTable runs every filter field and OTTL through the three users of the one
// filter type: a live WebSocket stream (OTTL on the pipeline's record), a non-follow SSE
// stream replaying the ring (OTTL on the rebuilt record) and /logs/history.
func TestFilterTable(t *testing.T) {
	base := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	at := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339) }
	tests := []struct {
		name   string
		spec   logfilter.Spec
		want   []string // message prefixes
		noLive bool     // until in the past makes a stream finish after its replay
	}{
		{name: "none", want: []string{"job started", "Database", "job retried", "cache miss", "worker crashed"}},
		{name: "job_id", spec: logfilter.Spec{JobID: "j1"}, want: []string{"job started", "Database"}},
		{name: "worker_id", spec: logfilter.Spec{WorkerID: "w1"}, want: []string{"job started", "job retried"}},
		{name: "queue_name", spec: logfilter.Spec{QueueName: "low"}, want: []string{"job retried", "cache miss"}},
		{name: "log_level set", spec: logfilter.Spec{LogLevel: []string{"error", "fatal"}}, want: []string{"Database", "worker crashed"}},
		{name: "log_level alias", spec: logfilter.Spec{LogLevel: []string{"warning"}}, want: []string{"job retried"}},
		{name: "service", spec: logfilter.Spec{Service: "svcB"}, want: []string{"job retried", "cache miss"}},
		{name: "trace_id", spec: logfilter.Spec{TraceID: traceA}, want: []string{"job started", "Database"}},
		{name: "since", spec: logfilter.Spec{Since: at(150 * time.Second)}, want: []string{"cache miss", "worker crashed"}},
		{name: "until", spec: logfilter.Spec{Until: at(90 * time.Second)}, want: []string{"job started", "Database"}, noLive: true},
		{name: "since and until", spec: logfilter.Spec{Since: at(time.Minute), Until: at(2 * time.Minute)}, want: []string{"Database", "job retried"}, noLive: true},
		{name: "text case-insensitive", spec: logfilter.Spec{Text: "timeout"}, want: []string{"Database"}},
		{name: "ottl attribute", spec: logfilter.Spec{OTTL: `attributes["retries"] > 2`}, want: []string{"job retried"}},
		{name: "ottl resource", spec: logfilter.Spec{OTTL: `resource.attributes["service.name"] == "svcC"`}, want: []string{"worker crashed"}},
		{name: "ottl severity_text", spec: logfilter.Spec{OTTL: `severity_text == "error"`}, want: []string{"Database"}},
		{name: "ottl converter on body", spec: logfilter.Spec{OTTL: `IsMatch(body, "^job ")`}, want: []string{"job started", "job retried"}},
		{name: "ottl trace_id", spec: logfilter.Spec{OTTL: `trace_id.string == "` + traceB + `"`}, want: []string{"job retried"}},
		{name: "fields and ottl", spec: logfilter.Spec{JobID: "j1", OTTL: `attributes["retries"] == 1`}, want: []string{"job started"}},
		{name: "fields combined", spec: logfilter.Spec{JobID: "j1", LogLevel: []string{"error"}}, want: []string{"Database"}},
		{name: "no match", spec: logfilter.Spec{JobID: "j1", QueueName: "low"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, nil)
			corpus := filterCorpus(base)

			var live streamView
			var ws interface{ CloseNow() error }
			if !tt.noLive {
				live = srv.create(t, "", map[string]any{"filters": tt.spec, "options": map[string]any{"follow": true}})
				assert.Equal(t, tt.spec.Applied(), live.FiltersApplied)
				c := dialWS(t, live.Endpoint, "", nil)
				ws = c
				srv.publish(t, corpus...)
				waitStats(t, srv, live.StreamID, func(st map[string]any) bool {
					return int(st["lines_streamed"].(float64)) == len(tt.want) &&
						int(st["lines_filtered"].(float64)) == len(corpus)-len(tt.want)
				})
				got := readWS(t, c, nEntries(len(tt.want)))
				assertPrefixes(t, tt.want, messages(got), "live WebSocket")
			} else {
				srv.publish(t, corpus...)
			}
			_ = ws

			replay := srv.create(t, "", map[string]any{"filters": tt.spec, "options": map[string]any{"follow": false}})
			sse := openSSE(t, replay.SSEEndpoint, "", nil)
			got := sse.readAll(t)
			assertPrefixes(t, tt.want, messages(got), "replay over SSE")
			for _, m := range entries(got) {
				assert.Equal(t, m.ID, jsonNum(m.Seq), "SSE id is the seq")
			}

			q := url.Values{}
			for k, v := range map[string]string{"job_id": tt.spec.JobID, "worker_id": tt.spec.WorkerID, "queue_name": tt.spec.QueueName,
				"service": tt.spec.Service, "trace_id": tt.spec.TraceID, "since": tt.spec.Since, "until": tt.spec.Until, "text": tt.spec.Text, "ottl": tt.spec.OTTL} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if len(tt.spec.LogLevel) > 0 {
				q.Set("level", strings.Join(tt.spec.LogLevel, ","))
			}
			code, b := srv.do(t, http.MethodGet, "/api/v1/logs/history?"+q.Encode(), "", nil)
			require.Equal(t, http.StatusOK, code, string(b))
			var hist struct {
				Entries []msg `json:"entries"`
				Total   int   `json:"total"`
			}
			require.NoError(t, json.Unmarshal(b, &hist))
			assert.Equal(t, len(tt.want), hist.Total)
			assertPrefixes(t, tt.want, messages(hist.Entries), "history")
		})
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func assertPrefixes(t *testing.T, want, got []string, what string) {
	t.Helper()
	require.Len(t, got, len(want), "%s: got %q", what, got)
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	for i := range w {
		assert.True(t, strings.HasPrefix(g[i], w[i]), "%s: %q does not start with %q (all: %q)", what, g[i], w[i], got)
	}
}

func getStream(t *testing.T, srv *testServer, id string) map[string]any {
	t.Helper()
	code, b := srv.do(t, http.MethodGet, "/api/v1/logs/streams/"+id, srv.tok, nil)
	require.Equal(t, http.StatusOK, code, string(b))
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

func waitStats(t *testing.T, srv *testServer, id string, ok func(map[string]any) bool) {
	t.Helper()
	var last map[string]any
	require.Eventually(t, func() bool {
		last = getStream(t, srv, id)["stats"].(map[string]any)
		return ok(last)
	}, 5*time.Second, 10*time.Millisecond, "stats never matched; last %v", last)
}
