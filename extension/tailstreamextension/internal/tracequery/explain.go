package tracequery

import (
	"context"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/explain"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

const (
	// Traces of one job asked of the backends per explanation; older attempts' other traces
	// are answered from the cache only.
	maxExplainFetches = 4
	// Recent succeeded jobs looked at for a baseline whose trace is cached.
	maxBaselineCandidates = 20
)

// Explain gathers what internal/explain needs for a job the caller may see (Job checked the
// scope): the spans of its attempts' traces (the newest through the backends when the cache
// lacks them, and only the spans the scope admits), a recent succeeded run of the same job
// type (else queue) to compare with, and the job's log lines, which the HTTP layer reads from
// the log ring and checks line by line. recent are ids of recently succeeded jobs of the same
// type or queue, newest first, when the caller keeps them: they spare a walk of the catalog.
func (s *Service) Explain(ctx context.Context, scope Scope, j *jobcatalog.Job, logs []*ring.Entry, opts explain.Options, recent []string) explain.Explanation {
	in := explain.Input{Job: explainJob(j), Logs: logs, Options: opts}
	in.Spans, in.Partial = s.attemptSpans(ctx, j)
	if scope.Scoped() {
		in.Spans = s.ScopeSpans(scope, in.Spans)
	}
	if n := len(in.Job.Attempts); n > 0 && in.Job.Attempts[n-1].Failed() {
		in.Baseline = s.baseline(scope, j, recent)
	}
	return explain.Explain(in)
}

// explainJob converts the catalog's job; enqueue times come from job_enqueued lines.
func explainJob(j *jobcatalog.Job) explain.Job {
	out := explain.Job{ID: j.ID, Queue: j.Queue, Type: j.Type, Status: j.Status(), Attempts: make([]explain.Attempt, len(j.Attempts))}
	for i, a := range j.Attempts {
		out.Attempts[i] = explainAttempt(a)
		if t, ok := enqueuedFromEvents(j, a.N); ok {
			out.Attempts[i].Enqueued = t
		}
	}
	return out
}

func explainAttempt(a jobcatalog.Attempt) explain.Attempt {
	return explain.Attempt{N: a.N, Status: a.Status, WorkerID: a.WorkerID, TraceID: a.TraceID, SpanID: a.SpanID,
		ParentSpanID: a.ParentSpanID, Started: a.Started, Ended: a.Ended}
}

func enqueuedFromEvents(j *jobcatalog.Job, n int) (time.Time, bool) {
	for _, ev := range j.Events {
		if ev.Name == conventions.EventJobEnqueued && (ev.Attempt == n || (ev.Attempt == 0 && n <= 1)) {
			return ev.Time, true
		}
	}
	return time.Time{}, false
}

// attemptSpans gathers the spans of every trace the job's attempts ran in. partial is set
// when a trace could not be had whole.
func (s *Service) attemptSpans(ctx context.Context, j *jobcatalog.Job) ([]tracecache.Span, bool) {
	var spans []tracecache.Span
	partial := false
	seen := map[pcommon.TraceID]bool{}
	fetched := 0
	for i := len(j.Attempts) - 1; i >= 0; i-- {
		tr := j.Attempts[i].TraceID
		if tr.IsEmpty() || seen[tr] {
			continue
		}
		seen[tr] = true
		var got []tracecache.Span
		if fetched < maxExplainFetches {
			fetched++
			res, found, err := s.fetchTrace(ctx, tr)
			if err != nil || !found {
				partial = true
				continue
			}
			got, partial = res.Spans, partial || res.Partial
		} else if c, ok := s.cache.Get(tr); ok {
			got = c.Spans
		} else {
			partial = true
			continue
		}
		if spans == nil {
			spans = got // the common case, one trace: no copy
		} else {
			spans = append(slices.Clip(spans), got...)
		}
	}
	return spans, partial
}

// baseline finds the most recent succeeded attempt of another job of the same type (else the
// same queue) that the caller may see and whose trace is cached: among recent first, else by
// walking the catalog.
func (s *Service) baseline(scope Scope, j *jobcatalog.Job, recent []string) *explain.Baseline {
	allowed := func(c *jobcatalog.Job) bool {
		return c.ID != j.ID && (!scope.Scoped() || scope.AllowsJob(c.Queue, s.jobAttr(c)))
	}
	for _, id := range recent {
		c, ok := s.catalog.Get(id)
		if !ok || c.Status() != jobcatalog.StatusSucceeded || !allowed(&c) || (j.Type != "" && c.Type != j.Type && c.Queue != j.Queue) {
			continue
		}
		if b := s.baselineOf(scope, &c); b != nil {
			return b
		}
	}
	f := jobcatalog.Filter{Status: jobcatalog.StatusSucceeded}
	if j.Type != "" {
		f.Allow = func(c *jobcatalog.Job) bool { return c.Type == j.Type && allowed(c) }
	} else {
		f.Queue, f.Allow = j.Queue, allowed
	}
	cands, _, err := s.catalog.List(f, maxBaselineCandidates, "")
	if err == nil && len(cands) == 0 && j.Type != "" {
		// No job of this type succeeded lately: fall back to the queue.
		f.Queue, f.Allow = j.Queue, allowed
		cands, _, err = s.catalog.List(f, maxBaselineCandidates, "")
	}
	if err != nil {
		return nil
	}
	for i := range cands {
		if b := s.baselineOf(scope, &cands[i]); b != nil {
			return b
		}
	}
	return nil
}

// baselineOf is the job's succeeded latest attempt with its cached trace, or nil.
func (s *Service) baselineOf(scope Scope, c *jobcatalog.Job) *explain.Baseline {
	a, ok := c.Latest()
	if !ok || a.Status != conventions.StatusSucceeded || a.TraceID.IsEmpty() {
		return nil
	}
	cached, ok := s.cache.Get(a.TraceID)
	if !ok {
		return nil
	}
	spans := cached.Spans
	if scope.Scoped() {
		spans = s.ScopeSpans(scope, spans)
	}
	return &explain.Baseline{JobID: c.ID, Attempt: explainAttempt(a), Spans: spans}
}

// EnqueuedAt is when attempt n of a job was queued: a job_enqueued line of that attempt; for a
// retry, the previous attempt's end; for a first attempt, the end of the producer span its job
// span hangs under. The queue statistics' wait time starts there.
func (s *Service) EnqueuedAt(jobID string, n int, traceID pcommon.TraceID, parent pcommon.SpanID) (time.Time, bool) {
	if j, ok := s.catalog.Get(jobID); ok {
		if t, ok := enqueuedFromEvents(&j, n); ok {
			return t, true
		}
		for i := len(j.Attempts) - 1; i >= 0; i-- {
			if a := j.Attempts[i]; a.N == n-1 && !a.Ended.IsZero() {
				return a.Ended, true
			}
		}
	}
	if n <= 1 && !parent.IsEmpty() {
		if p, ok := s.cache.Span(traceID, parent); ok && p.Kind == ptrace.SpanKindProducer {
			return time.Unix(0, p.End), true
		}
	}
	return time.Time{}, false
}
