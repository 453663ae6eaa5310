package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

const (
	defaultCorrelationLogs  = 200
	maxCorrelationLogs      = 5000
	maxCorrelationSpans     = 500 // job spans plus their descendants, per answer
	maxParentWalk           = 64  // ancestors visited to find a parent job
	maxChildJobCandidates   = 256
	correlationLookupFields = "job_id"
)

// traceContextJSON is the design's TraceContext, one per attempt (a retry may carry a new
// trace), plus the attempt and format that produced it.
type traceContextJSON struct {
	TraceID        string     `json:"trace_id"`
	SpanID         string     `json:"span_id"`
	ParentSpanID   string     `json:"parent_span_id,omitempty"`
	ExtractedFrom  string     `json:"extracted_from,omitempty"`
	ExtractionTime *time.Time `json:"extraction_time,omitempty"`
	Format         string     `json:"format,omitempty"`
	Attempt        int        `json:"attempt"`
	TraceURL       string     `json:"trace_url"`
}

type attemptJSON struct {
	Attempt   int        `json:"attempt"`
	Status    string     `json:"status"`
	WorkerID  string     `json:"worker_id,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	TraceID   string     `json:"trace_id,omitempty"`
	SpanID    string     `json:"span_id,omitempty"`
}

type relationshipsJSON struct {
	Attempts      []attemptJSON `json:"attempts"`
	ParentJobs    []string      `json:"parent_jobs"`
	ChildJobs     []string      `json:"child_jobs"`
	RelatedTraces []string      `json:"related_traces"`
}

type timelineItem struct {
	Timestamp time.Time `json:"timestamp"`
	Type      string    `json:"type"` // span, log or event
	Data      any       `json:"data"`
}

// correlationJSON is the design's CorrelationIndex.
type correlationJSON struct {
	JobID         string             `json:"job_id"`
	Job           jobJSON            `json:"job"`
	TraceContexts []traceContextJSON `json:"trace_contexts"`
	LogEntries    []*LogEntry        `json:"log_entries"`
	Timeline      []timelineItem     `json:"timeline"`
	Relationships relationshipsJSON  `json:"relationships"`
	Partial       bool               `json:"partial"`
}

func (t *tailstream) handleCorrelation(w http.ResponseWriter, r *http.Request, p *principal) {
	limit, err := intParam(r.URL.Query(), "log_limit", defaultCorrelationLogs, maxCorrelationLogs)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error(), "log_limit")
		return
	}
	j, ok := t.lookupJob(w, r, p)
	if !ok {
		return
	}
	ts := t.traceState()
	logs, logsPartial := t.jobLogsWithStore(r.Context(), j.ID, limit)
	out := correlationJSON{
		JobID:         j.ID,
		Job:           jobView(&j),
		TraceContexts: []traceContextJSON{},
		LogEntries:    logs,
		Timeline:      []timelineItem{},
		Relationships: relationshipsJSON{Attempts: []attemptJSON{}, ParentJobs: []string{}, ChildJobs: []string{}, RelatedTraces: []string{}},
	}
	if out.LogEntries == nil {
		out.LogEntries = []*LogEntry{}
	}
	for _, a := range j.Attempts {
		aj := attemptJSON{Attempt: a.N, Status: a.Status, WorkerID: a.WorkerID, StartedAt: timePtr(a.Started), EndedAt: timePtr(a.Ended)}
		if aj.Status == "" {
			aj.Status = jobcatalog.StatusRunning
		}
		if !a.TraceID.IsEmpty() {
			aj.TraceID = a.TraceID.String()
			tc := traceContextJSON{
				TraceID: a.TraceID.String(), SpanID: a.SpanID.String(), ExtractedFrom: a.ExtractedFrom,
				Format: a.Format, Attempt: a.N, ExtractionTime: timePtr(a.Started), TraceURL: ts.traceURL(a.TraceID.String(), ""),
			}
			if !a.ParentSpanID.IsEmpty() {
				tc.ParentSpanID = a.ParentSpanID.String()
			}
			out.TraceContexts = append(out.TraceContexts, tc)
		}
		if !a.SpanID.IsEmpty() {
			aj.SpanID = a.SpanID.String()
		}
		out.Relationships.Attempts = append(out.Relationships.Attempts, aj)
	}

	traces := j.TraceIDs()
	for _, tr := range traces {
		out.Relationships.RelatedTraces = append(out.Relationships.RelatedTraces, tr.String())
	}
	// The job's own traces: the latest may come from a backend; older ones from the cache.
	spansByTrace := map[pcommon.TraceID][]tracecache.Span{}
	for i, tr := range traces {
		if i == 0 {
			res, found, lerr := ts.lookup(r.Context(), tr)
			if lerr == nil && found {
				spansByTrace[tr] = res.spans
				out.Partial = res.partial
			}
			continue
		}
		if c, ok := ts.cache.Get(tr); ok {
			spansByTrace[tr] = c.Spans
		}
	}
	out.Partial = out.Partial || logsPartial
	out.Relationships.ParentJobs = ts.parentJobs(&j, spansByTrace)
	out.Relationships.ChildJobs = ts.childJobs(&j, p)

	// Timeline: the job's spans (attempt spans and what ran under them), their events, and
	// the job's logs; lifecycle events from the catalog fill in when the log ring has no
	// line of the job any more.
	jobSpans := map[pcommon.SpanID]bool{}
	for _, a := range j.Attempts {
		if !a.SpanID.IsEmpty() {
			jobSpans[a.SpanID] = true
		}
	}
	added := 0
	for _, tr := range traces {
		for _, s := range jobSubtree(spansByTrace[tr], jobSpans, j.ID) {
			if added == maxCorrelationSpans {
				break
			}
			added++
			v := spanView(s, false)
			v.TraceID = s.TraceID.String()
			out.Timeline = append(out.Timeline, timelineItem{Timestamp: nsTime(s.Start), Type: "span", Data: v})
			for _, ev := range s.Events {
				out.Timeline = append(out.Timeline, timelineItem{Timestamp: nsTime(ev.Time), Type: "event", Data: map[string]any{
					"name": ev.Name, "span_id": s.SpanID.String(), "attributes": tagsOf(ev.Attrs),
				}})
			}
		}
	}
	for _, e := range out.LogEntries {
		out.Timeline = append(out.Timeline, timelineItem{Timestamp: e.Timestamp, Type: "log", Data: e})
	}
	if len(out.LogEntries) == 0 {
		for _, ev := range j.Events {
			out.Timeline = append(out.Timeline, timelineItem{Timestamp: ev.Time, Type: "event", Data: map[string]any{
				"name": ev.Name, "attempt": ev.Attempt, "worker_id": ev.WorkerID, "severity": ev.Severity, "message": ev.Body,
			}})
		}
	}
	slices.SortStableFunc(out.Timeline, func(a, b timelineItem) int { return a.Timestamp.Compare(b.Timestamp) })
	t.audit(p, "trace.correlation", zap.String(correlationLookupFields, j.ID))
	writeJSON(w, http.StatusOK, out)
}

// jobSubtree returns the spans of the job: its attempt spans, spans tagged with its job.id,
// and every descendant of those, in start order.
func jobSubtree(spans []tracecache.Span, roots map[pcommon.SpanID]bool, jobID string) []*tracecache.Span {
	if len(spans) == 0 {
		return nil
	}
	children := make(map[pcommon.SpanID][]int, len(spans))
	var queue []int
	for i := range spans {
		s := &spans[i]
		children[s.ParentSpanID] = append(children[s.ParentSpanID], i)
		if roots[s.SpanID] {
			queue = append(queue, i)
		} else if v, ok := s.Attr(attrJobID); ok && v == jobID {
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
			// A span of another job (a child job started from this one) ends the subtree:
			// it belongs to that job's timeline.
			if v, ok := spans[c].Attr(attrJobID); ok && v != jobID {
				continue
			}
			queue = append(queue, c)
		}
	}
	slices.SortFunc(out, func(a, b *tracecache.Span) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// parentJobs finds the jobs whose spans started this job: walking up from each attempt's
// parent span, the first span that is another job's attempt span or carries another job.id.
func (ts *traceState) parentJobs(j *jobcatalog.Job, spansByTrace map[pcommon.TraceID][]tracecache.Span) []string {
	out := []string{}
	add := func(id string) {
		if id != "" && id != j.ID && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, a := range j.Attempts {
		cur := a.ParentSpanID
		for step := 0; step < maxParentWalk && !cur.IsEmpty(); step++ {
			if id, ok := ts.catalog.JobBySpan(cur); ok && id != j.ID {
				add(id)
				break
			}
			s, ok := findSpan(spansByTrace[a.TraceID], cur)
			if !ok {
				cs, cok := ts.cache.Span(a.TraceID, cur)
				if !cok {
					break
				}
				s = &cs
			}
			if v, ok := s.Attr(attrJobID); ok && v != j.ID {
				add(v)
				break
			}
			cur = s.ParentSpanID
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

// childJobs lists the jobs of this job's traces whose parent job is this one (and that the
// caller may see).
func (ts *traceState) childJobs(j *jobcatalog.Job, p *principal) []string {
	out := []string{}
	seen := 0
	for _, tr := range j.TraceIDs() {
		for _, id := range ts.catalog.JobsInTrace(tr) {
			if id == j.ID || slices.Contains(out, id) {
				continue
			}
			if seen++; seen > maxChildJobCandidates {
				return out
			}
			c, ok := ts.catalog.Get(id)
			if !ok || !p.allowsJob(c.Queue, ts.jobAttr(&c)) {
				continue
			}
			spans := map[pcommon.TraceID][]tracecache.Span{}
			if cached, ok := ts.cache.Get(tr); ok {
				spans[tr] = cached.Spans
			}
			if slices.Contains(ts.parentJobs(&c, spans), j.ID) {
				out = append(out, id)
			}
		}
	}
	return out
}
