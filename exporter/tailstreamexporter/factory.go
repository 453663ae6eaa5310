package tailstreamexporter // import "github.com/jobtrace/jobtrace/exporter/tailstreamexporter"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/jobtrace/jobtrace/exporter/tailstreamexporter/internal/metadata"
)

// extensionType is the tailstream extension's type; both components share the name.
var extensionType = component.MustNewType("tailstream")

// NewFactory returns the tailstream exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{Extension: component.NewID(extensionType)}
}

// The extension's Publish calls never block, so no queue or retry is added here: a queue
// would only delay data that the extension drops per stream anyway.
func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	e := newTailstreamExporter(cfg.(*Config))
	return exporterhelper.NewLogs(ctx, set, cfg, e.consumeLogs,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	)
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	e := newTailstreamExporter(cfg.(*Config))
	return exporterhelper.NewTraces(ctx, set, cfg, e.consumeTraces,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	)
}
