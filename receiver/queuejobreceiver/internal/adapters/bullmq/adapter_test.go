package bullmq

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/jobtrace/jobtrace/internal/testutil/bullmqtest"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adaptertest"
)

func settings(t *testing.T) adapter.Settings {
	s := adaptertest.Settings(t)
	s.Logger = zaptest.NewLogger(t)
	return s
}

// checkAgainstView asserts every job BullMQ reports finished against what the adapter saw.
func checkAgainstView(t *testing.T, view map[string]bullmqtest.Job, c *adaptertest.Collector) {
	t.Helper()
	require.NotEmpty(t, view)
	for id, j := range view {
		f := c.Final(id)
		require.Equal(t, j.Queue, f.Queue, "%s: queue", id)
		require.Equal(t, j.TraceID, f.TraceID, "%s: trace id from opts.tm", id)
		require.NotEmpty(t, j.TraceID, "%s: bullmq-otel stored no carrier", id)
		switch j.State {
		case "completed":
			require.Equal(t, adapter.Succeeded, f.State, "%s", id)
		case "failed":
			require.Equal(t, adapter.Failed, f.State, "%s", id)
			require.Equal(t, j.FailedReason, f.Errs[j.AttemptsMade], "%s: final error", id)
		default:
			t.Fatalf("%s: BullMQ still reports %s", id, j.State)
		}
		require.Equal(t, j.AttemptsMade, f.Attempt, "%s: attempts", id)
		for k := 1; k < j.AttemptsMade; k++ {
			want := bullmqtest.ErrFlaky
			if j.Name == "bad" {
				want = bullmqtest.ErrBad
			}
			require.Equal(t, want, f.Errs[k], "%s: error of retried attempt %d", id, k)
		}
	}
}

func TestRealBullMQWorkload(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(settings(t))
	require.NoError(t, err)
	c := &adaptertest.Collector{}
	stop := adaptertest.Poll(t, a, srv.Addr, c)
	w := bullmqtest.New(t, srv.Port)
	w.Run("run", "2")
	stop()
	view := w.View()
	require.Len(t, view, 12) // 2 queues x 2 x (ok, flaky, bad)
	checkAgainstView(t, view, c)
	require.Zero(t, a.StreamGaps())
}

// TestStreamTrimGapRecovers polls once, lets BullMQ write far more events than the stream
// keeps, and polls again: the gap must be counted and every finished job still found, from
// the completed/failed sets and the job hashes.
func TestStreamTrimGapRecovers(t *testing.T) {
	// Small stream nodes so MAXLEN ~ trims at a few entries, as it does at 10,000 in production.
	srv := redistest.Start(t, "stream-node-max-entries 4")
	for _, q := range []string{"mails", "reports"} {
		// Test setup, not the receiver: queues (meta) and streams to position on before the run,
		// as a running BullMQ deployment has.
		srv.Cmd("HSET", "bull:"+q+":meta", "opts.maxLenEvents", "8")
		srv.Cmd("XADD", "bull:"+q+":events", "*", "event", "setup")
	}
	a, err := New(settings(t))
	require.NoError(t, err)
	c := &adaptertest.Collector{}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	r := adapter.ReadOnly(rdb)
	require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.Emit))
	w := bullmqtest.New(t, srv.Port, "EVENTS_MAXLEN=8")
	w.Run("run", "3")
	require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.Emit))
	require.Positive(t, a.StreamGaps(), "a trimmed stream must be detected")
	require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.Emit))
	checkAgainstView(t, w.View(), c)
}

// TestStalledJobIsLost kills a worker mid-attempt; BullMQ's stalled checker (in a second
// worker) declares the job stalled and runs it again. The adapter must report the attempt
// lost, then the re-run's success.
func TestStalledJobIsLost(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(settings(t))
	require.NoError(t, err)
	c := &adaptertest.Collector{}
	stop := adaptertest.Poll(t, a, srv.Addr, c)
	w := bullmqtest.New(t, srv.Port)
	out := w.RunKilled("stuck")
	require.Contains(t, string(out), `"started":"mails:1"`)
	require.Eventually(t, func() bool { return c.Final("mails:1").Seen[adapter.Active] }, 5*time.Second, 20*time.Millisecond)
	w.Run("recover")
	stop()
	view := w.View()
	j := view["mails:1"]
	require.Equal(t, "completed", j.State)
	require.Equal(t, 1, j.StalledCounter, "BullMQ itself declared the job stalled")
	f := c.Final("mails:1")
	require.Equal(t, map[int]bool{1: true}, f.Lost, "the stalled attempt is reported lost")
	require.NotEmpty(t, f.Workers, "the worker of the running attempt, from its lock")
	require.Equal(t, adapter.Succeeded, f.State)
	require.Equal(t, j.AttemptsMade, f.Attempt)
}

func TestParseJobHashBadFields(t *testing.T) {
	var bad []string
	j := parseJobHash([]any{"n", `{"tm":"not json"}`, "1", "x", "1", "1", nil, nil, "[oops", nil}, 1<<20, func(r string) { bad = append(bad, r) })
	require.True(t, j.Exists)
	require.Equal(t, "n", j.Name)
	require.Nil(t, j.Carrier)
	require.ElementsMatch(t, []string{reasonCarrierNotJSON, reasonBadCounter, reasonStacktraceNotJSON}, bad)
	require.False(t, parseJobHash(make([]any, len(hashFields)), 1<<20, nil).Exists)
	bad = nil
	parseJobHash([]any{"n", `[`}, 1<<20, func(r string) { bad = append(bad, r) })
	require.Equal(t, []string{reasonOptsNotJSON}, bad)
	typ, msg := splitStack("TypeError: boom: twice\n    at f (x.js:1:1)")
	require.Equal(t, "TypeError", typ)
	require.Equal(t, "boom: twice", msg)
	require.Equal(t, "3f1c", workerFromLock("3f1c:17"))
	require.Equal(t, 1, compareIDs("2-0", "1-9"))
	require.Equal(t, -1, compareIDs("1-2", "1-10"))
}
