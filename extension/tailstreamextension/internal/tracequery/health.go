package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"context"
	"sync"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// probeTimeout bounds each reachability probe of Health.
const probeTimeout = 2 * time.Second

// Health is the trace side's state for GET /health/tracing.
type Health struct {
	Status     string            `json:"status"` // ok, or degraded when a backend is down
	Backends   []backends.Status `json:"backends"`
	TraceCache tracecache.Stats  `json:"trace_cache"`
	JobCatalog jobcatalog.Stats  `json:"job_catalog"`
}

// Health reports the backends (probing each at once when probe is set), the cache and the
// catalog.
func (s *Service) Health(ctx context.Context, probe bool) Health {
	_, bs := s.snapshot()
	statuses := make([]backends.Status, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if probe {
				pctx, cancel := context.WithTimeout(ctx, probeTimeout)
				err := b.Probe(pctx)
				cancel()
				statuses[i] = b.Status()
				reachable := err == nil
				statuses[i].Reachable = &reachable
				if err != nil && statuses[i].LastError == "" {
					statuses[i].LastError = err.Error()
				}
				return
			}
			statuses[i] = b.Status()
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
