package hub // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// Stream statuses (LogStream.status).
const (
	StatusActive      = "active"
	StatusPaused      = "paused"
	StatusRateLimited = "rate_limited"
	StatusClosed      = "closed"
)

// Drop reasons, reported in-band and in telemetry.
const (
	ReasonRateLimited = "rate_limited"
	ReasonBufferFull  = "buffer_full"
	// ReasonFilterBehind: the stream's filter evaluation fell behind the lines it had to look
	// at, and its evaluation queue was full.
	ReasonFilterBehind = "filter_behind"
	// ReasonRetention: replay lines a resuming client had not had left the ring (its
	// buffer_size, max_age or max_bytes) before it came back.
	ReasonRetention = "retention"
)

// Why a stream or one attachment of it ended. The API maps them to WebSocket close codes.
const (
	EndDeleted  = "deleted"
	EndExpired  = "expired"
	EndIdle     = "idle"
	EndReplaced = "replaced"
	EndShutdown = "shutdown"
	// EndFilterTooSlow: the filter kept exceeding the per-line time budget.
	EndFilterTooSlow = "filter_too_slow"
)

// Options are a stream's delivery options (LogStream.options).
type Options struct {
	Follow     bool `json:"follow"`
	TailLines  int  `json:"tail_lines"`
	RateLimit  int  `json:"rate_limit"`
	BufferSize int  `json:"buffer_size"`
}

// Stats are a stream's counters (LogStream.stats).
type Stats struct {
	LinesStreamed uint64  `json:"lines_streamed"`
	LinesFiltered uint64  `json:"lines_filtered"`
	LinesDropped  uint64  `json:"lines_dropped"`
	DroppedRate   uint64  `json:"dropped_rate_limited"`
	DroppedFull   uint64  `json:"dropped_buffer_full"`
	DroppedBehind uint64  `json:"dropped_filter_behind"`
	CurrentRate   float64 `json:"current_rate"`
	BufferUsage   float64 `json:"buffer_usage"`
}

// Stream is one live log stream: a compiled filter, a bounded queue filled by ingest
// without ever blocking it (through a second bounded queue and the stream's own evaluator
// goroutine when the filter has costly parts), a token bucket, and counters. A client
// attaches to drain it.
type Stream struct {
	ID      string
	Owner   string
	Created time.Time
	// Ephemeral streams (the one-shot tail endpoint) end with their only attachment.
	Ephemeral bool
	// StartSeq is the ring's head when the stream was created: tail_lines and since replay
	// up to it, and the queue holds what came after.
	StartSeq uint64

	filter   atomic.Pointer[logfilter.Filter]
	scope    func(*ring.Entry) bool // the owner's RBAC scope; nil = unscoped
	hub      *Hub
	seen0    uint64 // hub line count at creation, for lines_filtered
	lateGen0 uint64 // the hub's last LateID at creation: later late deliveries are live
	batchGen uint64 // last ingest batch that queued here; guarded by the hub's ingestMu

	notify chan struct{}
	done   chan struct{} // closed when the stream ends

	mu           sync.Mutex
	opts         Options
	expiresAt    time.Time
	paused       bool
	queue        fifo[*ring.Entry] // bounded by the buffer size
	tokens       float64
	lastRefill   time.Time
	matched      atomic.Uint64 // atomic: the full-queue fast path counts without the lock
	droppedRate  uint64
	droppedFull  atomic.Uint64
	full         atomic.Bool // queue is full: offers drop without taking the lock
	lastRateDrop time.Time
	delivered    Position // furthest live position delivered to any attachment
	attached     *Attachment
	attachedOnce bool
	lastDetached time.Time
	reportedRate uint64
	reportedFull uint64
	endReason    string
	ended        bool

	// The costly part of the filter runs on evalLoop: dispatch puts lines that passed the
	// cheap checks in inbox (circular, bounded like queue) and evalLoop moves matches on.
	// pending counts the lines given to evalLoop that it has not yet queued or rejected:
	// while it is above zero, lines that need no evaluation go through inbox too, behind them,
	// so that a PATCH from a costly filter to a cheap one does not reorder the stream.
	inbox          fifo[deferred]
	pending        atomic.Int64
	evalNotify     chan struct{}
	droppedBehind  atomic.Uint64
	reportedBehind uint64
	strikes        []time.Time // evalLoop only

	gap gapState // lines of other gateways missed by the store tail (external.go)

	// replayed holds the seqs of the replay in the order it was sent, as offsets from
	// replayBase (4 bytes a line; jobtail's 10,000-line replay of a job takes 40 KB, taken
	// from Limits.ReplayOrder): a client resuming mid-replay after its last line left the
	// ring is placed by it. Let go once a client resumes past the replay, or the stream ends.
	// untracked: the replay did not fit. Guarded by mu.
	replayed   []uint32
	replayBase uint64
	untracked  bool

	streamed   atomic.Uint64
	rateMu     sync.Mutex
	winStart   time.Time
	winCount   uint64
	lastRate   float64
	lastRateAt time.Time
}

