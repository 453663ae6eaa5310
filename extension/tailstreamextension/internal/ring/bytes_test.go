package ring

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxBytesDropsOldest(t *testing.T) {
	now := time.Now()
	mk := func(msg string) *Entry { return &Entry{Message: msg, Ingested: now, Timestamp: now} }
	one := mk(strings.Repeat("x", 100)).Size()
	b := New(1000, time.Hour)
	b.SetMaxBytes(3*one + one/2) // room for three lines of this size
	for i := 0; i < 10; i++ {
		b.Append([]*Entry{mk(strings.Repeat("x", 100))})
	}
	snap := b.Snapshot(0, 0, now)
	require.Len(t, snap, 3, "only what fits in max_bytes stays")
	assert.Equal(t, []uint64{8, 9, 10}, []uint64{snap[0].Seq, snap[1].Seq, snap[2].Seq}, "the newest stay")
	assert.LessOrEqual(t, b.Bytes(), 3*one+one/2)
	assert.Equal(t, uint64(10), b.Head())

	// A line larger than the bound still stays: the newest is never dropped.
	big := mk(strings.Repeat("y", 10*int(one)))
	b.Append([]*Entry{big})
	snap = b.Snapshot(0, 0, now)
	require.Len(t, snap, 1)
	assert.Equal(t, uint64(11), snap[0].Seq)

	// Reverse walks what is left, too.
	var seen []uint64
	b.Reverse(now, func(e *Entry) bool { seen = append(seen, e.Seq); return true })
	assert.Equal(t, []uint64{11}, seen)
}

func TestMaxBytesWithWrap(t *testing.T) {
	now := time.Now()
	b := New(4, time.Hour)
	e := &Entry{Message: "m", Ingested: now}
	b.SetMaxBytes(100 * e.Size())
	for i := 0; i < 20; i++ {
		b.Append([]*Entry{{Message: "m", Ingested: now}})
	}
	// The count bound (4) binds first; overwritten lines leave the byte count.
	assert.Len(t, b.Snapshot(0, 0, now), 4)
	assert.Equal(t, 4*e.Size(), b.Bytes())
}

func TestMaxBytesCountsReplacedLines(t *testing.T) {
	now := time.Now()
	b := New(10, time.Hour)
	b.SetMaxBytes(1 << 20)
	e := &Entry{Message: "m", TraceID: "0102030405060708090a0b0c0d0e0f10", Ingested: now}
	b.Append([]*Entry{e})
	before := b.Bytes()
	require.Equal(t, e.Size(), before)
	late := e.Attributed("job-1", "worker-1", "high_priority")
	require.True(t, b.Replace(late))
	assert.Equal(t, late.Size(), b.Bytes(), "the attributed copy is what is held now")
	assert.Greater(t, b.Bytes(), before)
}
