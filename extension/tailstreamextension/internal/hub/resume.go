package hub // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// Position is a point in a stream's live order, the order its queue receives lines in: a
// line at (seq, 0); a late line right after the newest line of the moment it was re-offered,
// (ring head then, its LateID). Positions of one stream never repeat, and a client that
// received the line at a position has received every queued line before it, so "what comes
// after the client's last line" is exact even though a late line's seq is old.
type Position struct {
	Seq, Late uint64
}

// Less orders positions.
func (p Position) Less(q Position) bool {
	return p.Seq < q.Seq || p.Seq == q.Seq && p.Late < q.Late
}

// Pos is where e sits in the stream's live order.
func (s *Stream) Pos(e *ring.Entry) Position {
	if li := e.Late; li != nil && li.ID > s.lateGen0 {
		return Position{li.At, li.ID}
	}
	return Position{e.Seq, 0}
}

// Start is the live position right after the replay: the queue holds what follows it.
func (s *Stream) Start() Position { return Position{s.StartSeq, s.lateGen0} }

// asOfCreation is the version of e the ring held when s was created: the replay shows lines
// as they were then, since what was re-offered later reaches s live.
func (s *Stream) asOfCreation(e *ring.Entry) *ring.Entry {
	if e.LateID() > s.lateGen0 {
		return e.Early()
	}
	return e
}

// Replay returns the stream's replay: of the retained lines up to StartSeq as they were at
// creation, the last tail that match (0: all), in timestamp order. partial is set when ctx
// ended or the query budget ran out.
func (h *Hub) Replay(ctx context.Context, s *Stream, tail int, now time.Time) (out []*ring.Entry, partial bool) {
	snap := h.ring.Snapshot(0, s.StartSeq, now)
	out, partial = h.replayOf(ctx, s, snap, tail)
	s.recordReplay(out)
	return out, partial
}

// GoneUncounted is Resume's gone when replay lines may have been missed but the stream did not
// keep its replay's order (Limits.ReplayOrder was taken), so they cannot be counted.
const GoneUncounted = -1

func (s *Stream) recordReplay(out []*ring.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetReplayLocked()
	if len(out) == 0 || s.ended {
		return
	}
	lo, hi := out[0].Seq, out[0].Seq
	for _, e := range out {
		lo, hi = min(lo, e.Seq), max(hi, e.Seq)
	}
	// The lines were in the ring at once, so they span less than its capacity.
	if hi-lo > math.MaxUint32 {
		s.untracked = true
		return
	}
	room := &s.hub.replayRoom
	if room.Add(-int64(len(out))) < 0 {
		room.Add(int64(len(out)))
		s.untracked = true
		return
	}
	s.replayBase, s.replayed = lo, make([]uint32, len(out))
	for i, e := range out {
		s.replayed[i] = uint32(e.Seq - lo)
	}
}

func (s *Stream) forgetReplayLocked() {
	s.hub.replayRoom.Add(int64(len(s.replayed)))
	s.replayed, s.untracked = nil, false
}

// restOfReplay is what followed the line with seq last in the replay s sent: the part the ring
// still holds, as it was at s's creation, and how many lines of it have left the ring since
// (GoneUncounted when s did not keep the order). Nothing when last was no line of that replay.
func (s *Stream) restOfReplay(last uint64, snap []*ring.Entry) (rest []*ring.Entry, gone int) {
	s.mu.Lock()
	offs, base, untracked := s.replayed, s.replayBase, s.untracked
	s.mu.Unlock()
	if untracked {
		return nil, GoneUncounted
	}
	k := -1
	if last >= base && last-base <= math.MaxUint32 {
		k = slices.Index(offs, uint32(last-base))
	}
	if k < 0 {
		return nil, 0
	}
	for _, o := range offs[k+1:] {
		q := base + uint64(o)
		i := sort.Search(len(snap), func(i int) bool { return snap[i].Seq >= q })
		if i < len(snap) && snap[i].Seq == q {
			rest = append(rest, s.asOfCreation(snap[i]))
		} else {
			gone++
		}
	}
	return rest, gone
}

func (h *Hub) replayOf(ctx context.Context, s *Stream, snap []*ring.Entry, tail int) ([]*ring.Entry, bool) {
	f, b := s.filter.Load(), h.budget(ctx)
	var out []*ring.Entry
	evals := int64(0)
	// Walk back from the newest so a small tail of a big buffer stays cheap.
	for i := len(snap) - 1; i >= 0 && (tail <= 0 || len(out) < tail) && !b.stop(); i-- {
		if snap[i].Seq > s.StartSeq {
			continue
		}
		e := s.asOfCreation(snap[i])
		evals++
		if (s.scope == nil || s.scope(e)) && f.Match(e) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, byTime)
	if h.metrics != nil {
		h.metrics.Evaluated(evals)
	}
	return out, b.stopped
}

