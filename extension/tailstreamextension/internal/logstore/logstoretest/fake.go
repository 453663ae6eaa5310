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
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// Fake is a logstore.Store over entries added with Add, and a logstore.Tailer of what
// TailPush sends.
type Fake struct {
	mu       sync.Mutex
	entries  []*ring.Entry
	tails    []chan plog.Logs
	breakers []chan struct{}
	down     atomic.Bool
	queryErr atomic.Pointer[error]
	queries  atomic.Int64
	// Last is the most recent query asked.
	last atomic.Pointer[logstore.Query]
}

var (
	_ logstore.Store  = (*Fake)(nil)
	_ logstore.Tailer = (*Fake)(nil)
)

// SetQueryError makes Query fail with err while tails keep working (nil: answer again).
func (f *Fake) SetQueryError(err error) {
	if err == nil {
		f.queryErr.Store(nil)
		return
	}
	f.queryErr.Store(&err)
}

// Tail implements logstore.Tailer: it hands on what TailPush sends until ctx ends (nil) or
// BreakTails is called (an error). While the fake is down it fails at once.
func (f *Fake) Tail(ctx context.Context, q logstore.TailQuery, fn func(plog.Logs)) error {
	if f.down.Load() {
		return errors.New("fake store is down")
	}
	ch, brk := make(chan plog.Logs, 64), make(chan struct{})
	f.mu.Lock()
	f.tails = append(f.tails, ch)
	f.breakers = append(f.breakers, brk)
	f.mu.Unlock()
	if q.Connected != nil {
		q.Connected(time.Now())
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-brk:
			return errors.New("fake tail broken")
		case ld := <-ch:
			fn(ld)
		}
	}
}

// TailPush sends ld to every connected tail.
func (f *Fake) TailPush(ld plog.Logs) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.tails {
		cp := plog.NewLogs()
		ld.CopyTo(cp)
		ch <- cp
	}
}

// Tails reports how many tails are connected.
func (f *Fake) Tails() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tails)
}

// BreakTails ends every connected tail with an error, as a dropped connection does.
func (f *Fake) BreakTails() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.breakers {
		close(b)
	}
	f.tails, f.breakers = nil, nil
}

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
	if err := f.queryErr.Load(); err != nil {
		return logstore.Result{}, errors.Join(logstore.ErrUnavailable, *err)
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
	if gw, _ := e.Attr(logstore.GatewayField); q.ExcludeGateway != "" && gw == q.ExcludeGateway {
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
