package tailstreamextension

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The routes both API halves register. Adding a route without documenting it fails here.
var documentedRoutes = []string{
	"GET /api/v1/health",
	"GET /api/v1/openapi.json",
	"POST /api/v1/logs/streams",
	"GET /api/v1/logs/streams",
	"GET /api/v1/logs/streams/{id}",
	"PATCH /api/v1/logs/streams/{id}",
	"DELETE /api/v1/logs/streams/{id}",
	"GET /api/v1/logs/streams/{id}/ws",
	"GET /api/v1/logs/streams/{id}/events",
	"GET /api/v1/logs/tail",
	"GET /api/v1/logs/history",
	"GET /api/v1/jobs",
	"GET /api/v1/jobs/{job_id}/trace",
	"GET /api/v1/jobs/{job_id}/explain",
	"GET /api/v1/queues",
	"GET /api/v1/traces/{trace_id}/summary",
	"GET /api/v1/traces/{trace_id}/spans",
	"GET /api/v1/correlation/{job_id}",
	"GET /api/v1/health/tracing",
	"GET /api/v1/health/logging",
	"GET /api/v1/config/tracing",
	"PUT /api/v1/config/tracing",
	"GET /api/v1/config/logging",
	"PUT /api/v1/config/logging",
}

func TestOpenAPIDocument(t *testing.T) {
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.json"))
	require.NoError(t, err)
	assert.Equal(t, string(docs), string(openAPISpec), "the served description is docs/openapi.json itself")
	_, err = openAPIValidator(t)
	require.NoError(t, err, "docs/openapi.json is a valid OpenAPI 3 document")

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPISpec, &doc))
	assert.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	for _, r := range documentedRoutes {
		method, path, _ := strings.Cut(r, " ")
		ops, ok := doc.Paths[path]
		require.True(t, ok, "path %s is not documented", path)
		_, ok = ops[strings.ToLower(method)]
		assert.True(t, ok, "%s is not documented", r)
	}

	// Every route in the list exists on the server (a 404 from the mux has no JSON body).
	srv := startServer(t, nil)
	for _, r := range documentedRoutes {
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{id}", "0123456789abcdef0123456789abcdef", "{job_id}", "job-1", "{trace_id}", "4bf92f3577b34da6a3ce929d0e0e4736").Replace(path)
		if strings.HasSuffix(path, "/ws") || strings.HasSuffix(path, "/events") || strings.HasSuffix(path, "/tail") || method == http.MethodPut {
			continue // streaming or mutating; covered by their own tests
		}
		code, b := srv.do(t, method, path, "", map[string]any{})
		assert.NotEqual(t, http.StatusMethodNotAllowed, code, r)
		if code == http.StatusNotFound {
			assert.Contains(t, string(b), `"error"`, "%s is not routed", r)
		}
	}
	code, b := srv.do(t, http.MethodGet, "/api/v1/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, string(openAPISpec), string(b))
}

// answerValidator checks API answers against the schemas of docs/openapi.json with
// kin-openapi: status codes must be documented and JSON bodies must match their schema.
type answerValidator struct {
	router routers.Router
}

var (
	validatorOnce sync.Once
	validator     *answerValidator
	validatorErr  error
)

func openAPIValidator(t testing.TB) (*answerValidator, error) {
	t.Helper()
	validatorOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(openAPISpec)
		if err == nil {
			err = doc.Validate(context.Background())
		}
		if err != nil {
			validatorErr = err
			return
		}
		var r routers.Router
		if r, err = legacy.NewRouter(doc); err != nil {
			validatorErr = err
			return
		}
		validator = &answerValidator{router: r}
	})
	return validator, validatorErr
}

// checkAnswer validates one answer of the test server. Answers that are not JSON (streams,
// NDJSON) and paths the description does not have (a test probing a wrong URL) are skipped:
// TestOpenAPIDocument checks the routes themselves.
func checkAnswer(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	v, err := openAPIValidator(t)
	require.NoError(t, err)
	if err := v.check(req, status, header, body); err != nil {
		t.Errorf("%s %s answered %d, which docs/openapi.json does not describe:\n%v\nbody: %.2000s", req.Method, req.URL.Path, status, err, body)
	}
}

func (v *answerValidator) check(req *http.Request, status int, header http.Header, body []byte) error {
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return nil
	}
	// The description's server is http://localhost:8088; the test server listens elsewhere.
	r := req.Clone(context.Background())
	r.URL.Scheme, r.URL.Host, r.Host = "http", "localhost:8088", "localhost:8088"
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// TestOpenAPIValidatorCatchesWrongAnswers shows the check can fail: a field of the wrong type
// and an undocumented status are reported.
func TestOpenAPIValidatorCatchesWrongAnswers(t *testing.T) {
	v, err := openAPIValidator(t)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/jobs", nil)
	hdr := http.Header{"Content-Type": {"application/json"}}
	assert.Error(t, v.check(req, http.StatusOK, hdr, []byte(`{"jobs":[{"id":1,"queue":"q","status":"running","attempts":"two"}]}`)),
		"a job id that is a number must not pass")
	assert.Error(t, v.check(req, http.StatusTeapot, hdr, []byte(`{"error":{"code":"x","message":"y"}}`)),
		"an undocumented status must not pass")
	assert.NoError(t, v.check(req, http.StatusOK, hdr, []byte(`{"jobs":[]}`)))
}
