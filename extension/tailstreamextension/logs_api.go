package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
)

// logsHealth describes the log side for /health/logging.
func (t *tailstream) logsHealth() map[string]any {
	streams := 0
	if t.hub != nil {
		streams = t.hub.Len()
	}
	return map[string]any{
		"buffer_size":     t.ring.Cap(),
		"buffer_head_seq": t.ring.Head(),
		"buffer_bytes":    t.ring.Bytes(),
		"max_bytes":       t.cfg.Retention.MaxBytes,
		"max_age":         t.cfg.Retention.MaxAge.String(),
		"active_streams":  streams,
		"max_streams":     t.cfg.Streams.MaxStreams,
	}
}

func (t *tailstream) registerLogRoutes(mux *http.ServeMux) {
	v := roleLogViewer
	mux.HandleFunc("POST /api/v1/logs/streams", t.withRole(v, t.streaming(t.handleCreate)))
	mux.HandleFunc("GET /api/v1/logs/streams", t.withRole(v, t.handleList))
	mux.HandleFunc("GET /api/v1/logs/streams/{id}", t.withStreamRole(v, isWebSocket, t.streaming(t.handleGetOrAttach)))
	mux.HandleFunc("GET /api/v1/logs/streams/{id}/ws", t.withStreamRole(v, alwaysStreaming, t.streaming(t.handleAttachWS)))
	mux.HandleFunc("GET /api/v1/logs/streams/{id}/events", t.withStreamRole(v, alwaysStreaming, t.streaming(t.handleAttachSSE)))
	mux.HandleFunc("PATCH /api/v1/logs/streams/{id}", t.withRole(v, t.handlePatch))
	mux.HandleFunc("DELETE /api/v1/logs/streams/{id}", t.withRole(v, t.handleDelete))
	// tail answers with SSE, WebSocket or NDJSON: a stream in every case.
	mux.HandleFunc("GET /api/v1/logs/tail", t.withStreamRole(v, alwaysStreaming, t.streaming(t.handleTail)))
	mux.HandleFunc("GET /api/v1/logs/history", t.withRole(v, t.handleHistory))
	mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
}

// streamOptions is options as sent by clients: absent fields take the configured defaults.
type streamOptions struct {
	Follow     *bool `json:"follow"`
	TailLines  *int  `json:"tail_lines"`
	RateLimit  *int  `json:"rate_limit"`
	BufferSize *int  `json:"buffer_size"`
}

type createRequest struct {
	Filters logfilter.Spec `json:"filters"`
	Options streamOptions  `json:"options"`
}

