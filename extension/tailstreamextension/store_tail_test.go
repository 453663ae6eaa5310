package tailstreamextension

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore/logstoretest"
)

// fastTailGaps shortens the tail's replay and the backfill passes, so a one-second break (the
// loop's first backoff) is a gap.
func fastTailGaps(t *testing.T) {
	replay, passes := tailReplay, backfillPasses
	tailReplay, backfillPasses = 50*time.Millisecond, []time.Duration{0, 700 * time.Millisecond}
	t.Cleanup(func() { tailReplay, backfillPasses = replay, passes })
}

func startTailServer(t *testing.T, fake *logstoretest.Fake, maxLines int) (*testServer, *sseClient) {
	t.Helper()
	fastTailGaps(t)
	srv := startStoreServer(t, fake, func(c *Config) {
		c.Store.Tail = StoreTailConfig{Enabled: true, Gateway: "gw-a", Delay: 10 * time.Millisecond, BackfillMaxLines: maxLines}
	})
	require.Eventually(t, func() bool { return fake.Tails() == 1 }, 5*time.Second, 5*time.Millisecond)
	v := srv.create(t, "tok-admin", map[string]any{"filters": map[string]any{}})
	return srv, openSSE(t, v.SSEEndpoint, "tok-admin", nil)
}

func fromGateway(gw, msg string, ts time.Time) rec {
	return rec{job: "j1", queue: "high", msg: msg, ts: ts, attrs: map[string]any{logstore.GatewayField: gw}}
}

func hasAll(want ...string) func([]msg) bool {
	return func(ms []msg) bool {
		got := messages(ms)
		for _, w := range want {
			if !slices.Contains(got, w) {
				return false
			}
		}
		return true
	}
}

func TestTailBackfillsGapAfterReconnect(t *testing.T) {
	fake := &logstoretest.Fake{}
	srv, c := startTailServer(t, fake, 0)

	live := fromGateway("gw-b", "live before the break", time.Now())
	fake.TailPush(logsOf(live))
	c.read(t, hasAll(live.msg))

	fake.BreakTails()
	broke := time.Now()
	// What the other gateway stored meanwhile, what this gateway stored itself (its streams
	// had it live), and a line the tail already delivered.
	fake.Add(stored(live,
		fromGateway("gw-b", "gap 1", broke.Add(100*time.Millisecond)),
		fromGateway("gw-a", "own line", broke.Add(150*time.Millisecond)),
		fromGateway("gw-b", "gap 2", broke.Add(200*time.Millisecond)))...)
	got := c.read(t, hasAll("gap 1", "gap 2"))
	require.Eventually(t, func() bool { return fake.Tails() == 1 }, 5*time.Second, 5*time.Millisecond)

	// A line of the gap that reaches the store late (an exporter retrying) comes with the next pass.
	fake.Add(stored(fromGateway("gw-b", "gap 3, stored late", broke.Add(300*time.Millisecond)))...)
	got = append(got, c.read(t, hasAll("gap 3, stored late"))...)
	// The tail goes on after the gap.
	fake.TailPush(logsOf(fromGateway("gw-b", "live after", time.Now())))
	got = append(got, c.read(t, hasAll("live after"))...)

	msgs := messages(got)
	assert.NotContains(t, msgs, "own line")
	assert.NotContains(t, msgs, "live before the break", "delivered twice")
	for _, m := range got {
		assert.NotEqual(t, "dropped", m.Type, "a gap that was backfilled is not a drop: %+v", m)
	}
	assert.Equal(t, int64(1), srv.ext.store.tailGaps.Load())
	assert.Equal(t, int64(3), srv.ext.store.tailBackfilled.Load())
	assert.Zero(t, srv.ext.store.tailGapsReported.Load())
	// The backfill asked for the gap only, without this gateway's lines.
	q := fake.LastQuery()
	assert.Equal(t, "gw-a", q.ExcludeGateway)
	assert.True(t, q.From.Before(broke) && q.Until.After(broke), "gap %v..%v does not cover the break at %v", q.From, q.Until, broke)
}

func TestTailGapReportedInBandWhenNotBackfilled(t *testing.T) {
	fake := &logstoretest.Fake{}
	srv, c := startTailServer(t, fake, 2)

	// Too many lines to backfill: the oldest two come, the rest is reported dropped.
	fake.BreakTails()
	broke := time.Now()
	for i, m := range []string{"g1", "g2", "g3", "g4", "g5"} {
		fake.Add(stored(fromGateway("gw-b", m, broke.Add(time.Duration(i+1)*50*time.Millisecond)))...)
	}
	got := c.read(t, func(ms []msg) bool { return slices.ContainsFunc(ms, func(m msg) bool { return m.Type == "dropped" }) })
	assert.Equal(t, []string{"g1", "g2"}, messages(got))
	drop := got[slices.IndexFunc(got, func(m msg) bool { return m.Type == "dropped" })]
	assert.Equal(t, hub.ReasonStoreGap, drop.Reason)
	assert.Equal(t, "dropped", drop.Event)
	assert.Zero(t, drop.Count, "the rest of the gap was not counted")
	require.Eventually(t, func() bool { return fake.Tails() == 1 }, 5*time.Second, 5*time.Millisecond)

	// The store fails the backfill query: the whole gap is reported.
	fake.SetQueryError(errors.New("backfill refused"))
	fake.BreakTails()
	fake.Add(stored(fromGateway("gw-b", "never delivered", time.Now().Add(100*time.Millisecond)))...)
	got = c.read(t, func(ms []msg) bool { return slices.ContainsFunc(ms, func(m msg) bool { return m.Type == "dropped" }) })
	assert.NotContains(t, messages(got), "never delivered")
	assert.Equal(t, int64(2), srv.ext.store.tailGapsReported.Load())

	code, h := srv.get(t, "/health/logging", "tok-admin")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, h["store"].(map[string]any)["tail"], "gaps_reported")
}
