package backends // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ValidateEndpoint checks a backend's base URL: http or https, a host, and nothing the
// appended API path would be hidden behind or that holds a secret. A fragment or a query
// (even a bare trailing "?" or "#") would swallow the path the client appends; userinfo is a
// credential that every view of the config would show: credentials go in headers or an auth
// extension.
func ValidateEndpoint(s string) error {
	if s == "" {
		return errors.New("must be set, e.g. http://jaeger:16686")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	case u.Host == "":
		return errors.New("missing host")
	case u.User != nil:
		return errors.New("must not hold credentials (user:password@); send them as headers or through an auth extension")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("must not have a query (?...): the API path is appended to the endpoint")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("must not have a fragment (#...): the API path is appended to the endpoint")
	}
	return nil
}

// sensitiveParams are query parameters whose values are credentials, compared
// case-insensitively after dropping "-" and "_".
var sensitiveParams = []string{
	"token", "accesstoken", "idtoken", "refreshtoken", "authtoken", "key", "apikey", "secret", "clientsecret",
	"password", "passwd", "pwd", "auth", "authorization", "signature", "sig", "credential", "credentials",
	"session", "sessionid", "xamzsignature", "xamzsecuritytoken", "xamzcredential",
}

func sensitiveParam(name string) bool {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(name))
	for _, s := range sensitiveParams {
		if n == s || strings.HasSuffix(n, s) && (s == "token" || s == "secret" || s == "password" || s == "key") {
			return true
		}
	}
	return false
}

// HasCredentials reports whether the URL s carries userinfo or a credential-like query
// parameter (token, api_key, password, signature, …).
func HasCredentials(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	if u.User != nil {
		return true
	}
	for k := range u.Query() {
		if sensitiveParam(k) {
			return true
		}
	}
	return false
}

// RedactURL is s as it may be shown or logged: userinfo replaced by "redacted", the values of
// credential-like query parameters by "redacted". Something that is not a URL is not shown.
func RedactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable URL]"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			if sensitiveParam(k) {
				for i := range vs {
					vs[i] = "redacted"
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// maxRedirects bounds same-host redirects (an http→https upgrade, a trailing slash).
const maxRedirects = 3

// errRedirectRefused stops a redirect to another host: the configured headers (API keys)
// travel with every request the client makes, so following would hand them to that host.
var errRedirectRefused = errors.New("redirect to another host refused")

func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("more than %d redirects", maxRedirects)
	}
	orig := via[0].URL
	if !strings.EqualFold(req.URL.Host, orig.Host) || (req.URL.Scheme != orig.Scheme && req.URL.Scheme != "https") {
		return errRedirectRefused
	}
	return nil
}

// requestError is a failed request as the API may show it: a fixed description of what went
// wrong, never the server's answer (which may echo secrets) or the URL. The cause stays
// available to errors.Is/As.
type requestError struct {
	msg   string
	cause error
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.cause }

func transportError(name string, err error) error {
	return &requestError{msg: name + ": " + describeTransport(err), cause: err}
}

func statusError(name string, code int) error {
	text := http.StatusText(code)
	if text == "" {
		text = "unexpected status"
	}
	return &requestError{msg: fmt.Sprintf("%s: HTTP %d %s", name, code, text)}
}

// describeTransport names the kind of failure only.
func describeTransport(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, errRedirectRefused):
		return "the backend redirected to another host; refused"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "request timed out"
	case errors.Is(err, context.Canceled):
		return "request canceled"
	case errors.As(err, &dnsErr):
		return "host not found"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "TLS certificate not trusted"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "connection refused or unreachable"
	case strings.Contains(err.Error(), "redirects"):
		return "too many redirects"
	}
	return "request failed"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