// streamView is the LogStream shape plus the URLs to attach to.
type streamView struct {
	StreamID       string         `json:"stream_id"`
	UserID         string         `json:"user_id"`
	Filters        logfilter.Spec `json:"filters"`
	Options        hub.Options    `json:"options"`
	Status         string         `json:"status"`
	Stats          *hub.Stats     `json:"stats,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	ExpiresAt      time.Time      `json:"expires_at"`
	Endpoint       string         `json:"endpoint"`
	SSEEndpoint    string         `json:"sse_endpoint"`
	FiltersApplied int            `json:"filters_applied"`
	EstimatedRate  *float64       `json:"estimated_rate,omitempty"`
}

// compile validates filters for p: size, syntax, and scope.
func (t *tailstream) compile(w http.ResponseWriter, p *principal, spec logfilter.Spec) (*logfilter.Filter, bool) {
	b, _ := json.Marshal(spec)
	if len(b) > t.cfg.Streams.MaxFilterBytes {
		writeError(w, http.StatusBadRequest, "filter_too_large",
			fmt.Sprintf("filters are %d bytes; the limit is %d (streams.max_filter_bytes)", len(b), t.cfg.Streams.MaxFilterBytes), "filters")
		return nil, false
	}
	f, err := t.compiler.Compile(spec, t.now())
	if err != nil {
		var fe *logfilter.Error
		if errors.Is(err, logfilter.ErrBusy) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "parser_busy", err.Error(), "filters.ottl")
		} else if errors.As(err, &fe) {
			writeError(w, http.StatusBadRequest, "invalid_filter", fe.Message, fe.Field)
		} else {
			writeError(w, http.StatusBadRequest, "invalid_filter", err.Error(), "filters")
		}
		return nil, false
	}
	// The scope is enforced on every line whatever the filter; asking for a queue outside it
	// is refused up front so the caller learns why nothing arrives.
	if p.Scoped() && len(p.scope.Queues) > 0 && spec.QueueName != "" && !slices.Contains(p.scope.Queues, spec.QueueName) {
		writeError(w, http.StatusForbidden, "forbidden", "queue "+strconv.Quote(spec.QueueName)+" is outside your scope", "filters.queue_name")
		return nil, false
	}
	return f, true
}

// resolveOptions fills defaults and checks limits.
func (t *tailstream) resolveOptions(w http.ResponseWriter, o streamOptions, defFollow bool) (hub.Options, bool) {
	sc := t.streamsConfig()
	opts := hub.Options{Follow: defFollow, RateLimit: sc.DefaultRateLimit, BufferSize: sc.DefaultBufferSize}
	if o.Follow != nil {
		opts.Follow = *o.Follow
	}
	if o.TailLines != nil {
		if *o.TailLines < -1 {
			writeError(w, http.StatusBadRequest, "invalid_option", "tail_lines: must be -1 (all retained), 0 or positive", "options.tail_lines")
			return opts, false
		}
		// No more lines than the ring retains can be replayed: a larger count means "all of
		// them", and clamping keeps arithmetic on the count far from overflow.
		opts.TailLines = min(*o.TailLines, t.ring.Cap())
	}
	if o.RateLimit != nil {
		if *o.RateLimit <= 0 || *o.RateLimit > sc.MaxRateLimit {
			writeError(w, http.StatusBadRequest, "invalid_option", fmt.Sprintf("rate_limit: must be between 1 and %d lines/s", sc.MaxRateLimit), "options.rate_limit")
			return opts, false
		}
		opts.RateLimit = *o.RateLimit
	}
	if o.BufferSize != nil {
		if *o.BufferSize <= 0 || *o.BufferSize > sc.MaxBufferSize {
			writeError(w, http.StatusBadRequest, "invalid_option", fmt.Sprintf("buffer_size: must be between 1 and %d lines", sc.MaxBufferSize), "options.buffer_size")
			return opts, false
		}
		opts.BufferSize = *o.BufferSize
	}
	return opts, true
}

func (t *tailstream) createStream(w http.ResponseWriter, p *principal, f *logfilter.Filter, opts hub.Options, ephemeral bool) (*hub.Stream, bool) {
	s, err := t.hub.Create(p.Name, f, p.entryScope(), opts, ephemeral, t.now())
	switch {
	case errors.Is(err, hub.ErrTooManyStreams):
		writeError(w, http.StatusTooManyRequests, "too_many_streams", fmt.Sprintf("the server holds its maximum of %d streams (streams.max_streams)", t.cfg.Streams.MaxStreams), "")
		return nil, false
	case errors.Is(err, hub.ErrTooManyUserStreams):
		writeError(w, http.StatusTooManyRequests, "too_many_streams", fmt.Sprintf("you hold your maximum of %d streams (streams.max_streams_per_user); delete one first", t.cfg.Streams.MaxStreamsPerUser), "")
		return nil, false
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), "")
		return nil, false
	}
	t.audit(p, "stream.create", zap.String("stream_id", s.ID), zap.Any("filters", f.Spec()), zap.Any("options", opts), zap.Bool("one_shot", ephemeral))
	return s, true
}

func (t *tailstream) handleCreate(w http.ResponseWriter, r *http.Request, p *principal) {
	var req createRequest
	if !decodeBody(w, r, &req) {
		return
	}
	f, ok := t.compile(w, p, req.Filters)
	if !ok {
		return
	}
	opts, ok := t.resolveOptions(w, req.Options, true)
	if !ok {
		return
	}
	s, ok := t.createStream(w, p, f, opts, false)
	if !ok {
		return
	}
	v := t.view(s, false)
	rate := t.estimateRate(r.Context(), f, p)
	v.EstimatedRate = &rate
	w.Header().Set("Location", "/api/v1/logs/streams/"+s.ID)
	writeJSON(w, http.StatusCreated, v)
}

// estimateRate is the lines/s that matched the filter over the last minute of the buffer.
// It is an estimate: it evaluates at most maxEvals lines for at most estimateBudget (or
// until the client leaves), and scales what it saw to the lines of the minute.
func (t *tailstream) estimateRate(ctx context.Context, f *logfilter.Filter, p *principal) float64 {
	const window = time.Minute
	const maxEvals = 20_000
	const estimateBudget = 100 * time.Millisecond
	now := t.now()
	snap := t.ring.Snapshot(0, 0, now)
	inWindow := 0
	for i := len(snap) - 1; i >= 0 && now.Sub(snap[i].Ingested) <= window; i-- {
		inWindow++
	}
	scope := p.entryScope()
	deadline := time.Now().Add(estimateBudget)
	n, evals := 0, 0
	for i := len(snap) - 1; i >= len(snap)-inWindow && evals < maxEvals; i-- {
		if evals%64 == 63 && (ctx.Err() != nil || time.Now().After(deadline)) {
			break
		}
		evals++
		if e := snap[i]; (scope == nil || scope(e)) && f.Match(e) {
			n++
		}
	}
	if evals == 0 {
		return 0
	}
	return float64(n) * float64(inWindow) / float64(evals) / window.Seconds()
}

// streamURLs are a stream's WebSocket and SSE endpoints: absolute from the configured base
// (public_url or a named listen address), else paths relative to the API's origin.
func (t *tailstream) streamURLs(id string) (ws, sse string) {
	path := "/api/v1/logs/streams/" + id
	if t.publicBase == "" {
		return path, path + "/events"
	}
	wsBase := "ws" + strings.TrimPrefix(t.publicBase, "http") // http→ws, https→wss
	return wsBase + path, t.publicBase + path + "/events"
}

// streamBase is where clients reach this server, for stream URLs: public_url, or the listen
// address when it names a host (a wildcard one says nothing a client can dial), "" otherwise.
func streamBase(cfg *Config, listen net.Addr) string {
	if cfg.PublicURL != "" {
		return strings.TrimRight(cfg.PublicURL, "/")
	}
	host, _, err := net.SplitHostPort(cfg.NetAddr.Endpoint)
	if err != nil || host == "" || listen == nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	_, port, err := net.SplitHostPort(listen.String())
	if err != nil {
		return ""
	}
	scheme := "http"
	if cfg.TLS.HasValue() {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func (t *tailstream) view(s *hub.Stream, withStats bool) streamView {
	now := t.now()
	ws, sse := t.streamURLs(s.ID)
	v := streamView{
		StreamID: s.ID, UserID: s.Owner, Filters: s.Filter().Spec(), Options: s.Options(),
		Status: s.Status(now), CreatedAt: s.Created.UTC(), ExpiresAt: s.ExpiresAt().UTC(),
		Endpoint: ws, SSEEndpoint: sse, FiltersApplied: s.Filter().Spec().Applied(),
	}
	if withStats {
		st := s.Stats(now)
		v.Stats = &st
	}
	return v
}

// lookup finds a stream the caller may use. Another user's stream is a 404, not a 403, so
// stream ids cannot be probed.
func (t *tailstream) lookup(w http.ResponseWriter, r *http.Request, p *principal) (*hub.Stream, bool) {
	id := r.PathValue("id")
	s, ok := t.hub.Get(id)
	if !ok || (s.Owner != p.Name && !p.can(roleAdmin)) {
		writeError(w, http.StatusNotFound, "not_found", "no stream "+strconv.Quote(id)+" (expired, deleted, or not yours)", "stream_id")
		return nil, false
	}
	return s, true
}

func (t *tailstream) handleList(w http.ResponseWriter, r *http.Request, p *principal) {
	owner := p.Name
	if p.can(roleAdmin) && r.URL.Query().Get("all") == "true" {
		owner = ""
	}
	out := []streamView{}
	for _, s := range t.hub.List(owner) {
		out = append(out, t.view(s, true))
	}
	writeJSON(w, http.StatusOK, map[string]any{"streams": out})
}

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func (t *tailstream) handleGetOrAttach(w http.ResponseWriter, r *http.Request, p *principal) {
	if isWebSocket(r) {
		t.handleAttachWS(w, r, p)
		return
	}
	s, ok := t.lookup(w, r, p)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, t.view(s, true))
}

type patchRequest struct {
	Status  string          `json:"status"`
	Action  string          `json:"action"`
	Filters *logfilter.Spec `json:"filters"`
	Options *streamOptions  `json:"options"`
}

func (t *tailstream) handlePatch(w http.ResponseWriter, r *http.Request, p *principal) {
	s, ok := t.lookup(w, r, p)
	if !ok {
		return
	}
	var req patchRequest
	if !decodeBody(w, r, &req) {
		return
	}
	var paused *bool
	set := func(b bool) { paused = &b }
	switch strings.ToLower(req.Status + req.Action) {
	case "":
	case "paused", "pause":
		set(true)
	case "active", "resume":
		set(false)
	default:
		field := "status"
		if req.Action != "" {
			field = "action"
		}
		writeError(w, http.StatusBadRequest, "invalid_field", field+": must be paused or active (or action pause|resume)", field)
		return
	}
	var f *logfilter.Filter
	if req.Filters != nil {
		if f, ok = t.compile(w, p, *req.Filters); !ok {
			return
		}
	}
	var rate *int
	if o := req.Options; o != nil {
		if o.Follow != nil || o.TailLines != nil || o.BufferSize != nil {
			writeError(w, http.StatusBadRequest, "immutable_option", "only options.rate_limit can change after creation", "options")
			return
		}
		if o.RateLimit != nil {
			if _, ok := t.resolveOptions(w, *o, true); !ok {
				return
			}
			rate = o.RateLimit
		}
	}
	s.Update(f, rate, paused, t.now().Add(t.cfg.Streams.Expiry))
	fields := []zap.Field{zap.String("stream_id", s.ID)}
	if f != nil {
		fields = append(fields, zap.Any("filters", f.Spec()))
	}
	if rate != nil {
		fields = append(fields, zap.Int("rate_limit", *rate))
	}
	if paused != nil {
		fields = append(fields, zap.Bool("paused", *paused))
	}
	t.audit(p, "stream.change", fields...)
	writeJSON(w, http.StatusOK, t.view(s, true))
}

func (t *tailstream) handleDelete(w http.ResponseWriter, r *http.Request, p *principal) {
	s, ok := t.lookup(w, r, p)
	if !ok {
		return
	}
	t.hub.Remove(s.ID, hub.EndDeleted)
	t.audit(p, "stream.delete", zap.String("stream_id", s.ID), zap.String("reason", hub.EndDeleted))
	w.WriteHeader(http.StatusNoContent)
}

// specFromQuery reads the filter fields shared by /logs/tail and /logs/history.
func specFromQuery(q map[string][]string) logfilter.Spec {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var levels []string
	for _, k := range []string{"level", "log_level"} {
		for _, v := range q[k] {
			for _, l := range strings.Split(v, ",") {
				if l = strings.TrimSpace(l); l != "" {
					levels = append(levels, l)
				}
			}
		}
	}
	return logfilter.Spec{
		JobID: get("job_id"), WorkerID: get("worker_id"), QueueName: get("queue_name"), LogLevel: levels,
		Service: get("service"), TraceID: get("trace_id"), Since: get("since"), Until: get("until"),
		Text: get("text"), OTTL: get("ottl"),
	}
}

func (t *tailstream) handleHistory(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	f, ok := t.compile(w, p, specFromQuery(q))
	if !ok {
		return
	}
	if t.store.enabled() {
		t.handleStoreHistory(w, r, p, f)
		return
	}
	limit, offset := 100, 0
	if n, ok := queryInt(w, q, "limit"); !ok {
		return
	} else if n != nil {
		if *n <= 0 || *n > t.streamsConfig().MaxHistoryLimit {
			writeError(w, http.StatusBadRequest, "invalid_parameter", fmt.Sprintf("limit: must be between 1 and %d", t.streamsConfig().MaxHistoryLimit), "limit")
			return
		}
		limit = *n
	}
	if n, ok := queryInt(w, q, "offset"); !ok {
		return
	} else if n != nil {
		if *n < 0 {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "offset: must not be negative", "offset")
			return
		}
		offset = *n
	}
	page, total, partial := t.hub.Search(r.Context(), f, p.entryScope(), offset, limit, t.now())
	if r.Context().Err() != nil {
		return // the client left
	}
	entries := make([]json.RawMessage, len(page))
	for i, e := range page {
		entries[i] = e.JSON()
	}
	resp := map[string]any{"entries": entries, "total": total, "limit": limit, "offset": offset}
	if offset+len(page) < total {
		resp["next_offset"] = offset + len(page)
	}
	if partial {
		// The filter's time budget ran out: total and the pages cover the newest part only.
		resp["partial"] = true
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleTail creates a one-shot stream from query parameters and attaches to it at once:
// WebSocket when the request upgrades, NDJSON when asked, SSE otherwise (so curl -N works).
func (t *tailstream) handleTail(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	f, ok := t.compile(w, p, specFromQuery(q))
	if !ok {
		return
	}
	var so streamOptions
	if v := q.Get("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "follow: must be true or false", "follow")
			return
		}
		so.Follow = &b
	}
	for key, dst := range map[string]**int{"tail_lines": &so.TailLines, "rate_limit": &so.RateLimit, "buffer_size": &so.BufferSize} {
		n, ok := queryInt(w, q, key)
		if !ok {
			return
		}
		*dst = n
	}
	opts, ok := t.resolveOptions(w, so, false)
	if !ok {
		return
	}
	s, ok := t.createStream(w, p, f, opts, true)
	if !ok {
		return
	}
	switch {
	case isWebSocket(r):
		t.attachWS(w, r, p, s)
	case strings.Contains(r.Header.Get("Accept"), "application/x-ndjson"):
		t.attachHTTP(w, r, p, s, ndjsonFraming)
	default:
		t.attachHTTP(w, r, p, s, sseFraming)
	}
}

// streaming guards the endpoints that open live streams: with streams.enabled false (the
// design's rollback switch for streaming) they answer 503, while history, the stream list and
// the trace API keep working. A one-shot tail that does not follow is history and still works.
func (t *tailstream) streaming(h func(http.ResponseWriter, *http.Request, *principal)) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		if !t.cfg.Streams.Enabled && !(r.URL.Path == "/api/v1/logs/tail" && r.URL.Query().Get("follow") == "false") {
			writeError(w, http.StatusServiceUnavailable, "streaming_disabled",
				"live streams are turned off on this collector (streams.enabled: false); /api/v1/logs/history still answers", "")
			return
		}
		h(w, r, p)
	}
}
