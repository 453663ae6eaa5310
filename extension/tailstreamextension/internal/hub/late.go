package hub // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"

import (
	"sync"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// lateList remembers recent lines that name no job but carry a trace or span id, in ingest
// order, so that they can be attributed when their job becomes known. It is bounded by a
// count (the oldest are forgotten first) and by age (scan forgets what is past the window).
type lateList struct {
	mu    sync.Mutex
	items []*ring.Entry // FIFO: items[head:]
	head  int
}

func (l *lateList) empty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items) == l.head
}

func (l *lateList) add(entries []*ring.Entry, maxItems int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range entries {
		if e.JobID == "" && (e.TraceID != "" || e.SpanID != "") {
			l.items = append(l.items, e)
		}
	}
	if over := len(l.items) - l.head - maxItems; over > 0 {
		clear(l.items[l.head : l.head+over])
		l.head += over
	}
	l.compact()
}

// compact reuses the slice once most of it is consumed; call with mu held.
func (l *lateList) compact() {
	if l.head > 0 && l.head >= len(l.items)/2 {
		n := copy(l.items, l.items[l.head:])
		clear(l.items[n:])
		l.items, l.head = l.items[:n], 0
	}
}

// scan forgets entries ingested before cutoff, then calls take on the others, oldest first,
// and forgets those it accepts. take runs without the list's lock held by anyone else
// waiting long: it must be quick (a map lookup).
func (l *lateList) scan(cutoff time.Time, take func(*ring.Entry) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.head < len(l.items) && l.items[l.head].Ingested.Before(cutoff) {
		l.items[l.head] = nil
		l.head++
	}
	keep := l.items[l.head:l.head]
	for _, e := range l.items[l.head:] {
		if !take(e) {
			keep = append(keep, e)
		}
	}
	clear(l.items[l.head+len(keep):])
	l.items = l.items[:l.head+len(keep)]
	l.compact()
}
