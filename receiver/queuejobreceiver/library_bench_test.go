package queuejobreceiver

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/internal/tracecontext"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/metadata"
)

const benchTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// libLayouts writes jobs the way each library does (field for field as seen on real runs), so
// the benchmarks measure the adapters on realistic data.
var libLayouts = map[string]struct {
	inFlight func(ctx context.Context, p redis.Pipeliner, i int)
	finished func(ctx context.Context, p redis.Pipeliner, id string)
}{
	PresetSidekiq: {
		inFlight: func(ctx context.Context, p redis.Pipeliner, i int) {
			proc := fmt.Sprintf("host:%d:abcdef", i/25) // 25 threads per process
			p.SAdd(ctx, "processes", proc)
			job := fmt.Sprintf(`{"retry":1,"queue":"default","class":"HardJob","args":[%d],"traceparent":"%s","jid":"inflight%d","created_at":1796118224.99,"enqueued_at":1796118224.99}`, i, benchTP, i)
			p.HSet(ctx, proc+":workers", "tid"+strconv.Itoa(i), fmt.Sprintf(`{"queue":"default","payload":%q,"run_at":1796118225}`, job))
		},
		finished: func(ctx context.Context, p redis.Pipeliner, id string) {
			p.ZAdd(ctx, "dead", redis.Z{Score: float64(time.Now().UnixNano()) / 1e9, Member: `{"retry":1,"queue":"default","class":"FailJob","args":[0],"traceparent":"` + benchTP +
				`","jid":"` + id + `","created_at":1796118224.99,"enqueued_at":1796118237.49,"error_message":"always fails 0","error_class":"RuntimeError","failed_at":1796118234.06,"retry_count":1,"retried_at":1796118237.49}`})
		},
	},
	PresetCelery: {
		inFlight: func(ctx context.Context, p redis.Pipeliner, i int) {
			id := fmt.Sprintf("inflight-%d", i)
			msg := `{"body":"W1swXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbH1d","content-encoding":"utf-8","content-type":"application/json","headers":{"lang":"py","task":"app.ok","id":"` + id +
				`","shadow":null,"eta":null,"expires":null,"group":null,"retries":0,"timelimit":[null,null],"root_id":"` + id + `","parent_id":null,"argsrepr":"[0]","kwargsrepr":"{}","origin":"gen1@vm","traceparent":"` + benchTP +
				`"},"properties":{"correlation_id":"` + id + `","reply_to":"r","delivery_mode":2,"delivery_info":{"exchange":"","routing_key":"celery"},"priority":0,"body_encoding":"base64","delivery_tag":"tag` + strconv.Itoa(i) + `"}}`
			p.HSet(ctx, "unacked", "tag"+strconv.Itoa(i), `[`+msg+`,"","celery"]`)
			p.ZAdd(ctx, "unacked_index", redis.Z{Score: float64(time.Now().Unix()), Member: "tag" + strconv.Itoa(i)})
			p.Set(ctx, "celery-task-meta-"+id, `{"status":"STARTED","result":{"pid":1,"hostname":"celery@vm"},"traceback":null,"children":[],"date_done":null,"name":"app.ok","worker":"celery@vm","retries":0,"queue":"celery","task_id":"`+id+`"}`, 0)
		},
		finished: func(ctx context.Context, p redis.Pipeliner, id string) {
			p.Set(ctx, "celery-task-meta-"+id, `{"status":"SUCCESS","result":0,"traceback":null,"children":[],"date_done":"2026-12-01T09:59:40.763516","name":"app.ok","args":[0],"kwargs":{},"worker":"celery@vm","retries":0,"queue":"celery","task_id":"`+id+`"}`, 0)
		},
	},
	PresetRQ: {
		inFlight: func(ctx context.Context, p redis.Pipeliner, i int) {
			id := fmt.Sprintf("inflight-%d", i)
			p.SAdd(ctx, "rq:queues", "rq:queue:default")
			p.ZAdd(ctx, "rq:wip:default", redis.Z{Score: 9e9, Member: id})
			p.HSet(ctx, "rq:job:"+id, rqHash(id, "started")...)
		},
		finished: func(ctx context.Context, p redis.Pipeliner, id string) {
			p.SAdd(ctx, "rq:queues", "rq:queue:default")
			p.ZAdd(ctx, "rq:finished:default", redis.Z{Score: float64(time.Now().Unix() + 500), Member: id})
			p.HSet(ctx, "rq:job:"+id, rqHash(id, "finished")...)
		},
	},
	// BullMQ 6.7: as moveToActive and moveToFinished leave the job (hash fields, lock, sets, events).
	PresetBullMQ: {
		inFlight: func(ctx context.Context, p redis.Pipeliner, i int) {
			id := strconv.Itoa(i)
			p.HSet(ctx, "bull:mails:meta", "opts.maxLenEvents", "10000")
			p.HSet(ctx, "bull:mails:"+id, bullmqHash(id, 0, 1)...)
			p.LPush(ctx, "bull:mails:active", id)
			p.Set(ctx, "bull:mails:"+id+":lock", "6f1c2b9a-5e0d-4f7a-9b1e-2c3d4e5f6a7b:"+id, 0)
		},
		finished: func(ctx context.Context, p redis.Pipeliner, id string) {
			p.HSet(ctx, "bull:mails:meta", "opts.maxLenEvents", "10000")
			p.HSet(ctx, "bull:mails:"+id, append(bullmqHash(id, 1, 1), "finishedOn", "1796117719890", "returnvalue", `"ok"`)...)
			p.ZAdd(ctx, "bull:mails:completed", redis.Z{Score: 1796117719890, Member: id})
			p.XAdd(ctx, &redis.XAddArgs{Stream: "bull:mails:events", Values: []string{"event", "completed", "jobId", id, "returnvalue", `"ok"`, "prev", "active"}})
		},
	},
	// asynq v0.26: as dequeue (active list + lease) and markAsComplete (completed set) leave the task.
	PresetAsynq: {
		inFlight: func(ctx context.Context, p redis.Pipeliner, i int) {
			id := "inflight-" + strconv.Itoa(i)
			p.SAdd(ctx, "asynq:queues", "default")
			p.HSet(ctx, "asynq:{default}:t:"+id, "msg", asynqMsg(id, 0), "state", "active")
			p.LPush(ctx, "asynq:{default}:active", id)
			p.ZAdd(ctx, "asynq:{default}:lease", redis.Z{Score: float64(time.Now().Add(time.Hour).Unix()), Member: id})
		},
		finished: func(ctx context.Context, p redis.Pipeliner, id string) {
			p.SAdd(ctx, "asynq:queues", "default")
			p.HSet(ctx, "asynq:{default}:t:"+id, "msg", asynqMsg(id, time.Now().Unix()), "state", "completed")
			p.ZAdd(ctx, "asynq:{default}:completed", redis.Z{Score: float64(time.Now().Unix() + 3600), Member: id})
		},
	},
}

