package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
)

// handleStoreHistory is /logs/history with a log store: the ring and the store merged, in
// timestamp order, paged by cursor (an offset means nothing in a store far larger than the
// ring). A failing store leaves the ring's lines with partial: true.
func (t *tailstream) handleStoreHistory(w http.ResponseWriter, r *http.Request, p *principal, f *logfilter.Filter) {
	q := r.URL.Query()
	limit := 100
	if n, ok := queryInt(w, q, "limit"); !ok {
		return
	} else if n != nil {
		if *n <= 0 || *n > t.streamsConfig().MaxHistoryLimit {
			writeError(w, http.StatusBadRequest, "invalid_parameter", fmt.Sprintf("limit: must be between 1 and %d", t.streamsConfig().MaxHistoryLimit), "limit")
			return
		}
		limit = *n
	}
	if q.Get("offset") != "" && q.Get("offset") != "0" {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "offset: this server pages history by cursor (next_cursor), because it reads a log store", "offset")
		return
	}
	var cur histCursor
	if c := q.Get("cursor"); c != "" {
		var err error
		if cur, err = decodeHistCursor(c); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "cursor is not one this server returned", "cursor")
			return
		}
	}
	page := t.mergedHistory(r.Context(), f, p, cur, limit)
	entries := make([]json.RawMessage, len(page.entries))
	for i, e := range page.entries {
		entries[i] = e.JSON()
	}
	resp := map[string]any{
		"entries": entries, "limit": limit, "order": "timestamp",
		"partial": page.storeFailed != nil,
		"sources": map[string]any{"ring": page.fromRing, "store": page.fromStore, "store_queried": page.storeAsked},
	}
	if page.next != nil {
		resp["next_cursor"] = page.next.encode()
	}
	if page.storeFailed != nil {
		resp["warnings"] = []string{storeUnavailable(page.storeFailed)}
		t.settings.Logger.Debug("tailstream: history answered from memory only", zap.Error(page.storeFailed))
	}
	t.audit(p, "logs.history", zap.Any("filters", f.Spec()), zap.Bool("store", page.storeAsked))
	writeJSON(w, http.StatusOK, resp)
}

// lookupStoredJob is lookupJob's fallback for a job absent from memory: rebuild it from the
// store's lifecycle logs. It reports whether the job is now in the catalog and whether the
// store failed (the caller answers 503 rather than claim the job does not exist).
func (t *tailstream) lookupStoredJob(r *http.Request, id string) (found bool, storeErr error) {
	if !t.store.enabled() {
		return false, nil
	}
	found, err := t.rebuildJob(r.Context(), id)
	if err != nil && !errors.Is(err, r.Context().Err()) {
		return false, err
	}
	return found, nil
}

// fetchJobTrace asks the trace backends (Jaeger) for a job's trace the cache lacks, so a job
// rebuilt from the store (or seen by another gateway) answers with its spans. It only runs
// with a store configured: without one, /jobs/{id}/trace stays the cache-only fast path.
func (t *tailstream) fetchJobTrace(r *http.Request, j *jobcatalog.Job) {
	if !t.store.enabled() {
		return
	}
	tr := j.TraceID()
	if tr.IsEmpty() {
		return
	}
	ts := t.traceState()
	if _, ok := ts.cache.Get(tr); ok {
		return
	}
	_, _, _ = ts.lookup(r.Context(), tr)
}
