package backends

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestValidateEndpoint(t *testing.T) {
	for _, ok := range []string{"http://jaeger:16686", "https://tempo.example/prefix/", "http://127.0.0.1:1"} {
		assert.NoError(t, ValidateEndpoint(ok), ok)
	}
	for bad, why := range map[string]string{
		"":                       "must be set",
		"ftp://x":                "scheme",
		"http://":                "missing host",
		"http://u:p@x":           "credentials",
		"http://u@x":             "credentials",
		"http://x/?":             "query",
		"http://x/?access_key=1": "query",
		"http://x/#":             "fragment",
		"http://x/#frag":         "fragment",
	} {
		assert.ErrorContains(t, ValidateEndpoint(bad), why, bad)
	}
}

// Errors never carry what the backend answered: not an error page, not an undecodable body.
func TestErrorsCarryNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v3/services" {
			w.WriteHeader(http.StatusForbidden)
		}
		_, _ = w.Write([]byte("db_password=hunter2"))
	}))
	t.Cleanup(srv.Close)
	b, err := New(Options{Name: "j", Type: TypeJaeger, Endpoint: srv.URL, FailureThreshold: 100}, nil)
	require.NoError(t, err)
	_, err = b.Fetch(context.Background(), pcommon.TraceID{1})
	require.Error(t, err)
	assert.Equal(t, "j: the answer could not be decoded", err.Error())
	err = b.Probe(context.Background())
	assert.Equal(t, "j: HTTP 403 Forbidden", err.Error())
	assert.NotContains(t, toJSON(t, b.Status()), "hunter2")
}

// A same-host redirect is followed (with the headers); another host is refused.
func TestRedirectsStayOnTheHost(t *testing.T) {
	var seen int
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { seen++ }))
	t.Cleanup(other.Close)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v3/services":
			http.Redirect(w, r, srv.URL+"/moved/services", http.StatusMovedPermanently)
		case "/moved/services":
			_, _ = w.Write([]byte(`{}`))
		default:
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	b, err := New(Options{Name: "j", Type: TypeJaeger, Endpoint: srv.URL, FailureThreshold: 100}, nil)
	require.NoError(t, err)
	require.NoError(t, b.Probe(context.Background()), "same-host redirect")
	_, err = b.Fetch(context.Background(), pcommon.TraceID{1})
	assert.ErrorContains(t, err, "redirected to another host")
	assert.Zero(t, seen)
}
