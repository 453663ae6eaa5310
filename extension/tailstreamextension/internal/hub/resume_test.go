package hub

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

func msgs(es []*ring.Entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Message)
	}
	return out
}

// Issue 13 leftover 4: Resume places the client's last line by what this stream received:
// the late version for a stream that got it late, the early one for a stream that had it.
func TestResumeAroundALateLine(t *testing.T) {
	cat := &catalog{}
	h := newHub(t, ring.New(100, time.Hour), limits, nil)
	h.SetResolver(cat)
	now := time.Now()
	all, err := h.Create("u", compile(t, logfilter.Spec{}), nil, opts(), false, now)
	require.NoError(t, err)
	job, err := h.Create("u", compile(t, logfilter.Spec{JobID: "j1"}), nil, opts(), false, now)
	require.NoError(t, err)
	h.Ingest([]*ring.Entry{{Message: "early", TraceID: traceJ1, Ingested: now}, {Message: "next", Ingested: now}}, now)
	cat.learn(traceJ1, "", j1)
	require.Equal(t, 1, h.Reattribute(now, true))
	h.Ingest([]*ring.Entry{{Message: "j1 after", JobID: "j1", Ingested: now}}, now)

	live := -1 // no replay: live only
	resume := func(s *Stream, last uint64) []string {
		out, from, partial, _ := h.Resume(context.Background(), s, last, live, now)
		require.False(t, partial)
		assert.Equal(t, Position{3, 1}, from)
		return msgs(out)
	}
	assert.Equal(t, []string{"early", "next", "j1 after"}, resume(all, 0))
	assert.Equal(t, []string{"next", "j1 after"}, resume(all, 1), "the unfiltered stream had early at seq 1")
	out, _, _, _ := h.Resume(context.Background(), all, 0, live, now)
	assert.Nil(t, out[0].Late, "it is given the version it had")

	assert.Equal(t, []string{"early", "j1 after"}, resume(job, 0), "late, after next")
	assert.Equal(t, []string{"j1 after"}, resume(job, 1), "seq 1 is the late line for this stream")
	assert.Equal(t, []string{"early", "j1 after"}, resume(job, 2), "the late line came after seq 2")
	assert.Empty(t, resume(job, 3))

	// Queued lines line up with the same positions.
	q := job.Drain(nil)
	require.Len(t, q, 2)
	assert.Equal(t, Position{2, 1}, job.Pos(q[0]))
	assert.Equal(t, Position{3, 0}, job.Pos(q[1]))

	// A stream created after the late delivery replays the attributed version as history.
	later, err := h.Create("u", compile(t, logfilter.Spec{JobID: "j1"}), nil, opts(), false, now)
	require.NoError(t, err)
	rep, _ := h.Replay(context.Background(), later, 0, now)
	assert.Equal(t, []string{"early", "j1 after"}, msgs(rep))

	// A stream created between a line and its late attribution replays the ring as it was at
	// its creation: the line reaches it once, live and late, not in the replay too.
	const trace2 = "22222222222222222222222222222222"
	h.Ingest([]*ring.Entry{{Message: "early 2", TraceID: trace2, Ingested: now}}, now)
	mid, err := h.Create("v", compile(t, logfilter.Spec{JobID: "j1"}), nil, opts(), false, now)
	require.NoError(t, err)
	cat.learn(trace2, "", j1)
	require.Equal(t, 1, h.Reattribute(now, true))
	rep, _ = h.Replay(context.Background(), mid, 0, now)
	assert.Equal(t, []string{"early", "j1 after"}, msgs(rep))
	assert.Equal(t, []string{"early 2"}, msgs(mid.Drain(nil)))
}

// A replay line attributed after the stream was created is replayed as it was; resuming
// right after it continues after it, not with it again.
func TestResumeMidReplayAfterAttribution(t *testing.T) {
	cat := &catalog{}
	h := newHub(t, ring.New(100, time.Hour), limits, nil)
	h.SetResolver(cat)
	now := time.Now()
	h.Ingest([]*ring.Entry{
		{Message: "b", Timestamp: now.Add(2 * time.Second), Ingested: now},
		{Message: "early", TraceID: traceJ1, Timestamp: now.Add(time.Second), Ingested: now},
		{Message: "a", Timestamp: now, Ingested: now},
	}, now)
	s, err := h.Create("u", compile(t, logfilter.Spec{}), nil, opts(), false, now)
	require.NoError(t, err)
	cat.learn(traceJ1, "", j1)
	require.Equal(t, 1, h.Reattribute(now, true))

	rep, _ := h.Replay(context.Background(), s, 0, now)
	require.Equal(t, []string{"a", "early", "b"}, msgs(rep))
	assert.Nil(t, rep[1].Late, "as the ring held it at creation")
	assert.Empty(t, rep[1].JobID)
	out, _, _, _ := h.Resume(context.Background(), s, rep[1].Seq, 0, now)
	assert.Equal(t, []string{"b"}, msgs(out))
	assert.Empty(t, s.Drain(nil), "the unfiltered stream had early: no late delivery")
}

// A stream that replays nothing, resumed from a line before it existed (a one-shot tail
// resuming an earlier one), gets the retained lines after it, then its own.
func TestResumeFromBeforeAStreamWithoutReplay(t *testing.T) {
	h := newHub(t, ring.New(100, time.Hour), limits, nil)
	now := time.Now()
	h.Ingest(entriesFor("j1", 4), now)
	s, err := h.Create("u", compile(t, logfilter.Spec{JobID: "j1"}), nil, opts(), false, now)
	require.NoError(t, err)
	h.Ingest(entriesFor("j1", 1), now)
	out, from, _, _ := h.Resume(context.Background(), s, 2, -1, now)
	assert.Equal(t, []string{"j1 2", "j1 3", "j1 0"}, msgs(out))
	assert.Equal(t, Position{5, 0}, from)
}

