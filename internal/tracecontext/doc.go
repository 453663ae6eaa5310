// Package tracecontext extracts a trace context from a queued job: a decoded JSON payload
// (Extractor.Extract) or OTel attributes (Extractor.ExtractAttributes), or from a single
// propagation header value (the Parse* functions).
//
// Everything here is pure: no I/O, no logging, no globals that change. On the hot path
// (a decoded map whose carriers are maps, not JSON strings) extraction allocates nothing;
// parse errors are preallocated so that falling through an invalid carrier is free too.
//
// Formats, precedence, carriers and the decisions where the specs are silent are listed in
// README.md next to this file.
package tracecontext // import "github.com/jobtrace/jobtrace/internal/tracecontext"
