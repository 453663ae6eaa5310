package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"crypto/sha256"
	"github.com/jobtrace/jobtrace/internal/conventions"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/jobtrace/jobtrace/internal/tracecontext"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

type eventKind uint8

const (
	evEnqueued eventKind = iota
	evStarted
	evSucceeded
	evRetried
	evDeadLettered
	evAbandoned
	numEventKinds
)

var eventNames = [numEventKinds]string{conventions.EventJobEnqueued, conventions.EventJobStarted, conventions.EventJobSucceeded, conventions.EventJobRetried, conventions.EventJobDeadLettered, conventions.EventJobAbandoned}
var eventStatus = [numEventKinds]string{"", "", conventions.StatusSucceeded, conventions.StatusRetried, conventions.StatusDeadLettered, conventions.StatusAbandoned}
var eventBodies = [numEventKinds]string{"job enqueued", "job started", "job succeeded", "job retried", "job dead-lettered", "job abandoned"}

func (k eventKind) String() string { return eventNames[k] }

// endsAttempt reports whether the event closes an attempt, i.e. emits its span.
func (k eventKind) endsAttempt() bool { return k >= evSucceeded }

// event is one detected lifecycle change.
type event struct {
	kind           eventKind
	job            *jobState
	attempt        int
	rerun          int
	worker         string
	at             time.Time // when it was observed; the span's end for attempt-ending events
	start          time.Time
	startEstimated bool
	err            *adapter.Error // what the library stored about a failed attempt
}

// jobState is what the receiver remembers about one job between polls.
type jobState struct {
	id, queue, typ, priority string
	tc                       tracecontext.Context
	tcFound                  bool
	tcRejected               tracecontext.FormatSet // carriers present but invalid (failures by format)
	traceID                  [16]byte
	created                  time.Time
	// minAttempt is the first attempt whose end may be inferred; earlier ones happened
	// before the receiver was watching and are not invented.
	minAttempt int
	attempts   map[int]*attemptState
	// observedAttempt is the highest attempt an adapter observation named.
	observedAttempt int
}

type attemptState struct {
	worker         string
	run            int // re-runs of the same attempt after the reaper requeued it
	start          time.Time
	startObserved  bool
	lowerBound     time.Time // latest moment the attempt was known not to have started
	ended          bool
	endedBy        eventKind
	hbMissingSince time.Time
	activeSeen     bool // an adapter saw it held by a worker
	requeued       bool // it ended abandoned because the library put it back in its queue
}

// where a payload was seen.
type where uint8

const (
	inPending where = iota
	inProcessing
	inCompleted
	inDeadLetter
)

// tracker turns list sightings into lifecycle events. It is driven by one goroutine.
type tracker struct {
	jobs         *simplelru.LRU[string, *jobState]
	dedup        *simplelru.LRU[uint64, struct{}]
	extractor    *tracecontext.Extractor
	startedAt    time.Time
	emitEnqueued bool
	abandonGrace time.Duration
	byPriority   map[string]string
	onlyQueue    string
	// baseline is set for the first poll when history must not be replayed.
	baseline bool
	onNewJob func(st *jobState)
	events   []event
}

func newTracker(cfg *Config, ex *tracecontext.Extractor, now time.Time) *tracker {
	r := cfg.resolved()
	jobs, _ := simplelru.NewLRU[string, *jobState](cfg.MaxTrackedJobs, nil)
	dedup, _ := simplelru.NewLRU[uint64, struct{}](cfg.DedupSize, nil)
	t := &tracker{
		jobs: jobs, dedup: dedup, extractor: ex, startedAt: now,
		emitEnqueued: cfg.EmitEnqueued, abandonGrace: cfg.AbandonGrace,
		byPriority: map[string]string{}, baseline: !cfg.EmitExisting,
	}
	for _, q := range r.Queues {
		if q.Priority != "" {
			t.byPriority[q.Priority] = q.Name
		}
	}
	if len(r.Queues) == 1 {
		t.onlyQueue = r.Queues[0].Name
	}
	return t
}

// clockSkew tolerates producers whose clocks run ahead of or behind the collector's.
const clockSkew = 5 * time.Second