// Attachment is one client connection draining a stream. Done is closed when another
// attachment takes over or the stream ends; Reason then says why.
type Attachment struct {
	done   chan struct{}
	reason string
}

// Done is closed when this attachment must stop.
func (a *Attachment) Done() <-chan struct{} { return a.done }

// Filter returns the stream's current filter.
func (s *Stream) Filter() *logfilter.Filter { return s.filter.Load() }

// Scope returns the owner's scope check (nil when unscoped).
func (s *Stream) Scope() func(*ring.Entry) bool { return s.scope }

// Notify receives a value after lines were queued or the stream was resumed.
func (s *Stream) Notify() <-chan struct{} { return s.notify }

// Done is closed when the stream ends.
func (s *Stream) Done() <-chan struct{} { return s.done }

func (s *Stream) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// matchesCheap applies the owner's scope, then the filter's checks that cost the same for
// every line.
func (s *Stream) matchesCheap(e *ring.Entry) bool {
	if s.scope != nil && !s.scope(e) {
		return false
	}
	return s.filter.Load().MatchCheap(e)
}

func (s *Stream) signalEval() {
	select {
	case s.evalNotify <- struct{}{}:
	default:
	}
}

// deferred is a line waiting for evalLoop. f is the filter whose costly part it must pass:
// the one in force when the line came, which a PATCH may have replaced since; nil when the
// line passed the whole filter already and only waits behind earlier lines. old, for a late
// line, is its earlier version when that passed the cheap checks: if it passes the costly
// part too, the stream had the line already and does not get it again.
type deferred struct {
	e, old *ring.Entry
	f      *logfilter.Filter
}

// defer_ queues e for evalLoop; false means the evaluation queue is full (dropped, counted).
func (s *Stream) defer_(d deferred) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deferLocked(d)
}

func (s *Stream) deferLocked(d deferred) bool {
	if !s.inbox.push(d) {
		s.droppedBehind.Add(1)
		return false
	}
	s.pending.Add(1)
	return true
}

// behindEvaluator reports whether lines given to evalLoop are still on their way to the
// queue, so that a line needing no evaluation must follow them through it.
func (s *Stream) behindEvaluator() bool { return s.pending.Load() > 0 }

func (s *Stream) takeInbox(buf []deferred) []deferred {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inbox.drain(buf)
}

