package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// A hold long enough that any line waiting for it would never reach the tail in the test.
const longHold = `
processors:
  jobcorrelation:
    hold:
      max_wait: 10m
`

// openWS creates a stream with filters and attaches over WebSocket.
func openWS(t *testing.T, ctx context.Context, c *Collector, filters map[string]any) *websocket.Conn {
	t.Helper()
	code, b := tsRequest(t, http.MethodPost, c.TailstreamURL+"/api/v1/logs/streams", "", map[string]any{"filters": filters})
	require.Equal(t, http.StatusCreated, code, string(b))
	var v struct {
		Endpoint string `json:"endpoint"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	ws, _, err := websocket.Dial(ctx, v.Endpoint, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func readEntry(t *testing.T, ctx context.Context, ws *websocket.Conn) tsEntry {
	t.Helper()
	for {
		_, data, err := ws.Read(ctx)
		require.NoError(t, err, "no entry arrived (held for correlation?)")
		var e tsEntry
		require.NoError(t, json.Unmarshal(data, &e), string(data))
		if e.Type == "" {
			return e
		}
	}
}

func liveTracedLogs(service string, recs ...[2]string) plog.Logs { // {trace id hex or "", body}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, r := range recs {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr(r[1])
		if r[0] != "" {
			lr.SetTraceID(tid(r[0]))
		}
	}
	return ld
}

func tid(s string) pcommon.TraceID {
	var id pcommon.TraceID
	for i := range id {
		var b byte
		for _, c := range s[2*i : 2*i+2] {
			b <<= 4
			switch {
			case c >= '0' && c <= '9':
				b |= byte(c - '0')
			default:
				b |= byte(c-'a') + 10
			}
		}
		id[i] = b
	}
	return id
}

// Issue 13, point 1, through the built collector with collector.yaml: a traced log of a
// trace that is no job's, and a plain line after it in the same resource and scope, reach an
// unfiltered stream while the export path still holds them for correlation.
func TestLiveTailDoesNotWaitForTheHold(t *testing.T) {
	c := StartCollector(t, WithoutRedis(), WithFileExporter(), WithOverlay(longHold))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws := openWS(t, ctx, c, map[string]any{})
	c.SendLogs(t, liveTracedLogs("shop-api",
		[2]string{"7d3a1b2c3d4e5f60718293a4b5c6d7e8", "GET /cart handled"},
		[2]string{"", "plain line after it"},
	))
	assert.Equal(t, "GET /cart handled", readEntry(t, ctx, ws).Message)
	assert.Equal(t, "plain line after it", readEntry(t, ctx, ws).Message)

	// The export path keeps the hold: nothing of that scope has left for the exporters.
	time.Sleep(time.Second)
	for _, r := range c.AllLogRecords(t) {
		assert.NotEqual(t, "GET /cart handled", r.Body().AsString(), "the export path did not hold")
	}
}

// Issue 13, point 2: a stream following a known job receives a line that carries only the
// job's trace id at once, even behind an unknown-trace line of the same scope.
func TestJobStreamGetsTraceOnlyLineOfKnownJobAtOnce(t *testing.T) {
	c := StartCollector(t, WithoutRedis(), WithOverlay(longHold))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const jobTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "jobqueue")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(tid(jobTrace))
	sp.SetSpanID(pcommon.SpanID{0xab, 1, 2, 3, 4, 5, 6, 7})
	sp.SetKind(ptrace.SpanKindConsumer)
	sp.SetName("process high_priority")
	now := time.Now()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	for k, v := range map[string]string{"job.id": "live-job-1", "job.status": "running", "queue.name": "high_priority", "worker.id": "e2e-host-1-1700000000000000000-ab12-0"} {
		sp.Attributes().PutStr(k, v)
	}
	sp.Attributes().PutInt("job.attempt", 1)
	c.SendTraces(t, td)
	Eventually(t, 30*time.Second, func() bool {
		code, b := tsRequest(t, http.MethodGet, c.TailstreamURL+"/api/v1/jobs", "", nil)
		return code == http.StatusOK && strings.Contains(string(b), "live-job-1")
	}, "the job span never reached the catalog")

	ws := openWS(t, ctx, c, map[string]any{"job_id": "live-job-1"})
	c.SendLogs(t, liveTracedLogs("worker",
		[2]string{"00000000000000000000000000c0ffee", "some request"},
		[2]string{jobTrace, "uploading file, trace id only"},
	))
	e := readEntry(t, ctx, ws)
	assert.Equal(t, "uploading file, trace id only", e.Message)
	assert.Equal(t, "live-job-1", e.JobID)
	assert.Equal(t, "high_priority", e.Attrs["queue.name"])
}
