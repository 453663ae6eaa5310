package sidekiq

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

func settings(bad *[]string) adapter.Settings {
	return adapter.Settings{
		Windows: adapter.Windows{Pending: 100, Active: 100, Retry: 100, Finished: 1000, Dead: 1000, Page: 100},
		Scan:    adapter.Scan{Count: 100, CallsPerPoll: 2}, MaxPayloadSize: 1 << 20, Logger: zap.NewNop(),
		Bad: func(r string) { *bad = append(*bad, r) },
	}
}

func compressed(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// TestPollLayouts covers both versions' in-progress hashes, a retry with a compressed backtrace,
// and bad payloads counted once and skipped without failing the poll.
func TestPollLayouts(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	require.NoError(t, c.SAdd(ctx, "queues", "default").Err())
	require.NoError(t, c.LPush(ctx, "queue:default", "not json", `{"class":"NoJid"}`,
		`{"jid":"p1","class":"HardJob","queue":"default","traceparent":"`+tp+`","created_at":1700000000.5}`).Err())
	require.NoError(t, c.ZAdd(ctx, "retry", redis.Z{Score: 1700000100, Member: `{"jid":"r1","class":"HardJob","queue":"default","retry_count":0,` +
		`"error_class":"RuntimeError","error_message":"boom","failed_at":1700000050.25,"error_backtrace":"` + compressed(`["a.rb:1","b.rb:2"]`) + `"}`}).Err())
	require.NoError(t, c.SAdd(ctx, "processes", "h:1:aa", "h:2:bb").Err())
	require.NoError(t, c.HSet(ctx, "h:1:aa:workers", "t1", `{"queue":"default","payload":"{\"jid\":\"a6\",\"class\":\"X\",\"retry_count\":1}","run_at":1700000200}`).Err())
	require.NoError(t, c.HSet(ctx, "h:2:bb:work", "t2", `{"queue":"default","payload":"{\"jid\":\"a7\",\"class\":\"Y\",\"wrapped\":\"MailerJob\"}","run_at":1700000300}`).Err())
	require.NoError(t, c.ZAdd(ctx, "dead", redis.Z{Score: float64(time.Now().Unix()), Member: `{"jid":"d1","class":"HardJob","retry_count":2,"error_class":"E","error_message":"gone"}`}).Err())

	var bad []string
	a, err := New(settings(&bad))
	require.NoError(t, err)
	poll := func() map[string]*adapter.Observation {
		got := map[string]*adapter.Observation{}
		require.NoError(t, a.Poll(ctx, adapter.ReadOnly(c), time.Now(), func(o *adapter.Observation) { cp := *o; got[o.ID] = &cp }))
		return got
	}
	got := poll()
	require.ElementsMatch(t, []string{"not_json", "missing_id"}, bad)
	require.Equal(t, adapter.Pending, got["p1"].State)
	require.Equal(t, 1, got["p1"].Attempt)
	require.Equal(t, tp, got["p1"].Carrier["traceparent"])
	require.Equal(t, int64(1700000000), got["p1"].Enqueued.Unix())

	r := got["r1"]
	require.Equal(t, adapter.RetryWait, r.State)
	require.Equal(t, 1, r.Attempt, "retry_count 0: the first attempt failed")
	require.Equal(t, &adapter.Error{Type: "RuntimeError", Message: "boom", Stacktrace: "a.rb:1\nb.rb:2"}, r.Error)
	require.Equal(t, int64(1700000050), r.Ended.Unix())

	require.Equal(t, adapter.Active, got["a6"].State)
	require.Equal(t, 3, got["a6"].Attempt, "retry_count 1 while running: the third attempt")
	require.Equal(t, "h:1:aa/t1", got["a6"].Worker)
	require.Equal(t, int64(1700000200), got["a6"].Started.Unix())
	require.Equal(t, "MailerJob", got["a7"].Type, "ActiveJob's wrapped class")
	require.Equal(t, adapter.Active, got["a7"].State, "7.x :work hash")

	require.Equal(t, adapter.Dead, got["d1"].State)
	require.Equal(t, 3, got["d1"].Attempt)

	// Second poll: bad payloads are not counted again; finished members are not re-emitted.
	got = poll()
	require.Len(t, bad, 2)
	require.NotContains(t, got, "r1")
	require.NotContains(t, got, "d1")
	require.Contains(t, got, "p1", "waiting jobs are re-emitted: a requeue is seen from them")

	_, err = New(adapter.Settings{Queues: []string{"queue:x"}})
	require.ErrorContains(t, err, "queues[0].name")
}
