package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// Where a trace answer came from.
const (
	SourceCache        = "cache"
	SourceBackend      = "backend"
	SourceCacheBackend = "cache+backend"
)

// Trace is a trace as the API answers it.
type Trace struct {
	ID    pcommon.TraceID
	Spans []tracecache.Span
	// Source is cache, backend or cache+backend; ServedBy the first backend that had spans.
	Source   string
	ServedBy string
	// Partial: part of the trace is missing and no backend could be asked (all failed or
	// their breakers are open), so the answer is what the cache holds.
	Partial bool
	// BackendErrors holds one line per failed backend, for the answer's warnings.
	BackendErrors []string
}

// ErrBackendsDown is returned when the cache has nothing and every backend failed.
var ErrBackendsDown = errors.New("no span of this trace is cached and every tracing backend failed")

// fetchTrace answers from the cache when it holds the whole trace; otherwise it asks every
// backend at once, merges what they return into the cache (so the next lookup is local), and
// answers from the merged trace. found is false when nobody knows the trace.
func (s *Service) fetchTrace(ctx context.Context, id pcommon.TraceID) (res Trace, found bool, err error) {
	cached, ok := s.cache.Get(id)
	cfg, bs := s.snapshot()
	incomplete := !ok || cached.Incomplete()
	recentlyFetched := !cached.FetchedAt.IsZero() && s.now().Sub(cached.FetchedAt) < cfg.RefetchAfter
	if len(bs) == 0 || !incomplete || recentlyFetched {
		if !ok {
			return Trace{ID: id}, false, nil
		}
		return Trace{ID: id, Spans: cached.Spans, Source: SourceCache}, true, nil
	}

	res, found, err = s.fetchOnce(ctx, id, bs, cached, ok)
	res.ID = id
	return res, found, err
}

// inflight is one fetch of a trace that concurrent lookups share.
type inflight struct {
	done  chan struct{}
	res   Trace
	found bool
	err   error
}

// fetchOnce makes concurrent lookups of one trace (several users opening the same failed job)
// share a single round of backend requests. A waiter whose own request ends first gives up
// with its context's error; the fetch goes on for the others (and fills the cache).
func (s *Service) fetchOnce(ctx context.Context, id pcommon.TraceID, bs []*backends.Backend, cached tracecache.Trace, ok bool) (Trace, bool, error) {
	s.flightMu.Lock()
	if f, busy := s.flights[id]; busy {
		s.flightMu.Unlock()
		select {
		case <-f.done:
			return f.res, f.found, f.err
		case <-ctx.Done():
			return Trace{}, false, ctx.Err()
		}
	}
	// A fetch that finished between our cache read and here has filled the cache (it does so
	// before leaving s.flights): answer from it rather than asking the backends again.
	if fresh, has := s.cache.Get(id); has && !fresh.FetchedAt.IsZero() && (!ok || fresh.FetchedAt.After(cached.FetchedAt)) {
		s.flightMu.Unlock()
		src := SourceBackend
		if ok {
			src = SourceCacheBackend
		}
		return Trace{Spans: fresh.Spans, Source: src}, true, nil
	}
	f := &inflight{done: make(chan struct{})}
	if s.flights == nil {
		s.flights = map[pcommon.TraceID]*inflight{}
	}
	s.flights[id] = f
	s.flightMu.Unlock()
	// The shared fetch must not die with the first caller's request; each backend's timeout
	// bounds it.
	f.res, f.found, f.err = s.fetch(context.WithoutCancel(ctx), id, bs, cached, ok)
	s.flightMu.Lock()
	delete(s.flights, id)
	s.flightMu.Unlock()
	close(f.done)
	return f.res, f.found, f.err
}

func (s *Service) fetch(ctx context.Context, id pcommon.TraceID, bs []*backends.Backend, cached tracecache.Trace, ok bool) (res Trace, found bool, err error) {
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
			s.countBackend(a.b.Name(), "found")
		case errors.Is(a.err, backends.ErrNotFound):
			s.countBackend(a.b.Name(), "not_found")
		case errors.Is(a.err, backends.ErrCircuitOpen):
			s.countBackend(a.b.Name(), "circuit_open")
		default:
			s.countBackend(a.b.Name(), "error")
		}
		switch {
		case a.err == nil:
			answered = true
			fetched = append(fetched, a.spans...)
			if res.ServedBy == "" {
				res.ServedBy = a.b.Name()
			}
		case errors.Is(a.err, backends.ErrNotFound):
			answered = true
		default:
			res.BackendErrors = append(res.BackendErrors, a.b.Name()+": "+a.err.Error())
		}
	}
	if len(res.BackendErrors) > 0 {
		s.logger.Debug("trace backends failed", zap.String("trace_id", id.String()), zap.Strings("errors", res.BackendErrors))
	}
	if !answered {
		if !ok {
			return res, false, ErrBackendsDown
		}
		res.Spans, res.Source, res.Partial = cached.Spans, SourceCache, true
		return res, true, nil
	}
	s.cache.Put(fetched)
	s.cache.MarkFetched(id)
	merged, mok := s.cache.Get(id)
	if !mok {
		// Too big for the cache bound: answer from what was fetched and what was cached.
		merged.Spans = mergeSpans(cached.Spans, fetched)
	}
	if len(merged.Spans) == 0 {
		return res, false, nil
	}
	res.Spans = merged.Spans
	switch {
	case len(fetched) == 0:
		res.Source = SourceCache
	case ok:
		res.Source = SourceCacheBackend
	default:
		res.Source = SourceBackend
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
