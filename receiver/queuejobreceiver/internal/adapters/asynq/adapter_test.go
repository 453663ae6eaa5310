package asynq

import (
	"context"
	"strconv"
	"testing"
	"time"

	libasynq "github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/jobtrace/jobtrace/internal/testutil/asynqtest"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adaptertest"
)

func settings(t *testing.T) adapter.Settings {
	s := adaptertest.Settings(t)
	s.Logger = zaptest.NewLogger(t)
	return s
}

// TestRealAsynqWorkload runs asynq's own client and server and compares every task the
// adapter saw with asynq's Inspector: state, attempts, queue, trace id and error messages.
func TestRealAsynqWorkload(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(settings(t))
	require.NoError(t, err)
	c := &adaptertest.Collector{}
	stopPoll := adaptertest.Poll(t, a, srv.Addr, c)
	tasks := asynqtest.Enqueue(t, srv.Addr, 3)
	stop := asynqtest.RunServer(t, srv.Addr, nil)
	asynqtest.WaitFinished(t, srv.Addr, tasks)
	stop()
	stopPoll()

	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: srv.Addr})
	defer insp.Close()
	for _, w := range tasks {
		info, err := insp.GetTaskInfo(w.Queue, w.ID)
		require.NoError(t, err)
		f := c.Final(w.ID)
		require.Equal(t, info.Queue, f.Queue, "%s", w.ID)
		require.Equal(t, w.TraceID.String(), f.TraceID, "%s: trace id from the task headers", w.ID)
		switch info.State {
		case libasynq.TaskStateCompleted:
			require.Equal(t, adapter.Succeeded, f.State, "%s", w.ID)
			require.Equal(t, info.Retried+1, f.Attempt, "%s: attempts", w.ID)
		case libasynq.TaskStateArchived:
			require.Equal(t, adapter.Dead, f.State, "%s", w.ID)
			require.Equal(t, info.Retried+1, f.Attempt, "%s: attempts", w.ID)
			require.Equal(t, info.LastErr, f.Errs[f.Attempt], "%s: final error", w.ID)
		default:
			t.Fatalf("%s: asynq still reports %s", w.ID, info.State)
		}
		switch w.Type {
		case asynqtest.TypeFlaky:
			require.Equal(t, 2, f.Attempt, "%s", w.ID)
			require.Equal(t, asynqtest.ErrFlaky, f.Errs[1], "%s: the retried attempt's error", w.ID)
		case asynqtest.TypeBad:
			require.Equal(t, asynqtest.ErrBad, f.Errs[2], "%s", w.ID)
		case asynqtest.TypeOK:
			require.Equal(t, 1, f.Attempt, "%s", w.ID)
		}
	}
}

// TestAsynqShutdownRequeue: a task still running when asynq's server shuts down is pushed back
// to pending by asynq itself. The adapter sees it active, then pending again at the same
// attempt (the receiver's tracker reports that attempt abandoned), with the worker from
// asynq:workers.
func TestAsynqShutdownRequeue(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(settings(t))
	require.NoError(t, err)
	c := &adaptertest.Collector{}
	stopPoll := adaptertest.Poll(t, a, srv.Addr, c)
	cl := libasynq.NewClient(libasynq.RedisClientOpt{Addr: srv.Addr})
	defer cl.Close()
	info, err := cl.Enqueue(libasynq.NewTask(asynqtest.TypeStuck, nil), libasynq.Queue(asynqtest.QueueMain))
	require.NoError(t, err)
	stuck := make(chan string, 1)
	stop := asynqtest.RunServer(t, srv.Addr, stuck)
	select {
	case id := <-stuck:
		require.Equal(t, info.ID, id)
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck task never started")
	}
	// asynq writes asynq:workers at its heartbeat (every 5 s); wait for the active sighting with
	// its worker before stopping the server.
	require.Eventually(t, func() bool { return len(c.Final(info.ID).Workers) > 0 }, 10*time.Second, 20*time.Millisecond)
	stop()
	stopPoll()

	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: srv.Addr})
	defer insp.Close()
	got, err := insp.GetTaskInfo(asynqtest.QueueMain, info.ID)
	require.NoError(t, err)
	require.Equal(t, libasynq.TaskStatePending, got.State, "asynq requeued the running task")
	var states []adapter.State
	for _, o := range c.Observations(info.ID) {
		require.Equal(t, 1, o.Attempt)
		if len(states) == 0 || states[len(states)-1] != o.State {
			states = append(states, o.State)
		}
	}
	require.GreaterOrEqual(t, len(states), 2, "states seen: %v", states)
	require.Equal(t, []adapter.State{adapter.Active, adapter.Pending}, states[len(states)-2:], "states seen: %v", states)
}

