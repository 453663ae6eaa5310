package queuejobreceiver

import (
	"context"
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

// BenchmarkLibraryFinished is BenchmarkPollCompleted for the asynq and BullMQ presets: each op,
// `batch` jobs finish (written as the library's scripts write them) and one poll of the whole
// receiver path (adapter, tracker, trace-context extraction, spans and logs) absorbs them.
// jobs/s is the finishing rate one receiver keeps up with. The adapters' own benchmarks
// (internal/adapters/*/bench_test.go) measure the poll at 1,000 in-flight jobs.
func BenchmarkLibraryFinished(b *testing.B) {
	const batch = 1000
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	seeds := map[string]func(ctx context.Context, p redis.Pipeliner, n int){
		"bullmq": func(ctx context.Context, p redis.Pipeliner, n int) {
			id := strconv.Itoa(n)
			p.HSet(ctx, "bull:mails:"+id, "name", "send", "data", `{}`, "opts", `{"tm":"{\"traceparent\":\"`+tp+`\"}","attempts":3}`,
				"timestamp", "1796117719852", "atm", "1", "ats", "1", "processedOn", "1796117719871", "finishedOn", "1796117719890", "returnvalue", `"ok"`)
			p.ZAdd(ctx, "bull:mails:completed", redis.Z{Score: float64(n), Member: id})
			p.XAdd(ctx, &redis.XAddArgs{Stream: "bull:mails:events", Values: []string{"event", "completed", "jobId", id, "returnvalue", `"ok"`, "prev", "active"}})
		},
		"asynq": func(ctx context.Context, p redis.Pipeliner, n int) {
			id := "done-" + strconv.Itoa(n)
			var m []byte
			for _, f := range []struct {
				num protowire.Number
				v   string
			}{{1, "email:send"}, {3, id}, {4, "default"}} {
				m = protowire.AppendTag(m, f.num, protowire.BytesType)
				m = protowire.AppendString(m, f.v)
			}
			m = protowire.AppendTag(m, 13, protowire.VarintType) // completed_at
			m = protowire.AppendVarint(m, uint64(time.Now().Unix()))
			h := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "traceparent")
			h = protowire.AppendString(protowire.AppendTag(h, 2, protowire.BytesType), tp)
			m = protowire.AppendBytes(protowire.AppendTag(m, 15, protowire.BytesType), h)
			p.HSet(ctx, "asynq:{default}:t:"+id, "msg", m, "state", "completed")
			p.ZAdd(ctx, "asynq:{default}:completed", redis.Z{Score: float64(time.Now().Unix() + 3600 + int64(n)), Member: id})
		},
	}
	for _, preset := range []string{"asynq", "bullmq"} {
		b.Run(preset, func(b *testing.B) {
			srv := redistest.Start(b)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
			defer rdb.Close()
			ctx := context.Background()
			rdb.SAdd(ctx, "asynq:queues", "default")
			rdb.HSet(ctx, "bull:mails:meta", "opts.maxLenEvents", "10000")
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: "bull:mails:events", Values: []string{"event", "drained"}})
			cfg := libraryConfig(srv.Addr, preset)
			require.NoError(b, cfg.Validate())
			res := cfg.resolved()
			tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
			require.NoError(b, err)
			ex, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
			require.NoError(b, err)
			lp, err := newLibraryPoller(libraries[preset], &res, rdb, zap.NewNop(), newTelemetry(tb), ex, time.Now())
			require.NoError(b, err)
			em := &emitter{serviceName: "jobqueue", system: preset}
			_, err = lp.poll(ctx, time.Now()) // baseline
			require.NoError(b, err)
			n := 0
			var polled time.Duration
			for b.Loop() {
				b.StopTimer()
				p := rdb.Pipeline()
				if preset == "asynq" && n >= 10*batch {
					p.ZPopMin(ctx, "asynq:{default}:completed", batch) // retention keeps the set bounded
				}
				for range batch {
					n++
					seeds[preset](ctx, p, n)
				}
				_, err := p.Exec(ctx)
				require.NoError(b, err)
				b.StartTimer()
				start := time.Now()
				evs, err := lp.poll(ctx, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				em.build(evs)
				polled += time.Since(start)
				if len(evs) < batch {
					b.Fatalf("%d events, want at least %d", len(evs), batch)
				}
			}
			b.ReportMetric(float64(b.N*batch)/polled.Seconds(), "jobs/s")
		})
	}
}

// libraryConfig is testConfig for a library preset.
func libraryConfig(addr, preset string) *Config {
	cfg := testConfig(addr)
	cfg.Preset = preset
	cfg.Queues = nil
	return cfg
}
