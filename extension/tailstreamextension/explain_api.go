package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"net/http"
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/explain"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

const (
	maxExplainContext = 200
	// maxJobLines bounds the lines of one job an explanation looks at (the newest are kept).
	maxJobLines = 20000
	// maxStoredJobLines bounds the lines asked of the durable store when memory lacks some.
	maxStoredJobLines = 2000
)

// registerExplainRoutes adds the "why did it fail" endpoints.
func (t *tailstream) registerExplainRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/jobs/{job_id}/explain", t.withRole(roleTraceViewer, t.handleExplain))
	mux.HandleFunc("GET /api/v1/queues", t.withRole(roleTraceViewer, t.handleQueues))
}

// handleExplain parses, finds the job in the caller's scope, reads its lines from the ring and
// lets the query service explain it.
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
	j, err := t.traces.Job(r.Context(), p, r.PathValue("job_id"))
	if err != nil {
		// Not in memory (a restart, another gateway): the durable store may rebuild it.
		if !t.fromStore(w, r, err) {
			return
		}
		if j, err = t.traces.Job(r.Context(), p, r.PathValue("job_id")); err != nil {
			writeQueryError(w, r, err)
			return
		}
	}
	logs, logsPartial := t.jobLines(j.ID, p.entryScope()), false
	if t.store.enabled() {
		logs, logsPartial = t.jobLogsWithStore(r.Context(), j.ID, maxStoredJobLines, p.entryScope())
	}
	out := t.traces.Explain(r.Context(), p, &j, logs, explain.Options{ContextLines: ctxLines}, t.queues.recentSucceeded(j.Type, j.Queue))
	if logsPartial {
		out.Partial = true
		out.Missing = append(out.Missing, "the durable log store could not be asked for the job's older lines")
	}
	t.audit(p, "trace.explain", zap.String("job_id", j.ID), zap.Bool("partial", out.Partial))
	writeJSON(w, http.StatusOK, out)
}

// jobLines returns the retained lines of the job that scope admits (nil: all), oldest first,
// walking the ring in place rather than copying it. As for the correlation view, each line is
// checked on its own: any sender can name a job id.
func (t *tailstream) jobLines(jobID string, scope func(*ring.Entry) bool) []*ring.Entry {
	var out []*ring.Entry
	t.ring.Reverse(t.now(), func(e *ring.Entry) bool {
		if e.JobID == jobID && (scope == nil || scope(e)) {
			out = append(out, e)
		}
		return len(out) < maxJobLines
	})
	slices.Reverse(out)
	return out
}
