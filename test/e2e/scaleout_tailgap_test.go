package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// sendLines sends plain lines (no job, no trace) to a gateway.
func sendLines(t *testing.T, c *Collector, msgs ...string) {
	t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "app")
	sl := rl.ScopeLogs().AppendEmpty()
	for _, m := range msgs {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr(m)
	}
	c.SendLogs(t, ld)
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i+1)
	}
	return out
}

func tailHealth(t *testing.T, c *Collector) map[string]any {
	t.Helper()
	var h struct {
		Store struct {
			Tail map[string]any `json:"tail"`
		} `json:"store"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, c, "/health/logging", &h))
	return h.Store.Tail
}

// TestScaleOutTailGap interrupts gateway A's connection to VictoriaLogs (jobtail_test.go's
// cutProxy in between, for A's store reads only)
// for longer than the tail's replay while gateway B stores lines. After the reconnect A's live
// stream gets them, backfilled from the store, each once; when the gap holds more lines than
// store.tail.backfill_max_lines, the stream gets the oldest ones and a dropped message with
// reason store_gap. Never silence.
func TestScaleOutTailGap(t *testing.T) {
	tier := startDurableTier(t)
	proxy := newCutProxy(t, strings.TrimPrefix(tier.VL.URL, "http://"))
	b := startGateway(t, tier, "gw-b")
	a := startGateway(t, tier, "gw-a", WithOverlay(fmt.Sprintf(`
extensions:
  tailstream:
    store:
      logs:
        endpoint: %s
      tail:
        backfill_max_lines: 20
`, "http://"+proxy.ln.Addr().String())))
	live := followNDJSON(t, a.Collector)

	// The tail works: a line stored through B reaches A's stream.
	sendLines(t, b.Collector, "before-cut")
	Eventually(t, 45*time.Second, func() bool { return live.messages()["before-cut"] == 1 }, "B's line on A's live stream")

	interrupt := func(lines []string) time.Duration {
		proxy.setDown(true)
		cutAt := time.Now()
		sendLines(t, b.Collector, lines...)
		// Longer than the replay (5s) plus the tail's delay (7s) before the reconnect, so only
		// the backfill can bring these lines; the tail's backoff (1, 2, 4, 8 s) reconnects at ~15 s.
		time.Sleep(10 * time.Second)
		proxy.setDown(false)
		return time.Since(cutAt)
	}

	// A small gap: backfilled.
	small := numbered("small-gap", 5)
	cut := interrupt(small)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("A's tail: %v; A's stream got %v, controls %+v", tailHealth(t, a.Collector), live.messages(), live.dropped("store_gap"))
		}
	})
	Eventually(t, 60*time.Second, func() bool {
		got := live.messages()
		for _, m := range small {
			if got[m] == 0 {
				return false
			}
		}
		return true
	}, "the gap's lines on A's live stream after the reconnect")
	h := tailHealth(t, a.Collector)
	t.Logf("small gap (cut %s): A's tail %v", cut.Round(time.Second), h)
	assert.GreaterOrEqual(t, h["backfilled"], float64(len(small)), "delivered by the backfill, not the tail's replay")
	assert.Empty(t, live.dropped("store_gap"))

	// A gap larger than backfill_max_lines: the oldest 20 lines, then a store_gap drop.
	large := numbered("large-gap", 50)
	interrupt(large)
	Eventually(t, 60*time.Second, func() bool { return len(live.dropped("store_gap")) > 0 }, "a store_gap drop on A's live stream")
	got := live.messages()
	delivered := 0
	for _, m := range large {
		delivered += got[m]
	}
	d := live.dropped("store_gap")[0]
	t.Logf("large gap: %d of %d lines delivered, then %+v; A's tail %v", delivered, len(large), d, tailHealth(t, a.Collector))
	assert.Equal(t, 20, delivered)
	assert.NotEmpty(t, d.From)
	assert.NotEmpty(t, d.Until)

	for m, n := range live.messages() {
		assert.Equal(t, 1, n, "line %q delivered %d times", m, n)
	}
}
