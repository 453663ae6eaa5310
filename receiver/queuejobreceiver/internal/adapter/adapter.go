// Package adapter is the contract between the queuejob receiver and one adapter per queue
// library (Sidekiq, Celery, RQ, BullMQ, asynq). An adapter knows where its library keeps jobs in
// Redis and how it encodes them; the receiver owns everything else: the per-job tracker, dedup
// across polls and reconnects, span and log emission, and telemetry.
//
// # Contract
//
// A Factory builds an Adapter from Settings, or fails with an error whose message starts with
// the config key it rejects (for example "prefix: must not contain '*'"); the receiver's
// Validate reports that message, so bad config fails `validate`.
//
// The receiver calls Poll from one goroutine, once per poll_interval, with a Reader that only
// offers read commands. Poll must:
//
//   - read only through the Reader (never a client of its own), with every LRANGE, ZRANGE,
//     SCAN and XREAD bounded by Settings.Windows / Settings.Scan, so one poll costs a bounded
//     number of round trips and bytes whatever the queue's size;
//   - call emit for every fact it sees. Repeating an observation on later polls is allowed and
//     cheap: the tracker dedups by (job id, attempt, state), also after a Redis reconnect, a
//     restart of the library's workers, or a SCAN cursor wrapping. An adapter may skip finished
//     facts it already emitted (keep a Seen of their hashes) to save round trips and decoding,
//     but must keep emitting Pending and Active while it sees them: the tracker detects a
//     requeue from Pending following Active;
//   - report a payload it cannot use with Settings.Bad(reason) once per payload (keep a small
//     LRU of bad payload hashes) and go on with the rest; never fail the poll for it;
//   - return an error only when Redis itself failed (connection, timeout, ACL): the receiver
//     then backs off, reports component status, and calls Poll again later with the same
//     Adapter, whose state (cursors, last stream ids) must survive that;
//   - never block longer than one round trip per read (XREAD without BLOCK; no BLPOP).
//
// An Observation states what the library's own data proves about one attempt of one job:
//
//   - Attempt is 1-based. For Pending and Scheduled it is the attempt that will run next (so
//     Pending with Attempt 3 proves attempts 1 and 2 ended in a retry); for Active the running
//     attempt; for RetryWait, Failed, Dead the attempt that failed; for Succeeded the one that
//     succeeded. 0 means "the library does not say": the tracker uses the latest attempt it
//     knows of the job (1 if none).
//   - Pending after Active for the same attempt, with no end in between, means the library
//     requeued a running job (Sidekiq's shutdown requeue, kombu's visibility restore): the
//     tracker reports that attempt abandoned and counts the next start as a re-run. Lost says
//     so outright, when the library itself declares a worker lost (RQ's abandoned-job handling,
//     an expired lease).
//   - RetryWait: the attempt failed and the library will run another. Failed/Dead: the attempt
//     failed and the library gave up (Dead: kept in a dead set; Failed: kept as a failed result).
//     Both close the job as dead_lettered.
//   - Succeeded only from data that proves success (a success result, a completed set);
//     never inferred from a job's absence.
//   - Error carries what the library stored about the failure of that attempt; leave it nil
//     when the library stored nothing (the tracker never invents one).
//   - Carrier is the map the trace context is extracted from (internal/tracecontext: W3C
//     `traceparent`, B3, ... as top-level or nested keys). Pass it whenever the library's data
//     holds one; the tracker remembers the first valid context per job id, so later observations
//     (a Celery result, a retry message without headers) may leave it nil.
//   - Times are the library's own timestamps, zero when unknown: Started becomes the span's start
//     (else the tracker estimates it), Ended its end (else the poll time).
//   - Strings may point into buffers the adapter reuses: the tracker copies what it keeps.
package adapter // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"

import (
	"context"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.uber.org/zap"
)

// State is what an observation says about one attempt.
type State uint8

// States an adapter can observe.
const (
	Pending   State = iota + 1 // waiting in a queue for a worker
	Scheduled                  // waiting for a time (a delayed first run, or an eta)
	Active                     // held by a worker
	RetryWait                  // the attempt failed; the library will retry
	Failed                     // the attempt failed for good; the library kept a failed result
	Dead                       // the attempt failed for good; the library moved it to a dead set
	Succeeded                  // the attempt succeeded
	Lost                       // the library declared the attempt's worker lost
)

