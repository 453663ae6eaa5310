package logstore

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/victorialogstest"
)

// Inside the store's retention (7d): older lines are rejected at ingestion.
var base = time.Now().UTC().Truncate(time.Second).Add(-time.Hour)

type line struct {
	at      time.Duration
	job     string
	queue   string
	event   string
	msg     string
	trace   byte
	sev     plog.SeverityNumber
	zapOnly bool // worker line with upstream field names only
}

func fixture() plog.Logs {
	lines := []line{
		{0, "job-a", "high", conventions.EventJobEnqueued, "job enqueued", 1, plog.SeverityNumberInfo, false},
		{10 * time.Millisecond, "job-a", "high", conventions.EventJobStarted, "job started", 1, plog.SeverityNumberInfo, false},
		{20 * time.Millisecond, "job-a", "high", "", "processing a", 1, plog.SeverityNumberInfo, false},
		{30 * time.Millisecond, "job-b", "low", conventions.EventJobStarted, "job started", 2, plog.SeverityNumberInfo, false},
		{40 * time.Millisecond, "job-a", "high", conventions.EventJobDeadLettered, "job dead-lettered", 1, plog.SeverityNumberError, false},
		{50 * time.Millisecond, "job-b", "", "", "worker line of b", 2, plog.SeverityNumberWarn, true},
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "jobqueue")
	rl.Resource().Attributes().PutStr("host.name", "box")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("github.com/jobtrace/jobtrace/receiver/queuejobreceiver")
	for _, l := range lines {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(l.at)))
		lr.Body().SetStr(l.msg)
		lr.SetSeverityNumber(l.sev)
		lr.SetTraceID(pcommon.TraceID{l.trace, 2, 3})
		lr.SetSpanID(pcommon.SpanID{l.trace, 9})
		if l.zapOnly {
			lr.Attributes().PutStr("job_id", l.job)
			lr.Attributes().PutStr("worker_id", "w-1")
			continue
		}
		lr.Attributes().PutStr(conventions.AttrJobID, l.job)
		lr.Attributes().PutStr(conventions.AttrQueueName, l.queue)
		lr.Attributes().PutInt(conventions.AttrJobAttempt, 1)
		if l.event != "" {
			lr.SetEventName(l.event)
			lr.Attributes().PutStr(conventions.AttrEventName, l.event)
		}
	}
	return ld
}

func startStore(t *testing.T) (*victorialogstest.Server, *VictoriaLogs) {
	srv := victorialogstest.Start(t)
	srv.Push(fixture())
	srv.Flush()
	st, err := NewVictoriaLogs(VictoriaLogsOptions{Endpoint: srv.URL, Timeout: 2 * time.Second, FailureThreshold: 2, OpenDuration: time.Hour}, nil)
	require.NoError(t, err)
	// Flushed data becomes searchable shortly after.
	require.Eventually(t, func() bool {
		r, err := st.Query(context.Background(), Query{Limit: 100})
		return err == nil && len(r.Entries) == 6
	}, 15*time.Second, 100*time.Millisecond)
	return srv, st
}

func messages(es []*ring.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Message
	}
	return out
}

