package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"

	"github.com/jobtrace/jobtrace/internal/jobindex"
	"github.com/jobtrace/jobtrace/internal/sharedcomponent"
	"github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor/internal/metadata"
)

// states holds one index per component ID: the collector builds a processor per pipeline,
// and the spans of the traces pipeline must tag the logs of the logs pipeline.
var states sharedcomponent.Map[component.ID, *sharedState]

type sharedState struct {
	index *jobindex.Memory
	// tel reports the index gauges once per component ID, not once per pipeline.
	tel *metadata.TelemetryBuilder

	mu      sync.Mutex
	waiters map[chan struct{}]struct{}
}

func newSharedState(cfg *Config, set component.TelemetrySettings) (*sharedState, error) {
	s := &sharedState{
		index:   jobindex.NewMemory(cfg.MaxJobs, cfg.TTL),
		waiters: make(map[chan struct{}]struct{}),
	}
	tel, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	s.tel = tel
	err = tel.RegisterProcessorJobcorrelationIndexSizeCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(s.index.Len()))
		return nil
	})
	if err == nil {
		err = tel.RegisterProcessorJobcorrelationIndexEvictionsCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(s.index.Stats().Evicted))
			return nil
		})
	}
	if err == nil {
		err = tel.RegisterProcessorJobcorrelationIndexExpirationsCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(s.index.Stats().Expired))
			return nil
		})
	}
	if err != nil {
		tel.Shutdown()
		return nil, err
	}
	return s, nil
}

// acquireState returns the shared state of id and its release func.
func acquireState(id component.ID, cfg *Config, set component.TelemetrySettings) (*sharedState, func(), error) {
	var createErr error
	s, release := states.Acquire(id, func() *sharedState {
		s, err := newSharedState(cfg, set)
		createErr = err
		return s
	})
	if createErr != nil || s == nil {
		release()
		return nil, nil, createErr
	}
	return s, func() {
		if release() {
			s.tel.Shutdown()
		}
	}, nil
}

// subscribe returns a channel that gets a (coalesced) signal whenever spans taught the index.
func (s *sharedState) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.waiters[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.waiters, ch)
		s.mu.Unlock()
	}
}

func (s *sharedState) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
