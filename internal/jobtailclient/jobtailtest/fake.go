// Package jobtailtest is an in-process fake of the tailstream API for testing clients
// (jobtail's commands and UI) without a collector. It follows the API contract: the same
// paths, JSON shapes, error bodies, bearer auth and WebSocket stream semantics (tail replay,
// follow, Last-Event-ID resume, control messages). The real server is tested against the
// same client in test/e2e.
package jobtailtest // import "github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
)

// Server is the fake API. Exported fields may be set before the first request.
type Server struct {
	*httptest.Server

	// Token, when set, is required as a bearer token.
	Token string
	// IgnoreLastEventID makes a re-attach replay the tail again, as a server without resume
	// support would, so clients must de-duplicate by seq themselves.
	IgnoreLastEventID bool

	mu        sync.Mutex
	jobs      []jobtailclient.Job
	jobTraces map[string]jobtailclient.JobTrace
	summaries map[string]jobtailclient.TraceSummary
	logs      []jobtailclient.LogEntry
	seq       uint64
	streams   map[string]*stream
	nextID    int
	attaches  []Attach
	creates   []jobtailclient.StreamRequest
	jobsCalls int
	explain   explainState // explain.go
}

// Attach records one WebSocket attach, for assertions on resume.
type Attach struct {
	StreamID    string
	LastEventID string
}

type stream struct {
	id    string
	req   jobtailclient.StreamRequest
	conns map[*websocket.Conn]chan []byte
	// after holds each connection's Last-Event-ID: like the real server, nothing at or
	// below it is sent on that connection, live or replayed.
	after map[*websocket.Conn]uint64
}

// New starts a fake server; it is closed when the test ends.
func New(t testing.TB) *Server { return start(t, false) }

// NewTLS starts a fake server speaking https/wss with httptest's self-signed certificate
// (Server.Certificate()).
func NewTLS(t testing.TB) *Server { return start(t, true) }

func start(t testing.TB, useTLS bool) *Server {
	s := &Server{
		jobTraces: map[string]jobtailclient.JobTrace{},
		summaries: map[string]jobtailclient.TraceSummary{},
		streams:   map[string]*stream{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/jobs", s.auth(s.handleJobs))
	mux.HandleFunc("GET /api/v1/jobs/{id}/trace", s.auth(s.handleJobTrace))
	mux.HandleFunc("GET /api/v1/traces/{id}/summary", s.auth(s.handleSummary))
	mux.HandleFunc("GET /api/v1/correlation/{id}", s.auth(s.handleCorrelation))
	mux.HandleFunc("GET /api/v1/jobs/{id}/explain", s.auth(s.handleExplain))
	mux.HandleFunc("GET /api/v1/queues", s.auth(s.handleQueues))
	mux.HandleFunc("POST /api/v1/logs/streams", s.auth(s.handleCreate))
	mux.HandleFunc("GET /api/v1/logs/streams/{id}", s.auth(s.handleAttach))
	mux.HandleFunc("DELETE /api/v1/logs/streams/{id}", s.auth(s.handleDelete))
	if useTLS {
		s.Server = httptest.NewTLSServer(mux)
	} else {
		s.Server = httptest.NewServer(mux)
	}
	t.Cleanup(func() {
		s.DropConnections()
		s.Close()
	})
	return s
}

// Endpoint is host:port of the fake.
func (s *Server) Endpoint() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
}

// AddJob adds a job (newest first is the server's order; jobs are kept sorted by start).
func (s *Server) AddJob(j jobtailclient.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = append(s.jobs, j)
	slices.SortStableFunc(s.jobs, func(a, b jobtailclient.Job) int { return b.Started.Compare(a.Started) })
}

// SetJobStatus changes a job's status, as a live queue would.
func (s *Server) SetJobStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.jobs {
		if s.jobs[i].ID == id {
			s.jobs[i].Status = status
		}
	}
}

// AddTrace registers a trace summary, and the job→trace lookup for jobID when not empty.
func (s *Server) AddTrace(jobID string, sum jobtailclient.TraceSummary, traceURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.summaries[sum.TraceID] = sum
	if jobID != "" {
		start, end := sum.Bounds()
		errs := len(sum.ErrorSpans)
		s.jobTraces[jobID] = jobtailclient.JobTrace{
			JobID: jobID, TraceID: sum.TraceID, TraceURL: traceURL, SpansCount: len(sum.AllSpans()),
			DurationMS: float64(end.Sub(start)) / float64(time.Millisecond), Errors: errs, Status: "completed",
		}
	}
}

// JobsCalls counts GET /jobs requests (live refresh).
func (s *Server) JobsCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobsCalls
}

