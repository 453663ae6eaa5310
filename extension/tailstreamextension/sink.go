package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"

	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Sink is what the tailstream exporter publishes pipeline data to. The exporter finds the
// extension by component ID and asserts it to this interface, so neither side knows the
// other's internals: the exporter knows nothing of HTTP, the extension nothing of pipelines.
//
// Implementations must not block: the exporter calls them on the pipeline's goroutine.
// The data is read-only for the duration of the call and must not be retained.
type Sink interface {
	extension.Extension
	PublishLogs(ctx context.Context, ld plog.Logs) error
	PublishTraces(ctx context.Context, td ptrace.Traces) error
}
