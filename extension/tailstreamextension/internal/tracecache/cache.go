package tracecache

import (
	"container/list"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Trace is a read-only view of a cached trace. Spans are never modified once stored (merges
// only append), so handing out the slice without copying is safe.
type Trace struct {
	ID    pcommon.TraceID
	Spans []Span
	// Updated is when spans last arrived; FetchedAt when a backend was last asked for it.
	Updated   time.Time
	FetchedAt time.Time
}

// Incomplete reports whether some span's parent is missing or no span is present: a sign
// that part of the trace lives elsewhere (another service exported it to a backend).
func (t *Trace) Incomplete() bool {
	if len(t.Spans) == 0 {
		return true
	}
	ids := make(map[pcommon.SpanID]struct{}, len(t.Spans))
	for i := range t.Spans {
		ids[t.Spans[i].SpanID] = struct{}{}
	}
	for i := range t.Spans {
		if p := t.Spans[i].ParentSpanID; !p.IsEmpty() {
			if _, ok := ids[p]; !ok {
				return true
			}
		}
	}
	return false
}

type entry struct {
	id        pcommon.TraceID
	spans     []Span
	index     map[pcommon.SpanID]int32
	bytes     int64
	updated   time.Time
	fetchedAt time.Time
}

// Stats describe the cache for the health endpoint.
type Stats struct {
	Traces    int   `json:"traces"`
	Spans     int   `json:"spans"`
	Bytes     int64 `json:"bytes"`
	MaxBytes  int64 `json:"max_bytes"`
	MaxAgeS   int64 `json:"max_age_seconds"`
	Hits      int64 `json:"hits"`
	Misses    int64 `json:"misses"`
	Evicted   int64 `json:"evicted"`
	Expired   int64 `json:"expired"`
	Oversized int64 `json:"oversized"`
}

// Cache is safe for concurrent use.
type Cache struct {
	mu        sync.Mutex
	maxBytes  int64
	maxAge    time.Duration
	now       func() time.Time
	lru       *list.List // of *entry; front = most recently used
	m         map[pcommon.TraceID]*list.Element
	bytes     int64
	spans     int
	lastSweep time.Time
	stats     Stats
}

// New returns a cache bounded to maxBytes, dropping traces not updated for maxAge.
func New(maxBytes int64, maxAge time.Duration) *Cache {
	return &Cache{maxBytes: maxBytes, maxAge: maxAge, now: time.Now, lru: list.New(), m: map[pcommon.TraceID]*list.Element{}}
}

// SetClock replaces the clock (tests).
func (c *Cache) SetClock(now func() time.Time) { c.mu.Lock(); c.now = now; c.mu.Unlock() }

// SetLimits changes the bounds at runtime and evicts at once if they shrank.
func (c *Cache) SetLimits(maxBytes int64, maxAge time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxBytes, c.maxAge = maxBytes, maxAge
	c.sweepLocked(c.now())
	c.evictLocked()
}

// Put merges spans into their traces. A span already held (same trace and span id) is kept
// as it was: the pipeline and backends describe the same span, the first copy is as good.
func (c *Cache) Put(spans []Span) {
	if len(spans) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for i := range spans {
		s := &spans[i]
		el, ok := c.m[s.TraceID]
		var e *entry
		if ok {
			e = el.Value.(*entry)
			c.lru.MoveToFront(el)
		} else {
			e = &entry{id: s.TraceID, index: map[pcommon.SpanID]int32{}}
			c.m[s.TraceID] = c.lru.PushFront(e)
		}
		e.updated = now
		if _, dup := e.index[s.SpanID]; dup {
			continue
		}
		e.index[s.SpanID] = int32(len(e.spans))
		e.spans = append(e.spans, *s)
		sz := s.Size() + 16
		e.bytes += sz
		c.bytes += sz
		c.spans++
	}
	if now.Sub(c.lastSweep) > time.Second {
		c.sweepLocked(now)
	}
	c.evictLocked()
}

// Get returns the trace, refreshing its LRU position.
func (c *Cache) Get(id pcommon.TraceID) (Trace, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[id]
	if !ok {
		c.stats.Misses++
		return Trace{ID: id}, false
	}
	e := el.Value.(*entry)
	if c.expired(e, c.now()) {
		c.removeLocked(el)
		c.stats.Expired++
		c.stats.Misses++
		return Trace{ID: id}, false
	}
	c.lru.MoveToFront(el)
	c.stats.Hits++
	return Trace{ID: id, Spans: e.spans[:len(e.spans):len(e.spans)], Updated: e.updated, FetchedAt: e.fetchedAt}, true
}

// Span returns one span of a cached trace without touching the LRU order.
func (c *Cache) Span(traceID pcommon.TraceID, spanID pcommon.SpanID) (Span, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[traceID]
	if !ok {
		return Span{}, false
	}
	e := el.Value.(*entry)
	i, ok := e.index[spanID]
	if !ok {
		return Span{}, false
	}
	return e.spans[i], true
}

// Ancestors fills dst with the parent, grandparent, … of spanID in a cached trace, nearest
// first, as far as the cached spans tell and at most len(dst) of them, under one lock and
// without allocating (the log ingest path calls it). It returns how many it filled.
func (c *Cache) Ancestors(traceID pcommon.TraceID, spanID pcommon.SpanID, dst []pcommon.SpanID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[traceID]
	if !ok {
		return 0
	}
	e := el.Value.(*entry)
	n := 0
	for n < len(dst) {
		i, ok := e.index[spanID]
		if !ok {
			break
		}
		p := e.spans[i].ParentSpanID
		if p.IsEmpty() {
			break
		}
		dst[n] = p
		n++
		spanID = p
	}
	return n
}

// MarkFetched records that backends were asked for the trace, so that a trace whose missing
// part exists nowhere is not fetched on every request. It creates no entry.
func (c *Cache) MarkFetched(id pcommon.TraceID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[id]; ok {
		el.Value.(*entry).fetchedAt = c.now()
	}
}

// Stats returns counters and sizes.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Traces, s.Spans, s.Bytes, s.MaxBytes, s.MaxAgeS = c.lru.Len(), c.spans, c.bytes, c.maxBytes, int64(c.maxAge/time.Second)
	return s
}

func (c *Cache) expired(e *entry, now time.Time) bool {
	return c.maxAge > 0 && now.Sub(e.updated) > c.maxAge
}

func (c *Cache) sweepLocked(now time.Time) {
	c.lastSweep = now
	for el := c.lru.Back(); el != nil; {
		prev := el.Prev()
		if c.expired(el.Value.(*entry), now) {
			c.removeLocked(el)
			c.stats.Expired++
		}
		el = prev
	}
}

// evictLocked drops least recently used traces until the bound holds. A single trace larger
// than the whole bound is dropped too, counted as oversized: keeping it would break the bound.
func (c *Cache) evictLocked() {
	for c.bytes > c.maxBytes && c.lru.Len() > 0 {
		el := c.lru.Back()
		if c.lru.Len() == 1 {
			c.stats.Oversized++
		} else {
			c.stats.Evicted++
		}
		c.removeLocked(el)
	}
}

func (c *Cache) removeLocked(el *list.Element) {
	e := el.Value.(*entry)
	c.lru.Remove(el)
	delete(c.m, e.id)
	c.bytes -= e.bytes
	c.spans -= len(e.spans)
}
