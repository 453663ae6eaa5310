package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// registerTraceRoutes adds the trace drill-down API (jobs, traces, correlation, health and
// config endpoints) to mux.
func (t *tailstream) registerTraceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/jobs", t.withRole(roleTraceViewer, t.handleJobs))
	mux.HandleFunc("GET /api/v1/jobs/{job_id}/trace", t.withRole(roleTraceViewer, t.handleJobTrace))
	mux.HandleFunc("GET /api/v1/traces/{trace_id}/summary", t.withRole(roleTraceViewer, t.handleTraceSummary))
	mux.HandleFunc("GET /api/v1/traces/{trace_id}/spans", t.withRole(roleTraceViewer, t.handleTraceSpans))
	mux.HandleFunc("GET /api/v1/correlation/{job_id}", t.withRole(roleTraceViewer, t.handleCorrelation))
	mux.HandleFunc("GET /api/v1/health/tracing", t.withRole(roleTraceViewer, t.handleHealthTracing))
	mux.HandleFunc("GET /api/v1/health/logging", t.withRole(roleLogViewer, t.handleHealthLogging))
	mux.HandleFunc("GET /api/v1/config/tracing", t.withRole(roleTraceViewer, t.handleGetTracingConfig))
	mux.HandleFunc("PUT /api/v1/config/tracing", t.withRole(roleAdmin, t.handlePutTracingConfig))
	mux.HandleFunc("GET /api/v1/config/logging", t.withRole(roleLogViewer, t.handleGetLoggingConfig))
	mux.HandleFunc("PUT /api/v1/config/logging", t.withRole(roleAdmin, t.handlePutLoggingConfig))
}

// ingestTraces feeds the trace cache and job catalog. It must not block.
func (t *tailstream) ingestTraces(td ptrace.Traces) { t.traceState().ingest(td) }

// ingestJobLogs feeds the job catalog from lifecycle logs. It must not block.
func (t *tailstream) ingestJobLogs(ld plog.Logs) { t.traceState().ingestLogs(ld) }

const (
	defaultJobsLimit    = 50
	maxJobsLimit        = 1000
	defaultSpansLimit   = 100
	maxSpansLimit       = 1000
	defaultSummarySpans = 1000
	maxSummarySpans     = 10000
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

func badTraceID(w http.ResponseWriter) {
	writeError(w, http.StatusBadRequest, "invalid_trace_id", "trace_id must be 32 lowercase hex digits and not all zero", "trace_id")
}

// intParam reads a positive integer query parameter bounded by maxV.
func intParam(q url.Values, key string, def, maxV int) (int, error) {
	s := q.Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, errors.New(key + " must be a positive integer")
	}
	if n > maxV {
		return 0, errors.New(key + " must be at most " + strconv.Itoa(maxV))
	}
	return n, nil
}

// parseSince accepts an RFC 3339 time or a duration back from now (e.g. 15m).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return ts, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errors.New("since must be an RFC 3339 time (2025-09-14T18:00:00Z) or a duration (15m)")
}

// jobJSON is one entry of GET /jobs.
type jobJSON struct {
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

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func jobView(j *jobcatalog.Job) jobJSON {
	v := jobJSON{ID: j.ID, Queue: j.Queue, Status: j.Status(), JobType: j.Type}
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

func (t *tailstream) handleJobs(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	limit, err := intParam(q, "limit", defaultJobsLimit, maxJobsLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error(), "limit")
		return
	}
	status := q.Get("status")
	if status != "" && !jobcatalog.ValidStatus(status) {
		writeError(w, http.StatusBadRequest, "invalid_parameter",
			"status must be one of running, succeeded, retried, dead_lettered, abandoned, queued", "status")
		return
	}
	since, err := parseSince(q.Get("since"), time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error(), "since")
		return
	}
	ts := t.traceState()
	f := jobcatalog.Filter{Queue: q.Get("queue"), Status: status, WorkerID: q.Get("worker_id"), Since: since}
	if p.scoped() {
		f.Allow = func(j *jobcatalog.Job) bool { return p.allowsJob(j.Queue, ts.jobAttr(j)) }
	}
	jobs, next, err := ts.catalog.List(f, limit, q.Get("cursor"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "cursor is not one this server returned", "cursor")
		return
	}
	out := struct {
		Jobs       []jobJSON `json:"jobs"`
		NextCursor string    `json:"next_cursor,omitempty"`
	}{Jobs: make([]jobJSON, len(jobs)), NextCursor: next}
	for i := range jobs {
		out.Jobs[i] = jobView(&jobs[i])
	}
	writeJSON(w, http.StatusOK, out)
}

