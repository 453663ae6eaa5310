package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// authenticator maps bearer tokens to principals. Tokens are compared by their sha256, so
// the configured secret is only hashed once and never kept in clear.
type authenticator struct {
	users []authUser
	open  bool // no users configured: every caller is an unscoped admin
}

type authUser struct {
	hash [32]byte
	p    *principal
}

var anonymous = &principal{Name: "anonymous", roles: []string{roleAdmin}}

// newAuthenticator builds the token table. Users without a token are left out and named in
// disabled; with none left the API is open (and Start applies the loopback rule).
func newAuthenticator(users []UserConfig) (a *authenticator, disabled []string, err error) {
	a = &authenticator{}
	for i, u := range users {
		if u.disabled() {
			disabled = append(disabled, u.Name)
			continue
		}
		h, err := u.tokenHash()
		if err != nil {
			return nil, nil, fmt.Errorf("users[%d].%w", i, err)
		}
		a.users = append(a.users, authUser{hash: h, p: &principal{Name: u.Name, roles: u.Roles, scope: u.Scope}})
	}
	a.open = len(a.users) == 0
	return a, disabled, nil
}

// bearerToken takes the token from the Authorization header or, when queryOK, from the
// access_token query parameter. The parameter exists for browsers, whose WebSocket and
// EventSource APIs cannot set headers; anywhere else a token in a URL only ends up in proxy
// logs, browser history and Referer headers, so it is refused (queryRefused).
func bearerToken(r *http.Request, queryOK bool) (tok string, queryRefused bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:]), false
		}
		return "", false
	}
	q := r.URL.Query()
	if !q.Has(accessTokenParam) {
		return "", false
	}
	if !queryOK {
		return "", true
	}
	return q.Get(accessTokenParam), false
}

const accessTokenParam = "access_token"

// stripAccessToken removes the token from the request's URL once it has been read, so no
// handler, error message or log line downstream can repeat it.
func stripAccessToken(r *http.Request) {
	q := r.URL.Query()
	if !q.Has(accessTokenParam) {
		return
	}
	q.Del(accessTokenParam)
	u := *r.URL
	u.RawQuery = q.Encode()
	r.URL = &u
	r.RequestURI = u.RequestURI()
}

func (a *authenticator) authenticate(r *http.Request, queryOK bool) (p *principal, ok, queryRefused bool) {
	tok, queryRefused := bearerToken(r, queryOK)
	stripAccessToken(r)
	if a.open {
		return anonymous, true, false
	}
	if tok == "" {
		return nil, false, queryRefused
	}
	sum := sha256.Sum256([]byte(tok))
	var found *principal
	// Compare against every user in constant time so timing says nothing about which matched.
	for i := range a.users {
		if subtle.ConstantTimeCompare(sum[:], a.users[i].hash[:]) == 1 {
			found = a.users[i].p
		}
	}
	return found, found != nil, false
}

// entryScope returns the caller's scope as a check on log entries (nil when unscoped).
func (p *principal) entryScope() func(*ring.Entry) bool {
	if !p.Scoped() {
		return nil
	}
	return func(e *ring.Entry) bool { return p.AllowsJob(e.QueueName, e.Attr) }
}

// isLoopback reports whether endpoint (host:port) only listens on a loopback address.
// An empty host or 0.0.0.0 listens everywhere.
func isLoopback(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