func TestVictoriaLogsQueries(t *testing.T) {
	_, st := startStore(t)
	ctx := context.Background()
	q := func(q Query) Result {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 100
		}
		r, err := st.Query(ctx, q)
		require.NoError(t, err)
		return r
	}

	t.Run("job, oldest first, fields as live", func(t *testing.T) {
		r := q(Query{JobID: "job-a"})
		require.Equal(t, []string{"job enqueued", "job started", "processing a", "job dead-lettered"}, messages(r.Entries))
		assert.False(t, r.More)
		e := r.Entries[3]
		assert.Equal(t, base.Add(40*time.Millisecond), e.Timestamp)
		assert.Equal(t, "error", e.Level)
		assert.Equal(t, "job-a", e.JobID)
		assert.Equal(t, "high", e.QueueName)
		assert.Equal(t, "jobqueue", e.Service)
		assert.Equal(t, pcommon.TraceID{1, 2, 3}.String(), e.TraceID)
		assert.Equal(t, pcommon.SpanID{1, 9}.String(), e.SpanID)
		assert.Equal(t, conventions.EventJobDeadLettered, e.Raw.EventName)
		assert.Equal(t, "box", e.Raw.Resource["host.name"], "resource attributes go back to the resource")
		assert.NotContains(t, e.Attrs.Map(), "host.name")
		assert.Equal(t, "1", e.Attrs.Value(conventions.AttrJobAttempt), "values come back as strings")
		assert.Equal(t, "github.com/jobtrace/jobtrace/receiver/queuejobreceiver", e.Raw.ScopeName)
	})
	t.Run("upstream field names", func(t *testing.T) {
		r := q(Query{JobID: "job-b"})
		require.Equal(t, []string{"job started", "worker line of b"}, messages(r.Entries))
		assert.Equal(t, "w-1", r.Entries[1].WorkerID)
		assert.Equal(t, "warn", r.Entries[1].Level)
	})
	t.Run("trace id", func(t *testing.T) {
		r := q(Query{TraceID: pcommon.TraceID{2, 2, 3}.String()})
		assert.Equal(t, []string{"job started", "worker line of b"}, messages(r.Entries))
	})
	t.Run("time range is [from, until)", func(t *testing.T) {
		r := q(Query{From: base.Add(10 * time.Millisecond), Until: base.Add(40 * time.Millisecond)})
		assert.Equal(t, []string{"job started", "processing a", "job started"}, messages(r.Entries))
	})
	t.Run("paging", func(t *testing.T) {
		r := q(Query{JobID: "job-a", Limit: 2})
		assert.Equal(t, []string{"job enqueued", "job started"}, messages(r.Entries))
		assert.True(t, r.More)
		r = q(Query{JobID: "job-a", Limit: 2, Offset: 2})
		assert.Equal(t, []string{"processing a", "job dead-lettered"}, messages(r.Entries))
		assert.False(t, r.More)
	})
	t.Run("newest", func(t *testing.T) {
		r := q(Query{JobID: "job-a", Limit: 2, Newest: true})
		assert.Equal(t, []string{"processing a", "job dead-lettered"}, messages(r.Entries))
		assert.True(t, r.More)
	})
	t.Run("queues of a scope", func(t *testing.T) {
		r := q(Query{Queues: []string{"low"}})
		assert.Equal(t, []string{"job started"}, messages(r.Entries), "lines without a queue are outside every queue scope")
		r = q(Query{Queues: []string{"low"}, JobID: "job-a"})
		assert.Empty(t, r.Entries)
	})
	t.Run("lifecycle only", func(t *testing.T) {
		r := q(Query{Lifecycle: true, JobID: "job-a"})
		assert.Equal(t, []string{"job enqueued", "job started", "job dead-lettered"}, messages(r.Entries))
	})
	t.Run("hostile values stay values", func(t *testing.T) {
		for _, v := range []string{`job-a" or "job.id":*`, `*`, `job-a | limit 1`, "job-a\"\n", `\`} {
			r, err := st.Query(ctx, Query{JobID: v, Limit: 10})
			require.NoError(t, err, v)
			assert.Empty(t, r.Entries, v)
		}
	})
	assert.Equal(t, "closed", st.Health().Breaker)
}

func TestVictoriaLogsDown(t *testing.T) {
	srv, st := startStore(t)
	srv.Down()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		_, err := st.Query(ctx, Query{JobID: "job-a", Limit: 10})
		require.ErrorIs(t, err, ErrUnavailable)
		assert.False(t, errors.Is(err, ErrCircuitOpen))
	}
	_, err := st.Query(ctx, Query{JobID: "job-a", Limit: 10})
	require.ErrorIs(t, err, ErrCircuitOpen, "after failure_threshold failures no request goes out")
	h := st.Health()
	assert.Equal(t, "open", h.Breaker)
	assert.Equal(t, int64(2), h.Errors)
	assert.NotEmpty(t, h.LastError)

	// Back up, a store with a short open period recovers on its own.
	srv.Up()
	st2, err := NewVictoriaLogs(VictoriaLogsOptions{Endpoint: srv.URL, FailureThreshold: 1, OpenDuration: 50 * time.Millisecond}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := st2.Query(ctx, Query{JobID: "job-a", Limit: 10})
		return err == nil && len(r.Entries) == 4
	}, 15*time.Second, 100*time.Millisecond, "the data survived the restart")
}

func TestLogsQL(t *testing.T) {
	assert.Equal(t, `* | sort by (_time) limit 11`, LogsQL(Query{Limit: 10}))
	assert.Equal(t, `("job.id":="a\"b" or "job_id":="a\"b") and ("queue.name":in("q") or "messaging.destination.name":in("q")) and "event.name":"job_"* | sort by (_time desc) offset 5 limit 3`,
		LogsQL(Query{JobID: `a"b`, Queues: []string{"q"}, Lifecycle: true, Offset: 5, Limit: 2, Newest: true}))
}

func TestLogsQLExcludeGateway(t *testing.T) {
	assert.Equal(t, `-"jobtrace.gateway":="gw\"a" | sort by (_time) limit 2`, LogsQL(Query{ExcludeGateway: `gw"a`, Limit: 1}))
}

// TestVictoriaLogsExcludeGateway: the backfill's time-range query leaves out this gateway's own
// lines, and keeps those that carry no gateway at all.
func TestVictoriaLogsExcludeGateway(t *testing.T) {
	srv := victorialogstest.Start(t)
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i, gw := range []string{"gw-a", "gw-b", "", "gw-a", "gw-b"} {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * time.Millisecond)))
		lr.Body().SetStr("line " + strconv.Itoa(i) + " " + gw)
		if gw != "" {
			lr.Attributes().PutStr(GatewayField, gw)
		}
	}
	srv.Push(ld)
	srv.Flush()
	st, err := NewVictoriaLogs(VictoriaLogsOptions{Endpoint: srv.URL, Timeout: 2 * time.Second}, nil)
	require.NoError(t, err)
	var r Result
	require.Eventually(t, func() bool {
		r, err = st.Query(context.Background(), Query{ExcludeGateway: "gw-a", From: base, Until: base.Add(time.Second), Limit: 100})
		return err == nil && len(r.Entries) == 3
	}, 15*time.Second, 100*time.Millisecond)
	assert.Equal(t, []string{"line 1 gw-b", "line 2 ", "line 4 gw-b"}, messages(r.Entries))
}

