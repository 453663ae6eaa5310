// Package hub holds the live log streams of the tailstream extension and dispatches
// ingested lines to them. Ingest never blocks on a client: each stream has its own bounded
// queue and token bucket, and what does not fit is dropped and counted.
package hub // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// Metrics receives the hub's counts, aggregated per ingest batch.
type Metrics interface {
	Filtered(n int64)
	Evaluated(n int64)
	Dropped(reason string, n int64)
	Streamed(n int64)
	StreamsActive(delta int64)
}

// Limits bound the number of streams.
type Limits struct {
	MaxStreams        int
	MaxStreamsPerUser int
	Expiry            time.Duration
	IdleTimeout       time.Duration
}

// Errors returned by Create.
var (
	ErrTooManyStreams     = errors.New("too many streams")
	ErrTooManyUserStreams = errors.New("too many streams for this user")
)

// Hub is the set of streams plus the ring buffer they replay from.
type Hub struct {
	ring    *ring.Buffer
	limits  Limits
	metrics Metrics

	ingestMu sync.Mutex // serialises ingest so each queue receives lines in seq order
	lines    atomic.Uint64
	batchGen uint64    // guarded by ingestMu
	touched  []*Stream // guarded by ingestMu

	mu        sync.RWMutex
	streams   map[string]*Stream
	byJob     map[string]map[*Stream]struct{}
	unindexed map[*Stream]struct{}
	perUser   map[string]int
}

// New returns a hub over rb.
func New(rb *ring.Buffer, limits Limits, m Metrics) *Hub {
	return &Hub{
		ring: rb, limits: limits, metrics: m,
		streams:   map[string]*Stream{},
		byJob:     map[string]map[*Stream]struct{}{},
		unindexed: map[*Stream]struct{}{},
		perUser:   map[string]int{},
	}
}

// Ingest stores entries in the ring and offers each to the streams whose filter matches.
// live, when not nil, holds each entry's source record for OTTL. It never waits on a client.
func (h *Hub) Ingest(entries []*ring.Entry, live []logfilter.Live, now time.Time) {
	if len(entries) == 0 {
		return
	}
	h.ingestMu.Lock()
	defer h.ingestMu.Unlock()
	h.ring.Append(entries)
	h.lines.Add(uint64(len(entries)))

	h.mu.RLock()
	defer h.mu.RUnlock()
	n := len(h.streams)
	if n == 0 {
		return
	}
	var evaluated, matched, dropRate, dropFull int64
	// touched lists the streams to wake once per batch; batchGen dedupes without a map.
	h.batchGen++
	touched := h.touched[:0]
	offer := func(s *Stream, e *ring.Entry, l *logfilter.Live) {
		evaluated++
		if !s.matches(e, l) {
			return
		}
		matched++
		switch s.offer(e, now) {
		case outQueued:
			if s.batchGen != h.batchGen {
				s.batchGen = h.batchGen
				touched = append(touched, s)
			}
		case outRateLimited:
			dropRate++
		case outBufferFull:
			dropFull++
		}
	}
	liveAt := func(i int) *logfilter.Live {
		if live == nil {
			return nil
		}
		return &live[i]
	}
	for i, e := range entries {
		if e.JobID != "" {
			for s := range h.byJob[e.JobID] {
				offer(s, e, liveAt(i))
			}
		}
	}
	// Unindexed streams see every line, so a stalled one would cost the pipeline per line and
	// per stream. Walk them stream by stream: a stream whose queue is full when the batch
	// arrives has the whole batch's matches counted as drops at once, without per-line atomics
	// or queue work. (Its client may drain mid-batch; those lines are still reported dropped.)
	for s := range h.unindexed {
		if s.full.Load() {
			var m int64
			if s.scope == nil && s.filter.Load().MatchesAll() {
				m = int64(len(entries))
			} else {
				for i, e := range entries {
					if s.matches(e, liveAt(i)) {
						m++
					}
				}
				evaluated += int64(len(entries))
			}
			matched += m
			dropFull += m
			s.dropBatch(m)
			continue
		}
		for i, e := range entries {
			offer(s, e, liveAt(i))
		}
	}
	for _, s := range touched {
		s.signal()
	}
	clear(touched)
	h.touched = touched
	if h.metrics != nil {
		h.metrics.Evaluated(evaluated)
		// Streams indexed under another job rejected the line without an evaluation.
		h.metrics.Filtered(int64(n)*int64(len(entries)) - matched)
		if dropRate > 0 {
			h.metrics.Dropped(ReasonRateLimited, dropRate)
		}
		if dropFull > 0 {
			h.metrics.Dropped(ReasonBufferFull, dropFull)
		}
	}
}

