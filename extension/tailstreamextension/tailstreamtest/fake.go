// Package tailstreamtest provides a fake tailstream Sink for the exporter's and other consumers' tests.
package tailstreamtest // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/tailstreamtest"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension"
)

// Sink records what was published to it. Safe for concurrent use.
type Sink struct {
	component.StartFunc
	component.ShutdownFunc

	mu     sync.Mutex
	logs   []plog.Logs
	traces []ptrace.Traces
	// Err, when set, is returned by every Publish call.
	Err error
}

var _ tailstreamextension.Sink = (*Sink)(nil)

// NewSink returns an empty fake sink.
func NewSink() *Sink { return &Sink{} }

// PublishLogs records a copy of ld, since the caller may reuse it.
func (s *Sink) PublishLogs(_ context.Context, ld plog.Logs) error {
	c := plog.NewLogs()
	ld.CopyTo(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, c)
	return s.Err
}

// PublishTraces records a copy of td.
func (s *Sink) PublishTraces(_ context.Context, td ptrace.Traces) error {
	c := ptrace.NewTraces()
	td.CopyTo(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traces = append(s.traces, c)
	return s.Err
}

// Logs returns everything published so far.
func (s *Sink) Logs() []plog.Logs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]plog.Logs(nil), s.logs...)
}

// Traces returns everything published so far.
func (s *Sink) Traces() []ptrace.Traces {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ptrace.Traces(nil), s.traces...)
}