// Attaches returns the WebSocket attaches so far.
func (s *Server) Attaches() []Attach {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attaches)
}

// Creates returns the stream creation requests so far.
func (s *Server) Creates() []jobtailclient.StreamRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.creates)
}

// AppendLog stores an entry (assigning its seq) and sends it to every followed stream whose
// filters match. It returns the seq.
func (s *Server) AppendLog(e jobtailclient.LogEntry) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	e.Seq = s.seq
	if e.Timestamp.IsZero() {
		e.Timestamp = time.Now().UTC()
	}
	s.logs = append(s.logs, e)
	b, _ := json.Marshal(e)
	for _, st := range s.streams {
		if !st.req.Options.Follow || !matches(st.req.Filters, e) {
			continue
		}
		for c, ch := range st.conns {
			if e.Seq <= st.after[c] {
				continue
			}
			select {
			case ch <- b:
			default: // a stuck test client must not wedge the fake
			}
		}
	}
	return e.Seq
}

// SendControl sends a control message (e.g. {"type":"dropped","count":5,"reason":"rate_limited"})
// to every attached connection.
func (s *Server) SendControl(msg map[string]any) {
	b, _ := json.Marshal(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.streams {
		for _, ch := range st.conns {
			select {
			case ch <- b:
			default:
			}
		}
	}
}

// DropConnections cuts every WebSocket abnormally, as a network failure would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.streams {
		for c, ch := range st.conns {
			close(ch)
			delete(st.conns, c)
		}
	}
}

// ForgetStreams drops every stream, as a restarted or expiring server would; attaches to
// them then get 404.
func (s *Server) ForgetStreams() {
	s.DropConnections()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams = map[string]*stream{}
}

// Restart forgets streams and stored logs and numbers new entries from 1 again, as a
// restarted collector would.
func (s *Server) Restart() {
	s.ForgetStreams()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs, s.seq = nil, 0
}

// ActiveConns counts attached WebSockets.
func (s *Server) ActiveConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.streams {
		n += len(st.conns)
	}
	return n
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg, "field": field}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token", "")
			return
		}
		h(w, r)
	}
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st := q.Get("status")
	if st != "" && !slices.Contains(jobtailclient.JobStatuses, st) {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "status must be one of "+strings.Join(jobtailclient.JobStatuses, "|"), "status")
		return
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "limit must be a positive integer", "limit")
			return
		}
		limit = n
	}
	s.mu.Lock()
	s.jobsCalls++
	var out []jobtailclient.Job
	for _, j := range s.jobs {
		if (st == "" || j.Status == st) && (q.Get("queue") == "" || j.Queue == q.Get("queue")) &&
			(q.Get("worker_id") == "" || j.WorkerID == q.Get("worker_id")) {
			out = append(out, j)
		}
	}
	s.mu.Unlock()
	if len(out) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []jobtailclient.Job{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}

func (s *Server) handleJobTrace(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	jt, ok := s.jobTraces[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "job "+r.PathValue("id")+" is unknown", "job_id")
		return
	}
	writeJSON(w, http.StatusOK, jt)
}

var traceIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *Server) handleSummary(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !traceIDRe.MatchString(id) || id == strings.Repeat("0", 32) {
		writeError(w, http.StatusBadRequest, "invalid_trace_id", "trace id must be 32 lowercase hex digits, not all zero", "trace_id")
		return
	}
	s.mu.Lock()
	sum, ok := s.summaries[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "trace "+id+" is unknown", "trace_id")
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

func (s *Server) handleCorrelation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	jt, ok := s.jobTraces[id]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "job "+id+" is unknown", "job_id")
		return
	}
	var entries []jobtailclient.LogEntry
	for _, e := range s.logs {
		if e.JobID == id {
			entries = append(entries, e)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"job_id":         id,
		"trace_contexts": []map[string]string{{"trace_id": jt.TraceID, "span_id": jt.SpanID}},
		"log_entries":    entries,
	})
}

