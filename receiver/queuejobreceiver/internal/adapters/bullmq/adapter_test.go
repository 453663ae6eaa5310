package bullmq

import (
	"context"
	"strconv"
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
	s := settings(t)
	var overflows []string
	s.Overflow = func(what string) { overflows = append(overflows, what) }
	a, err := New(s)
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
	require.Subset(t, []string{"bull:mails:events", "bull:reports:events"}, overflows)
	require.Len(t, overflows, int(a.StreamGaps()), "each gap is counted by the receiver")
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

// A job hash whose opts or stacktrace BullMQ never wrote that way is counted once and the
// rest of the job, and every other job, still come through.
func TestBadJobHashCountedOnce(t *testing.T) {
	srv := redistest.Start(t)
	srv.Cmd("HSET", "bull:mails:meta", "version", "bullmq:6.7.0")
	srv.Cmd("XADD", "bull:mails:events", "*", "event", "drained")
	s := settings(t)
	bad := map[string]int{}
	s.Bad = func(r string) { bad[r]++ }
	a, err := New(s)
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	r := adapter.ReadOnly(rdb)
	c := &adaptertest.Collector{}
	require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.Emit))
	srv.Cmd("HSET", "bull:mails:1", "name", "broken", "opts", "{not json", "atm", "0", "stacktrace", "[oops")
	srv.Cmd("HSET", "bull:mails:2", "name", "fine", "opts", `{"tm":"{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}"}`, "atm", "0")
	srv.Cmd("LPUSH", "bull:mails:wait", "1", "2")
	for range 3 {
		require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.Emit))
	}
	// It moves on (an event makes the adapter read its hash again): still counted once.
	srv.Cmd("LREM", "bull:mails:wait", "0", "1")
	srv.Cmd("LPUSH", "bull:mails:active", "1")
	srv.Cmd("HSET", "bull:mails:1", "ats", "1", "processedOn", "1796117719871") // as moveToActive does
	srv.Cmd("XADD", "bull:mails:events", "*", "event", "active", "jobId", "1", "prev", "waiting")
	for range 2 {
		require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.Emit))
	}
	require.Equal(t, map[string]int{reasonOptsNotJSON: 1, reasonStacktraceNotJSON: 1}, bad, "counted once, not once per read")
	require.True(t, c.Final("mails:1").Seen[adapter.Active])
	require.True(t, c.Final("mails:1").Seen[adapter.Pending], "the broken job is still seen waiting")
	require.Equal(t, "0af7651916cd43dd8448eb211c80319c", c.Final("mails:2").TraceID)
}

// A custom BullMQ prefix (QueueOptions.prefix) is found with key_prefix alone.
func TestCustomPrefix(t *testing.T) {
	srv := redistest.Start(t)
	s := settings(t)
	s.Prefix = "myapp"
	a, err := New(s)
	require.NoError(t, err)
	c := &adaptertest.Collector{}
	stop := adaptertest.Poll(t, a, srv.Addr, c)
	w := bullmqtest.New(t, srv.Port, "BULL_PREFIX=myapp", "QUEUES=mails")
	w.Run("run", "1")
	stop()
	view := w.View()
	require.Len(t, view, 3)
	checkAgainstView(t, view, c)

	_, err = New(adapter.Settings{Prefix: "my*app"})
	require.ErrorContains(t, err, "key_prefix:")
	_, err = New(adapter.Settings{Queues: []string{"a:b"}})
	require.ErrorContains(t, err, "queues:")
}

// The hash is read after the list or event that named the job: when the job moved on in
// between, only what the hash proves is reported, never a phantom attempt.
func TestStaleSightings(t *testing.T) {
	done := &jobHash{Exists: true, Name: "flaky", AttemptsMade: 2, AttemptsStarted: 2,
		Started: time.UnixMilli(2000), Finished: time.UnixMilli(2500), FailedReason: "boom",
		Stacktrace: []string{"Error: boom\n    at x"}}
	// An "active" (or "waiting") event read after the job completed.
	for _, wh := range []where{inActive, inWait} {
		obs, stale := observations("q", &sighting{id: "1", where: wh}, done)
		require.True(t, stale)
		require.Len(t, obs, 1)
		require.Equal(t, adapter.RetryWait, obs[0].State)
		require.Equal(t, 1, obs[0].Attempt)
		require.Equal(t, "boom", obs[0].Error.Message)
	}
	// An "active" event read after the attempt failed and went back to wait.
	waiting := &jobHash{Exists: true, AttemptsMade: 1, AttemptsStarted: 1, Started: time.UnixMilli(2000)}
	obs, stale := observations("q", &sighting{id: "1", where: inActive}, waiting)
	require.True(t, stale)
	require.Len(t, obs, 1)
	require.Equal(t, adapter.RetryWait, obs[0].State)
	// Consistent sightings are not stale.
	running := &jobHash{Exists: true, AttemptsMade: 1, AttemptsStarted: 2, Started: time.UnixMilli(3000), Finished: time.UnixMilli(2500)}
	obs, stale = observations("q", &sighting{id: "1", where: inActive}, running)
	require.False(t, stale)
	require.Equal(t, adapter.Active, obs[len(obs)-1].State)
	require.Equal(t, 2, obs[len(obs)-1].Attempt)
	obs, stale = observations("q", &sighting{id: "1", where: inCompleted}, done)
	require.False(t, stale)
	require.Equal(t, adapter.Succeeded, obs[len(obs)-1].State)
}

// A queue found after the start (SCAN reaching it late) reports what finished since the start,
// not its whole history as if it had just happened.
func TestLateQueueSkipsHistory(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(settings(t))
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	r := adapter.ReadOnly(rdb)
	c := &adaptertest.Collector{}
	start := time.Now()
	require.NoError(t, a.Poll(context.Background(), r, start, c.Emit)) // no queue yet
	now := strconv.FormatInt(start.Add(time.Second).UnixMilli(), 10)
	srv.Cmd("HSET", "bull:old:meta", "version", "bullmq:6.7.0")
	srv.Cmd("HSET", "bull:old:1", "name", "ancient", "atm", "1", "processedOn", "1000", "finishedOn", "1000", "returnvalue", "1")
	srv.Cmd("ZADD", "bull:old:completed", "1000", "1")
	srv.Cmd("HSET", "bull:old:2", "name", "fresh", "atm", "1", "processedOn", now, "finishedOn", now, "returnvalue", "1")
	srv.Cmd("ZADD", "bull:old:completed", now, "2")
	require.NoError(t, a.Poll(context.Background(), r, start.Add(2*time.Second), c.Emit))
	require.Equal(t, adapter.Succeeded, c.Final("old:2").State)
	require.Empty(t, c.Observations("old:1"), "history before the start is not news")
}

// A stalled event whose job hash already shows the re-run completed (the stalled checker and
// the re-run both ran between two polls) still reports the stalled attempt lost, before the
// completion: the event is read only once.
func TestStalledSightingOfFinishedJob(t *testing.T) {
	done := &jobHash{Exists: true, Name: "mail", AttemptsMade: 1, AttemptsStarted: 2,
		Started: time.UnixMilli(3000), Finished: time.UnixMilli(3500)}
	obs, stale := observations("q", &sighting{id: "1", where: inWait, stalled: true}, done)
	require.True(t, stale)
	require.Len(t, obs, 1, "%+v", obs)
	require.Equal(t, adapter.Lost, obs[0].State)
	require.Equal(t, 1, obs[0].Attempt)
	require.Contains(t, obs[0].Error.Message, "job stalled")
}