// evalLoop runs the costly part of the stream's filter (text, OTTL) off the ingest path,
// timing each line against the budget, until the stream ends.
func (s *Stream) evalLoop() {
	defer s.hub.evalWG.Done()
	lim := &s.hub.limits
	var buf []deferred
	for {
		select {
		case <-s.done:
			return
		case <-s.evalNotify:
		}
		for {
			buf = s.takeInbox(buf[:0])
			if len(buf) == 0 {
				break
			}
			var evaluated, rejected, dropRate, dropFull, settled int64
			queued := false
			// Locked to its thread for the batch so the thread's CPU clock is this
			// goroutine's.
			runtime.LockOSThread()
			for _, d := range buf {
				select {
				case <-s.done:
					runtime.UnlockOSThread()
					return
				default:
				}
				e, ok, now := d.e, true, time.Now()
				if f := d.f; f != nil {
					t0, c0 := now, threadCPU()
					ok = f.MatchSlow(e) && (d.old == nil || !f.MatchSlow(d.old))
					c1 := threadCPU()
					now = time.Now()
					cost := time.Duration(c1 - c0)
					if c0 == 0 || c1 == 0 {
						cost = now.Sub(t0)
					}
					evaluated++
					if cost > lim.FilterBudget && s.strike(now) {
						runtime.UnlockOSThread()
						s.hub.Remove(s.ID, EndFilterTooSlow)
						return
					}
				}
				if !ok {
					if e.Late == nil { // a late version's rejection is no new line filtered
						rejected++
					}
					// Nothing follows a rejected line into the queue: it is settled with the
					// batch, and until then later lines only take the longer way.
					settled++
					continue
				}
				// Queued, then settled: a line that sees no pending lines goes straight to
				// the queue, so it must not overtake this one.
				out := s.queueMatched(e, now)
				s.pending.Add(-1)
				switch out {
				case outQueued:
					queued = true
				case outRateLimited:
					dropRate++
				case outBufferFull:
					dropFull++
				}
			}
			runtime.UnlockOSThread()
			s.pending.Add(-settled)
			clear(buf)
			if queued {
				s.signal()
			}
			if m := s.hub.metrics; m != nil {
				m.Evaluated(evaluated)
				m.Filtered(rejected)
				if dropRate > 0 {
					m.Dropped(ReasonRateLimited, dropRate)
				}
				if dropFull > 0 {
					m.Dropped(ReasonBufferFull, dropFull)
				}
			}
		}
	}
}

// strike records one over-budget evaluation and reports whether the stream has had enough.
func (s *Stream) strike(now time.Time) bool {
	lim := &s.hub.limits
	keep := s.strikes[:0]
	for _, t := range s.strikes {
		if now.Sub(t) < lim.FilterStrikeWindow {
			keep = append(keep, t)
		}
	}
	s.strikes = append(keep, now)
	return len(s.strikes) >= lim.FilterStrikes
}

type outcome uint8

const (
	outQueued outcome = iota
	outRateLimited
	outBufferFull
	// outDeferred: queued behind lines still in evalLoop, which will queue it.
	outDeferred
	// outBehind: dropped, since evalLoop's queue was full (ReasonFilterBehind).
	outBehind
)

// offer queues an entry that matched the whole filter. It never blocks beyond the stream's
// own short lock.
func (s *Stream) offer(e *ring.Entry, now time.Time) outcome {
	if s.behindEvaluator() {
		s.mu.Lock()
		// Only ingest adds pending lines, and ingest is the caller: once it is zero here it
		// stays zero for this line.
		if s.behindEvaluator() {
			ok := s.deferLocked(deferred{e: e})
			s.mu.Unlock()
			if ok {
				return outDeferred
			}
			return outBehind
		}
		s.mu.Unlock()
	}
	return s.queueMatched(e, now)
}

