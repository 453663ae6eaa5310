// Package hub holds the live log streams of the tailstream extension and dispatches
// ingested lines to them. Ingest never blocks on a client or on a costly filter: each stream
// has its own bounded queue and token bucket, a filter's text search and OTTL run on the
// stream's own goroutine behind a second bounded queue, and what does not fit is dropped
// and counted.
//
// Lines are never held for correlation. A line that carries only a trace or span id is
// attributed at ingest from the job catalog (Resolver) when its job is known; when it is
// not, the hub remembers it for Limits.LateWindow and, once the job becomes known
// (Reattribute), fills in its job, worker and queue in the ring and delivers it to the
// streams that follow that job, marked late.
package hub // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
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

// Limits bound the number of streams and what their filters and late attribution may cost.
// Zero fields of the last group take DefaultLimits' values.
type Limits struct {
	MaxStreams        int
	MaxStreamsPerUser int
	Expiry            time.Duration
	IdleTimeout       time.Duration

	// LateWindow is how long a line without a job, but with a trace or span id, waits to be
	// attributed when its job becomes known; LatePending bounds how many lines wait.
	LateWindow  time.Duration
	LatePending int
	// FilterBudget is the CPU time (wall time without a thread clock) one line's text/OTTL
	// evaluation may take on one stream. A
	// stream whose filter exceeds it FilterStrikes times within FilterStrikeWindow is closed
	// (EndFilterTooSlow).
	FilterBudget       time.Duration
	FilterStrikes      int
	FilterStrikeWindow time.Duration
	// QueryBudget bounds the time one Select or Search may spend evaluating filters.
	QueryBudget time.Duration
	// ReplayOrder bounds the replay orders all streams keep, in lines (4 bytes each). They
	// place a client that resumes mid-replay after its last line left the ring. A replay that
	// does not fit is not kept; such a resume is told of a retention drop it cannot count.
	ReplayOrder int
}

// DefaultLimits returns the defaults of the late-attribution and filter-cost limits.
func DefaultLimits() Limits {
	return Limits{
		LateWindow: 5 * time.Second, LatePending: 10_000,
		FilterBudget: 20 * time.Millisecond, FilterStrikes: 5, FilterStrikeWindow: 10 * time.Second,
		QueryBudget: 2 * time.Second, ReplayOrder: 1 << 22, // 16 MiB
	}
}

func (l *Limits) fill() {
	d := DefaultLimits()
	if l.LateWindow <= 0 {
		l.LateWindow = d.LateWindow
	}
	if l.LatePending <= 0 {
		l.LatePending = d.LatePending
	}
	if l.FilterBudget <= 0 {
		l.FilterBudget = d.FilterBudget
	}
	if l.FilterStrikes <= 0 {
		l.FilterStrikes = d.FilterStrikes
	}
	if l.FilterStrikeWindow <= 0 {
		l.FilterStrikeWindow = d.FilterStrikeWindow
	}
	if l.QueryBudget <= 0 {
		l.QueryBudget = d.QueryBudget
	}
	if l.ReplayOrder <= 0 {
		l.ReplayOrder = d.ReplayOrder
	}
}

// Attribution is what the job catalog knows of the job a line belongs to.
type Attribution struct {
	JobID, WorkerID, QueueName string
}

// Resolver finds the job of a trace id or span id (lowercase hex). It must be quick and
// safe for concurrent use; ok is false when no single job is known.
type Resolver interface {
	Resolve(traceID, spanID string) (Attribution, bool)
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
	batchGen uint64        // guarded by ingestMu
	lateGen  uint64        // LateID of the last late delivery; guarded by ingestMu
	touched  []*Stream     // guarded by ingestMu
	matches  []*ring.Entry // an unindexed stream's matches in a batch; guarded by ingestMu

	resolver atomic.Pointer[Resolver]
	late     lateList
	lastLate atomic.Int64 // unix nanos of the last Reattribute pass

	replayRoom atomic.Int64 // lines of Limits.ReplayOrder not taken by a stream's replay order

	mu        sync.RWMutex
	streams   map[string]*Stream
	byJob     map[string]map[*Stream]struct{}
	unindexed map[*Stream]struct{}
	perUser   map[string]int

	evalWG sync.WaitGroup // the streams' filter evaluators
}

// New returns a hub over rb.
func New(rb *ring.Buffer, limits Limits, m Metrics) *Hub {
	limits.fill()
	h := &Hub{
		ring: rb, limits: limits, metrics: m,
		streams:   map[string]*Stream{},
		byJob:     map[string]map[*Stream]struct{}{},
		unindexed: map[*Stream]struct{}{},
		perUser:   map[string]int{},
	}
	h.replayRoom.Store(int64(limits.ReplayOrder))
	return h
}

// SetResolver installs the job lookup used to attribute lines (nil: none).
func (h *Hub) SetResolver(r Resolver) {
	if r == nil {
		h.resolver.Store(nil)
		return
	}
	h.resolver.Store(&r)
}

