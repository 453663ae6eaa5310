package jobtailtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
)

// explainState holds the canned answers of GET /jobs/{id}/explain and GET /queues.
type explainState struct {
	explanations map[string]jobtailclient.Explanation
	queues       []jobtailclient.QueueFigures
	queuesCalls  int
	contexts     []string // ?context= of each explain request
}

// SetExplanation registers the explanation of a job.
func (s *Server) SetExplanation(e jobtailclient.Explanation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.explain.explanations == nil {
		s.explain.explanations = map[string]jobtailclient.Explanation{}
	}
	s.explain.explanations[e.JobID] = e
}

// SetQueues sets what GET /queues answers; tests change it to see a live refresh.
func (s *Server) SetQueues(q []jobtailclient.QueueFigures) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.explain.queues = q
}

// QueuesCalls counts GET /queues requests.
func (s *Server) QueuesCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.explain.queuesCalls
}

// ExplainContexts returns the ?context= of each explain request so far ("" when absent).
func (s *Server) ExplainContexts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.explain.contexts...)
}

func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	e, ok := s.explain.explanations[r.PathValue("id")]
	s.explain.contexts = append(s.explain.contexts, r.URL.Query().Get("context"))
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "job_not_found", "no job "+strconv.Quote(r.PathValue("id")), "job_id")
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) handleQueues(w http.ResponseWriter, r *http.Request) {
	window := 15 * time.Minute
	if v := r.URL.Query().Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "window must be a positive duration", "window")
			return
		}
		window = d
	}
	s.mu.Lock()
	s.explain.queuesCalls++
	q := s.explain.queues
	s.mu.Unlock()
	if q == nil {
		q = []jobtailclient.QueueFigures{}
	}
	b, _ := json.Marshal(map[string]any{"window": window.String(), "queues": q})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
