package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
)

// registerTraceRoutes adds the trace drill-down API (jobs, traces, correlation) to mux. Each
// handler parses the request, calls the query service and renders its answer.
func (t *tailstream) registerTraceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/jobs", t.withRole(roleTraceViewer, t.handleJobs))
	mux.HandleFunc("GET /api/v1/jobs/{job_id}/trace", t.withRole(roleTraceViewer, t.handleJobTrace))
	mux.HandleFunc("GET /api/v1/traces/{trace_id}/summary", t.withRole(roleTraceViewer, t.handleTraceSummary))
	mux.HandleFunc("GET /api/v1/traces/{trace_id}/spans", t.withRole(roleTraceViewer, t.handleTraceSpans))
	mux.HandleFunc("GET /api/v1/correlation/{job_id}", t.withRole(roleTraceViewer, t.handleCorrelation))
}

const (
	defaultJobsLimit       = 50
	maxJobsLimit           = 1000
	defaultSpansLimit      = 100
	maxSpansLimit          = 1000
	defaultSummarySpans    = 1000
	maxSummarySpans        = 10000
	defaultCorrelationLogs = 200
	maxCorrelationLogs     = 5000
)

// parseTraceID accepts exactly 32 lowercase hex digits, not all zero (W3C's invalid id).
func parseTraceID(s string) (pcommon.TraceID, bool) {
	var id pcommon.TraceID
	if len(s) != 32 || strings.ToLower(s) != s {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, false
	}
	return id, !id.IsEmpty()
}

// traceIDParam reads {trace_id}, writing the 400 itself.
func traceIDParam(w http.ResponseWriter, r *http.Request) (pcommon.TraceID, bool) {
	id, ok := parseTraceID(r.PathValue("trace_id"))
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_trace_id", "trace_id must be 32 lowercase hex digits and not all zero", "trace_id")
	}
	return id, ok
}

// writeQueryError renders the query service's errors.
func writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, tracequery.ErrJobNotFound):
		id := r.PathValue("job_id")
		writeError(w, http.StatusNotFound, "job_not_found", "no job "+strconv.Quote(id)+" in the recent jobs this collector saw", "job_id")
	case errors.Is(err, tracequery.ErrNoTrace):
		writeError(w, http.StatusNotFound, "trace_not_found", "job "+strconv.Quote(r.PathValue("job_id"))+" has no known trace yet", "job_id")
	case errors.Is(err, tracequery.ErrTraceNotFound):
		writeError(w, http.StatusNotFound, "trace_not_found", "trace "+r.PathValue("trace_id")+" is neither cached nor known to a configured backend", "trace_id")
	case errors.Is(err, tracequery.ErrBadCursor):
		writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error(), "cursor")
	case errors.Is(err, tracequery.ErrJobSourceDown):
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", err.Error(), "")
	default:
		writeError(w, http.StatusServiceUnavailable, "backends_unavailable", err.Error(), "")
	}
}

