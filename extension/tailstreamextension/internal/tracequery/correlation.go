package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"cmp"
	"context"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

const (
	maxCorrelationSpans   = 500 // job spans plus their descendants, per answer
	maxParentWalk         = 64  // ancestors visited to find a parent job
	maxChildJobCandidates = 256
)

// TraceContext is the design's TraceContext, one per attempt (a retry may carry a new
// trace), plus the attempt and format that produced it.
type TraceContext struct {
	TraceID        string     `json:"trace_id"`
	SpanID         string     `json:"span_id"`
	ParentSpanID   string     `json:"parent_span_id,omitempty"`
	ExtractedFrom  string     `json:"extracted_from,omitempty"`
	ExtractionTime *time.Time `json:"extraction_time,omitempty"`
	Format         string     `json:"format,omitempty"`
	Attempt        int        `json:"attempt"`
	TraceURL       string     `json:"trace_url"`
}

// AttemptView is one attempt of a job.
type AttemptView struct {
	Attempt   int        `json:"attempt"`
	Status    string     `json:"status"`
	WorkerID  string     `json:"worker_id,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	TraceID   string     `json:"trace_id,omitempty"`
	SpanID    string     `json:"span_id,omitempty"`
}

// Relationships are a job's attempts, the jobs around it and its traces.
type Relationships struct {
	Attempts      []AttemptView `json:"attempts"`
	ParentJobs    []string      `json:"parent_jobs"`
	ChildJobs     []string      `json:"child_jobs"`
	RelatedTraces []string      `json:"related_traces"`
}

// Timeline item types.
const (
	ItemSpan  = "span"
	ItemLog   = "log"
	ItemEvent = "event"
)

// TimelineItem is one entry of a job's timeline.
type TimelineItem struct {
	Timestamp time.Time `json:"timestamp"`
	Type      string    `json:"type"` // ItemSpan, ItemLog or ItemEvent
	Data      any       `json:"data"`
}

// Correlation is the design's CorrelationIndex.
type Correlation struct {
	JobID         string         `json:"job_id"`
	Job           JobView        `json:"job"`
	TraceContexts []TraceContext `json:"trace_contexts"`
	LogEntries    []*ring.Entry  `json:"log_entries"`
	Timeline      []TimelineItem `json:"timeline"`
	Relationships Relationships  `json:"relationships"`
	Partial       bool           `json:"partial"`
}

// Attempts returns the job's attempts as the API shows them, and the trace context of each
// attempt that has a trace.
func (s *Service) Attempts(j *jobcatalog.Job) ([]AttemptView, []TraceContext) {
	attempts, contexts := []AttemptView{}, []TraceContext{}
	for _, a := range j.Attempts {
		aj := AttemptView{Attempt: a.N, Status: a.Status, WorkerID: a.WorkerID, StartedAt: timePtr(a.Started), EndedAt: timePtr(a.Ended)}
		if aj.Status == "" {
			aj.Status = conventions.StatusRunning
		}
		if !a.TraceID.IsEmpty() {
			aj.TraceID = a.TraceID.String()
			tc := TraceContext{
				TraceID: a.TraceID.String(), SpanID: a.SpanID.String(), ExtractedFrom: a.ExtractedFrom,
				Format: a.Format, Attempt: a.N, ExtractionTime: timePtr(a.Started), TraceURL: s.TraceURL(a.TraceID.String(), ""),
			}
			if !a.ParentSpanID.IsEmpty() {
				tc.ParentSpanID = a.ParentSpanID.String()
			}
			contexts = append(contexts, tc)
		}
		if !a.SpanID.IsEmpty() {
			aj.SpanID = a.SpanID.String()
		}
		attempts = append(attempts, aj)
	}
	return attempts, contexts
}

// JobSpans returns the spans of the job's traces by trace: the latest trace is looked up like
// Trace (it may come from a backend; partial says whether that answer was partial), older ones
// come from the cache only. The scope was checked on the job.
func (s *Service) JobSpans(ctx context.Context, j *jobcatalog.Job) (spansByTrace map[pcommon.TraceID][]tracecache.Span, partial bool) {
	spansByTrace = map[pcommon.TraceID][]tracecache.Span{}
	for i, tr := range j.TraceIDs() {
		if i == 0 {
			res, found, err := s.fetchTrace(ctx, tr)
			if err == nil && found {
				spansByTrace[tr] = res.Spans
				partial = res.Partial
			}
			continue
		}
		if c, ok := s.cache.Get(tr); ok {
			spansByTrace[tr] = c.Spans
		}
	}
	return spansByTrace, partial
}

// Correlate builds the job's correlation view: attempts and trace contexts, parent and child
// jobs, and a timeline of the job's spans (its attempt spans and what ran under them), their
// events and logs, the job's log entries, oldest first; the HTTP layer reads them from the
// log ring, already bounded. When logs is nil (no line of the job retained) the catalog's lifecycle events stand in.
func (s *Service) Correlate(ctx context.Context, scope Scope, j *jobcatalog.Job, logs []*ring.Entry) Correlation {
	out := Correlation{
		JobID:      j.ID,
		Job:        ViewJob(j),
		LogEntries: logs,
		Timeline:   []TimelineItem{},
		Relationships: Relationships{
			ParentJobs: []string{}, ChildJobs: []string{}, RelatedTraces: []string{},
		},
	}
	if out.LogEntries == nil {
		out.LogEntries = []*ring.Entry{}
	}
	out.Relationships.Attempts, out.TraceContexts = s.Attempts(j)
	traces := j.TraceIDs()
	for _, tr := range traces {
		out.Relationships.RelatedTraces = append(out.Relationships.RelatedTraces, tr.String())
	}
	spansByTrace, partial := s.JobSpans(ctx, j)
	for tr, spans := range spansByTrace {
		// The job is in scope; other jobs sharing its traces may not be.
		spansByTrace[tr] = s.ScopeSpans(scope, spans)
	}
	out.Partial = partial
	out.Relationships.ParentJobs = slices.DeleteFunc(s.ParentJobs(j, spansByTrace), func(id string) bool {
		if !scope.Scoped() {
			return false
		}
		p, ok := s.catalog.Get(id)
		return !ok || !scope.AllowsJob(p.Queue, s.jobAttr(&p))
	})
	out.Relationships.ChildJobs = s.ChildJobs(j, scope)

	jobSpans := AttemptSpans(j)
	added := 0
	for _, tr := range traces {
		for _, sp := range JobSubtree(spansByTrace[tr], jobSpans, j.ID) {
			if added == maxCorrelationSpans {
				break
			}
			added++
			v := ViewSpan(sp, false)
			v.TraceID = sp.TraceID.String()
			out.Timeline = append(out.Timeline, TimelineItem{Timestamp: nsTime(sp.Start), Type: ItemSpan, Data: v})
			for _, ev := range sp.Events {
				out.Timeline = append(out.Timeline, TimelineItem{Timestamp: nsTime(ev.Time), Type: ItemEvent, Data: map[string]any{
					"name": ev.Name, "span_id": sp.SpanID.String(), "attributes": tagsOf(ev.Attrs),
				}})
			}
		}
	}
	for _, e := range out.LogEntries {
		out.Timeline = append(out.Timeline, TimelineItem{Timestamp: e.Timestamp, Type: ItemLog, Data: e})
	}
	if logs == nil {
		// No line of the job is retained at all (nil, not empty: lines the caller's scope
		// removed must not come back as events).
		for _, ev := range j.Events {
			out.Timeline = append(out.Timeline, TimelineItem{Timestamp: ev.Time, Type: ItemEvent, Data: map[string]any{
				"name": ev.Name, "attempt": ev.Attempt, "worker_id": ev.WorkerID, "severity": ev.Severity, "message": ev.Body,
			}})
		}
	}
	slices.SortStableFunc(out.Timeline, func(a, b TimelineItem) int { return a.Timestamp.Compare(b.Timestamp) })
	return out
}

// AttemptSpans is the set of the job's attempt span ids (the roots of JobSubtree).
func AttemptSpans(j *jobcatalog.Job) map[pcommon.SpanID]bool {
	roots := map[pcommon.SpanID]bool{}
	for _, a := range j.Attempts {
		if !a.SpanID.IsEmpty() {
			roots[a.SpanID] = true
		}
	}
	return roots
}

// JobSubtree returns the spans of the job: its attempt spans (roots), spans tagged with its
// job.id, and every descendant of those, in start order. A descendant of another job (a child
// job started from this one) ends the walk: it belongs to that job's timeline.
func JobSubtree(spans []tracecache.Span, roots map[pcommon.SpanID]bool, jobID string) []*tracecache.Span {
	if len(spans) == 0 {
		return nil
	}
	children := make(map[pcommon.SpanID][]int, len(spans))
	var queue []int
	for i := range spans {
		sp := &spans[i]
		children[sp.ParentSpanID] = append(children[sp.ParentSpanID], i)
		if roots[sp.SpanID] {
			queue = append(queue, i)
		} else if v, ok := sp.Attr(conventions.AttrJobID); ok && v == jobID {
			queue = append(queue, i)
		}
	}
	seen := make(map[int]bool, len(queue))
	var out []*tracecache.Span
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		if seen[i] {
			continue
		}
		seen[i] = true
		out = append(out, &spans[i])
		for _, c := range children[spans[i].SpanID] {
			if v, ok := spans[c].Attr(conventions.AttrJobID); ok && v != jobID {
				continue
			}
			queue = append(queue, c)
		}
	}
	slices.SortFunc(out, func(a, b *tracecache.Span) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// ParentJobs finds the jobs whose spans started this job: walking up from each attempt's
// parent span, the first span that is another job's attempt span or carries another job.id.
// Spans are looked for in spansByTrace, then in the cache.
func (s *Service) ParentJobs(j *jobcatalog.Job, spansByTrace map[pcommon.TraceID][]tracecache.Span) []string {
	out := []string{}
	add := func(id string) {
		if id != "" && id != j.ID && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, a := range j.Attempts {
		cur := a.ParentSpanID
		for step := 0; step < maxParentWalk && !cur.IsEmpty(); step++ {
			if id, ok := s.catalog.JobBySpan(cur); ok && id != j.ID {
				add(id)
				break
			}
			sp, ok := findSpan(spansByTrace[a.TraceID], cur)
			if !ok {
				cs, cok := s.cache.Span(a.TraceID, cur)
				if !cok {
					break
				}
				sp = &cs
			}
			if v, ok := sp.Attr(conventions.AttrJobID); ok && v != j.ID {
				add(v)
				break
			}
			cur = sp.ParentSpanID
		}
	}
	return out
}

func findSpan(spans []tracecache.Span, id pcommon.SpanID) (*tracecache.Span, bool) {
	for i := range spans {
		if spans[i].SpanID == id {
			return &spans[i], true
		}
	}
	return nil, false
}

// ChildJobs lists the jobs of this job's traces whose parent job is this one and that the
// scope allows.
func (s *Service) ChildJobs(j *jobcatalog.Job, scope Scope) []string {
	out := []string{}
	seen := 0
	for _, tr := range j.TraceIDs() {
		for _, id := range s.catalog.JobsInTrace(tr) {
			if id == j.ID || slices.Contains(out, id) {
				continue
			}
			if seen++; seen > maxChildJobCandidates {
				return out
			}
			c, ok := s.catalog.Get(id)
			if !ok || !scope.AllowsJob(c.Queue, s.jobAttr(&c)) {
				continue
			}
			spans := map[pcommon.TraceID][]tracecache.Span{}
			if cached, ok := s.cache.Get(tr); ok {
				spans[tr] = cached.Spans
			}
			if slices.Contains(s.ParentJobs(&c, spans), j.ID) {
				out = append(out, id)
			}
		}
	}
	return out
}
