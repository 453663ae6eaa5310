package bullmq

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/jobtrace/jobtrace/internal/testutil/bullmqtest"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

func testSettings(t *testing.T) adapter.Settings {
	return adapter.Settings{
		Windows:        adapter.Windows{Pending: 200, Active: 200, Retry: 200, Finished: 500, Dead: 500, Page: 100},
		Scan:           adapter.Scan{Count: 100, CallsPerPoll: 4},
		MaxPayloadSize: 1 << 20,
		Logger:         zaptest.NewLogger(t),
		Bad:            func(r string) { t.Errorf("bad payload: %s", r) },
	}
}

// collector keeps every observation the adapter emitted, by job.
type collector struct {
	mu  sync.Mutex
	obs map[string][]adapter.Observation
}

func (c *collector) emit(o *adapter.Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.obs == nil {
		c.obs = map[string][]adapter.Observation{}
	}
	c.obs[o.ID] = append(c.obs[o.ID], *o)
}

// final is the job's outcome as the observations say: its terminal state, the attempt it
// happened on, and each failed attempt's error message.
type final struct {
	state    adapter.State
	attempt  int
	errs     map[int]string
	lost     int
	queue    string
	traceID  string
	maxState map[adapter.State]bool
}

func (c *collector) final(id string) final {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := final{errs: map[int]string{}, maxState: map[adapter.State]bool{}}
	for _, o := range c.obs[id] {
		f.maxState[o.State] = true
		f.queue = o.Queue
		if tp, ok := o.Carrier["traceparent"].(string); ok && f.traceID == "" {
			if parts := strings.Split(tp, "-"); len(parts) == 4 {
				f.traceID = parts[1]
			}
		}
		switch o.State {
		case adapter.Succeeded, adapter.Failed, adapter.Dead:
			f.state, f.attempt = o.State, o.Attempt
		case adapter.Lost:
			f.lost++
		}
		if o.Error != nil && (o.State == adapter.RetryWait || o.State == adapter.Failed) {
			f.errs[o.Attempt] = o.Error.Message
		}
	}
	return f
}

// poller polls the adapter every 20ms until stopped, like the receiver's loop.
func startPolling(t *testing.T, a *Adapter, addr string, c *collector) (stop func()) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	r := adapter.ReadOnly(rdb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	require.NoError(t, a.Poll(ctx, r, time.Now(), c.emit))
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := a.Poll(ctx, r, time.Now(), c.emit); err != nil && ctx.Err() == nil {
					t.Errorf("poll: %v", err)
				}
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			// One last poll so everything written before stop is read.
			require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.emit))
			rdb.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

// checkAgainstView asserts every job BullMQ reports finished against what the adapter saw.
func checkAgainstView(t *testing.T, view map[string]bullmqtest.Job, c *collector) {
	t.Helper()
	require.NotEmpty(t, view)
	for id, j := range view {
		f := c.final(id)
		require.Equal(t, j.Queue, f.queue, "%s: queue", id)
		require.Equal(t, j.TraceID, f.traceID, "%s: trace id from opts.tm", id)
		require.NotEmpty(t, j.TraceID, "%s: bullmq-otel stored no carrier", id)
		switch j.State {
		case "completed":
			require.Equal(t, adapter.Succeeded, f.state, "%s", id)
		case "failed":
			require.Equal(t, adapter.Failed, f.state, "%s", id)
			require.Equal(t, j.FailedReason, f.errs[j.AttemptsMade], "%s: final error", id)
		default:
			t.Fatalf("%s: BullMQ still reports %s", id, j.State)
		}
		require.Equal(t, j.AttemptsMade, f.attempt, "%s: attempts", id)
		for k := 1; k < j.AttemptsMade; k++ {
			want := bullmqtest.ErrFlaky
			if j.Name == "bad" {
				want = bullmqtest.ErrBad
			}
			require.Equal(t, want, f.errs[k], "%s: error of retried attempt %d", id, k)
		}
	}
}

func TestRealBullMQWorkload(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(testSettings(t))
	require.NoError(t, err)
	c := &collector{}
	stop := startPolling(t, a, srv.Addr, c)
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
	a, err := New(testSettings(t))
	require.NoError(t, err)
	c := &collector{}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	r := adapter.ReadOnly(rdb)
	require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.emit))
	w := bullmqtest.New(t, srv.Port, "EVENTS_MAXLEN=8")
	w.Run("run", "3")
	require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.emit))
	require.Positive(t, a.StreamGaps(), "a trimmed stream must be detected")
	require.NoError(t, a.Poll(context.Background(), r, time.Now(), c.emit))
	checkAgainstView(t, w.View(), c)
}

// TestStalledJobIsLost kills a worker mid-attempt; BullMQ's stalled checker (in a second
// worker) declares the job stalled and runs it again. The adapter must report the attempt
// lost, then the re-run's success.
func TestStalledJobIsLost(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(testSettings(t))
	require.NoError(t, err)
	c := &collector{}
	stop := startPolling(t, a, srv.Addr, c)
	w := bullmqtest.New(t, srv.Port)
	out := w.RunKilled("stuck")
	require.Contains(t, string(out), `"started":"mails:1"`)
	require.Eventually(t, func() bool { return c.final("mails:1").maxState[adapter.Active] }, 5*time.Second, 20*time.Millisecond)
	w.Run("recover")
	stop()
	view := w.View()
	j := view["mails:1"]
	require.Equal(t, "completed", j.State)
	require.Equal(t, 1, j.StalledCounter, "BullMQ itself declared the job stalled")
	f := c.final("mails:1")
	require.Equal(t, 1, f.lost, "the stalled attempt is reported lost once")
	require.Equal(t, adapter.Succeeded, f.state)
	require.Equal(t, j.AttemptsMade, f.attempt)
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