// jobAttr looks up attributes of a job for scope rules: the catalog's fields first, then the
// attributes of its latest job span in the cache (e.g. a job.owner set by the producer).
func (ts *traceState) jobAttr(j *jobcatalog.Job) func(string) (string, bool) {
	return func(key string) (string, bool) {
		a, hasAttempt := j.Latest()
		switch key {
		case attrJobID:
			return j.ID, true
		case attrQueueName:
			return j.Queue, j.Queue != ""
		case attrJobType:
			if j.Type != "" {
				return j.Type, true
			}
		case attrWorkerID:
			if a.WorkerID != "" {
				return a.WorkerID, true
			}
		}
		if hasAttempt && !a.SpanID.IsEmpty() {
			if s, ok := ts.cache.Span(a.TraceID, a.SpanID); ok {
				return s.Attr(key)
			}
		}
		return "", false
	}
}

// lookupJob returns the job if it exists and is in the caller's scope; otherwise it writes a
// 404 (a job outside the scope is reported as unknown, so its existence does not leak).
func (t *tailstream) lookupJob(w http.ResponseWriter, r *http.Request, p *principal) (jobcatalog.Job, bool) {
	id := r.PathValue("job_id")
	ts := t.traceState()
	j, ok := ts.catalog.Get(id)
	if !ok {
		// Not in memory: the durable tier may know it (store.go).
		found, serr := t.lookupStoredJob(r, id)
		if serr != nil {
			writeError(w, http.StatusServiceUnavailable, "store_unavailable", "job "+strconv.Quote(id)+" is not in memory and "+storeUnavailable(serr), "job_id")
			return jobcatalog.Job{}, false
		}
		if found {
			j, ok = ts.catalog.Get(id)
		}
	}
	if !ok || !p.allowsJob(j.Queue, ts.jobAttr(&j)) {
		writeError(w, http.StatusNotFound, "job_not_found", "no job "+strconv.Quote(id)+" in the recent jobs this collector saw", "job_id")
		return jobcatalog.Job{}, false
	}
	return j, true
}