func bullmqHash(id string, atm, ats int) []any {
	return []any{"name", "send", "data", `{"to":"x@example.com"}`, "opts", `{"tm":"{\"traceparent\":\"` + benchTP + `\"}","attempts":3}`,
		"timestamp", "1796117719852", "atm", strconv.Itoa(atm), "ats", strconv.Itoa(ats), "processedOn", "1796117719871", "priority", "0"}
}

// asynqMsg encodes a TaskMessage by field number as asynq's generated code does (type 1, id 3,
// queue 4, completed_at 13, headers 15).
func asynqMsg(id string, completedAt int64) []byte {
	var m []byte
	for _, f := range []struct {
		num protowire.Number
		v   string
	}{{1, "email:send"}, {3, id}, {4, "default"}} {
		m = protowire.AppendString(protowire.AppendTag(m, f.num, protowire.BytesType), f.v)
	}
	if completedAt > 0 {
		m = protowire.AppendVarint(protowire.AppendTag(m, 13, protowire.VarintType), uint64(completedAt))
	}
	h := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "traceparent")
	h = protowire.AppendString(protowire.AppendTag(h, 2, protowire.BytesType), benchTP)
	return protowire.AppendBytes(protowire.AppendTag(m, 15, protowire.BytesType), h)
}

// rqMeta is pickle.dumps({'traceparent': benchTP}, protocol=5) as /usr/bin/python3 writes it.
var rqMeta = "\x80\x05\x95L\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x0btraceparent\x94\x8c7" + benchTP + "\x94s."