// TestLeaseExpiredIsLost: asynq's recoverer moves a task whose lease expired to retry with
// "asynq: task lease expired"; that is asynq declaring the worker lost.
func TestLeaseExpiredIsLost(t *testing.T) {
	m := &TaskMessage{ID: "x", Queue: "q", Type: "t", Retry: 3, Retried: 1, ErrorMsg: ErrLeaseExpired, LastFailedAt: 1700000000}
	obs := observations(stRetry, m, "q")
	require.Len(t, obs, 1)
	require.Equal(t, adapter.Lost, obs[0].State)
	require.Equal(t, 1, obs[0].Attempt)
	m.ErrorMsg = "boom"
	obs = observations(stArchived, m, "q")
	require.Equal(t, []adapter.State{adapter.RetryWait, adapter.Dead}, []adapter.State{obs[0].State, obs[1].State})
	require.Equal(t, 2, obs[1].Attempt)
	require.Equal(t, "boom", obs[1].Error.Message)
	require.Nil(t, obs[0].Error, "asynq keeps only the last error")
}

func TestNewRejectsPrefix(t *testing.T) {
	s := settings(t)
	s.Prefix = "myapp"
	_, err := New(s)
	require.ErrorContains(t, err, "key_prefix:")
	s.Prefix, s.Queues = "", []string{"a{b}"}
	_, err = New(s)
	require.ErrorContains(t, err, "queues:")
}

// An undecodable task message is counted once, however often it is seen, and the other
// tasks still come through.
func TestUndecodableMessageCountedOnce(t *testing.T) {
	srv := redistest.Start(t)
	s := settings(t)
	bad := map[string]int{}
	s.Bad = func(r string) { bad[r]++ }
	a, err := New(s)
	require.NoError(t, err)
	c := &adaptertest.Collector{}
	stop := adaptertest.Poll(t, a, srv.Addr, c)
	srv.Cmd("SADD", "asynq:queues", "default")
	srv.Cmd("HSET", "asynq:{default}:t:junk", "msg", "not a protobuf \xff", "state", "pending")
	srv.Cmd("LPUSH", "asynq:{default}:pending", "junk")
	tasks := asynqtest.Enqueue(t, srv.Addr, 1)
	time.Sleep(100 * time.Millisecond)
	srv.Cmd("LREM", "asynq:{default}:pending", "0", "junk") // it moves: read again
	srv.Cmd("ZADD", "asynq:{default}:retry", "1", "junk")
	time.Sleep(100 * time.Millisecond)
	stop()
	require.Equal(t, map[string]int{reasonUndecodable: 1}, bad)
	for _, w := range tasks {
		require.True(t, c.Final(w.ID).Seen[adapter.Pending], "%s still seen", w.ID)
	}
}

// The listing is read a round trip before the task hash: a task listed active whose hash
// already says retry (it failed in between) is reported from the hash, with no phantom
// running attempt.
func TestHashStateWinsOverStaleListing(t *testing.T) {
	srv := redistest.Start(t)
	srv.Cmd("SADD", "asynq:queues", "default")
	srv.Cmd("LPUSH", "asynq:{default}:active", "t1")
	a, err := New(settings(t))
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	require.NoError(t, rdb.HSet(context.Background(), "asynq:{default}:t:t1", "msg", encodeMsg("t1", "default", 1, 0), "state", "retry").Err())
	c := &adaptertest.Collector{}
	for range 2 {
		require.NoError(t, a.Poll(context.Background(), adapter.ReadOnly(rdb), time.Now(), c.Emit))
	}
	for _, o := range c.Observations("t1") {
		require.NotEqual(t, adapter.Active, o.State, "%+v", o)
	}
	require.True(t, c.Final("t1").Seen[adapter.RetryWait])
}

