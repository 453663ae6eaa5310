package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

// libraryPoller drives one queue library's adapter and feeds the shared tracker.
type libraryPoller struct {
	ad  adapter.Adapter
	rd  adapter.Reader
	tr  *tracker
	tel *telemetry
}

func (p *libraryPoller) poll(ctx context.Context, now time.Time) ([]event, error) {
	err := p.ad.Poll(ctx, p.rd, now, func(o *adapter.Observation) { p.tr.observe(o, now) })
	if err != nil {
		// What was observed before the failure is kept; the next poll re-reads the rest.
		return p.tr.take(), err
	}
	p.tr.baseline = false
	return p.tr.take(), nil
}

func obsKey(kind eventKind, id string, attempt, run int) uint64 {
	return dedupKey(kind, xxhash.Sum64String(id+"\x00"+strconv.Itoa(attempt)+"\x00"+strconv.Itoa(run)), "")
}

// latestAttempt is the highest attempt an observation named, 0 if none. (Attempt states
// the tracker creates ahead, for the next attempt's lower bound, do not count.)
func (st *jobState) latestAttempt() int { return st.observedAttempt }

// observeState finds or creates the job's state from an adapter observation.
func (t *tracker) observeState(o *adapter.Observation) *jobState {
	j := job{ID: o.ID, Type: o.Type, Queue: o.Queue, Attempt: max(o.Attempt, 1), Created: o.Enqueued, Fields: o.Carrier}
	st, created := t.state(&j, "")
	if created {
		return st
	}
	if o.Queue != "" && st.queue != o.Queue && (st.queue == "unknown" || st.queue == "") {
		st.queue = strings.Clone(o.Queue)
	}
	if st.typ == "" && o.Type != "" {
		st.typ = strings.Clone(o.Type)
	}
	if st.created.IsZero() && !o.Enqueued.IsZero() {
		st.created = o.Enqueued
	}
	// The carrier may show up only on a later sighting (a Celery message seen after its
	// STARTED result); remember the first valid one by job id.
	if !st.tcFound && o.Carrier != nil && t.extractor != nil {
		if tc, ok := t.extractor.Extract(o.Carrier); ok && tc.HasTraceID() {
			st.tc, st.tcFound, st.traceID = tc, true, tc.TraceID
		}
	}
	return st
}

// observe turns one adapter observation into lifecycle events; see adapter's package doc.
func (t *tracker) observe(o *adapter.Observation, now time.Time) {
	if o.ID == "" {
		return
	}
	st := t.observeState(o)
	n := o.Attempt
	if n <= 0 {
		n = max(st.latestAttempt(), 1)
	}
	st.observedAttempt = max(st.observedAttempt, n)
	switch o.State {
	case adapter.Pending, adapter.Scheduled:
		if a := st.attempts[n]; a != nil && a.activeSeen && !a.ended {
			// A running attempt is back in the queue: the library requeued it.
			t.end(st, n, evAbandoned, o, now)
		}
		t.inferRetries(st, n, now)
		a := st.attempt(n)
		if !a.startObserved && a.lowerBound.Before(now) {
			a.lowerBound = now
		}
		if t.emitEnqueued && t.markOnce(obsKey(evEnqueued, st.id, n, a.run)) && !t.baseline {
			t.events = append(t.events, event{kind: evEnqueued, job: st, attempt: n, rerun: a.run, at: now})
		}
	case adapter.Active:
		t.inferRetries(st, n, now)
		a := st.attempt(n)
		if a.ended && a.endedBy == evAbandoned && t.rerun(a, o) {
			a.run++ // the requeued attempt runs again
			a.ended, a.startObserved, a.start, a.requeued, a.activeSeen = false, false, time.Time{}, false, false
		}
		if a.ended {
			return // a stale in-progress entry (Sidekiq rewrites it only at its heartbeat)
		}
		a.activeSeen = true
		if o.Worker != "" && a.worker != o.Worker {
			a.worker = strings.Clone(o.Worker)
		}
		if !a.startObserved {
			switch {
			case !o.Started.IsZero():
				a.start, a.startObserved = o.Started, true
			case !t.baseline:
				a.start, a.startObserved = now, true
			}
		}
		if t.markOnce(obsKey(evStarted, st.id, n, a.run)) && !t.baseline {
			t.events = append(t.events, event{kind: evStarted, job: st, attempt: n, rerun: a.run, worker: a.worker, at: now})
		}
	case adapter.RetryWait:
		t.end(st, n, evRetried, o, now)
	case adapter.Failed, adapter.Dead:
		t.end(st, n, evDeadLettered, o, now)
	case adapter.Succeeded:
		t.end(st, n, evSucceeded, o, now)
	case adapter.Lost:
		t.end(st, n, evAbandoned, o, now)
	}
}

// rerun tells whether an Active sighting of an abandoned attempt is a new run of it rather
// than a stale in-progress entry of the abandoned run (Sidekiq rewrites its in-progress hash
// only at its heartbeat, so a requeued job can still be listed there with its old start).
func (t *tracker) rerun(a *attemptState, o *adapter.Observation) bool {
	if !o.Started.IsZero() && a.startObserved && !a.start.IsZero() {
		return o.Started.After(a.start)
	}
	return o.Worker != a.worker || a.requeued
}

// end closes attempt n of st with kind, once.
func (t *tracker) end(st *jobState, n int, kind eventKind, o *adapter.Observation, now time.Time) {
	t.inferRetries(st, n, now)
	a := st.attempt(n)
	if a.ended && a.endedBy == evAbandoned && kind != evAbandoned {
		// The requeued run of this attempt finished: its own span.
		if !t.markOnce(obsKey(kind, st.id, n, a.run+1)) {
			return
		}
		a.run++
		a.startObserved, a.start = false, time.Time{}
	} else {
		if a.ended || !t.markOnce(obsKey(kind, st.id, n, a.run)) {
			return
		}
	}
	if kind == evAbandoned && o.State != adapter.Lost {
		a.requeued = true
	}
	if o.Worker != "" && a.worker == "" || o.Worker != "" && o.State != adapter.Pending && o.State != adapter.Scheduled {
		a.worker = strings.Clone(o.Worker)
	}
	if t.baseline {
		a.ended, a.endedBy = true, kind
		return
	}
	if !o.Started.IsZero() && !a.startObserved {
		a.start, a.startObserved = o.Started, true
	}
	at := now
	if !o.Ended.IsZero() && !o.Ended.After(now.Add(clockSkew)) {
		at = o.Ended
	}
	t.emit(kind, st, n, a, at)
	if o.Error != nil && kind != evSucceeded {
		e := &t.events[len(t.events)-1]
		e.err = &adapter.Error{Type: strings.Clone(o.Error.Type), Message: strings.Clone(o.Error.Message), Stacktrace: strings.Clone(o.Error.Stacktrace)}
	}
}