func (t *tailstream) handleJobs(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	limit, ok := boundedInt(w, q, "limit", defaultJobsLimit, maxJobsLimit)
	if !ok {
		return
	}
	status := q.Get("status")
	if status != "" && !jobcatalog.ValidStatus(status) {
		writeError(w, http.StatusBadRequest, "invalid_parameter",
			"status must be one of running, succeeded, retried, dead_lettered, abandoned, queued", "status")
		return
	}
	since, ok := timeParam(w, q, "since", t.now())
	if !ok {
		return
	}
	page, err := t.traces.Jobs(p, tracequery.JobQuery{
		Queue: q.Get("queue"), Status: status, WorkerID: q.Get("worker_id"), Since: since, Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		writeQueryError(w, r, err)
		return
	}
	if t.store.listPartial() {
		// The list is memory's; say so when the store could not fill it (store.go).
		writeJSON(w, http.StatusOK, struct {
			tracequery.JobPage
			Partial bool `json:"partial"`
		}{page, true})
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (t *tailstream) handleJobTrace(w http.ResponseWriter, r *http.Request, p *principal) {
	t.warmJobTrace(r, r.PathValue("job_id"))
	out, err := t.traces.JobTrace(r.Context(), p, r.PathValue("job_id"))
	if err != nil {
		// Not in memory: the durable tier may know it (store_api.go).
		if !t.fromStore(w, r, err) {
			return
		}
		if out, err = t.traces.JobTrace(r.Context(), p, r.PathValue("job_id")); err != nil {
			writeQueryError(w, r, err)
			return
		}
	}
	t.audit(p, "trace.job_lookup", zap.String("job_id", out.JobID), zap.String("trace_id", out.TraceID))
	writeJSON(w, http.StatusOK, out)
}

func (t *tailstream) handleTraceSummary(w http.ResponseWriter, r *http.Request, p *principal) {
	maxSpans, ok := boundedInt(w, r.URL.Query(), "max_spans", defaultSummarySpans, maxSummarySpans)
	if !ok {
		return
	}
	id, ok := traceIDParam(w, r)
	if !ok {
		return
	}
	sum, err := t.traces.Summary(r.Context(), p, id, maxSpans)
	if err != nil {
		writeQueryError(w, r, err)
		return
	}
	t.audit(p, "trace.summary", zap.String("trace_id", sum.TraceID), zap.String("source", sum.Source))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(sum.AppendJSON(make([]byte, 0, 512*len(sum.Spans)+1024)), '\n'))
}

// Span page cursors are "o:<offset>", base64url: opaque to clients, cheap to check.
func spansCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

func parseSpansCursor(c string) (int, bool) {
	b, derr := base64.RawURLEncoding.DecodeString(c)
	n, aerr := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
	if derr != nil || aerr != nil || !strings.HasPrefix(string(b), "o:") || n < 0 {
		return 0, false
	}
	return n, true
}

func (t *tailstream) handleTraceSpans(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	limit, ok := boundedInt(w, q, "limit", defaultSpansLimit, maxSpansLimit)
	if !ok {
		return
	}
	offset := 0
	if c := q.Get("cursor"); c != "" {
		if offset, ok = parseSpansCursor(c); !ok {
			writeQueryError(w, r, tracequery.ErrBadCursor)
			return
		}
	}
	id, ok := traceIDParam(w, r)
	if !ok {
		return
	}
	page, err := t.traces.Spans(r.Context(), p, id, offset, limit)
	if err != nil {
		writeQueryError(w, r, err)
		return
	}
	t.audit(p, "trace.spans", zap.String("trace_id", page.TraceID), zap.Int("offset", offset))
	out := struct {
		tracequery.SpanPage
		NextCursor string `json:"next_cursor,omitempty"`
	}{SpanPage: page}
	if page.Next > 0 {
		out.NextCursor = spansCursor(page.Next)
	}
	writeJSON(w, http.StatusOK, out)
}

func (t *tailstream) handleCorrelation(w http.ResponseWriter, r *http.Request, p *principal) {
	limit, ok := boundedInt(w, r.URL.Query(), "log_limit", defaultCorrelationLogs, maxCorrelationLogs)
	if !ok {
		return
	}
	j, err := t.traces.Job(r.Context(), p, r.PathValue("job_id"))
	if err != nil {
		if !t.fromStore(w, r, err) {
			return
		}
		if j, err = t.traces.Job(r.Context(), p, r.PathValue("job_id")); err != nil {
			writeQueryError(w, r, err)
			return
		}
	}
	logs, logsPartial := t.jobLogsWithStore(r.Context(), j.ID, limit, p.entryScope())
	out := t.traces.Correlate(r.Context(), p, &j, logs)
	out.Partial = out.Partial || logsPartial
	t.audit(p, "trace.correlation", zap.String("job_id", j.ID))
	writeJSON(w, http.StatusOK, out)
}

// logsForJob returns up to limit of the most recent retained log lines of jobID that scope
// admits (nil: all), oldest first by timestamp (limit <= 0 means all retained). The job being in scope says
// nothing about each line: any OTLP sender can name a job id, so every line is checked on its
// own queue and attributes, as history and streams do. The answer is nil when no line of the
// job is retained at all, empty when the scope removed every one.
func (t *tailstream) logsForJob(jobID string, limit int, scope func(*ring.Entry) bool) []*ring.Entry {
	snap := t.ring.Snapshot(0, 0, t.now())
	var out []*ring.Entry
	seen := false
	for i := len(snap) - 1; i >= 0; i-- {
		if snap[i].JobID != jobID {
			continue
		}
		seen = true
		if scope != nil && !scope(snap[i]) {
			continue
		}
		out = append(out, snap[i])
		if limit > 0 && len(out) == limit {
			break
		}
	}
	if seen && out == nil {
		out = []*ring.Entry{}
	}
	// Arrival order is not time order: a worker line can arrive after lifecycle records that
	// follow it in time.
	slices.SortStableFunc(out, func(a, b *ring.Entry) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	return out
}
