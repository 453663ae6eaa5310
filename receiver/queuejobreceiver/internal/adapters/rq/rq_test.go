package rq

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

func z(s string) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

func TestPollLayout(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	meta := pickles[0].raw // {'traceparent': '00-ab', 'k': 'v'}
	evil := "\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94."
	require.NoError(t, c.SAdd(ctx, "rq:queues", "rq:queue:default").Err())
	require.NoError(t, c.RPush(ctx, "rq:queue:default", "q1", "q2").Err())
	require.NoError(t, c.HSet(ctx, "rq:job:q1", "status", "queued", "origin", "default", "description", "app.tasks.send(42, 'a@b.c')",
		"retries_left", "2", "meta", meta, "created_at", "2026-12-01T10:00:00.123456Z").Err())
	require.NoError(t, c.HSet(ctx, "rq:job:q2", "status", "queued", "origin", "default", "meta", evil).Err())
	tb := "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\nValueError: bad value\n"
	require.NoError(t, c.ZAdd(ctx, "rq:failed:default", redis.Z{Score: 1, Member: "f1"}, redis.Z{Score: 2, Member: "f2"}).Err())
	require.NoError(t, c.HSet(ctx, "rq:job:f1", "status", "failed", "origin", "default", "worker_name", "w1",
		"started_at", "2026-12-01T10:00:01.000000Z", "ended_at", "2026-12-01T10:00:02.500000Z").Err())
	require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: "rq:results:f1", Values: []string{"type", "2", "exc_string", base64.StdEncoding.EncodeToString(z(tb))}}).Err())
	require.NoError(t, c.HSet(ctx, "rq:job:f2", "status", "failed", "origin", "default", "exc_info", z("Moved to FailedJobRegistry at 2026-12-01")).Err())
	require.NoError(t, c.ZAdd(ctx, "rq:wip:default", redis.Z{Score: 9e9, Member: "a1"}).Err())
	require.NoError(t, c.HSet(ctx, "rq:job:a1", "status", "started", "origin", "default", "worker_name", "w2", "started_at", "2026-12-01T10:00:03.000000Z").Err())

	var bad []string
	a, err := New(adapter.Settings{
		Windows:        adapter.Windows{Pending: 100, Active: 100, Retry: 100, Finished: 1000, Dead: 1000, Page: 100},
		MaxPayloadSize: 1 << 20, Logger: zap.NewNop(), Bad: func(r string) { bad = append(bad, r) },
	})
	require.NoError(t, err)
	got := map[string]*adapter.Observation{}
	require.NoError(t, a.Poll(ctx, adapter.ReadOnly(c), time.Now(), func(o *adapter.Observation) { cp := *o; got[o.ID] = &cp }))

	require.Equal(t, []string{"meta_not_string_dict"}, bad, "a pickle that names a callable is refused, not run")
	require.Nil(t, got["q2"].Carrier)
	require.Equal(t, adapter.Pending, got["q2"].State, "the job is still observed")
	q1 := got["q1"]
	require.Equal(t, "00-ab", q1.Carrier["traceparent"])
	require.Equal(t, "app.tasks.send", q1.Type, "no arguments from the description")
	require.Equal(t, 1, q1.Attempt)
	require.Equal(t, time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC), q1.Enqueued)

	f1 := got["f1"]
	require.Equal(t, adapter.Failed, f1.State)
	require.Equal(t, "ValueError", f1.Error.Type)
	require.Equal(t, "bad value", f1.Error.Message)
	require.Equal(t, tb, f1.Error.Stacktrace)
	require.Equal(t, "w1", f1.Worker)
	require.Equal(t, 2500*time.Millisecond, f1.Ended.Sub(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)))
	require.Equal(t, adapter.Lost, got["f2"].State, "RQ's registry cleanup declared the job lost")
	require.Equal(t, adapter.Active, got["a1"].State)
	require.Equal(t, "w2", got["a1"].Worker)

	// retries_left going down counts attempts.
	require.NoError(t, c.HSet(ctx, "rq:job:q1", "retries_left", "1").Err())
	got = map[string]*adapter.Observation{}
	require.NoError(t, a.Poll(ctx, adapter.ReadOnly(c), time.Now(), func(o *adapter.Observation) { cp := *o; got[o.ID] = &cp }))
	require.Equal(t, 2, got["q1"].Attempt)
	require.NotContains(t, got, "f1", "finished ids are read once")
	require.Len(t, bad, 1, "the bad meta is counted once")
}

// A job listed in wip whose hash already says queued (its attempt failed and RQ requeued it
// between the listing and the hash read) is not reported running: its retries_left counts
// the retry, so it would be a running next attempt that never ran.
func TestWipListingContradictedByHash(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	require.NoError(t, c.SAdd(ctx, "rq:queues", "rq:queue:default").Err())
	require.NoError(t, c.ZAdd(ctx, "rq:wip:default", redis.Z{Score: 9e9, Member: "j1"}).Err())
	require.NoError(t, c.HSet(ctx, "rq:job:j1", "status", "started", "origin", "default", "worker_name", "w1",
		"retries_left", "2", "started_at", "2026-12-01T10:00:03.000000Z").Err())
	a, err := New(adapter.Settings{
		Windows:        adapter.Windows{Pending: 100, Active: 100, Retry: 100, Finished: 1000, Dead: 1000, Page: 100},
		MaxPayloadSize: 1 << 20, Logger: zap.NewNop(), Bad: func(string) {},
	})
	require.NoError(t, err)
	var got []adapter.Observation
	poll := func() {
		got = nil
		require.NoError(t, a.Poll(ctx, adapter.ReadOnly(c), time.Now(), func(o *adapter.Observation) { got = append(got, *o) }))
	}
	poll()
	require.Len(t, got, 1)
	require.Equal(t, adapter.Active, got[0].State)
	require.Equal(t, 1, got[0].Attempt)

	// The listing still says wip; the hash was rewritten by RQ's retry.
	require.NoError(t, c.HSet(ctx, "rq:job:j1", "status", "queued", "retries_left", "1").Err())
	poll()
	require.Empty(t, got, "no running attempt 2 from a stale wip listing: %+v", got)

	require.NoError(t, c.ZRem(ctx, "rq:wip:default", "j1").Err())
	require.NoError(t, c.RPush(ctx, "rq:queue:default", "j1").Err())
	poll()
	require.Len(t, got, 1)
	require.Equal(t, adapter.Pending, got[0].State)
	require.Equal(t, 2, got[0].Attempt)
}