// Create registers a new stream owned by owner.
func (h *Hub) Create(owner string, f *logfilter.Filter, scope func(*ring.Entry) bool, opts Options, ephemeral bool, now time.Time) (*Stream, error) {
	s := &Stream{
		Owner: owner, Created: now, Ephemeral: ephemeral, hub: h, scope: scope,
		notify: make(chan struct{}, 1), done: make(chan struct{}),
		opts: opts, expiresAt: now.Add(h.limits.Expiry), lastDetached: now,
		queue: make([]*ring.Entry, opts.BufferSize), tokens: float64(opts.RateLimit), lastRefill: now,
	}
	s.filter.Store(f)
	var id [16]byte
	_, _ = rand.Read(id[:])
	s.ID = hex.EncodeToString(id[:])

	// Holding ingestMu pins StartSeq and the line count: every later line reaches the queue.
	h.ingestMu.Lock()
	defer h.ingestMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.streams) >= h.limits.MaxStreams {
		return nil, ErrTooManyStreams
	}
	if h.perUser[owner] >= h.limits.MaxStreamsPerUser {
		return nil, ErrTooManyUserStreams
	}
	s.StartSeq = h.ring.Head()
	s.seen0 = h.lines.Load()
	h.streams[s.ID] = s
	h.perUser[owner]++
	h.indexLocked(s, f)
	if h.metrics != nil {
		h.metrics.StreamsActive(1)
	}
	return s, nil
}

func (h *Hub) indexLocked(s *Stream, f *logfilter.Filter) {
	if j := f.JobID(); j != "" {
		m := h.byJob[j]
		if m == nil {
			m = map[*Stream]struct{}{}
			h.byJob[j] = m
		}
		m[s] = struct{}{}
	} else {
		h.unindexed[s] = struct{}{}
	}
}

func (h *Hub) unindexLocked(s *Stream) {
	if j := s.filter.Load().JobID(); j != "" {
		delete(h.byJob[j], s)
		if len(h.byJob[j]) == 0 {
			delete(h.byJob, j)
		}
	} else {
		delete(h.unindexed, s)
	}
}

func (h *Hub) reindex(s *Stream, f *logfilter.Filter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.streams[s.ID]; !ok {
		s.filter.Store(f)
		return
	}
	h.unindexLocked(s)
	s.filter.Store(f)
	h.indexLocked(s, f)
}

// Get returns the stream with id.
func (h *Hub) Get(id string) (*Stream, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s, ok := h.streams[id]
	return s, ok
}

// List returns the streams owned by owner ("" = all), oldest first.
func (h *Hub) List(owner string) []*Stream {
	h.mu.RLock()
	out := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		if owner == "" || s.Owner == owner {
			out = append(out, s)
		}
	}
	h.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Len returns the number of streams.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.streams)
}

// Remove ends the stream with id for reason. It reports whether the stream existed.
func (h *Hub) Remove(id, reason string) bool {
	h.mu.Lock()
	s, ok := h.streams[id]
	if ok {
		delete(h.streams, id)
		h.unindexLocked(s)
		if h.perUser[s.Owner]--; h.perUser[s.Owner] <= 0 {
			delete(h.perUser, s.Owner)
		}
	}
	h.mu.Unlock()
	if !ok {
		return false
	}
	s.end(reason)
	if h.metrics != nil {
		h.metrics.StreamsActive(-1)
	}
	return true
}

// Sweep removes streams past their expiry and streams without a client for longer than the
// idle timeout. It returns the removed streams with the reason.
func (h *Hub) Sweep(now time.Time) map[*Stream]string {
	var out map[*Stream]string
	for _, s := range h.List("") {
		s.mu.Lock()
		reason := ""
		switch {
		case now.After(s.expiresAt):
			reason = EndExpired
		case s.attached == nil && now.Sub(s.lastDetached) > h.limits.IdleTimeout:
			reason = EndIdle
		}
		s.mu.Unlock()
		if reason != "" && h.Remove(s.ID, reason) {
			if out == nil {
				out = map[*Stream]string{}
			}
			out[s] = reason
		}
	}
	return out
}

// CloseAll ends every stream (at shutdown).
func (h *Hub) CloseAll(reason string) {
	for _, s := range h.List("") {
		h.Remove(s.ID, reason)
	}
}

// Select returns the retained entries with seq in (after, upTo] (upTo 0 = head) that pass
// scope and f, oldest first. With tail > 0 only the last tail of them are kept.
func (h *Hub) Select(f *logfilter.Filter, scope func(*ring.Entry) bool, after, upTo uint64, tail int, now time.Time) []*ring.Entry {
	snap := h.ring.Snapshot(after, upTo, now)
	var out []*ring.Entry
	evals := int64(0)
	if tail > 0 {
		// Walk back from the newest so a small tail of a big buffer stays cheap.
		for i := len(snap) - 1; i >= 0 && len(out) < tail; i-- {
			evals++
			if (scope == nil || scope(snap[i])) && f.Match(snap[i], nil) {
				out = append(out, snap[i])
			}
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	} else {
		for _, e := range snap {
			evals++
			if (scope == nil || scope(e)) && f.Match(e, nil) {
				out = append(out, e)
			}
		}
	}
	if h.metrics != nil {
		h.metrics.Evaluated(evals)
	}
	return out
}

// Search pages through matching retained entries, newest first, and counts them all.
func (h *Hub) Search(f *logfilter.Filter, scope func(*ring.Entry) bool, offset, limit int, now time.Time) (page []*ring.Entry, total int) {
	snap := h.ring.Snapshot(0, 0, now)
	for i := len(snap) - 1; i >= 0; i-- {
		e := snap[i]
		if (scope != nil && !scope(e)) || !f.Match(e, nil) {
			continue
		}
		if total >= offset && len(page) < limit {
			page = append(page, e)
		}
		total++
	}
	if h.metrics != nil {
		h.metrics.Evaluated(int64(len(snap)))
	}
	return page, total
}

// Lines returns how many lines were ever ingested.
func (h *Hub) Lines() uint64 { return h.lines.Load() }
