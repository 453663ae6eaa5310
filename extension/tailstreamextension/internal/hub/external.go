package hub // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"

import (
	"sync"
	"time"
)

// Entry points for what reaches the streams from outside the pipeline: the extension's
// cross-gateway tail of the log store (store_tail.go there).

// ReasonStoreGap: lines other gateways stored while this gateway's tail of the store was
// disconnected could not be delivered live (too many to backfill, or the store failed). They
// are in the store, so /logs/history has them.
const ReasonStoreGap = "store_gap"

// Gap is a stretch of time whose lines of other gateways did not reach the live streams.
type Gap struct {
	From, Until time.Time
	// Lines is how many lines were lost; Known is false when the store could not say.
	Lines uint64
	Known bool
}

// GapReport is what to tell a client about gaps since the last report, merged into one:
// From/Until span them, Lines adds the known counts, Known is false if any count was unknown.
type GapReport struct {
	Gap
	// Gaps is how many gaps the report covers (0: nothing to tell); TotalLines counts every
	// known lost line of the stream so far.
	Gaps       int
	TotalLines uint64
}

type gapState struct {
	mu      sync.Mutex
	pending GapReport
	total   uint64
}

// ReportGap tells every stream alive now about g, in band, at its next control message.
// A filtered stream is told the gap's whole count: which of those lines it would have matched
// is unknown, so the count is an upper bound for it.
func (h *Hub) ReportGap(g Gap) {
	h.mu.RLock()
	streams := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		streams = append(streams, s)
	}
	h.mu.RUnlock()
	for _, s := range streams {
		s.gap.add(g)
		s.signal()
	}
	if h.metrics != nil && g.Lines > 0 {
		h.metrics.Dropped(ReasonStoreGap, int64(g.Lines)*int64(len(streams)))
	}
}

func (st *gapState) add(g Gap) {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := &st.pending
	if p.Gaps == 0 {
		p.Gap = g
	} else {
		if g.From.Before(p.From) {
			p.From = g.From
		}
		if g.Until.After(p.Until) {
			p.Until = g.Until
		}
		p.Lines += g.Lines
		p.Known = p.Known && g.Known
	}
	p.Gaps++
	st.total += g.Lines
}

// TakeGapReport returns the gaps not yet reported to any client and marks them reported.
func (s *Stream) TakeGapReport() GapReport {
	s.gap.mu.Lock()
	defer s.gap.mu.Unlock()
	r := s.gap.pending
	r.TotalLines = s.gap.total
	s.gap.pending = GapReport{}
	return r
}