func dedupKey(kind eventKind, payloadHash uint64, worker string) uint64 {
	k := payloadHash ^ (uint64(kind)+1)*0x9E3779B97F4A7C15
	if worker != "" {
		k ^= xxhash.Sum64String(worker) * 0xC2B2AE3D27D4EB4F
	}
	return k
}

// markOnce reports whether key is new, remembering it.
func (t *tracker) markOnce(key uint64) bool {
	if t.dedup.Contains(key) {
		return false
	}
	t.dedup.Add(key, struct{}{})
	return true
}

func (t *tracker) state(j *job, queue string) (*jobState, bool) {
	if st, ok := t.jobs.Get(j.ID); ok {
		if queue != "" {
			st.queue = queue
		}
		return st, false
	}
	// Clones: the parsed strings point into the payload, which must not stay alive with us.
	st := &jobState{id: strings.Clone(j.ID), typ: strings.Clone(j.Type), priority: strings.Clone(j.Priority),
		created: j.Created, attempts: map[int]*attemptState{}}
	st.queue = queue
	if st.queue == "" {
		st.queue = strings.Clone(j.Queue)
	}
	if st.queue == "" {
		st.queue = t.byPriority[j.Priority]
	}
	if st.queue == "" {
		st.queue = t.onlyQueue
	}
	if st.queue == "" {
		st.queue = "unknown"
	}
	st.minAttempt = j.Attempt
	if !t.baseline && !j.Created.IsZero() && !j.Created.Before(t.startedAt.Add(-clockSkew)) {
		st.minAttempt = 1 // born while we watched: every earlier attempt happened in view
	}
	if t.extractor != nil {
		var rej tracecontext.Rejected
		st.tc, st.tcFound, rej = t.extractor.ExtractReport(j.Fields)
		st.tcRejected = rej.Formats
	}
	if st.tcFound && st.tc.HasTraceID() {
		st.traceID = st.tc.TraceID
	} else {
		st.tcFound = false
		sum := sha256.Sum256([]byte("jobtrace/trace/" + j.ID))
		copy(st.traceID[:], sum[:16])
	}
	t.jobs.Add(st.id, st)
	if t.onNewJob != nil {
		t.onNewJob(st)
	}
	return st, true
}

func (st *jobState) attempt(n int) *attemptState {
	a := st.attempts[n]
	if a == nil {
		a = &attemptState{}
		st.attempts[n] = a
	}
	return a
}

func (t *tracker) emit(kind eventKind, st *jobState, n int, a *attemptState, now time.Time) {
	ev := event{kind: kind, job: st, attempt: n, rerun: a.run, worker: a.worker, at: now}
	if kind.endsAttempt() {
		a.ended, a.endedBy = true, kind
		ev.start, ev.startEstimated = a.start, !a.startObserved
		if !a.startObserved {
			ev.start = a.lowerBound
			if n == 1 && ev.start.IsZero() {
				ev.start = st.created
			}
			if ev.start.IsZero() || ev.start.After(now) {
				ev.start = now
			}
		}
		// The next attempt cannot have started before this one ended.
		next := st.attempt(n + 1)
		if next.lowerBound.Before(now) {
			next.lowerBound = now
		}
	}
	t.events = append(t.events, ev)
}

// inferRetries closes attempts below upTo that are still open: a later attempt exists, so
// each of them ended in a retry.
func (t *tracker) inferRetries(st *jobState, upTo int, now time.Time) {
	for n := st.minAttempt; n < upTo; n++ {
		a := st.attempt(n)
		if a.ended && a.endedBy != evAbandoned {
			continue
		}
		if a.ended && a.endedBy == evAbandoned {
			// The requeued run of this attempt failed too; it is its own span.
			a.run++
			a.ended, a.startObserved, a.start, a.worker = false, false, time.Time{}, ""
		}
		if t.baseline {
			a.ended, a.endedBy = true, evRetried
			continue
		}
		if t.markOnce(dedupKey(evRetried, xxhash.Sum64String(st.id+"/"+strconv.Itoa(n)+"/"+strconv.Itoa(a.run)), "")) {
			t.emit(evRetried, st, n, a, now)
		} else {
			a.ended, a.endedBy = true, evRetried
		}
	}
}