// A client resuming mid-replay after its last line left the ring is placed by the replay's own
// order: it gets the rest of the replay the ring still holds, then the live lines, and hears how
// many lines of the rest left the ring too. Before, it got the live lines only, and no word of
// the replay lines it missed.
func TestResumeMidReplayAfterItsLineLeftTheRing(t *testing.T) {
	m := &counts{}
	now := time.Now()
	// Seqs 1–6 with timestamps out of seq order: the replay order is 2, 4, 1, 6, 3, 5.
	history := func() []*ring.Entry {
		var es []*ring.Entry
		for seq, sec := range []int{3, 1, 5, 2, 6, 4} {
			es = append(es, &ring.Entry{Message: "r" + strconv.Itoa(seq+1), Timestamp: now.Add(time.Duration(sec) * time.Second), Ingested: now})
		}
		return es
	}
	live := func(n int) []*ring.Entry {
		var es []*ring.Entry
		for i := range n {
			es = append(es, &ring.Entry{Message: "l" + strconv.Itoa(i+1), Timestamp: now.Add(time.Minute), Ingested: now})
		}
		return es
	}
	for _, tc := range []struct {
		name     string
		live     int // lines after the replay; the ring holds 10, so 6 + live - 10 leave it
		wantOut  []string
		wantGone int
	}{
		{name: "the rest of the replay is retained", live: 6, wantOut: []string{"r6", "r3", "r5", "l1", "l2", "l3", "l4", "l5", "l6"}},
		{name: "part of the rest left the ring too", live: 9, wantOut: []string{"r6", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9"}, wantGone: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t, ring.New(10, time.Hour), limits, m)
			h.Ingest(history(), now)
			s, err := h.Create("u", compile(t, logfilter.Spec{}), nil, opts(), false, now)
			require.NoError(t, err)
			rep, _ := h.Replay(context.Background(), s, 0, now)
			require.Equal(t, []string{"r2", "r4", "r1", "r6", "r3", "r5"}, msgs(rep))
			h.Ingest(live(tc.live), now)
			require.Greater(t, h.ring.Snapshot(0, 0, now)[0].Seq, rep[2].Seq, "the client's last line (r1) has left the ring")

			out, _, _, gone := h.Resume(context.Background(), s, rep[2].Seq, 0, now)
			assert.Equal(t, tc.wantOut, msgs(out))
			assert.Equal(t, tc.wantGone, gone)

			// Resuming after a live line shows the client had the whole replay: its order is
			// no longer kept.
			require.Len(t, s.replayed, 6)
			_, _, _, gone = h.Resume(context.Background(), s, out[len(out)-1].Seq, 0, now)
			assert.Zero(t, gone)
			assert.Nil(t, s.replayed)
		})
	}
	m.mu.Lock()
	assert.Equal(t, int64(2), m.dropped[ReasonRetention], "counted in telemetry")
	m.mu.Unlock()
}

// The replay orders of all streams share Limits.ReplayOrder. A replay that does not fit is not
// kept: a resume after its line left the ring is told it may have missed lines it cannot
// count. What a stream kept comes back when it ends or a client resumes past its replay.
func TestReplayOrdersShareABound(t *testing.T) {
	l := limits
	l.ReplayOrder = 8
	h := newHub(t, ring.New(10, time.Hour), l, nil)
	now := time.Now()
	var hist []*ring.Entry
	for i := range 6 {
		hist = append(hist, &ring.Entry{Message: "h" + strconv.Itoa(i+1), Timestamp: now.Add(-time.Duration(i) * time.Second), Ingested: now})
	}
	h.Ingest(hist, now)
	create := func() *Stream {
		s, err := h.Create("u", compile(t, logfilter.Spec{}), nil, opts(), false, now)
		require.NoError(t, err)
		rep, _ := h.Replay(context.Background(), s, 6, now) // the newest 6 by time
		require.Len(t, rep, 6)
		return s
	}
	kept, untracked := create(), create()
	assert.Len(t, kept.replayed, 6)
	assert.True(t, untracked.untracked, "6 more lines do not fit in the 2 left")
	assert.EqualValues(t, 2, h.replayRoom.Load())

	h.Ingest(entriesFor("j", 10), now) // every history line leaves the ring
	_, _, _, gone := h.Resume(context.Background(), untracked, hist[0].Seq, 0, now)
	assert.Equal(t, GoneUncounted, gone)
	_, _, _, gone = h.Resume(context.Background(), kept, hist[0].Seq, 0, now)
	assert.Equal(t, 0, gone, "h1 is the newest by time: nothing came after it in the replay")
	_, _, _, gone = h.Resume(context.Background(), kept, hist[5].Seq, 0, now)
	assert.Equal(t, 5, gone)

	require.True(t, h.Remove(kept.ID, EndDeleted))
	assert.EqualValues(t, 8, h.replayRoom.Load(), "an ended stream gives its order back")
	again := create()
	assert.Len(t, again.replayed, 6)
	h.Ingest(entriesFor("j", 1), now) // a live line
	out, _, _, _ := h.Resume(context.Background(), again, h.ring.Head(), 0, now)
	assert.Empty(t, out)
	assert.Nil(t, again.replayed, "a resume past the replay lets its order go")
	assert.EqualValues(t, 8, h.replayRoom.Load())
}
