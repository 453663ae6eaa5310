package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	_ "embed"
	"net/http"
)

// openAPISpec is the API description. docs/openapi.json is a copy kept equal by a test.
//
//go:embed openapi.json
var openAPISpec []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPISpec)
}
