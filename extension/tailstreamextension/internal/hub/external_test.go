package hub

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

func TestReportGapTellsEveryStreamOnce(t *testing.T) {
	m := &counts{}
	h := newHub(t, ring.New(100, time.Hour), limits, m)
	now := time.Now()
	opts := Options{Follow: true, RateLimit: 1000, BufferSize: 5}
	a, err := h.Create("u", compile(t, logfilter.Spec{JobID: "j1"}), nil, opts, false, now)
	require.NoError(t, err)
	b, err := h.Create("v", compile(t, logfilter.Spec{}), nil, opts, false, now)
	require.NoError(t, err)

	t0 := now.Add(-time.Minute)
	h.ReportGap(Gap{From: t0, Until: t0.Add(10 * time.Second), Lines: 4, Known: true})
	h.ReportGap(Gap{From: t0.Add(20 * time.Second), Until: t0.Add(30 * time.Second)})
	select {
	case <-a.Notify():
	default:
		t.Fatal("the stream was not woken to tell its client")
	}
	for _, s := range []*Stream{a, b} {
		r := s.TakeGapReport()
		assert.Equal(t, 2, r.Gaps)
		assert.Equal(t, t0, r.From)
		assert.Equal(t, t0.Add(30*time.Second), r.Until)
		assert.Equal(t, uint64(4), r.Lines)
		assert.False(t, r.Known, "one gap's count was unknown")
		assert.Equal(t, uint64(4), r.TotalLines)
		assert.Zero(t, s.TakeGapReport().Gaps, "reported twice")
	}
	m.mu.Lock()
	assert.Equal(t, int64(8), m.dropped[ReasonStoreGap], "4 known lines for each of 2 streams")
	m.mu.Unlock()

	// A stream created later was not affected.
	c, err := h.Create("w", compile(t, logfilter.Spec{}), nil, opts, false, now)
	require.NoError(t, err)
	assert.Zero(t, c.TakeGapReport().Gaps)
	h.ReportGap(Gap{From: t0, Until: t0, Lines: 1, Known: true})
	r := a.TakeGapReport()
	assert.True(t, r.Known)
	assert.Equal(t, uint64(5), r.TotalLines)
}