// jobTraceJSON is the answer of GET /jobs/{job_id}/trace.
type jobTraceJSON struct {
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

// jobTrace answers from the catalog and the cache only: it is the fast path of the TUI, and
// the summary endpoint is where backends are asked.
func (ts *traceState) jobTrace(j *jobcatalog.Job) (jobTraceJSON, bool) {
	tr := j.TraceID()
	if tr.IsEmpty() {
		return jobTraceJSON{}, false
	}
	out := jobTraceJSON{JobID: j.ID, TraceID: tr.String(), Status: j.Status(), TraceURL: ts.traceURL(tr.String(), "")}
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
	if cached, ok := ts.cache.Get(tr); ok {
		out.Cached = true
		out.SpansCount = len(cached.Spans)
		var minStart, maxEnd int64
		for i := range cached.Spans {
			s := &cached.Spans[i]
			if i == 0 || s.Start < minStart {
				minStart = s.Start
			}
			if s.End > maxEnd {
				maxEnd = s.End
			}
			if s.IsError() {
				out.Errors++
			}
		}
		out.DurationMS = durMS(minStart, maxEnd)
	}
	return out, true
}

func (t *tailstream) handleJobTrace(w http.ResponseWriter, r *http.Request, p *principal) {
	j, ok := t.lookupJob(w, r, p)
	if !ok {
		return
	}
	t.fetchJobTrace(r, &j)
	out, ok := t.traceState().jobTrace(&j)
	if !ok {
		writeError(w, http.StatusNotFound, "trace_not_found", "job "+strconv.Quote(j.ID)+" has no known trace yet", "job_id")
		return
	}
	t.audit(p, "trace.job_lookup", zap.String("job_id", j.ID), zap.String("trace_id", out.TraceID))
	writeJSON(w, http.StatusOK, out)
}

// traceAllowed applies a scoped caller's rules to a trace: some job of the trace, or some
// span carrying a job's queue and attributes, must be in scope.
func (ts *traceState) traceAllowed(p *principal, id pcommon.TraceID, spans []tracecache.Span) bool {
	if !p.scoped() {
		return true
	}
	for _, jobID := range ts.catalog.JobsInTrace(id) {
		if j, ok := ts.catalog.Get(jobID); ok && p.allowsJob(j.Queue, ts.jobAttr(&j)) {
			return true
		}
	}
	for i := range spans {
		s := &spans[i]
		if _, ok := s.Attr(attrJobID); !ok {
			continue
		}
		q, _ := s.Attr(attrQueueName)
		if p.allowsJob(q, s.Attr) {
			return true
		}
	}
	return false
}

// resolveTrace validates the id, looks the trace up (cache, then backends) and applies the
// scope. It writes the error answer itself and reports false then.
func (t *tailstream) resolveTrace(w http.ResponseWriter, r *http.Request, p *principal) (string, traceResult, bool) {
	raw := r.PathValue("trace_id")
	id, ok := parseTraceID(raw)
	if !ok {
		badTraceID(w)
		return "", traceResult{}, false
	}
	ts := t.traceState()
	res, found, err := ts.lookup(r.Context(), id)
	if err != nil {
		ts.countLookup("unavailable")
		writeError(w, http.StatusServiceUnavailable, "backends_unavailable", err.Error(), "")
		return "", traceResult{}, false
	}
	if !found || !ts.traceAllowed(p, id, res.spans) {
		ts.countLookup("not_found")
		writeError(w, http.StatusNotFound, "trace_not_found", "trace "+raw+" is neither cached nor known to a configured backend", "trace_id")
		return "", traceResult{}, false
	}
	if res.partial {
		ts.countLookup("partial")
	} else {
		ts.countLookup(res.source)
	}
	return raw, res, true
}

func (t *tailstream) handleTraceSummary(w http.ResponseWriter, r *http.Request, p *principal) {
	maxSpans, err := intParam(r.URL.Query(), "max_spans", defaultSummarySpans, maxSummarySpans)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error(), "max_spans")
		return
	}
	raw, res, ok := t.resolveTrace(w, r, p)
	if !ok {
		return
	}
	t.audit(p, "trace.summary", zap.String("trace_id", raw), zap.String("source", res.source))
	sum := summarize(raw, res, maxSpans)
	sum.TraceURL = t.traceState().traceURL(raw, res.servedBy)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(sum.appendJSON(make([]byte, 0, 512*len(sum.Spans)+1024)), '\n'))
}

func (t *tailstream) handleTraceSpans(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	limit, err := intParam(q, "limit", defaultSpansLimit, maxSpansLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", err.Error(), "limit")
		return
	}
	offset := 0
	if c := q.Get("cursor"); c != "" {
		b, derr := base64.RawURLEncoding.DecodeString(c)
		n, aerr := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if derr != nil || aerr != nil || !strings.HasPrefix(string(b), "o:") || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "cursor is not one this server returned", "cursor")
			return
		}
		offset = n
	}
	raw, res, ok := t.resolveTrace(w, r, p)
	if !ok {
		return
	}
	t.audit(p, "trace.spans", zap.String("trace_id", raw), zap.Int("offset", offset))
	sorted := sortedByStart(res.spans)
	out := struct {
		TraceID    string     `json:"trace_id"`
		Total      int        `json:"total"`
		Spans      []spanJSON `json:"spans"`
		NextCursor string     `json:"next_cursor,omitempty"`
		Source     string     `json:"source"`
		Partial    bool       `json:"partial"`
	}{TraceID: raw, Total: len(sorted), Spans: []spanJSON{}, Source: res.source, Partial: res.partial}
	end := min(offset+limit, len(sorted))
	for i := offset; i < end; i++ {
		out.Spans = append(out.Spans, spanView(sorted[i], true))
	}
	if end < len(sorted) {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
	}
	writeJSON(w, http.StatusOK, out)
}
