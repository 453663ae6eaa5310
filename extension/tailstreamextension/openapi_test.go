package tailstreamextension

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	assert.Equal(t, string(openAPISpec), string(docs), "docs/openapi.json must equal extension/tailstreamextension/openapi.json (copy it over)")

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