var stateNames = [...]string{"", "pending", "scheduled", "active", "retry_wait", "failed", "dead", "succeeded", "lost"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Error is what a library stored about a failed attempt.
type Error struct {
	Type       string // exception class
	Message    string
	Stacktrace string
}

// Observation is one fact about one attempt of one job; see the package doc.
type Observation struct {
	State   State
	ID      string
	Queue   string
	Type    string // class, task or function name
	Attempt int
	Worker  string
	// Enqueued is when the job (or this attempt's message) was put on the queue.
	Enqueued time.Time
	Started  time.Time
	Ended    time.Time
	Error    *Error
	Carrier  map[string]any
}

// Adapter reads one library's keys.
type Adapter interface {
	// Poll reads once and calls emit for every observation; see the package doc.
	Poll(ctx context.Context, r Reader, now time.Time, emit func(*Observation)) error
}

// Factory builds an adapter for one receiver instance.
type Factory func(Settings) (Adapter, error)

// Settings are the receiver's configuration as an adapter sees it.
type Settings struct {
	// Prefix is the library's key prefix or namespace as configured; empty means the library's
	// default (Sidekiq: no namespace, RQ "rq:", BullMQ "bull", asynq "asynq", Celery none).
	Prefix string
	// Queues are the configured queue names; empty means discover them the library's way.
	Queues []string
	// ResultPrefix is the result-key prefix where a library has one (Celery
	// "celery-task-meta-"); empty means the library's default.
	ResultPrefix string
	Windows      Windows
	Scan         Scan
	// MaxPayloadSize is the largest payload decoded; larger ones are reported bad.
	MaxPayloadSize int
	Logger         *zap.Logger
	// Bad counts one unusable payload by reason (a short snake_case label).
	Bad func(reason string)
	// Overflow counts one poll that may have missed entries because the library dropped them
	// before the poll read them (a stream trimmed past the last entry read), labelled by the
	// structure (e.g. "bullmq:<q>:events"); the receiver reports it as a window overflow.
	// May be nil.
	Overflow func(what string)
}

// Windows bound how much one poll reads from each key.
type Windows struct {
	Pending  int // entries from the head of each pending list
	Active   int // entries from each in-progress structure (worker hash, unacked, started registry)
	Retry    int // entries from each retry or scheduled set, re-read every poll
	Finished int // new entries read from each success structure (results, completed sets) per poll
	Dead     int // new entries read from each dead or failed structure per poll
	Page     int // paging size inside a window: one round trip reads at most this many
}

// Scan bounds key discovery; cursors persist across polls.
type Scan struct {
	Count        int
	CallsPerPoll int
}

// Seen is a bounded set of hashes (payloads handled, bad payloads counted) for an adapter's own
// "already done" memory. It forgets the oldest entries first.
type Seen struct {
	lru *simplelru.LRU[uint64, struct{}]
}

// NewSeen returns a set holding up to n hashes.
func NewSeen(n int) *Seen {
	l, _ := simplelru.NewLRU[uint64, struct{}](max(n, 1), nil)
	return &Seen{lru: l}
}

// Add reports whether h is new, remembering it.
func (s *Seen) Add(h uint64) bool {
	if s.lru.Contains(h) {
		s.lru.Get(h) // refresh
		return false
	}
	s.lru.Add(h, struct{}{})
	return true
}

// Has reports whether h was added, refreshing it.
func (s *Seen) Has(h uint64) bool {
	_, ok := s.lru.Get(h)
	return ok
}

// Cache remembers what a payload decoded to, by content hash, so an entry that stays in place
// poll after poll (a running job, a waiting message) is decoded once. Decoded values are shared:
// neither the adapter nor the tracker may modify them.
type Cache[T any] struct{ lru *simplelru.LRU[uint64, T] }

// NewCache returns a cache of up to n decoded payloads.
func NewCache[T any](n int) *Cache[T] {
	l, _ := simplelru.NewLRU[uint64, T](max(n, 1), nil)
	return &Cache[T]{lru: l}
}

// Get returns the decoded value of raw, or calls decode and remembers its result when ok.
func (c *Cache[T]) Get(raw string, decode func(string) (T, bool)) (T, bool) {
	h := xxhash.Sum64String(raw)
	if v, ok := c.lru.Get(h); ok {
		return v, true
	}
	v, ok := decode(raw)
	if ok {
		c.lru.Add(h, v)
	}
	return v, ok
}
