package asynq

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adaptertest"
)

// The benchmarks seed Redis as asynq v0.26's scripts leave it (see adapter.go), with messages
// encoded by field number like asynq's generated code (TestDecodeRealTaskMessages checks the
// decoder against asynq's own encoding).

func encodeMsg(id, q string, retried int32, completedAt int64) []byte {
	var b []byte
	str := func(n protowire.Number, s string) {
		b = protowire.AppendTag(b, n, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	str(fType, "email:send")
	b = protowire.AppendTag(b, fPayload, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte(`{"to":"x@example.com"}`))
	str(fID, id)
	str(fQueue, q)
	b = protowire.AppendTag(b, fRetry, protowire.VarintType)
	b = protowire.AppendVarint(b, 25)
	if retried > 0 {
		b = protowire.AppendTag(b, fRetried, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(retried))
	}
	if completedAt > 0 {
		b = protowire.AppendTag(b, fCompletedAt, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(completedAt))
	}
	entry := protowire.AppendTag(nil, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "traceparent")
	entry = protowire.AppendTag(entry, 2, protowire.BytesType)
	entry = protowire.AppendString(entry, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	b = protowire.AppendTag(b, fHeaders, protowire.BytesType)
	return protowire.AppendBytes(b, entry)
}

func benchAdapter(b *testing.B) (*Adapter, adapter.Reader, *redis.Client) {
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { rdb.Close() })
	s := adaptertest.Settings(b)
	s.Windows = adapter.Windows{Pending: 100, Active: 1000, Retry: 2000, Finished: 20000, Dead: 2000, Page: 1000}
	a, err := New(s)
	if err != nil {
		b.Fatal(err)
	}
	rdb.SAdd(context.Background(), allQueues, "default")
	return a, adapter.ReadOnly(rdb), rdb
}

// BenchmarkPollInFlight1000: one poll of a queue with 1,000 active tasks (steady state: their
// messages are decoded once and cached).
func BenchmarkPollInFlight1000(b *testing.B) {
	a, r, rdb := benchAdapter(b)
	ctx := context.Background()
	p := rdb.Pipeline()
	for i := range 1000 {
		id := "task-" + strconv.Itoa(i)
		p.HSet(ctx, "asynq:{default}:t:"+id, "msg", encodeMsg(id, "default", 0, 0), "state", "active")
		p.LPush(ctx, "asynq:{default}:active", id)
		p.ZAdd(ctx, "asynq:{default}:lease", redis.Z{Score: float64(time.Now().Add(30 * time.Second).Unix()), Member: id})
	}
	if _, err := p.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	n := 0
	emit := func(*adapter.Observation) { n++ }
	if err := a.Poll(ctx, r, time.Now(), emit); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n = 0
		if err := a.Poll(ctx, r, time.Now(), emit); err != nil {
			b.Fatal(err)
		}
	}
	if n != 1000 {
		b.Fatalf("%d observations per poll, want 1000", n)
	}
}

// BenchmarkFinishedJobs: each op, 1,000 tasks complete (completed set + message, as
// markAsComplete writes them) and one poll reads them. asynq's completed set keeps finished
// tasks for their retention, so the poll also re-reads (cached) the earlier ones in its window.
func BenchmarkFinishedJobs(b *testing.B) {
	a, r, rdb := benchAdapter(b)
	ctx := context.Background()
	emit := func(*adapter.Observation) {}
	const batch = 1000
	next := 0
	var polled time.Duration
	now := time.Now().Unix()
	for b.Loop() {
		b.StopTimer()
		// Keep the set at one window, as retention would: drop the oldest batch.
		p := rdb.Pipeline()
		if next >= 10*batch {
			p.ZPopMin(ctx, "asynq:{default}:completed", batch)
		}
		for range batch {
			id := "done-" + strconv.Itoa(next)
			p.HSet(ctx, "asynq:{default}:t:"+id, "msg", encodeMsg(id, "default", 0, now), "state", "completed")
			p.ZAdd(ctx, "asynq:{default}:completed", redis.Z{Score: float64(now + 3600 + int64(next)), Member: id})
			next++
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := a.Poll(ctx, r, time.Now(), emit); err != nil {
			b.Fatal(err)
		}
		polled += time.Since(start)
	}
	b.ReportMetric(float64(b.N*batch)/polled.Seconds(), "jobs/s")
}
