package bullmq

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adaptertest"
)

// The benchmarks seed Redis the way BullMQ 6.7 leaves it (hash fields, lists, sets, events as
// its Lua scripts write them; see job.go), so they can build 1,000 in-flight jobs in a moment.

func seedJob(ctx context.Context, p redis.Pipeliner, q string, id int, atm int) {
	key := "bull:" + q + ":" + strconv.Itoa(id)
	p.HSet(ctx, key, "name", "send", "data", `{"to":"x@example.com"}`,
		"opts", `{"tm":"{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}","attempts":3}`,
		"timestamp", "1796117719852", "atm", strconv.Itoa(atm), "ats", strconv.Itoa(atm+1), "processedOn", "1796117719871", "priority", "0")
}

func benchAdapter(b *testing.B) (*Adapter, adapter.Reader, *redis.Client, *redistest.Server) {
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { rdb.Close() })
	s := adaptertest.Settings(b)
	s.Windows = adapter.Windows{Pending: 100, Active: 1000, Retry: 2000, Finished: 20000, Dead: 2000, Page: 1000}
	s.Scan = adapter.Scan{Count: 1000, CallsPerPoll: 4}
	a, err := New(s)
	if err != nil {
		b.Fatal(err)
	}
	rdb.HSet(context.Background(), "bull:mails:meta", "opts.maxLenEvents", "10000")
	return a, adapter.ReadOnly(rdb), rdb, srv
}

// BenchmarkPollInFlight1000: one poll of a queue with 1,000 running jobs (the steady state:
// their hashes are cached, only the lists are re-read).
func BenchmarkPollInFlight1000(b *testing.B) {
	a, r, rdb, _ := benchAdapter(b)
	ctx := context.Background()
	p := rdb.Pipeline()
	for i := 1; i <= 1000; i++ {
		seedJob(ctx, p, "mails", i, 0)
		p.LPush(ctx, "bull:mails:active", strconv.Itoa(i))
		p.Set(ctx, "bull:mails:"+strconv.Itoa(i)+":lock", "6f1c2b9a-worker:"+strconv.Itoa(i), 0)
	}
	p.XAdd(ctx, &redis.XAddArgs{Stream: "bull:mails:events", Values: []string{"event", "drained"}})
	if _, err := p.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	n := 0
	emit := func(*adapter.Observation) { n++ }
	if err := a.Poll(ctx, r, time.Now(), emit); err != nil { // warm: hashes read once
		b.Fatal(err)
	}
	b.ResetTimer()
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

// BenchmarkFinishedJobs: each op, 1,000 jobs finish (completed event + hash, as moveToFinished
// writes them) and one poll reads them; jobs/s is the finishing rate the adapter keeps up with.
func BenchmarkFinishedJobs(b *testing.B) {
	a, r, rdb, _ := benchAdapter(b)
	ctx := context.Background()
	emit := func(*adapter.Observation) {}
	if err := a.Poll(ctx, r, time.Now(), emit); err != nil {
		b.Fatal(err)
	}
	const batch = 1000
	next := 1
	var polled time.Duration
	for b.Loop() {
		b.StopTimer()
		p := rdb.Pipeline()
		for range batch {
			seedJob(ctx, p, "mails", next, 1)
			id := strconv.Itoa(next)
			p.HSet(ctx, "bull:mails:"+id, "finishedOn", "1796117719890", "returnvalue", `"ok"`)
			p.ZAdd(ctx, "bull:mails:completed", redis.Z{Score: float64(next), Member: id})
			p.XAdd(ctx, &redis.XAddArgs{Stream: "bull:mails:events", Values: []string{"event", "completed", "jobId", id, "returnvalue", `"ok"`, "prev", "active"}})
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
	if a.StreamGaps() != 0 {
		b.Fatal(fmt.Sprint("unexpected gaps ", a.StreamGaps()))
	}
}