func rqHash(id, status string) []any {
	return []any{"status", status, "origin", "default", "description", "rqtasks.ok(1)", "created_at", "2026-12-01T10:00:00.123456Z",
		"enqueued_at", "2026-12-01T10:00:00.123456Z", "started_at", "2026-12-01T10:00:01.000000Z", "ended_at", "2026-12-01T10:00:01.500000Z",
		"worker_name", "w1", "meta", rqMeta, "data", "x\x9c\x03\x00\x00\x00\x00\x01", "timeout", "180"}
}

func benchLibraryPoller(b *testing.B, preset, addr string, mutate ...func(*Config)) (*libraryPoller, *emitter) {
	cfg := testConfig(addr)
	cfg.Preset = preset
	for _, m := range mutate {
		m(cfg)
	}
	res := cfg.resolved()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	b.Cleanup(func() { _ = rdb.Close() })
	tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(b, err)
	ex, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
	require.NoError(b, err)
	lp, err := newLibraryPoller(libraries[preset], &res, rdb, zap.NewNop(), newTelemetry(tb), ex, time.Now())
	require.NoError(b, err)
	return lp, &emitter{serviceName: "jobqueue", system: preset}
}

// BenchmarkLibraryPollInFlight is the cost of one steady-state poll with 1,000 jobs in
// progress in each library's layout (nothing new: the poll re-reads and dedups).
func BenchmarkLibraryPollInFlight(b *testing.B) {
	for _, preset := range []string{PresetSidekiq, PresetCelery, PresetRQ, PresetBullMQ, PresetAsynq} {
		b.Run(preset, func(b *testing.B) {
			srv := redistest.Start(b)
			lp, _ := benchLibraryPoller(b, preset, srv.Addr)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
			defer rdb.Close()
			ctx := context.Background()
			p := rdb.Pipeline()
			for i := range 1000 {
				libLayouts[preset].inFlight(ctx, p, i)
			}
			_, err := p.Exec(ctx)
			require.NoError(b, err)
			for range 2 { // baseline, then discovery settles
				_, err = lp.poll(ctx, time.Now())
				require.NoError(b, err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := lp.poll(ctx, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/poll")
		})
	}
}

// BenchmarkCeleryFinishedWatched is Celery's other path: tasks seen waiting (their trace
// context is only there) are watched by id, and their results are read by MGET as soon as they
// appear, without waiting for the SCAN cursor. Each iteration: 1,000 messages wait (one poll sees
// them), then workers take them and write SUCCESS results; polls until all 1,000 are emitted.
func BenchmarkCeleryFinishedWatched(b *testing.B) {
	const batch = 1000
	srv := redistest.Start(b)
	// The head window must cover the messages enqueued between two polls (see README).
	lp, em := benchLibraryPoller(b, PresetCelery, srv.Addr, func(c *Config) { c.Windows.Pending = batch })
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer rdb.Close()
	ctx := context.Background()
	// 10,000 older results make the SCAN path slow, so only watching finds results at once.
	p := rdb.Pipeline()
	for i := range 10 * batch {
		libLayouts[PresetCelery].finished(ctx, p, "old-"+strconv.Itoa(i))
	}
	_, err := p.Exec(ctx)
	require.NoError(b, err)
	for range 10 {
		_, err = lp.poll(ctx, time.Now())
		require.NoError(b, err)
	}
	require.NoError(b, err)
	n, polls := 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p = rdb.Pipeline()
		ids := make([]string, batch)
		for k := range batch {
			ids[k] = "w-" + strconv.Itoa(n)
			n++
			p.LPush(ctx, "celery", celeryMessage(ids[k]))
		}
		_, err = p.Exec(ctx)
		require.NoError(b, err)
		b.StartTimer()
		if _, err := lp.poll(ctx, time.Now()); err != nil { // the messages are seen waiting
			b.Fatal(err)
		}
		b.StopTimer()
		p = rdb.Pipeline()
		p.Del(ctx, "celery")
		for _, id := range ids {
			libLayouts[PresetCelery].finished(ctx, p, id)
		}
		_, err = p.Exec(ctx)
		require.NoError(b, err)
		b.StartTimer()
		got := 0
		for got < batch {
			evs, err := lp.poll(ctx, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			polls++
			for _, ev := range evs {
				if ev.kind == evSucceeded {
					got++
				}
			}
			em.build(evs)
			if polls > 100*b.N {
				b.Fatalf("only %d of %d results emitted", got, batch)
			}
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64(polls)/float64(b.N), "polls/batch")
}

func celeryMessage(id string) string {
	return `{"body":"W1swXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbH1d","content-encoding":"utf-8","content-type":"application/json","headers":{"lang":"py","task":"app.ok","id":"` + id +
		`","eta":null,"retries":0,"root_id":"` + id + `","parent_id":null,"argsrepr":"[0]","kwargsrepr":"{}","origin":"gen1@vm","traceparent":"` + benchTP +
		`"},"properties":{"correlation_id":"` + id + `","reply_to":"r","delivery_mode":2,"delivery_info":{"exchange":"","routing_key":"celery"},"priority":0,"body_encoding":"base64","delivery_tag":"t` + id + `"}}`
}

// BenchmarkLibraryFinished is the rate of finished jobs each adapter absorbs: each iteration
// writes 1,000 finished jobs the library's way, then polls until all 1,000 are emitted
// (parsing, trace-context extraction, spans and logs built). Celery's results are found by SCAN
// among 10,000 older results (its keyspace walk is the cost).
func BenchmarkLibraryFinished(b *testing.B) {
	const batch = 1000
	for _, preset := range []string{PresetSidekiq, PresetCelery, PresetRQ, PresetBullMQ, PresetAsynq} {
		b.Run(preset, func(b *testing.B) {
			srv := redistest.Start(b)
			lp, em := benchLibraryPoller(b, preset, srv.Addr)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
			defer rdb.Close()
			ctx := context.Background()
			if preset == PresetCelery {
				p := rdb.Pipeline()
				for i := range 10 * batch {
					libLayouts[preset].finished(ctx, p, "old-"+strconv.Itoa(i))
				}
				_, err := p.Exec(ctx)
				require.NoError(b, err)
			}
			for range 10 { // baseline: the old results are history
				_, err := lp.poll(ctx, time.Now())
				require.NoError(b, err)
			}
			n, polls := 0, 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := rdb.Pipeline()
				for range batch {
					libLayouts[preset].finished(ctx, p, "job-"+strconv.Itoa(n))
					n++
				}
				_, err := p.Exec(ctx)
				require.NoError(b, err)
				b.StartTimer()
				got := 0
				for got < batch {
					evs, err := lp.poll(ctx, time.Now())
					if err != nil {
						b.Fatal(err)
					}
					polls++
					got += len(evs)
					em.build(evs)
					if polls > 1000*b.N {
						b.Fatalf("only %d of %d finished jobs emitted", got, batch)
					}
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "jobs/s")
			b.ReportMetric(float64(polls)/float64(b.N), "polls/batch")
		})
	}
}
