package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

var (
	// ErrJobNotFound: the job is unknown, or outside the caller's scope (the two are not
	// told apart, so a job's existence does not leak).
	ErrJobNotFound = errors.New("job not found")
	// ErrTraceNotFound: neither the cache nor a backend knows the trace, or it is outside the
	// caller's scope.
	ErrTraceNotFound = errors.New("trace not found")
	// ErrNoTrace: the job is known but no trace of it is known yet.
	ErrNoTrace = errors.New("job has no known trace yet")
	// ErrBadCursor: a paging cursor this service did not hand out.
	ErrBadCursor = errors.New("cursor is not one this server returned")
	// ErrJobSourceDown wraps a failure of Options.Jobs.
	ErrJobSourceDown = errors.New("the job store failed")
)

// JobQuery selects jobs for Jobs. Zero fields do not filter.
type JobQuery struct {
	Queue, Status, WorkerID string
	Since                   time.Time
	Limit                   int
	Cursor                  string
}

// JobView is one job as the API shows it (an entry of GET /jobs).
type JobView struct {
	ID        string     `json:"id"`
	Queue     string     `json:"queue"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	WorkerID  string     `json:"worker_id,omitempty"`
	JobType   string     `json:"job_type,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	TraceID   string     `json:"trace_id,omitempty"`
}