// queueMatched is offer without the wait behind evalLoop: evalLoop's own way into the queue.
func (s *Stream) queueMatched(e *ring.Entry, now time.Time) outcome {
	s.matched.Add(1)
	// A stalled client's stream stays full: make its drops cheap for the pipeline.
	if s.full.Load() {
		s.droppedFull.Add(1)
		return outBufferFull
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := float64(s.opts.RateLimit)
	if rate > 0 {
		if el := now.Sub(s.lastRefill).Seconds(); el > 0 {
			s.tokens += el * rate
			if s.tokens > rate { // burst = one second of the rate
				s.tokens = rate
			}
		}
		s.lastRefill = now
		if s.tokens < 1 {
			s.droppedRate++
			s.lastRateDrop = now
			return outRateLimited
		}
		s.tokens--
	}
	if !s.queue.push(e) {
		s.droppedFull.Add(1)
		s.full.Store(true)
		return outBufferFull
	}
	if s.queue.full() {
		s.full.Store(true)
	}
	return outQueued
}

// offerMany queues matched entries as offer does one by one, under one lock, and counts
// what it queued, what the rate limit dropped and what a full queue dropped. waiting and
// behind count the entries that had to follow lines still in evalLoop: given to it
// (outDeferred), or dropped because its queue was full (outBehind).
func (s *Stream) offerMany(es []*ring.Entry, now time.Time) (queued, rateLimited, full, waiting, behind int64) {
	if len(es) == 0 {
		return 0, 0, 0, 0, 0
	}
	if s.behindEvaluator() {
		s.mu.Lock()
		if s.behindEvaluator() { // see offer
			for _, e := range es {
				if s.deferLocked(deferred{e: e}) {
					waiting++
				} else {
					behind++
				}
			}
			s.mu.Unlock()
			return 0, 0, 0, waiting, behind
		}
		s.mu.Unlock()
	}
	queued, rateLimited, full = s.queueMany(es, now)
	return queued, rateLimited, full, 0, 0
}

func (s *Stream) queueMany(es []*ring.Entry, now time.Time) (queued, rateLimited, full int64) {
	s.matched.Add(uint64(len(es)))
	if s.full.Load() {
		s.droppedFull.Add(uint64(len(es)))
		return 0, 0, int64(len(es))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := float64(s.opts.RateLimit)
	if rate > 0 {
		if el := now.Sub(s.lastRefill).Seconds(); el > 0 {
			s.tokens = min(s.tokens+el*rate, rate) // burst = one second of the rate
		}
		s.lastRefill = now
	}
	for i, e := range es {
		// A full queue drops without taking a token, as offer's fast path does.
		if s.queue.full() {
			n := len(es) - i
			s.droppedFull.Add(uint64(n))
			s.full.Store(true)
			return queued, 0, int64(n)
		}
		if rate > 0 {
			if s.tokens < 1 {
				n := uint64(len(es) - i)
				s.droppedRate += n
				s.lastRateDrop = now
				return queued, int64(n), 0
			}
			s.tokens--
		}
		s.queue.push(e)
		queued++
	}
	if s.queue.full() {
		s.full.Store(true)
	}
	return queued, 0, 0
}

// dropBatch counts n matched lines dropped because the queue was full when their batch came.
func (s *Stream) dropBatch(n int64) {
	if n > 0 {
		s.matched.Add(uint64(n))
		s.droppedFull.Add(uint64(n))
	}
}

// Drain moves the queued entries into buf (appending) unless the stream is paused.
func (s *Stream) Drain(buf []*ring.Entry) []*ring.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		return buf
	}
	buf = s.queue.drain(buf)
	s.full.Store(false)
	return buf
}

// Delivered records that the stream reached pos at a client and counts the n entries sent.
func (s *Stream) Delivered(pos Position, n int, now time.Time) {
	s.mu.Lock()
	if s.delivered.Less(pos) {
		s.delivered = pos
	}
	s.mu.Unlock()
	if n == 0 {
		return
	}
	s.streamed.Add(uint64(n))
	s.rateMu.Lock()
	if s.winStart.IsZero() {
		s.winStart = now
	}
	s.winCount += uint64(n)
	if el := now.Sub(s.winStart); el >= time.Second {
		s.lastRate = float64(s.winCount) / el.Seconds()
		s.lastRateAt = now
		s.winStart, s.winCount = now, 0
	}
	s.rateMu.Unlock()
	if s.hub.metrics != nil {
		s.hub.metrics.Streamed(int64(n))
	}
}

// LastDelivered is the furthest live position any attachment delivered.
func (s *Stream) LastDelivered() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

// Options returns the stream's options.
func (s *Stream) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// ExpiresAt returns when the stream expires unless renewed.
func (s *Stream) ExpiresAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expiresAt
}

// Status returns active, paused, rate_limited or closed.
func (s *Stream) Status(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked(now)
}

func (s *Stream) statusLocked(now time.Time) string {
	switch {
	case s.ended:
		return StatusClosed
	case s.paused:
		return StatusPaused
	case !s.lastRateDrop.IsZero() && now.Sub(s.lastRateDrop) < time.Second:
		return StatusRateLimited
	}
	return StatusActive
}