func (h *Hub) resolve(e *ring.Entry) (Attribution, bool) {
	rp := h.resolver.Load()
	if rp == nil || e.JobID != "" || (e.TraceID == "" && e.SpanID == "") {
		return Attribution{}, false
	}
	return (*rp).Resolve(e.TraceID, e.SpanID)
}

// Ingest stores entries in the ring and offers each to the streams whose filter may match.
// It never waits on a client, and never evaluates a filter's costly parts.
func (h *Hub) Ingest(entries []*ring.Entry, now time.Time) {
	if len(entries) == 0 {
		return
	}
	// Entries are not shared yet: attribute them in place.
	for _, e := range entries {
		if a, ok := h.resolve(e); ok {
			e.Attribute(a.JobID, a.WorkerID, a.QueueName)
		}
	}
	h.ingestMu.Lock()
	defer h.ingestMu.Unlock()
	h.ring.Append(entries)
	h.lines.Add(uint64(len(entries)))
	if h.resolver.Load() != nil {
		h.late.add(entries, h.limits.LatePending)
	}
	h.dispatch(entries, nil, now)
}

// Reattribute attributes the remembered lines whose job became known since they came,
// replaces them in the ring, and delivers them (marked late) to the streams they now match.
// force runs it even if a pass ran moments ago (call it so when spans or lifecycle logs
// taught the catalog; otherwise it runs at most every 50ms).
func (h *Hub) Reattribute(now time.Time, force bool) int {
	if h.late.empty() || h.resolver.Load() == nil {
		return 0
	}
	if !force && now.UnixNano()-h.lastLate.Load() < int64(50*time.Millisecond) {
		return 0
	}
	h.lastLate.Store(now.UnixNano())
	var olds, news []*ring.Entry
	h.late.scan(now.Add(-h.limits.LateWindow), func(e *ring.Entry) bool {
		a, ok := h.resolve(e)
		if !ok {
			return false
		}
		olds = append(olds, e)
		news = append(news, e.Attributed(a.JobID, a.WorkerID, a.QueueName))
		return true
	})
	if len(news) == 0 {
		return 0
	}
	h.ingestMu.Lock()
	defer h.ingestMu.Unlock()
	head := h.ring.Head()
	for _, e := range news {
		h.lateGen++
		e.Late.ID, e.Late.At = h.lateGen, head
		h.ring.Replace(e)
	}
	h.dispatch(news, olds, now)
	return len(news)
}

