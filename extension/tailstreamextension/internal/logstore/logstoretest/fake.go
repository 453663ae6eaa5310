// Package logstoretest holds an in-memory logstore.Store for the extension's tests, with the
// same query semantics as the VictoriaLogs reader (which is tested against the real server).
package logstoretest // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore/logstoretest"

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// Fake is a logstore.Store over entries added with Add.
type Fake struct {
	mu      sync.Mutex
	entries []*ring.Entry
	down    atomic.Bool
	queries atomic.Int64
	// Last is the most recent query asked.
	last atomic.Pointer[logstore.Query]
}

var _ logstore.Store = (*Fake)(nil)

// Add stores entries (as an exporter would).
func (f *Fake) Add(es ...*ring.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, es...)
	slices.SortStableFunc(f.entries, func(a, b *ring.Entry) int { return a.Timestamp.Compare(b.Timestamp) })
}

// SetDown makes every query fail as an unreachable store does.
func (f *Fake) SetDown(down bool) { f.down.Store(down) }

// Queries counts the queries asked.
func (f *Fake) Queries() int64 { return f.queries.Load() }

// LastQuery returns the most recent query (zero before any).
func (f *Fake) LastQuery() logstore.Query {
	if q := f.last.Load(); q != nil {
		return *q
	}
	return logstore.Query{}
}

// Query implements logstore.Store.
func (f *Fake) Query(_ context.Context, q logstore.Query) (logstore.Result, error) {
	f.queries.Add(1)
	f.last.Store(&q)
	if f.down.Load() {
		return logstore.Result{}, errors.Join(logstore.ErrUnavailable, errors.New("fake store is down"))
	}
	if q.Limit <= 0 {
		return logstore.Result{}, errors.New("logstore: query limit must be positive")
	}
	f.mu.Lock()
	var match []*ring.Entry
	for _, e := range f.entries {
		if matches(e, &q) {
			match = append(match, e)
		}
	}
	f.mu.Unlock()
	if q.Newest {
		slices.Reverse(match)
	}
	if q.Offset >= len(match) {
		match = nil
	} else {
		match = match[q.Offset:]
	}
	res := logstore.Result{}
	if len(match) > q.Limit {
		match, res.More = match[:q.Limit], true
	}
	match = slices.Clone(match)
	if q.Newest {
		slices.Reverse(match)
	}
	res.Entries = match
	return res, nil
}

func matches(e *ring.Entry, q *logstore.Query) bool {
	switch {
	case q.JobID != "" && e.JobID != q.JobID,
		q.TraceID != "" && e.TraceID != q.TraceID,
		q.WorkerID != "" && e.WorkerID != q.WorkerID,
		q.QueueName != "" && e.QueueName != q.QueueName,
		q.Service != "" && e.Service != q.Service,
		len(q.Queues) > 0 && !slices.Contains(q.Queues, e.QueueName),
		!q.From.IsZero() && e.Timestamp.Before(q.From),
		!q.Until.IsZero() && !e.Timestamp.Before(q.Until):
		return false
	}
	if q.Lifecycle {
		name, _ := e.Attr(conventions.AttrEventName)
		if !strings.HasPrefix(name, "job_") {
			return false
		}
	}
	return true
}

// Health implements logstore.Store.
func (f *Fake) Health() logstore.Health {
	st := "closed"
	if f.down.Load() {
		st = "open"
	}
	return logstore.Health{Name: "fake", Type: "fake", Breaker: st, Queries: f.queries.Load()}
}
