package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"context"
	"slices"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
)

// What the extension's durable tier (a log store, see the extension's store.go) feeds back:
// jobs this process did not see, rebuilt from their stored lifecycle logs.

// ObserveStoredEvents teaches the catalog lifecycle events read back from a store, skipping
// the ones it already holds (the same line can reach the pipeline and the store), so feeding
// the same events twice changes nothing. It returns how many were new.
func (s *Service) ObserveStoredEvents(obs []jobcatalog.EventObservation) int {
	n := 0
	for _, o := range obs {
		if j, known := s.catalog.Get(o.JobID); known && slices.ContainsFunc(j.Events, func(ev jobcatalog.Event) bool {
			return ev.Name == o.Name && ev.Time.Equal(o.Time) && ev.Attempt == o.Attempt
		}) {
			continue
		}
		s.catalog.ObserveEvent(o)
		n++
	}
	return n
}

// HasJob reports whether the catalog holds the job (whatever the caller's scope).
func (s *Service) HasJob(id string) bool {
	_, ok := s.catalog.Get(id)
	return ok
}

// WarmJobTrace fetches the latest trace of a job into the cache when the cache lacks it and no
// job span of it reached this process, so a job rebuilt from a store (or seen by another
// gateway) answers /jobs/{id}/trace with its spans; jobs this process saw keep the fast path. Scope is checked by the
// caller's next query, not here: this only fills the cache.
func (s *Service) WarmJobTrace(ctx context.Context, id string) {
	j, ok := s.catalog.Get(id)
	if !ok {
		return
	}
	if a, ok := j.Latest(); ok && a.FromSpan {
		return // this process saw the job's span: the cache answers, or the summary fetches
	}
	tr := j.TraceID()
	if tr.IsEmpty() {
		return
	}
	if _, cached := s.cache.Get(tr); cached {
		return
	}
	_, _, _ = s.fetchTrace(ctx, tr)
}
