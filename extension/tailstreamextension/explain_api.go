package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/explain"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

const (
	maxExplainContext = 200
	// Traces of one job asked of the backends per explanation; older attempts' other traces
	// are answered from the cache only.
	maxExplainFetches = 4
	// Recent succeeded jobs looked at for a baseline whose trace is cached.
	maxBaselineCandidates = 20
)

// registerExplainRoutes adds the "why did it fail" endpoints.
func (t *tailstream) registerExplainRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/jobs/{job_id}/explain", t.withRole(roleTraceViewer, t.handleExplain))
	mux.HandleFunc("GET /api/v1/queues", t.withRole(roleTraceViewer, t.handleQueues))
}

// handleExplain parses, gathers the job, its traces and lines, and lets explain work it out.
func (t *tailstream) handleExplain(w http.ResponseWriter, r *http.Request, p *principal) {
	ctxLines := 0
	if s := r.URL.Query().Get("context"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxExplainContext {
			writeError(w, http.StatusBadRequest, "invalid_parameter",
				"context must be an integer from 0 to "+strconv.Itoa(maxExplainContext), "context")
			return
		}
		ctxLines = n
		if n == 0 {
			ctxLines = explain.NoContext
		}
	}
	j, ok := t.lookupJob(w, r, p)
	if !ok {
		return
	}
	ts := t.traceState()
	in := explain.Input{Job: explainJob(&j), Logs: t.jobLines(j.ID), Options: explain.Options{ContextLines: ctxLines}}
	in.Spans, in.Partial = ts.jobTraceSpans(r.Context(), &j)
	if n := len(j.Attempts); n > 0 && in.Job.Attempts[n-1].Failed() {
		in.Baseline = ts.baseline(&j, p)
	}
	out := explain.Explain(in)
	t.audit(p, "trace.explain", zap.String("job_id", j.ID), zap.Bool("partial", out.Partial))
	writeJSON(w, http.StatusOK, out)
}

// maxJobLines bounds the lines of one job an explanation looks at (the newest are kept).
const maxJobLines = 20000

// jobLines returns the retained lines of the job, oldest first, walking the ring in place
// rather than copying it.
func (t *tailstream) jobLines(jobID string) []*LogEntry {
	var out []*LogEntry
	t.ring.Reverse(t.now(), func(e *LogEntry) bool {
		if e.JobID == jobID {
			out = append(out, e)
		}
		return len(out) < maxJobLines
	})
	slices.Reverse(out)
	return out
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

// jobTraceSpans gathers the spans of every trace the job's attempts ran in: the newest few
// through the backends when the cache lacks them, the rest from the cache. partial is set when
// a trace could not be had whole.
func (ts *traceState) jobTraceSpans(ctx context.Context, j *jobcatalog.Job) ([]tracecache.Span, bool) {
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
		if fetched < maxExplainFetches {
			fetched++
			res, found, err := ts.lookup(ctx, tr)
			switch {
			case err != nil || !found:
				partial = true
			case spans == nil:
				spans = res.spans // the common case, one trace: no copy
				partial = partial || res.partial
			default:
				spans = append(slices.Clip(spans), res.spans...)
				partial = partial || res.partial
			}
			continue
		}
		if c, ok := ts.cache.Get(tr); ok {
			spans = append(slices.Clip(spans), c.Spans...)
		} else {
			partial = true
		}
	}
	return spans, partial
}

// baseline finds the most recent succeeded attempt of another job of the same type (else the
// same queue) that the caller may see and whose trace is cached.
func (ts *traceState) baseline(j *jobcatalog.Job, p *principal) *explain.Baseline {
	f := jobcatalog.Filter{Status: jobcatalog.StatusSucceeded}
	if j.Type == "" {
		f.Queue = j.Queue
	}
	f.Allow = func(c *jobcatalog.Job) bool {
		return c.ID != j.ID && (j.Type == "" || c.Type == j.Type) && p.allowsJob(c.Queue, ts.jobAttr(c))
	}
	cands, _, err := ts.catalog.List(f, maxBaselineCandidates, "")
	if err != nil {
		return nil
	}
	if len(cands) == 0 && j.Type != "" {
		// No job of this type succeeded lately: fall back to the queue.
		f.Queue = j.Queue
		f.Allow = func(c *jobcatalog.Job) bool { return c.ID != j.ID && p.allowsJob(c.Queue, ts.jobAttr(c)) }
		if cands, _, err = ts.catalog.List(f, maxBaselineCandidates, ""); err != nil {
			return nil
		}
	}
	for i := range cands {
		a, ok := cands[i].Latest()
		if !ok || a.Status != conventions.StatusSucceeded || a.TraceID.IsEmpty() {
			continue
		}
		c, ok := ts.cache.Get(a.TraceID)
		if !ok {
			continue
		}
		return &explain.Baseline{JobID: cands[i].ID, Attempt: explainAttempt(a), Spans: c.Spans}
	}
	return nil
}
