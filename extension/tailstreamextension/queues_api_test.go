package tailstreamextension

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/internal/conventions"
)

// queueFixture publishes two queues' attempts: a
// retried-then-succeeded job whose worker error arrives in the same batch, a dead-lettered one
// whose worker error arrives after its job span, and a job of another queue.
func queueFixture(t *testing.T, srv *testServer) {
	t.Helper()
	td := buildTraces(xT1,
		spanSpec{Service: "api", Name: "enqueue", ID: xid(1), Kind: ptrace.SpanKindProducer, Start: 0, End: 10},
		attemptSpan("q1", "payments", 1, xid(2), xid(1), 50, 350, conventions.StatusRetried, map[string]any{"job.type": "charge"}),
		spanSpec{Service: "payments", Name: "charge card", ID: xid(3), Parent: xid(2), Start: 60, End: 300, ErrMsg: "upstream 502",
			Attrs: map[string]any{"job.id": "q1"}},
		attemptSpan("q1", "payments", 2, xid(4), xid(1), 450, 650, conventions.StatusSucceeded, map[string]any{"job.type": "charge"}),
	)
	addException(td, xid(3), "UpstreamError", "upstream 502 from gw-3", "")
	require.NoError(t, srv.ext.PublishTraces(context.Background(), td))
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT2,
		attemptSpan("q2", "payments", 1, xid(12), "", 1000, 1100, conventions.StatusDeadLettered, map[string]any{"job.type": "refund"}),
	)))
	// In the late batch the outer span's bare status comes first; the inner span's exception
	// is the better message and wins.
	late := buildTraces(xT2,
		spanSpec{Service: "payments", Name: "handle", ID: xid(14), Parent: xid(12), Start: 1005, End: 1095,
			ErrMsg: "refund failed", Attrs: map[string]any{"job.id": "q2"}},
		spanSpec{Service: "payments", Name: "refund", ID: xid(13), Parent: xid(14), Start: 1010, End: 1090,
			ErrMsg: "locked", Attrs: map[string]any{"job.id": "q2"}})
	addException(late, xid(13), "LockError", "ledger 17 locked", "")
	require.NoError(t, srv.ext.PublishTraces(context.Background(), late))
	require.NoError(t, srv.ext.PublishTraces(context.Background(), buildTraces(xT3,
		attemptSpan("q3", "emails", 1, xid(21), "", 0, 40, conventions.StatusSucceeded, nil),
	)))
}

func TestQueuesEndpoint(t *testing.T) {
	// The window ends at the extension's clock: put it just after the fixture's times.
	srv := launch(t, withUsers(traceUsers), serverOpts{level: zap.InfoLevel, now: func() time.Time { return base.Add(time.Minute) }})
	queueFixture(t, srv)
	code, body := srv.get(t, "/queues", tokViewer)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, "15m0s", body["window"])
	qs := body["queues"].([]any)
	require.Len(t, qs, 2)
	emails, payments := qs[0].(map[string]any), qs[1].(map[string]any)
	assert.Equal(t, "emails", emails["queue"])
	assert.Equal(t, "payments", payments["queue"])
	assert.Equal(t, map[string]any{"succeeded": 1.0, "retried": 1.0, "dead_lettered": 1.0}, payments["counts"])
	assert.EqualValues(t, 3, payments["attempts"])
	assert.InDelta(t, 1.0/3, payments["retry_rate"], 1e-9)
	wait := payments["wait"].(map[string]any)
	// Attempt 1 of q1 waited 40 ms after its enqueue span, attempt 2 100 ms after attempt 1
	// ended; q2 has no known enqueue time. DDSketch's quantile q of n values is the value of
	// rank floor(q×(n−1)): of two, p50 and p99 are both the lower.
	assert.EqualValues(t, 2, wait["count"])
	assert.InEpsilon(t, 40, wait["p50_ms"], 0.011)
	assert.InEpsilon(t, 40, wait["p99_ms"], 0.011)
	run := payments["run"].(map[string]any)
	assert.EqualValues(t, 3, run["count"])
	assert.InEpsilon(t, 200, run["p50_ms"], 0.011, "runs of 300, 200 and 100 ms")
	assert.InEpsilon(t, 200, run["p99_ms"], 0.011)
	assert.Equal(t, []any{
		map[string]any{"message": "ledger … locked", "count": 1.0},
		map[string]any{"message": "upstream … from …", "count": 1.0},
	}, payments["top_errors"])
	types := payments["job_types"].([]any)
	require.Len(t, types, 2)
	assert.Equal(t, "charge", types[0].(map[string]any)["job_type"])
	assert.EqualValues(t, 2, types[0].(map[string]any)["attempts"])

	// Scoped callers: by queue, only theirs (none here: low_priority); by attribute, none.
	code, body = srv.get(t, "/queues", tokScoped)
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, body["queues"])
	code, body = srv.get(t, "/queues", tokOwner)
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, body["queues"])

	code, body = srv.get(t, "/queues?window=2h", tokViewer)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "window", errorOf(t, body)["field"])
	code, _ = srv.get(t, "/queues?window=-1m", tokViewer)
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = srv.get(t, "/queues", tokLogsOnly)
	assert.Equal(t, http.StatusForbidden, code)
	code, body = srv.get(t, "/queues?window=1m", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "1m0s", body["window"])
}
