package ring // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"

import (
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// Buffer is a fixed-size ring of the most recent entries. Sequence numbers start at 1 and
// increase by one per entry, so a seq both orders lines and locates them: resume and
// Last-Event-ID are a seq, never a timestamp that several lines can share.
type Buffer struct {
	mu     sync.RWMutex
	items  []*Entry
	next   uint64 // seq the next appended entry gets
	maxAge time.Duration

	// retention.max_bytes (bytes.go): 0 means bounded by count only.
	maxBytes int64
	bytes    int64
	sizes    []int32 // estimated size of items[i], when maxBytes is set
	floor    uint64  // entries below this seq were dropped for the byte bound
}

// New returns a buffer of size entries that hides entries ingested more than maxAge ago.
func New(size int, maxAge time.Duration) *Buffer {
	return &Buffer{items: make([]*Entry, size), next: 1, maxAge: maxAge}
}

// JSONKeep is how many of the newest entries keep their marshalled JSON (Entry.JSON). Live
// fan-out asks for a line's JSON right after it is appended, once per stream; older lines are
// read again only by replays and lagging streams, which marshal them anew. Keeping the JSON of
// every retained line would hold about as many bytes again as the lines themselves.
const JSONKeep = 4096

// Append assigns the entries' seqs and stores them, overwriting the oldest.
func (b *Buffer) Append(entries []*Entry) {
	b.mu.Lock()
	n := uint64(len(b.items))
	for _, e := range entries {
		e.Seq = b.next
		i := int(b.next % n)
		b.items[i] = e
		if b.maxBytes > 0 {
			b.account(i, e)
		}
		if b.next > JSONKeep {
			if old := b.items[int((b.next-JSONKeep)%n)]; old != nil && old.Seq == b.next-JSONKeep {
				old.dropJSON()
			}
		}
		b.next++
	}
	b.mu.Unlock()
}

// Replace puts e in place of the stored entry with the same seq, if it is still retained.
func (b *Buffer) Replace(e *Entry) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := int(e.Seq % uint64(len(b.items)))
	if old := b.items[i]; old == nil || old.Seq != e.Seq {
		return false
	}
	if e.Seq+JSONKeep < b.next {
		e.dropJSON()
	}
	b.items[i] = e
	if b.maxBytes > 0 {
		// The attributed copy holds a little more; it is not worth dropping an older line for.
		sz := min(e.Size(), 1<<31-1)
		b.bytes += sz - int64(b.sizes[i])
		b.sizes[i] = int32(sz)
	}
	return true
}

// Head returns the seq of the newest entry (0 when empty).
func (b *Buffer) Head() uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.next - 1
}

// Cap is the buffer's size in entries.
func (b *Buffer) Cap() int { return len(b.items) }

// oldest returns the smallest seq still stored; call with the lock held.
func (b *Buffer) oldest() uint64 {
	n := uint64(len(b.items))
	o := uint64(1)
	if b.next-1 > n {
		o = b.next - n
	}
	return max(o, b.floor)
}

// Snapshot returns the retained entries with seq in (after, upTo], oldest first (upTo 0
// means the head). Entries older than max_age at now are left out. The slice is a copy;
// the entries are shared and immutable.
func (b *Buffer) Snapshot(after, upTo uint64, now time.Time) []*Entry {
	b.mu.RLock()
	defer b.mu.RUnlock()
	head := b.next - 1
	if upTo == 0 || upTo > head {
		upTo = head
	}
	from := b.oldest()
	if after+1 > from {
		from = after + 1
	}
	if from > upTo {
		return nil
	}
	cutoff := now.Add(-b.maxAge)
	out := make([]*Entry, 0, upTo-from+1)
	n := uint64(len(b.items))
	for s := from; s <= upTo; s++ {
		e := b.items[int(s%n)]
		if e == nil || e.Seq != s || e.Ingested.Before(cutoff) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Reverse calls fn on retained entries from the newest back, until fn returns false.
// It holds the read lock throughout, so fn must be quick and must not call the buffer.
func (b *Buffer) Reverse(now time.Time, fn func(*Entry) bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	cutoff := now.Add(-b.maxAge)
	n := uint64(len(b.items))
	for s := b.next - 1; s >= b.oldest() && s > 0; s-- {
		e := b.items[int(s%n)]
		if e == nil || e.Seq != s {
			continue
		}
		if e.Ingested.Before(cutoff) {
			// Ingest times only grow with seq: everything older is also too old.
			return
		}
		if !fn(e) {
			return
		}
	}
}

func hexBytes(s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, errors.New("bad length")
	}
	return hex.DecodeString(s)
}
