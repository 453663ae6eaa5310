package hub

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
