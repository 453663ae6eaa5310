package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"net/http"
	"slices"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
)

// Roles of the built-in RBAC.
const (
	roleLogViewer   = "log_viewer"
	roleTraceViewer = "trace_viewer"
	roleAdmin       = "admin"
)

// principal is the authenticated caller of one request.
type principal struct {
	Name  string
	roles []string
	scope ScopeConfig
}

// can reports whether the caller holds role (admin holds every role).
func (p *principal) can(role string) bool {
	return slices.Contains(p.roles, roleAdmin) || slices.Contains(p.roles, role)
}

// principal is the query service's Scope: the trace half knows callers only through it.
var _ tracequery.Scope = (*principal)(nil)

// Scoped reports whether the caller sees only some jobs.
func (p *principal) Scoped() bool { return p.scope.isSet() }

// AllowsJob reports whether a job in queue, with attributes looked up by attr, is in the
// caller's scope. A scoped caller never sees a job whose queue or attribute is unknown: an
// absent value must not widen access.
func (p *principal) AllowsJob(queue string, attr func(key string) (string, bool)) bool {
	if !p.scope.isSet() {
		return true
	}
	if len(p.scope.Queues) > 0 && !slices.Contains(p.scope.Queues, queue) {
		return false
	}
	if r := p.scope.Attribute; r != nil {
		if attr == nil {
			return false
		}
		v, ok := attr(r.Key)
		if !ok || !slices.Contains(r.Values, v) {
			return false
		}
	}
	return true
}

// withRole authenticates the request and checks role before calling h: 401 without a valid
// token, 403 without the role. The token must come in the Authorization header.
func (t *tailstream) withRole(role string, h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return t.authorize(role, func(*http.Request) bool { return false }, h)
}

// withStreamRole is withRole for the endpoints a browser attaches to with WebSocket or
// EventSource: there, and only for such requests (streaming tells), the token may also come as
// ?access_token=.
func (t *tailstream) withStreamRole(role string, streaming func(*http.Request) bool, h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return t.authorize(role, streaming, h)
}

func alwaysStreaming(*http.Request) bool { return true }

func (t *tailstream) authorize(role string, queryOK func(*http.Request) bool, h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok, queryRefused := t.auth.authenticate(r, queryOK(r))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jobtrace"`)
			msg := "a valid bearer token is required (Authorization: Bearer <token>)"
			if queryRefused {
				msg = "access_token is only accepted on WebSocket and SSE stream endpoints; send Authorization: Bearer <token>"
			}
			writeError(w, http.StatusUnauthorized, "unauthorized", msg, "")
			return
		}
		if !p.can(role) {
			writeError(w, http.StatusForbidden, "forbidden", "role "+role+" required", "")
			return
		}
		h(w, r, p)
	}
}
