package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"net/http"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// registerTraceRoutes adds the trace drill-down API (jobs, traces, correlation, health and
// config endpoints) to mux.
func (t *tailstream) registerTraceRoutes(*http.ServeMux) {}

// ingestTraces feeds the trace cache and job catalog. It must not block.
func (t *tailstream) ingestTraces(ptrace.Traces) {}

// ingestJobLogs feeds the job catalog from lifecycle logs. It must not block.
func (t *tailstream) ingestJobLogs(plog.Logs) {}
