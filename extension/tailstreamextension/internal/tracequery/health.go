package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"context"
	"sync"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// probeTimeout bounds each reachability probe of Health; probeEvery is how often a backend is
// probed at most, however many callers ask.
const (
	probeTimeout = 2 * time.Second
	probeEvery   = 15 * time.Second
)

// Health is the trace side's state for GET /health/tracing.
type Health struct {
	Status     string            `json:"status"` // ok, or degraded when a backend is down
	Backends   []backends.Status `json:"backends"`
	TraceCache tracecache.Stats  `json:"trace_cache"`
	JobCatalog jobcatalog.Stats  `json:"job_catalog"`
}

// Health reports the backends, the cache and the catalog. A backend's state is its breaker
// and its last outcomes; with probe, also its reachability, from a probe at most probeEvery
// old (taken now, once for all concurrent callers, when the last one is older).
func (s *Service) Health(ctx context.Context, probe bool) Health {
	_, bs := s.snapshot()
	statuses := make([]backends.Status, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var reachable, known bool
			if probe {
				reachable, _, known = b.ProbeEvery(ctx, probeEvery, probeTimeout)
			}
			statuses[i] = b.Status()
			if known {
				statuses[i].Reachable = &reachable
			}
		}()
	}
	wg.Wait()
	h := Health{Status: "ok", Backends: statuses, TraceCache: s.cache.Stats(), JobCatalog: s.catalog.Stats()}
	for _, st := range statuses {
		if (st.Reachable != nil && !*st.Reachable) || st.Breaker == backends.StateOpen {
			h.Status = "degraded"
		}
	}
	return h
}

// BackendStatuses reports each backend's breaker and last outcomes without probing: cheap
// enough for a metrics callback.
func (s *Service) BackendStatuses() []backends.Status {
	_, bs := s.snapshot()
	out := make([]backends.Status, len(bs))
	for i, b := range bs {
		out[i] = b.Status()
	}
	return out
}
