// Package docs embeds the documents the code serves, so each exists once: openapi.json is the
// tailstream API description that the extension serves at /api/v1/openapi.json and that its
// tests validate answers against.
package docs // import "github.com/jobtrace/jobtrace/docs"

import _ "embed"

// OpenAPI is docs/openapi.json. Callers must not modify it.
//
//go:embed openapi.json
var OpenAPI []byte