// ottlRe is the one condition shape the fake understands; anything else is a syntax error,
// which is enough to exercise error display.
var ottlRe = regexp.MustCompile(`^attributes\["([^"]+)"\] == "([^"]*)"$`)

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req jobtailclient.StreamRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_body", err.Error(), "")
		return
	}
	if req.Filters.OTTL != "" && !ottlRe.MatchString(req.Filters.OTTL) {
		writeError(w, http.StatusBadRequest, "invalid_filter", "ottl: condition has invalid syntax: unexpected token", "filters.ottl")
		return
	}
	for _, l := range req.Filters.LogLevel {
		if !slices.Contains([]string{"trace", "debug", "info", "warn", "error", "fatal"}, l) {
			writeError(w, http.StatusBadRequest, "invalid_filter", "unknown log level "+strconv.Quote(l), "filters.log_level")
			return
		}
	}
	if req.Filters.TraceID != "" && !traceIDRe.MatchString(req.Filters.TraceID) {
		writeError(w, http.StatusBadRequest, "invalid_filter", "trace_id must be 32 lowercase hex digits", "filters.trace_id")
		return
	}
	s.mu.Lock()
	s.nextID++
	id := fmt.Sprintf("%032x", s.nextID)
	s.streams[id] = &stream{id: id, req: req, conns: map[*websocket.Conn]chan []byte{}, after: map[*websocket.Conn]uint64{}}
	s.creates = append(s.creates, req)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, jobtailclient.StreamInfo{
		StreamID: id, Endpoint: "ws://" + r.Host + "/api/v1/logs/streams/" + id,
		SSEEndpoint:    "http://" + r.Host + "/api/v1/logs/streams/" + id + "/events",
		FiltersApplied: countFilters(req.Filters), EstimatedRate: 1, ExpiresAt: time.Now().Add(time.Hour).UTC(),
	})
}

func countFilters(f jobtailclient.StreamFilters) int {
	n := 0
	for _, v := range []string{f.JobID, f.WorkerID, f.QueueName, f.Service, f.TraceID, f.Text, f.OTTL} {
		if v != "" {
			n++
		}
	}
	if len(f.LogLevel) > 0 {
		n++
	}
	if f.Since != nil {
		n++
	}
	return n
}

func matches(f jobtailclient.StreamFilters, e jobtailclient.LogEntry) bool {
	if f.JobID != "" && e.JobID != f.JobID || f.WorkerID != "" && e.WorkerID != f.WorkerID ||
		f.QueueName != "" && e.QueueName != f.QueueName || f.TraceID != "" && e.TraceID != f.TraceID ||
		f.Service != "" && e.Service != f.Service {
		return false
	}
	if len(f.LogLevel) > 0 && !slices.Contains(f.LogLevel, e.Level) {
		return false
	}
	if f.Text != "" && !strings.Contains(strings.ToLower(e.Message), strings.ToLower(f.Text)) {
		return false
	}
	if f.Since != nil && e.Timestamp.Before(*f.Since) {
		return false
	}
	if m := ottlRe.FindStringSubmatch(f.OTTL); m != nil {
		if fmt.Sprint(e.Attributes[m[1]]) != m[2] {
			return false
		}
	}
	return true
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st, ok := s.streams[r.PathValue("id")]
	if ok {
		for c, ch := range st.conns {
			close(ch)
			delete(st.conns, c)
		}
		delete(s.streams, st.id)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "stream is unknown", "stream_id")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAttach(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	st, ok := s.streams[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "stream is unknown", "stream_id")
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()

	last := r.Header.Get("Last-Event-ID")
	s.mu.Lock()
	s.attaches = append(s.attaches, Attach{StreamID: id, LastEventID: last})
	var backlog [][]byte
	var matching []jobtailclient.LogEntry
	for _, e := range s.logs {
		if matches(st.req.Filters, e) {
			matching = append(matching, e)
		}
	}
	if after, perr := strconv.ParseUint(last, 10, 64); perr == nil && last != "" && !s.IgnoreLastEventID {
		st.after[conn] = after
		for _, e := range matching {
			if e.Seq > after {
				b, _ := json.Marshal(e)
				backlog = append(backlog, b)
			}
		}
	} else {
		n := st.req.Options.TailLines
		if n > len(matching) || (n == 0 && st.req.Filters.Since != nil) {
			n = len(matching)
		}
		for _, e := range matching[len(matching)-n:] {
			b, _ := json.Marshal(e)
			backlog = append(backlog, b)
		}
	}
	ch := make(chan []byte, 1024)
	if st.req.Options.Follow {
		st.conns[conn] = ch
	}
	s.mu.Unlock()

	ctx := r.Context()
	for _, b := range backlog {
		if conn.Write(ctx, websocket.MessageText, b) != nil {
			return
		}
	}
	if !st.req.Options.Follow {
		_ = conn.Close(websocket.StatusNormalClosure, "end of tail")
		return
	}
	// Detect client disconnects while waiting for entries.
	readCtx := conn.CloseRead(ctx)
	for {
		select {
		case b, ok := <-ch:
			if !ok {
				return // dropped: CloseNow cuts the connection without a close frame
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		case <-readCtx.Done():
			s.mu.Lock()
			if c, ok := st.conns[conn]; ok && c == ch {
				delete(st.conns, conn)
			}
			s.mu.Unlock()
			return
		}
	}
}