// Stats returns the stream's counters.
func (s *Stream) Stats(now time.Time) Stats {
	seen := s.hub.lines.Load() - s.seen0
	s.mu.Lock()
	behind := s.droppedBehind.Load()
	st := Stats{
		LinesFiltered: seen - min(seen, s.matched.Load()+behind),
		DroppedRate:   s.droppedRate,
		DroppedFull:   s.droppedFull.Load(),
		DroppedBehind: behind,
		LinesDropped:  s.droppedRate + s.droppedFull.Load() + behind,
		BufferUsage:   float64(s.queue.len()) / float64(s.queue.limit),
	}
	s.mu.Unlock()
	st.LinesStreamed = s.streamed.Load()
	s.rateMu.Lock()
	if !s.lastRateAt.IsZero() && now.Sub(s.winStart) < 2*time.Second {
		st.CurrentRate = s.lastRate
	}
	s.rateMu.Unlock()
	return st
}

// Update applies a PATCH: any of a new filter, rate limit, pause state; it always renews
// the expiry. A nil argument leaves that setting unchanged.
func (s *Stream) Update(f *logfilter.Filter, rateLimit *int, paused *bool, expiresAt time.Time) {
	if f != nil {
		s.hub.reindex(s, f)
	}
	s.mu.Lock()
	if rateLimit != nil {
		s.opts.RateLimit = *rateLimit
		s.tokens = float64(*rateLimit)
	}
	if paused != nil {
		s.paused = *paused
	}
	s.expiresAt = expiresAt
	s.mu.Unlock()
	s.signal()
}

// Attach makes a new attachment current, ending the previous one: a client that reconnects
// before the server noticed its old connection died takes the stream over.
// first is true for the stream's first attachment.
func (s *Stream) Attach() (a *Attachment, first, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, false, false
	}
	first = !s.attachedOnce
	s.attachedOnce = true
	if s.attached != nil {
		s.attached.reason = EndReplaced
		close(s.attached.done)
	}
	a = &Attachment{done: make(chan struct{})}
	s.attached = a
	return a, first, true
}

// DropReport is what to tell the client about drops since the last report.
type DropReport struct {
	RateLimited, BufferFull, FilterBehind                uint64 // new since the last report
	TotalRateLimited, TotalBufferFull, TotalFilterBehind uint64
}

// TakeDropReport returns the drops not yet reported to any client and marks them reported,
// so a reconnecting client hears about drops that happened while nobody was attached.
func (s *Stream) TakeDropReport() DropReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	full, behind := s.droppedFull.Load(), s.droppedBehind.Load()
	r := DropReport{
		RateLimited: s.droppedRate - s.reportedRate, BufferFull: full - s.reportedFull,
		FilterBehind:     behind - s.reportedBehind,
		TotalRateLimited: s.droppedRate, TotalBufferFull: full, TotalFilterBehind: behind,
	}
	s.reportedRate, s.reportedFull, s.reportedBehind = s.droppedRate, full, behind
	return r
}

// BufferUsage is the fraction of the queue in use.
func (s *Stream) BufferUsage() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.queue.len()) / float64(s.queue.limit)
}

// Detach ends a; it is a no-op when a was already replaced.
func (s *Stream) Detach(a *Attachment, now time.Time) {
	s.mu.Lock()
	if s.attached == a {
		s.attached = nil
		s.lastDetached = now
		close(a.done)
	}
	s.mu.Unlock()
	if s.Ephemeral {
		s.hub.Remove(s.ID, EndDeleted)
	}
}

// Reason says why a's Done channel closed ("" while open).
func (s *Stream) Reason(a *Attachment) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.reason != "" {
		return a.reason
	}
	return s.endReason
}

func (s *Stream) end(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	s.endReason = reason
	s.forgetReplayLocked()
	if s.attached != nil {
		s.attached.reason = reason
		close(s.attached.done)
		s.attached = nil
	}
	close(s.done)
}

// EndReason says why the stream ended ("" while it lives).
func (s *Stream) EndReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endReason
}