// More tasks completing between two polls than windows.completed holds is reported as an
// overflow (the receiver's window_overflows), not lost silently.
func TestCompletedWindowOverflow(t *testing.T) {
	srv := redistest.Start(t)
	srv.Cmd("SADD", "asynq:queues", "default")
	s := settings(t)
	s.Windows.Finished = 5
	var overflows []string
	s.Overflow = func(what string) { overflows = append(overflows, what) }
	a, err := New(s)
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	seed := func(from, to int) {
		for i := from; i < to; i++ {
			id := "done-" + strconv.Itoa(i)
			require.NoError(t, rdb.HSet(ctx, "asynq:{default}:t:"+id, "msg", encodeMsg(id, "default", 0, 1700000000), "state", "completed").Err())
			require.NoError(t, rdb.ZAdd(ctx, "asynq:{default}:completed", redis.Z{Score: float64(1700003600 + i), Member: id}).Err())
		}
	}
	poll := func() {
		require.NoError(t, a.Poll(ctx, adapter.ReadOnly(rdb), time.Now(), func(*adapter.Observation) {}))
	}
	seed(0, 8)
	poll() // the first window is the baseline
	require.Empty(t, overflows)
	seed(8, 11) // 3 new: fits
	poll()
	require.Empty(t, overflows)
	seed(11, 30) // 19 new, window 5
	poll()
	require.Equal(t, []string{"asynq:{default}:completed"}, overflows)
	poll()
	require.Len(t, overflows, 1, "nothing new: no second report")
}

// A queue first read after the start reports the tasks that finished since, not its history.
func TestLateQueueSkipsHistory(t *testing.T) {
	srv := redistest.Start(t)
	a, err := New(settings(t))
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	c := &adaptertest.Collector{}
	start := time.Now()
	require.NoError(t, a.Poll(ctx, adapter.ReadOnly(rdb), start, c.Emit)) // no queue yet
	srv.Cmd("SADD", "asynq:queues", "late")
	for id, at := range map[string]int64{"old": start.Add(-time.Hour).Unix(), "new": start.Add(time.Second).Unix()} {
		require.NoError(t, rdb.HSet(ctx, "asynq:{late}:t:"+id, "msg", encodeMsg(id, "late", 0, at), "state", "completed").Err())
		require.NoError(t, rdb.ZAdd(ctx, "asynq:{late}:completed", redis.Z{Score: float64(at + 3600), Member: id}).Err())
	}
	for range 2 {
		require.NoError(t, a.Poll(ctx, adapter.ReadOnly(rdb), start.Add(2*time.Second), c.Emit))
	}
	require.Equal(t, adapter.Succeeded, c.Final("new").State)
	require.Empty(t, c.Observations("old"), "history before the start is not news")
}

// A task seen pending, then active, then pending again after a retry the polls missed (asynq
// retried and forwarded it between two polls) is read again: the cached message of its first
// pending sighting names the attempt before, which the tracker would take for a requeue.
func TestRetryBetweenPollsReadsMessageAgain(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	a, err := New(settings(t))
	require.NoError(t, err)
	c := &adaptertest.Collector{}
	poll := func() []adapter.Observation {
		before := len(c.Observations("t1"))
		require.NoError(t, a.Poll(ctx, adapter.ReadOnly(rdb), time.Now(), c.Emit))
		return c.Observations("t1")[before:]
	}
	move := func(from, to string, retried int32, st string) {
		require.NoError(t, rdb.LRem(ctx, "asynq:{default}:"+from, 0, "t1").Err())
		require.NoError(t, rdb.HSet(ctx, "asynq:{default}:t:t1", "msg", encodeMsg("t1", "default", retried, 0), "state", st).Err())
		require.NoError(t, rdb.LPush(ctx, "asynq:{default}:"+to, "t1").Err())
	}
	rdb.SAdd(ctx, allQueues, "default")
	move("none", "pending", 0, "pending")
	for range 2 {
		require.Equal(t, []adapter.State{adapter.Pending}, states(poll()))
	}
	move("pending", "active", 0, "active")
	require.Equal(t, []adapter.State{adapter.Active}, states(poll()))
	// The handler failed; asynq's retry then its forwarder ran before the next poll.
	move("active", "pending", 1, "pending")
	got := poll()
	require.Equal(t, []adapter.State{adapter.RetryWait, adapter.Pending}, states(got), "%+v", got)
	require.Equal(t, []int{1, 2}, []int{got[0].Attempt, got[1].Attempt})
	move("pending", "active", 1, "active")
	got = poll()
	require.Equal(t, adapter.Active, got[len(got)-1].State)
	require.Equal(t, 2, got[len(got)-1].Attempt, "%+v", got)
}

func states(obs []adapter.Observation) []adapter.State {
	out := make([]adapter.State, len(obs))
	for i, o := range obs {
		out[i] = o.State
	}
	return out
}