// Resume returns what a client that last received the line with seq last (SSE
// Last-Event-ID, the WebSocket last_event_id) has not had, in the order it would have had
// it: the rest of the replay (tail >= 0 when the stream replays, as for Replay), then the
// retained live lines after it, a late line at its late position. from is where the queue
// takes over: queued lines at or before it were covered.
//
// The last line tells where the client was: its late version if that is what this stream
// got, a replay line if its seq is at most StartSeq and the stream replays, else the line of
// that seq. Once a replay line has left the ring, the replay's own order places it; gone
// counts the lines after it in the replay that have left the ring too, which the client
// will not get (GoneUncounted: some may have, see Limits.ReplayOrder). Otherwise the lines
// after its seq are sent.
func (h *Hub) Resume(ctx context.Context, s *Stream, last uint64, tail int, now time.Time) (out []*ring.Entry, from Position, partial bool, gone int) {
	h.ingestMu.Lock()
	from = Position{h.ring.Head(), h.lateGen}
	h.ingestMu.Unlock()
	snap := h.ring.Snapshot(0, from.Seq, now)
	for i, e := range snap {
		if e.LateID() > from.Late {
			// Re-offered after from was taken: the queue brings the late version.
			snap[i] = e.Early()
		}
	}
	f := s.filter.Load()
	match := func(e *ring.Entry) bool { return (s.scope == nil || s.scope(e)) && f.Match(e) }
	// early returns e's version from before its job was known when the stream took that
	// one, and so never got the late one (dispatch's rule).
	early := func(e *ring.Entry) *ring.Entry {
		if x := e.Early(); x != nil && match(x) {
			return x
		}
		return nil
	}

	at := s.Start()
	i := sort.Search(len(snap), func(i int) bool { return snap[i].Seq >= last })
	var le *ring.Entry
	if i < len(snap) && snap[i].Seq == last {
		le = snap[i]
	}
	switch {
	case le != nil && le.LateID() > s.lateGen0 && early(le) == nil:
		at = s.Pos(le)
	case last <= s.StartSeq && tail >= 0:
		if le == nil {
			// Its timestamp, which placed it in the replay, is gone with it.
			out, gone = s.restOfReplay(last, snap)
		} else {
			replay, p := h.replayOf(ctx, s, snap, tail)
			partial = p
			ref := s.asOfCreation(le)
			k, _ := slices.BinarySearchFunc(replay, ref, byTime)
			if k < len(replay) && replay[k].Seq == ref.Seq {
				k++
			}
			out = replay[k:]
		}
	default:
		// A live line, or, on a stream that replays nothing, a line the client saw elsewhere
		// (a new one-shot tail resuming an earlier one's): what the ring holds after it.
		at = Position{last, 0}
	}
	if s.Start().Less(at) {
		// The client had the whole replay: no resume will be placed in it again.
		s.mu.Lock()
		s.forgetReplayLocked()
		s.mu.Unlock()
	}

	type item struct {
		pos Position
		e   *ring.Entry
	}
	var live []item
	b := h.budget(ctx)
	evals := int64(0)
	for _, e := range snap {
		if b.stop() {
			partial = true
			break
		}
		reoffered := e.LateID() > s.lateGen0
		if !reoffered && e.Seq <= at.Seq {
			continue // delivered before at, or part of the replay
		}
		evals++
		var x *ring.Entry
		if reoffered {
			x = early(e)
		}
		switch {
		case x != nil:
			if p := (Position{e.Seq, 0}); at.Less(p) {
				live = append(live, item{p, x})
			}
		case match(e):
			if p := s.Pos(e); at.Less(p) {
				live = append(live, item{p, e})
			}
		}
	}
	slices.SortFunc(live, func(a, b item) int {
		if c := cmp.Compare(a.pos.Seq, b.pos.Seq); c != 0 {
			return c
		}
		return cmp.Compare(a.pos.Late, b.pos.Late)
	})
	for _, it := range live {
		out = append(out, it.e)
	}
	if h.metrics != nil {
		h.metrics.Evaluated(evals)
		if gone > 0 {
			h.metrics.Dropped(ReasonRetention, int64(gone))
		}
	}
	return out, from, partial, gone
}
