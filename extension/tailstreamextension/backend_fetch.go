package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// Where a trace answer came from.
const (
	sourceCache        = "cache"
	sourceBackend      = "backend"
	sourceCacheBackend = "cache+backend"
)

// traceResult is a trace as the API answers it.
type traceResult struct {
	spans []tracecache.Span
	// source is cache, backend or cache+backend; servedBy the first backend that had spans.
	source   string
	servedBy string
	// partial: part of the trace is missing and no backend could be asked (all failed or
	// their breakers are open), so the answer is what the cache holds.
	partial bool
	// backendErrors holds one line per failed backend, for the answer's warnings.
	backendErrors []string
}

// errBackendsDown is returned when the cache has nothing and every backend failed.
var errBackendsDown = errors.New("no span of this trace is cached and every tracing backend failed")

// lookup answers from the cache when it holds the whole trace; otherwise it asks every
// backend at once, merges what they return into the cache (so the next lookup is local), and
// answers from the merged trace. found is false when nobody knows the trace.
func (ts *traceState) lookup(ctx context.Context, id pcommon.TraceID) (res traceResult, found bool, err error) {
	cached, ok := ts.cache.Get(id)
	cfg, bs := ts.snapshot()
	incomplete := !ok || cached.Incomplete()
	recentlyFetched := !cached.FetchedAt.IsZero() && time.Since(cached.FetchedAt) < cfg.TraceCache.RefetchAfter
	if len(bs) == 0 || !incomplete || recentlyFetched {
		if !ok {
			return traceResult{}, false, nil
		}
		return traceResult{spans: cached.Spans, source: sourceCache}, true, nil
	}

	return ts.fetchOnce(ctx, id, bs, cached, ok)
}

// inflight is one fetch of a trace that concurrent lookups share.
type inflight struct {
	done  chan struct{}
	res   traceResult
	found bool
	err   error
}

// fetchOnce makes concurrent lookups of one trace (several users opening the same failed job)
// share a single round of backend requests. A waiter whose own request ends first gives up
// with its context's error; the fetch goes on for the others (and fills the cache).
func (ts *traceState) fetchOnce(ctx context.Context, id pcommon.TraceID, bs []*backends.Backend, cached tracecache.Trace, ok bool) (traceResult, bool, error) {
	ts.flightMu.Lock()
	if f, busy := ts.flights[id]; busy {
		ts.flightMu.Unlock()
		select {
		case <-f.done:
			return f.res, f.found, f.err
		case <-ctx.Done():
			return traceResult{}, false, ctx.Err()
		}
	}
	// A fetch that finished between our cache read and here has filled the cache (it does so
	// before leaving ts.flights): answer from it rather than asking the backends again.
	if fresh, has := ts.cache.Get(id); has && !fresh.FetchedAt.IsZero() && (!ok || fresh.FetchedAt.After(cached.FetchedAt)) {
		ts.flightMu.Unlock()
		src := sourceBackend
		if ok {
			src = sourceCacheBackend
		}
		return traceResult{spans: fresh.Spans, source: src}, true, nil
	}
	f := &inflight{done: make(chan struct{})}
	if ts.flights == nil {
		ts.flights = map[pcommon.TraceID]*inflight{}
	}
	ts.flights[id] = f
	ts.flightMu.Unlock()
	// The shared fetch must not die with the first caller's request; each backend's timeout
	// bounds it.
	f.res, f.found, f.err = ts.fetch(context.WithoutCancel(ctx), id, bs, cached, ok)
	ts.flightMu.Lock()
	delete(ts.flights, id)
	ts.flightMu.Unlock()
	close(f.done)
	return f.res, f.found, f.err
}

func (ts *traceState) fetch(ctx context.Context, id pcommon.TraceID, bs []*backends.Backend, cached tracecache.Trace, ok bool) (res traceResult, found bool, err error) {
	type answer struct {
		b     *backends.Backend
		spans []tracecache.Span
		err   error
	}
	answers := make([]answer, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spans, ferr := b.Fetch(ctx, id)
			answers[i] = answer{b: b, spans: spans, err: ferr}
		}()
	}
	wg.Wait()

	answered := false
	var fetched []tracecache.Span
	for _, a := range answers {
		switch {
		case a.err == nil:
			ts.countBackend(a.b.Name(), "found")
		case errors.Is(a.err, backends.ErrNotFound):
			ts.countBackend(a.b.Name(), "not_found")
		case errors.Is(a.err, backends.ErrCircuitOpen):
			ts.countBackend(a.b.Name(), "circuit_open")
		default:
			ts.countBackend(a.b.Name(), "error")
		}
		switch {
		case a.err == nil:
			answered = true
			fetched = append(fetched, a.spans...)
			if res.servedBy == "" {
				res.servedBy = a.b.Name()
			}
		case errors.Is(a.err, backends.ErrNotFound):
			answered = true
		default:
			res.backendErrors = append(res.backendErrors, a.b.Name()+": "+a.err.Error())
		}
	}
	if len(res.backendErrors) > 0 {
		ts.logger.Debug("trace backends failed", zap.String("trace_id", id.String()), zap.Strings("errors", res.backendErrors))
	}
	if !answered {
		if !ok {
			return res, false, errBackendsDown
		}
		res.spans, res.source, res.partial = cached.Spans, sourceCache, true
		return res, true, nil
	}
	ts.cache.Put(fetched)
	ts.cache.MarkFetched(id)
	merged, mok := ts.cache.Get(id)
	if !mok {
		// Too big for the cache bound: answer from what was fetched and what was cached.
		merged.Spans = mergeSpans(cached.Spans, fetched)
	}
	if len(merged.Spans) == 0 {
		return res, false, nil
	}
	res.spans = merged.Spans
	switch {
	case len(fetched) == 0:
		res.source = sourceCache
	case ok:
		res.source = sourceCacheBackend
	default:
		res.source = sourceBackend
	}
	return res, true, nil
}

func mergeSpans(a, b []tracecache.Span) []tracecache.Span {
	seen := make(map[pcommon.SpanID]struct{}, len(a)+len(b))
	out := make([]tracecache.Span, 0, len(a)+len(b))
	for _, list := range [][]tracecache.Span{a, b} {
		for _, s := range list {
			if _, dup := seen[s.SpanID]; !dup {
				seen[s.SpanID] = struct{}{}
				out = append(out, s)
			}
		}
	}
	return out
}
