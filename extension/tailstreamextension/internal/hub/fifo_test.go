package hub

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

func TestFIFOKeepsOrderAndBound(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limit     int
		pushes    []int // pushes before each drain
		wantKept  []int // items each drain returns
		wantRefus int
	}{
		{name: "under the bound", limit: 100, pushes: []int{3, 40}, wantKept: []int{3, 40}},
		{name: "exactly the bound", limit: 17, pushes: []int{17}, wantKept: []int{17}},
		{name: "over the bound refuses the rest", limit: 10, pushes: []int{25, 4}, wantKept: []int{10, 4}, wantRefus: 15},
		{name: "limit below the minimum capacity", limit: 3, pushes: []int{5}, wantKept: []int{3}, wantRefus: 2},
		{name: "wrap-around across growth", limit: 1000, pushes: []int{10, 600, 1, 999}, wantKept: []int{10, 600, 1, 999}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newFIFO[int](tc.limit)
			next, refused := 0, 0
			for i, n := range tc.pushes {
				first := next
				for range n {
					if q.push(next) {
						next++
					} else {
						refused++
					}
				}
				assert.Equal(t, tc.wantKept[i] == tc.limit, q.full())
				got := q.drain(nil)
				require.Len(t, got, tc.wantKept[i])
				for k, v := range got {
					require.Equal(t, first+k, v, "drain %d, item %d", i, k)
				}
				assert.Zero(t, q.len())
				assert.LessOrEqual(t, len(q.buf), tc.limit, "never holds room beyond its bound")
			}
			assert.Equal(t, tc.wantRefus, refused)
		})
	}
}

func TestFIFOShrinksAfterSustainedQuiet(t *testing.T) {
	q := newFIFO[*ring.Entry](10_000)
	e := &ring.Entry{}
	for range 8_000 {
		require.True(t, q.push(e))
	}
	q.drain(nil)
	big := len(q.buf)
	require.GreaterOrEqual(t, big, 8_000)
	// One quiet drain right after a burst keeps the room.
	q.push(e)
	q.drain(nil)
	assert.Equal(t, big, len(q.buf))
	// A stream that stays quiet gives it back, down to the minimum.
	for range 64 * 20 {
		q.push(e)
		q.drain(nil)
	}
	assert.Equal(t, fifoMinCap, len(q.buf))
	// Drained slots are cleared, so the queue does not keep drained entries alive.
	for _, v := range q.buf {
		assert.Nil(t, v)
	}
}

// TestIdleStreamsHoldLittleMemory: a stream's buffer_size is a bound, not an allocation.
// 500 streams of buffer_size 10,000 took 120 MB before the first line.
func TestIdleStreamsHoldLittleMemory(t *testing.T) {
	h := newHub(t, ring.New(100, time.Hour), Limits{MaxStreams: 1000, MaxStreamsPerUser: 1000, Expiry: time.Hour, IdleTimeout: time.Hour}, &counts{})
	f := compile(t, logfilter.Spec{JobID: "j"})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 500 {
		_, err := h.Create("u", f, nil, Options{Follow: true, RateLimit: 1000, BufferSize: 10_000}, false, time.Now())
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perStream := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / 500
	assert.Less(t, perStream, 8192.0, "bytes per idle stream")
}

// offerMany is offer for a whole batch under one lock: the same lines queued, the same drops
// counted for the same reasons.
func TestOfferManyMatchesOfferOneByOne(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rate, buffer int
		batches      []int
		gap          time.Duration // between batches
		drainBetween bool
	}{
		{name: "room for all", rate: 0, buffer: 1000, batches: []int{10, 200, 5}},
		{name: "queue fills mid-batch", rate: 0, buffer: 50, batches: []int{30, 30, 30}},
		{name: "rate limit mid-batch", rate: 40, buffer: 1000, batches: []int{25, 25, 25}, gap: 100 * time.Millisecond},
		{name: "rate limit and draining", rate: 100, buffer: 60, batches: []int{80, 80, 10, 80}, gap: 300 * time.Millisecond, drainBetween: true},
		{name: "full, then drained", rate: 0, buffer: 20, batches: []int{25, 5, 25}, drainBetween: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t, ring.New(100, time.Hour), Limits{MaxStreams: 10, MaxStreamsPerUser: 10, Expiry: time.Hour, IdleTimeout: time.Hour}, &counts{})
			f := compile(t, logfilter.Spec{})
			t0 := time.Now()
			one, err := h.Create("u", f, nil, Options{Follow: true, RateLimit: tc.rate, BufferSize: tc.buffer}, false, t0)
			require.NoError(t, err)
			many, err := h.Create("u", f, nil, Options{Follow: true, RateLimit: tc.rate, BufferSize: tc.buffer}, false, t0)
			require.NoError(t, err)
			var gotOne, gotMany []*ring.Entry
			var rateOne, fullOne, rateMany, fullMany int64
			now := t0
			for b, n := range tc.batches {
				now = now.Add(tc.gap)
				es := entriesFor("job-"+string(rune('a'+b)), n)
				for _, e := range es {
					switch one.offer(e, now) {
					case outRateLimited:
						rateOne++
					case outBufferFull:
						fullOne++
					}
				}
				_, r, f := many.offerMany(es, now)
				rateMany += r
				fullMany += f
				if tc.drainBetween {
					gotOne = one.Drain(gotOne)
					gotMany = many.Drain(gotMany)
				}
			}
			gotOne = one.Drain(gotOne)
			gotMany = many.Drain(gotMany)
			require.Equal(t, gotOne, gotMany, "the same lines, in the same order")
			assert.Equal(t, rateOne, rateMany, "rate-limited drops")
			assert.Equal(t, fullOne, fullMany, "buffer-full drops")
			assert.Equal(t, one.matched.Load(), many.matched.Load())
			assert.Equal(t, one.droppedFull.Load(), many.droppedFull.Load())
			assert.Equal(t, one.droppedRate, many.droppedRate)
			assert.Positive(t, len(gotOne))
		})
	}
}
