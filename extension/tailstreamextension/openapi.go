package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"net/http"

	"github.com/jobtrace/jobtrace/docs"
)

// openAPISpec is the API description: docs/openapi.json, embedded by package docs (the one copy).
var openAPISpec = docs.OpenAPI

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPISpec)
}
