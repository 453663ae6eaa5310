package piiredactionprocessor // import "github.com/jobtrace/jobtrace/processor/piiredactionprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// passthrough passes data through unchanged until the piiredaction logic lands.
type passthrough struct {
	cfg *Config
}

func newProcessor(cfg *Config) *passthrough { return &passthrough{cfg: cfg} }

func (p *passthrough) processTraces(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	return td, nil
}

func (p *passthrough) processLogs(_ context.Context, ld plog.Logs) (plog.Logs, error) {
	return ld, nil
}
