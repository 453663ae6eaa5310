package queuejobreceiver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/internal/tracecontext"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/metadata"
)

// BenchmarkPollCompleted measures the receiver's side of throughput: one poll that finds
// `batch` new completions at the head of jobqueue:completed (with older, seen entries behind
// them), parses them, extracts their trace context and builds spans and logs. jobs/s is how many
// completions per second one poller can absorb, independent of how fast a producer runs.
func BenchmarkPollCompleted(b *testing.B) {
	for _, batch := range []int{250, 1250} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			srv := redistest.Start(b)
			cfg := testConfig(srv.Addr)
			res := cfg.resolved()
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
			defer rdb.Close()
			tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
			require.NoError(b, err)
			ex, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
			require.NoError(b, err)
			p := newPoller(&res, rdb, zap.NewNop(), newTelemetry(tb), ex, time.Now())
			em := &emitter{serviceName: "jobqueue"}
			ctx := context.Background()
			_, err = p.poll(ctx, time.Now()) // baseline
			require.NoError(b, err)
			n := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				pipe := rdb.Pipeline()
				for range batch {
					pipe.LPush(ctx, "jobqueue:completed", payloadFor(fmt.Sprintf("job-%d", n), 0, time.Now()))
					n++
				}
				_, err := pipe.Exec(ctx)
				require.NoError(b, err)
				b.StartTimer()
				evs, err := p.poll(ctx, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				if len(evs) != batch {
					b.Fatalf("%d events, want %d", len(evs), batch)
				}
				em.build(evs)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}