// JobPage is one page of Jobs.
type JobPage struct {
	Jobs       []JobView `json:"jobs"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ViewJob is the API form of a catalog job.
func ViewJob(j *jobcatalog.Job) JobView {
	v := JobView{ID: j.ID, Queue: j.Queue, Status: j.Status(), JobType: j.Type}
	if a, ok := j.Latest(); ok {
		v.Attempts = a.N
		v.WorkerID = a.WorkerID
		v.StartedAt, v.EndedAt = timePtr(a.Started), timePtr(a.Ended)
	}
	if tr := j.TraceID(); !tr.IsEmpty() {
		v.TraceID = tr.String()
	}
	return v
}

// Jobs lists the recent jobs in scope, newest first. The status must be one of
// jobcatalog.ValidStatus (the caller validates it, to name the parameter).
func (s *Service) Jobs(scope Scope, q JobQuery) (JobPage, error) {
	f := jobcatalog.Filter{Queue: q.Queue, Status: q.Status, WorkerID: q.WorkerID, Since: q.Since}
	if scope.Scoped() {
		f.Allow = func(j *jobcatalog.Job) bool { return scope.AllowsJob(j.Queue, s.jobAttr(j)) }
	}
	jobs, next, err := s.catalog.List(f, q.Limit, q.Cursor)
	if err != nil {
		return JobPage{}, ErrBadCursor
	}
	out := JobPage{Jobs: make([]JobView, len(jobs)), NextCursor: next}
	for i := range jobs {
		out.Jobs[i] = ViewJob(&jobs[i])
	}
	return out, nil
}

// JobSource finds jobs the in-memory catalog does not hold (evicted, or from before a
// restart), e.g. rebuilt from a durable store of lifecycle logs with EventObservation.
type JobSource interface {
	// Job returns the job, ok false when the source does not know it either. An error is a
	// failure of the source, not an unknown job.
	Job(ctx context.Context, id string) (j jobcatalog.Job, ok bool, err error)
}

// Job returns the job if it is known and in scope: from the catalog, else from
// Options.Jobs. It is the one place that finds a job.
func (s *Service) Job(ctx context.Context, scope Scope, id string) (jobcatalog.Job, error) {
	j, ok := s.catalog.Get(id)
	if !ok && s.jobs != nil {
		var err error
		if j, ok, err = s.jobs.Job(ctx, id); err != nil {
			return jobcatalog.Job{}, fmt.Errorf("%w: %w", ErrJobSourceDown, err)
		}
	}
	if !ok || (scope.Scoped() && !s.allows(scope, j)) {
		return jobcatalog.Job{}, ErrJobNotFound
	}
	return j, nil
}

// allows takes the job by value: the attribute lookup escapes to the heap, and a pointer to
// Job's own j would move it there for unscoped callers too (the job→trace fast path).
func (s *Service) allows(scope Scope, j jobcatalog.Job) bool {
	return scope.AllowsJob(j.Queue, s.jobAttr(&j))
}

// jobAttr looks up attributes of a job for scope rules: the catalog's fields first, then the
// attributes of its latest job span in the cache (e.g. a job.owner set by the producer).
func (s *Service) jobAttr(j *jobcatalog.Job) func(string) (string, bool) {
	return func(key string) (string, bool) {
		a, hasAttempt := j.Latest()
		switch key {
		case conventions.AttrJobID:
			return j.ID, true
		case conventions.AttrQueueName:
			return j.Queue, j.Queue != ""
		case conventions.AttrJobType:
			if j.Type != "" {
				return j.Type, true
			}
		case conventions.AttrWorkerID:
			if a.WorkerID != "" {
				return a.WorkerID, true
			}
		}
		if hasAttempt && !a.SpanID.IsEmpty() {
			if sp, ok := s.cache.Span(a.TraceID, a.SpanID); ok {
				return sp.Attr(key)
			}
		}
		return "", false
	}
}

// JobTrace is the answer of GET /jobs/{job_id}/trace.
type JobTrace struct {
	JobID            string     `json:"job_id"`
	TraceID          string     `json:"trace_id"`
	SpanID           string     `json:"span_id,omitempty"`
	ParentSpanID     string     `json:"parent_span_id,omitempty"`
	TraceURL         string     `json:"trace_url"`
	SpansCount       int        `json:"spans_count"`
	DurationMS       float64    `json:"duration_ms"`
	Status           string     `json:"status"`
	Errors           int        `json:"errors"`
	ExtractedAt      *time.Time `json:"extracted_at,omitempty"`
	ExtractionMethod string     `json:"extraction_method,omitempty"`
	Format           string     `json:"format,omitempty"`
	Attempt          int        `json:"attempt,omitempty"`
	Cached           bool       `json:"cached"`
}

// JobTrace returns the job's latest trace from the catalog and the cache only: it is the
// fast path of the TUI, and Summary is where backends are asked. Errors: ErrJobNotFound,
// ErrNoTrace.
func (s *Service) JobTrace(ctx context.Context, scope Scope, jobID string) (JobTrace, error) {
	j, err := s.Job(ctx, scope, jobID)
	if errors.Is(err, ErrJobNotFound) {
		return s.spanJobTrace(scope, jobID)
	}
	if err != nil {
		return JobTrace{}, err
	}
	out, ok := s.jobTrace(&j)
	if !ok {
		return JobTrace{}, ErrNoTrace
	}
	return out, nil
}

// StatusUnknown is JobTrace's status for a job id that only appeared on spans: no job span or
// lifecycle log said how it went.
const StatusUnknown = "unknown"

// spanJobTrace answers for a job id the catalog does not hold but some span carried: its
// latest trace, visible to a scoped caller only when the trace is.
func (s *Service) spanJobTrace(scope Scope, jobID string) (JobTrace, error) {
	if _, hidden := s.catalog.Get(jobID); hidden {
		return JobTrace{}, ErrJobNotFound // a job the caller's scope hides
	}
	tr, ok := s.jobTraces.get(jobID)
	if !ok {
		return JobTrace{}, ErrJobNotFound
	}
	cached, inCache := s.cache.Get(tr)
	if scope.Scoped() && (!inCache || !spanJobAllowed(scope, jobID, cached.Spans)) {
		return JobTrace{}, ErrJobNotFound
	}
	out := JobTrace{JobID: jobID, TraceID: tr.String(), Status: StatusUnknown, TraceURL: s.TraceURL(tr.String(), "")}
	if inCache {
		out.Cached = true
		out.SpansCount = len(cached.Spans)
		var minStart, maxEnd int64
		for i := range cached.Spans {
			sp := &cached.Spans[i]
			if i == 0 || sp.Start < minStart {
				minStart = sp.Start
			}
			maxEnd = max(maxEnd, sp.End)
			if sp.IsError() {
				out.Errors++
			}
		}
		out.DurationMS = durMS(minStart, maxEnd)
	}
	return out, nil
}

// spanJobAllowed: some span carrying the job id is in the caller's scope by its own queue and
// attributes (the trace as a whole does not admit it).
func spanJobAllowed(scope Scope, jobID string, spans []tracecache.Span) bool {
	for i := range spans {
		sp := &spans[i]
		if id, ok := sp.Attr(conventions.AttrJobID); !ok || id != jobID {
			continue
		}
		q, _ := sp.Attr(conventions.AttrQueueName)
		if scope.AllowsJob(q, sp.Attr) {
			return true
		}
	}
	return false
}

func (s *Service) jobTrace(j *jobcatalog.Job) (JobTrace, bool) {
	tr := j.TraceID()
	if tr.IsEmpty() {
		return JobTrace{}, false
	}
	out := JobTrace{JobID: j.ID, TraceID: tr.String(), Status: j.Status(), TraceURL: s.TraceURL(tr.String(), "")}
	if a, ok := j.Latest(); ok {
		out.Attempt = a.N
		if !a.SpanID.IsEmpty() {
			out.SpanID = a.SpanID.String()
		}
		if !a.ParentSpanID.IsEmpty() {
			out.ParentSpanID = a.ParentSpanID.String()
		}
		out.ExtractionMethod, out.Format = a.ExtractedFrom, a.Format
		if !a.Started.IsZero() && !a.Ended.IsZero() {
			out.DurationMS = float64(a.Ended.Sub(a.Started)) / 1e6
		}
	}
	out.ExtractedAt = timePtr(j.FirstSeen.UTC())
	if cached, ok := s.cache.Get(tr); ok {
		out.Cached = true
		out.SpansCount = len(cached.Spans)
		var minStart, maxEnd int64
		for i := range cached.Spans {
			sp := &cached.Spans[i]
			if i == 0 || sp.Start < minStart {
				minStart = sp.Start
			}
			if sp.End > maxEnd {
				maxEnd = sp.End
			}
			if sp.IsError() {
				out.Errors++
			}
		}
		out.DurationMS = durMS(minStart, maxEnd)
	}
	return out, true
}

// TraceAllowed applies a scoped caller's rules to a trace: some job of the trace, or some
// span carrying a job's queue and attributes, must be in scope. Trace then keeps only the
// spans the caller may see (ScopeSpans).
func (s *Service) TraceAllowed(scope Scope, id pcommon.TraceID, spans []tracecache.Span) bool {
	if !scope.Scoped() {
		return true
	}
	for _, jobID := range s.catalog.JobsInTrace(id) {
		if j, ok := s.catalog.Get(jobID); ok && scope.AllowsJob(j.Queue, s.jobAttr(&j)) {
			return true
		}
	}
	for i := range spans {
		sp := &spans[i]
		if _, ok := sp.Attr(conventions.AttrJobID); !ok {
			continue
		}
		q, _ := sp.Attr(conventions.AttrQueueName)
		if scope.AllowsJob(q, sp.Attr) {
			return true
		}
	}
	return false
}

// Trace looks the trace up (the cache, then every backend at once, merged into the cache)
// and applies the scope. Errors: ErrTraceNotFound, ErrBackendsDown.
func (s *Service) Trace(ctx context.Context, scope Scope, id pcommon.TraceID) (Trace, error) {
	res, found, err := s.fetchTrace(ctx, id)
	if err != nil {
		s.countLookup("unavailable")
		return Trace{}, err
	}
	if !found || !s.TraceAllowed(scope, id, res.Spans) {
		s.countLookup("not_found")
		return Trace{}, ErrTraceNotFound
	}
	// Admitted because one in-scope job is in it; the caller still sees only its spans.
	res.Spans = s.ScopeSpans(scope, res.Spans)
	if res.Partial {
		s.countLookup("partial")
	} else {
		s.countLookup(res.Source)
	}
	return res, nil
}
