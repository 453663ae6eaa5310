package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
)

// handleStoreHistory is /logs/history with a log store: the ring and the store merged, newest
// first by timestamp like the ring-only history, paged by cursor (an offset means nothing in a store far larger than the
// ring). A failing store leaves the ring's lines with partial: true.
func (t *tailstream) handleStoreHistory(w http.ResponseWriter, r *http.Request, p *principal, f *logfilter.Filter) {
	q := r.URL.Query()
	limit, ok := boundedInt(w, q, "limit", 100, t.streams.get().MaxHistoryLimit)
	if !ok {
		return
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
		"entries": entries, "limit": limit, "order": "newest_first",
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

// fromStore is the job handlers' fallback for a job absent from memory: rebuild it from the
// store's lifecycle logs (and fetch its trace), then ask again. A store that cannot answer
// turns the 404 into a 503: memory not knowing a job does not mean it does not exist.
// It reports whether the handler should ask the query service again; false with the error
// answer written.
func (t *tailstream) fromStore(w http.ResponseWriter, r *http.Request, err error) bool {
	if !t.store.enabled() || !errors.Is(err, tracequery.ErrJobNotFound) {
		writeQueryError(w, r, err)
		return false
	}
	id := r.PathValue("job_id")
	found, serr := t.rebuildJob(r.Context(), id)
	switch {
	case serr != nil && !errors.Is(serr, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "job "+strconv.Quote(id)+" is not in memory and "+storeUnavailable(serr), "job_id")
		return false
	case !found:
		writeQueryError(w, r, err)
		return false
	}
	t.traces.WarmJobTrace(r.Context(), id)
	return true
}

// warmJobTrace fills the cache with a job's trace from the backends when the store is on:
// a job that reached this gateway's catalog only through the store has no spans here.
func (t *tailstream) warmJobTrace(r *http.Request, id string) {
	if t.store.enabled() {
		t.traces.WarmJobTrace(r.Context(), id)
	}
}
