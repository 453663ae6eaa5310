package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor/internal/metadata"
)

// NewFactory returns the jobcorrelation processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	b, err := newBase(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	p := &tracesProcessor{base: b}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	c := cfg.(*Config)
	b, err := newBase(c, set)
	if err != nil {
		return nil, err
	}
	p := &logsProcessor{base: b, next: next}
	if c.Hold.MaxWait > 0 {
		p.hold = newHoldBuffer(c.Hold.MaxRecords, c.Hold.MaxBytes)
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}
