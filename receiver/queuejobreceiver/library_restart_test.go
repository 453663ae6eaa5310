package queuejobreceiver

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

// TestLibraryRedisRestartNoDuplicates: each library preset keeps its dedup across a Redis
// restart (AOF keeps the data): finished jobs read before the outage are not emitted again
// after it, and in-flight ones are not started twice.
func TestLibraryRedisRestartNoDuplicates(t *testing.T) {
	for _, preset := range []string{PresetSidekiq, PresetCelery, PresetRQ} {
		t.Run(preset, func(t *testing.T) {
			srv := redistest.Start(t, "appendonly yes", "appendfsync always")
			cfg := testConfig(srv.Addr)
			cfg.Preset = preset
			r := startReceiver(t, cfg)
			r.waitOK(t)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
			defer rdb.Close()
			ctx := context.Background()
			p := rdb.Pipeline()
			for i := range 20 {
				libLayouts[preset].finished(ctx, p, "fin-"+strconv.Itoa(i))
				libLayouts[preset].inFlight(ctx, p, i)
			}
			_, err := p.Exec(ctx)
			require.NoError(t, err)
			ended := func() int { return len(libSpans(r)) }
			require.Eventually(t, func() bool { return ended() == 20 }, 10*time.Second, 10*time.Millisecond)

			srv.Down()
			require.Eventually(t, func() bool {
				st := r.host.statuses()
				return st[len(st)-1] == componentstatus.StatusRecoverableError
			}, 10*time.Second, 10*time.Millisecond)
			srv.Up()
			require.Eventually(t, func() bool {
				st := r.host.statuses()
				return st[len(st)-1] == componentstatus.StatusOK
			}, 10*time.Second, 10*time.Millisecond)
			time.Sleep(300 * time.Millisecond) // many polls of the same data

			require.Equal(t, 20, ended(), "finished jobs emitted again after the reconnect")
			starts := map[string]int{}
			for _, l := range libLogs(r) {
				if l.event == "job_started" {
					starts[l.jobID]++
				}
			}
			for id, n := range starts {
				require.Equal(t, 1, n, "job %s started %d times", id, n)
			}
			require.Len(t, starts, 20, "every in-flight job started once")
		})
	}
}
