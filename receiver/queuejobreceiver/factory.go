package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/metadata"
)

// NewFactory returns the queuejob receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithTraces(createTraces, metadata.TracesStability),
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func acquire(cfg component.Config, set receiver.Settings) (*queueJobReceiver, func() bool) {
	return receivers.Acquire(set.ID, func() *queueJobReceiver { return newQueueJobReceiver(cfg.(*Config), set) })
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	r, release := acquire(cfg, set)
	r.mu.Lock()
	r.traces = next
	r.mu.Unlock()
	return &handle{r: r, release: release}, nil
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	r, release := acquire(cfg, set)
	r.mu.Lock()
	r.logs = next
	r.mu.Unlock()
	return &handle{r: r, release: release}, nil
}