// dispatch offers entries to the streams. olds, when set, are the earlier versions of late
// entries: a stream that already took the earlier version does not get the late one.
func (h *Hub) dispatch(entries, olds []*ring.Entry, now time.Time) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := len(h.streams)
	if n == 0 {
		return
	}
	var evaluated, matched, toEval, dropRate, dropFull, dropBehind int64
	// touched lists the streams to wake once per batch; batchGen dedupes without a map.
	h.batchGen++
	touched := h.touched[:0]
	touch := func(s *Stream) {
		if s.batchGen != h.batchGen {
			s.batchGen = h.batchGen
			touched = append(touched, s)
		}
	}
	offer := func(s *Stream, i int, e *ring.Entry) {
		evaluated++
		if !s.matchesCheap(e) {
			return
		}
		f := s.filter.Load()
		var old *ring.Entry
		if olds != nil && s.matchesCheap(olds[i]) {
			if !f.Slow() {
				return // it had the line already, before its job was known
			}
			// Whether it had the line depends on the costly part too (an OTTL condition on
			// job.id, say): the evaluator decides on both versions.
			old = olds[i]
		}
		if f.Slow() {
			toEval++
			if s.defer_(deferred{e: e, old: old, f: f}) {
				touch(s)
			} else {
				dropBehind++
			}
			return
		}
		matched++
		switch s.offer(e, now) {
		case outQueued, outDeferred:
			touch(s)
		case outRateLimited:
			dropRate++
		case outBufferFull:
			dropFull++
		case outBehind:
			dropBehind++
		}
	}
	for i, e := range entries {
		if e.JobID != "" {
			for s := range h.byJob[e.JobID] {
				offer(s, i, e)
			}
		}
	}
	// Unindexed streams see every line, so a stalled one would cost the pipeline per line and
	// per stream. Walk them stream by stream: a stream whose queue is full when the batch
	// arrives has the whole batch's matches counted as drops at once, without per-line atomics
	// or queue work. (Its client may drain mid-batch; those lines are still reported dropped.)
	for s := range h.unindexed {
		if olds == nil && s.full.Load() && !s.filter.Load().Slow() {
			var m int64
			if s.scope == nil && s.filter.Load().MatchesAll() {
				m = int64(len(entries))
			} else {
				for _, e := range entries {
					if s.matchesCheap(e) {
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
		if olds != nil || s.filter.Load().Slow() {
			for i, e := range entries {
				offer(s, i, e)
			}
			continue
		}
		// The batch's matches go in under one lock: 50 unfiltered streams filling their
		// queues took a lock per line and stream, the pipeline's whole batch long.
		ms := h.matches[:0]
		for _, e := range entries {
			if s.matchesCheap(e) {
				ms = append(ms, e)
			}
		}
		evaluated += int64(len(entries))
		matched += int64(len(ms))
		q, r, f, w, b := s.offerMany(ms, now)
		if q > 0 || w > 0 {
			touch(s)
		}
		dropRate += r
		dropFull += f
		dropBehind += b
		clear(ms)
		h.matches = ms
	}
	for _, s := range touched {
		if s.behindEvaluator() {
			s.signalEval()
		} else {
			s.signal()
		}
	}
	clear(touched)
	h.touched = touched
	if h.metrics != nil {
		h.metrics.Evaluated(evaluated)
		if olds == nil {
			// Streams indexed under another job rejected the line without an evaluation.
			// Deferred lines are counted by the stream's evaluator.
			h.metrics.Filtered(int64(n)*int64(len(entries)) - matched - toEval)
		}
		if dropRate > 0 {
			h.metrics.Dropped(ReasonRateLimited, dropRate)
		}
		if dropFull > 0 {
			h.metrics.Dropped(ReasonBufferFull, dropFull)
		}
		if dropBehind > 0 {
			h.metrics.Dropped(ReasonFilterBehind, dropBehind)
		}
	}
}

// Create registers a new stream owned by owner.
func (h *Hub) Create(owner string, f *logfilter.Filter, scope func(*ring.Entry) bool, opts Options, ephemeral bool, now time.Time) (*Stream, error) {
	s := &Stream{
		Owner: owner, Created: now, Ephemeral: ephemeral, hub: h, scope: scope,
		notify: make(chan struct{}, 1), done: make(chan struct{}),
		opts: opts, expiresAt: now.Add(h.limits.Expiry), lastDetached: now,
		queue: newFIFO[*ring.Entry](opts.BufferSize), tokens: float64(opts.RateLimit), lastRefill: now,
		inbox: newFIFO[deferred](opts.BufferSize), evalNotify: make(chan struct{}, 1),
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
	s.lateGen0 = h.lateGen
	s.seen0 = h.lines.Load()
	h.streams[s.ID] = s
	h.perUser[owner]++
	h.indexLocked(s, f)
	if h.metrics != nil {
		h.metrics.StreamsActive(1)
	}
	h.evalWG.Add(1)
	go s.evalLoop()
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

// CloseAll ends every stream (at shutdown) and waits for their filter evaluators.
func (h *Hub) CloseAll(reason string) {
	for _, s := range h.List("") {
		h.Remove(s.ID, reason)
	}
	h.evalWG.Wait()
}

// budgetCheck says when a query must stop: its context ended or QueryBudget passed. It
// looks at the clock every 256 evaluations, so it costs nothing per line.
type budgetCheck struct {
	ctx      context.Context
	deadline time.Time
	n        int
	stopped  bool
}

func (h *Hub) budget(ctx context.Context) *budgetCheck {
	return &budgetCheck{ctx: ctx, deadline: time.Now().Add(h.limits.QueryBudget)}
}

func (b *budgetCheck) stop() bool {
	if b.stopped {
		return true
	}
	b.n++
	if b.n%256 == 0 && (b.ctx.Err() != nil || time.Now().After(b.deadline)) {
		b.stopped = true
	}
	return b.stopped
}

// byTime orders entries by timestamp, then seq (lines of one instant keep arrival order).
func byTime(a, b *ring.Entry) int {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// Search pages through matching retained entries, newest first by timestamp, and counts them
// all. partial is set when ctx ended or the query budget ran out: total then counts what was
// looked at, the newest part of the buffer.
func (h *Hub) Search(ctx context.Context, f *logfilter.Filter, scope func(*ring.Entry) bool, offset, limit int, now time.Time) (page []*ring.Entry, total int, partial bool) {
	snap := h.ring.Snapshot(0, 0, now)
	b := h.budget(ctx)
	var all []*ring.Entry
	evals := int64(0)
	for i := len(snap) - 1; i >= 0 && !b.stop(); i-- {
		e := snap[i]
		evals++
		if (scope != nil && !scope(e)) || !f.Match(e) {
			continue
		}
		all = append(all, e)
	}
	// Held worker lines and late deliveries arrive after lines that follow them in time.
	slices.SortStableFunc(all, func(a, b *ring.Entry) int { return byTime(b, a) })
	total = len(all)
	if offset < total {
		page = all[offset:min(total, offset+limit)]
	}
	if h.metrics != nil {
		h.metrics.Evaluated(evals)
	}
	return page, total, b.stopped
}

// Lines returns how many lines were ever ingested.
func (h *Hub) Lines() uint64 { return h.lines.Load() }
