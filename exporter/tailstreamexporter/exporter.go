package tailstreamexporter // import "github.com/jobtrace/jobtrace/exporter/tailstreamexporter"

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension"
)

var errNotStarted = errors.New("tailstream exporter: not started")

type tailstreamExporter struct {
	cfg  *Config
	sink tailstreamextension.Sink
}

func newTailstreamExporter(cfg *Config) *tailstreamExporter {
	return &tailstreamExporter{cfg: cfg}
}

func (e *tailstreamExporter) start(_ context.Context, host component.Host) error {
	ext, ok := host.GetExtensions()[e.cfg.Extension]
	if !ok {
		return fmt.Errorf("tailstream exporter: extension %q not found; add it under `extensions:` and list it in `service.extensions`", e.cfg.Extension)
	}
	sink, ok := ext.(tailstreamextension.Sink)
	if !ok {
		return fmt.Errorf("tailstream exporter: extension %q is not a tailstream extension", e.cfg.Extension)
	}
	e.sink = sink
	return nil
}

func (e *tailstreamExporter) consumeLogs(ctx context.Context, ld plog.Logs) error {
	if e.sink == nil {
		return errNotStarted
	}
	return e.sink.PublishLogs(ctx, ld)
}

func (e *tailstreamExporter) consumeTraces(ctx context.Context, td ptrace.Traces) error {
	if e.sink == nil {
		return errNotStarted
	}
	return e.sink.PublishTraces(ctx, td)
}
