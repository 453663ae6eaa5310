package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"encoding/json"
	"net/http"
)

// Roles of the built-in RBAC.
const (
	roleLogViewer   = "log_viewer"
	roleTraceViewer = "trace_viewer"
	roleAdmin       = "admin"
)

// principal is the authenticated caller of one request.
// TODO(streams issue): users, token checks and scopes; until then every caller is an
// unscoped anonymous admin, which Start only allows on loopback.
type principal struct {
	Name string
}

// can reports whether the caller holds role (admin holds every role).
func (p *principal) can(string) bool { return true }

// allowsJob reports whether a job in queue, with attributes looked up by attr, is in the
// caller's scope.
func (p *principal) allowsJob(string, func(key string) (string, bool)) bool { return true }

// apiError is the body of every 4xx/5xx answer: {"error":{"code","message","field"}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message, field string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: message, Field: field}})
}

// withRole authenticates the request and checks role before calling h.
func (t *tailstream) withRole(role string, h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := &principal{Name: "anonymous"}
		if !p.can(role) {
			writeError(w, http.StatusForbidden, "forbidden", "role "+role+" required", "")
			return
		}
		h(w, r, p)
	}
}