func (t *tracker) seenPending(j *job, h uint64, queue string, now time.Time) {
	st, _ := t.state(j, queue)
	t.inferRetries(st, j.Attempt, now)
	a := st.attempt(j.Attempt)
	if !a.startObserved && a.lowerBound.Before(now) {
		a.lowerBound = now
	}
	if t.emitEnqueued && t.markOnce(dedupKey(evEnqueued, h, "")) && !t.baseline {
		t.events = append(t.events, event{kind: evEnqueued, job: st, attempt: j.Attempt, rerun: a.run, at: now})
	}
}

// seenProcessing handles a payload in worker's processing list. hbKnown is false when the
// layout has no heartbeat key; hbAlive tells whether the worker's heartbeat exists.
func (t *tracker) seenProcessing(j *job, h uint64, worker string, hbKnown, hbAlive bool, now time.Time) {
	st, _ := t.state(j, "")
	t.inferRetries(st, j.Attempt, now)
	a := st.attempt(j.Attempt)
	if a.ended && a.endedBy == evAbandoned && worker != a.worker {
		a.run++ // the reaper requeued it and another worker took it
		a.ended, a.startObserved, a.start, a.hbMissingSince = false, false, time.Time{}, time.Time{}
	}
	if a.ended {
		return
	}
	if a.worker != worker {
		a.worker = worker
		if !t.baseline {
			a.start, a.startObserved = now, true
		}
	}
	if t.markOnce(dedupKey(evStarted, h, worker+"#"+strconv.Itoa(a.run))) && !t.baseline {
		t.events = append(t.events, event{kind: evStarted, job: st, attempt: j.Attempt, rerun: a.run, worker: worker, at: now})
	}
	if !hbKnown {
		return
	}
	if hbAlive {
		a.hbMissingSince = time.Time{}
		return
	}
	if a.hbMissingSince.IsZero() {
		a.hbMissingSince = now
		return
	}
	if now.Sub(a.hbMissingSince) >= t.abandonGrace &&
		t.markOnce(dedupKey(evAbandoned, h, worker+"#"+strconv.Itoa(a.run))) {
		t.emit(evAbandoned, st, j.Attempt, a, now)
	}
}

// seenFinished handles a payload in the completed or dead-letter list. It reports false when
// this payload was handled before, which lets the caller stop paging.
func (t *tracker) seenFinished(j *job, h uint64, kind eventKind, now time.Time) bool {
	if !t.markOnce(dedupKey(kind, h, "")) {
		return false
	}
	st, _ := t.state(j, "")
	a := st.attempt(j.Attempt)
	if t.baseline {
		a.ended, a.endedBy = true, kind
		return true
	}
	t.inferRetries(st, j.Attempt, now)
	if a.ended && a.endedBy == evAbandoned {
		a.run++
		a.startObserved, a.start = false, time.Time{}
	}
	t.emit(kind, st, j.Attempt, a, now)
	return true
}

// seenFinishedHash reports whether a finished payload was handled, without parsing it.
func (t *tracker) seenFinishedHash(h uint64, kind eventKind) bool {
	return t.dedup.Contains(dedupKey(kind, h, ""))
}

// markFinishedHash records a finished payload that could not be parsed, so it is counted once.
func (t *tracker) markFinishedHash(h uint64, kind eventKind) bool {
	return t.markOnce(dedupKey(kind, h, ""))
}

func (t *tracker) take() []event {
	ev := t.events
	t.events = nil
	return ev
}

// spanID is the contract of docs/CONVENTIONS.md: sha256(job.id + "/" + attempt)[:8], with a
// "/<rerun>" suffix only for re-runs of an attempt the reaper requeued.
func spanID(jobID string, attempt, rerun int) [8]byte {
	s := jobID + "/" + strconv.Itoa(attempt)
	if rerun > 0 {
		s += "/" + strconv.Itoa(rerun)
	}
	sum := sha256.Sum256([]byte(s))
	var id [8]byte
	copy(id[:], sum[:8])
	return id
}
