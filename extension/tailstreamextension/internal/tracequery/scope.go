package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// ScopeSpans returns the spans of a trace a scoped caller may see: the spans of in-scope jobs'
// subtrees, and spans that belong to no job. A trace id is chosen by the producer (or derived
// from a job id), so one trace can hold several jobs' spans; admitting the whole trace because
// one job in it is in scope would hand over the others' spans. spans is not modified.
//
// A span belongs to the job of its nearest ancestor-or-self job span: an attempt span the
// catalog knows, or a span carrying job.status (the queuejob receiver's). Structure is asked
// first because job.id on other spans may have been added by correlation over the whole trace.
// A span with no job span above it belongs to the job its own job.id names, if any. An unknown
// job is judged by the span's own queue.name and attributes: an absent value never widens.
func (s *Service) ScopeSpans(scope Scope, spans []tracecache.Span) []tracecache.Span {
	if !scope.Scoped() || len(spans) == 0 {
		return spans
	}
	index := make(map[pcommon.SpanID]int, len(spans))
	for i := range spans {
		index[spans[i].SpanID] = i
	}
	// owner[i] is the index of the job span above (or at) span i, none when there is none;
	// unresolved while not yet computed. Walks are memoised, so the whole pass is linear.
	const (
		unresolved = -2
		none       = -1
	)
	owner := make([]int, len(spans))
	for i := range owner {
		owner[i] = unresolved
	}
	var path []int
	onPath := make(map[int]bool)
	for i := range spans {
		path = path[:0]
		clear(onPath)
		cur, result := i, unresolved
		for result == unresolved {
			if owner[cur] != unresolved {
				result = owner[cur]
				break
			}
			if _, ok := s.structuralJob(&spans[cur]); ok {
				result = cur
				break
			}
			parent, ok := index[spans[cur].ParentSpanID]
			if spans[cur].ParentSpanID.IsEmpty() || !ok || onPath[parent] || parent == cur {
				result = none // a root, a missing parent, or a parent cycle without a job span
				break
			}
			path = append(path, cur)
			onPath[cur] = true
			cur = parent
		}
		for _, p := range path {
			owner[p] = result
		}
		owner[cur] = result
	}
	verdicts := map[int]bool{} // per job span: many spans share one
	out := make([]tracecache.Span, 0, len(spans))
	for i := range spans {
		var ok bool
		if o := owner[i]; o >= 0 {
			v, seen := verdicts[o]
			if !seen {
				jobID, _ := s.structuralJob(&spans[o])
				v = s.jobInScope(scope, jobID, &spans[o])
				verdicts[o] = v
			}
			ok = v
		} else {
			ok = s.ownJobInScope(scope, &spans[i])
		}
		if ok {
			out = append(out, spans[i])
		}
	}
	return out
}

// structuralJob is the job whose job span sp is, if it is one.
func (s *Service) structuralJob(sp *tracecache.Span) (string, bool) {
	if id, ok := s.catalog.JobBySpan(sp.SpanID); ok {
		return id, true
	}
	if _, ok := sp.Attr(conventions.AttrJobStatus); ok {
		return sp.Attr(conventions.AttrJobID)
	}
	return "", false
}

// ownJobInScope judges a span with no job span above it by its own job.id: no job, visible.
func (s *Service) ownJobInScope(scope Scope, sp *tracecache.Span) bool {
	jobID, ok := sp.Attr(conventions.AttrJobID)
	if !ok {
		return true
	}
	return s.jobInScope(scope, jobID, sp)
}

func (s *Service) jobInScope(scope Scope, jobID string, sp *tracecache.Span) bool {
	if j, ok := s.catalog.Get(jobID); ok {
		return scope.AllowsJob(j.Queue, s.jobAttr(&j))
	}
	q, _ := sp.Attr(conventions.AttrQueueName)
	return scope.AllowsJob(q, sp.Attr)
}
