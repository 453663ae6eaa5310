package celery

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

func TestPollLayout(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	msg := func(id string, retries int, eta string) string {
		e := "null"
		if eta != "" {
			e = `"` + eta + `"`
		}
		return `{"body":"W10=","headers":{"task":"app.send","id":"` + id + `","retries":` + string(rune('0'+retries)) + `,"eta":` + e +
			`,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"properties":{"delivery_info":{"routing_key":"mail"}}}`
	}
	require.NoError(t, c.SAdd(ctx, "_kombu.binding.mail", "mail\x06\x16\x06\x16mail").Err())
	require.NoError(t, c.SAdd(ctx, "_kombu.binding.celery.pidbox", "\x06\x16\x06\x16abc.celery.pidbox").Err())
	require.NoError(t, c.LPush(ctx, "mail", msg("p1", 0, ""), "{broken", `{"headers":{}}`).Err())
	require.NoError(t, c.LPush(ctx, "mail\x06\x169", msg("p9", 0, "")).Err())
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	require.NoError(t, c.HSet(ctx, "unacked", "t1", `[`+msg("u1", 0, "")+`,"","mail"]`, "t2", `[`+msg("u2", 1, future)+`,"","mail"]`).Err())
	require.NoError(t, c.ZAdd(ctx, "unacked_index", redis.Z{Score: 1, Member: "t1"}, redis.Z{Score: 2, Member: "t2"}).Err())
	require.NoError(t, c.Set(ctx, "celery-task-meta-r1", `{"status":"FAILURE","result":{"exc_type":"KeyError","exc_message":["k"],"exc_module":"builtins"},`+
		`"traceback":"Traceback ...\nKeyError: 'k'\n","date_done":"2026-12-01T10:00:00.250000","task_id":"r1","name":"app.send","worker":"celery@h","queue":"mail","retries":2}`, 0).Err())
	require.NoError(t, c.Set(ctx, "celery-task-meta-r2", `{"status":"SUCCESS","result":1,"traceback":null,"date_done":"2026-12-01T10:00:01","task_id":"r2"}`, 0).Err())

	var bad []string
	a, err := New(adapter.Settings{
		Windows: adapter.Windows{Pending: 100, Active: 100, Retry: 100, Finished: 1000, Dead: 1000, Page: 100},
		Scan:    adapter.Scan{Count: 100, CallsPerPoll: 4}, MaxPayloadSize: 1 << 20, Logger: zap.NewNop(),
		Bad: func(r string) { bad = append(bad, r) },
	})
	require.NoError(t, err)
	got := map[string]*adapter.Observation{}
	start := time.Now()
	pollAt := func(now time.Time) {
		require.NoError(t, a.Poll(ctx, adapter.ReadOnly(c), now, func(o *adapter.Observation) { cp := *o; got[o.ID] = &cp }))
	}
	pollAt(start) // discovers the queue "mail" from its binding
	pollAt(start)
	require.NotContains(t, got, "u2", "a retry's message waits for its RETRY result")
	pollAt(start.Add(retryHold)) // none came (ignore_result): reported without the error
	require.ElementsMatch(t, []string{"not_json", "missing_id"}, bad)
	require.Equal(t, adapter.Pending, got["p1"].State)
	require.Equal(t, "mail", got["p1"].Queue)
	require.Equal(t, "app.send", got["p1"].Type)
	require.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", got["p1"].Carrier["traceparent"])
	require.Equal(t, adapter.Pending, got["p9"].State, "priority sub-list")
	require.Equal(t, adapter.Active, got["u1"].State)
	require.Equal(t, adapter.Scheduled, got["u2"].State, "a retry waiting for its eta")
	require.Equal(t, 2, got["u2"].Attempt)
	r1 := got["r1"]
	require.Equal(t, adapter.Failed, r1.State)
	require.Equal(t, 3, r1.Attempt)
	require.Equal(t, &adapter.Error{Type: "KeyError", Message: "k", Stacktrace: "Traceback ...\nKeyError: 'k'\n"}, r1.Error)
	require.Equal(t, time.Date(2026, 12, 1, 10, 0, 0, 250000000, time.UTC), r1.Ended)
	require.Equal(t, adapter.Succeeded, got["r2"].State)
	require.Zero(t, got["r2"].Attempt, "without result_extended the attempt is unknown")
	require.Len(t, bad, 2, "bad payloads counted once")
}