// TestVictoriaLogsTailConnectedWithoutLines: a tail with nothing to deliver still reports that
// it is connected (the backfill of a gap waits for it). Compressed, VictoriaLogs held the
// response headers back until the first line.
func TestVictoriaLogsTailConnectedWithoutLines(t *testing.T) {
	srv := victorialogstest.Start(t)
	st, err := NewVictoriaLogs(VictoriaLogsOptions{Endpoint: srv.URL, FailureThreshold: 1, OpenDuration: time.Hour}, nil)
	require.NoError(t, err)
	st.br.Failure() // queries failed while the tail was down
	require.Equal(t, "open", st.Health().Breaker)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	connected := make(chan struct{})
	go func() {
		_ = st.Tail(ctx, TailQuery{Delay: time.Second, Connected: func(time.Time) { close(connected) }}, func(plog.Logs) {})
	}()
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("the tail never reported connected")
	}
	assert.Equal(t, "closed", st.Health().Breaker, "a tail the store accepted closes the breaker")
}

func TestNewVictoriaLogsRejectsBadEndpoint(t *testing.T) {
	for _, e := range []string{"", "localhost:9428", "ftp://x", "http://"} {
		_, err := NewVictoriaLogs(VictoriaLogsOptions{Endpoint: e}, nil)
		assert.Error(t, err, e)
	}
}
