package queuejobreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func obs(st adapter.State, id string, attempt int, worker string) *adapter.Observation {
	return &adapter.Observation{State: st, ID: id, Queue: "default", Type: "HardJob", Attempt: attempt, Worker: worker}
}

// TestObserveLifecycle drives the tracker with adapter observations, repeated as adapters
// repeat them every poll, and checks each attempt ends once with the right outcome.
func TestObserveLifecycle(t *testing.T) {
	boom := &adapter.Error{Type: "RuntimeError", Message: "boom", Stacktrace: "x.rb:1"}
	tests := []struct {
		name  string
		polls [][]*adapter.Observation
		want  []string
	}{
		{
			name: "retried once then succeeded",
			polls: [][]*adapter.Observation{
				{obs(adapter.Pending, "j", 1, "")},
				{obs(adapter.Active, "j", 1, "w1")},
				{{State: adapter.RetryWait, ID: "j", Attempt: 1, Error: boom}, obs(adapter.Active, "j", 1, "w1")},
				{{State: adapter.RetryWait, ID: "j", Attempt: 1, Error: boom}},
				{obs(adapter.Active, "j", 2, "w2")},
				{obs(adapter.Succeeded, "j", 2, ""), obs(adapter.Succeeded, "j", 2, "")},
			},
			want: []string{"job_started#1/0@w1", "job_retried#1/0@w1", "job_started#2/0@w2", "job_succeeded#2/0@w2"},
		},
		{
			name: "dead after two attempts, first seen dead",
			polls: [][]*adapter.Observation{
				{{State: adapter.Dead, ID: "j", Attempt: 2, Error: boom}},
				{{State: adapter.Dead, ID: "j", Attempt: 2, Error: boom}},
			},
			// attempt 1 happened before the receiver watched: not invented
			want: []string{"job_dead_lettered#2/0@"},
		},
		{
			name: "pending attempt 3 proves two retries of a job born while watching",
			polls: [][]*adapter.Observation{
				{obs(adapter.Pending, "j", 1, "")},
				{obs(adapter.Pending, "j", 3, "")},
			},
			want: []string{"job_retried#1/0@", "job_retried#2/0@"},
		},
		{
			name: "requeued while running is abandoned, the re-run is its own span",
			polls: [][]*adapter.Observation{
				{obs(adapter.Active, "j", 1, "w1")},
				{obs(adapter.Pending, "j", 1, "")},
				{obs(adapter.Pending, "j", 1, "")},
				{obs(adapter.Active, "j", 1, "w1")},
				{obs(adapter.Succeeded, "j", 1, "w1")},
			},
			want: []string{"job_started#1/0@w1", "job_abandoned#1/0@w1", "job_started#1/1@w1", "job_succeeded#1/1@w1"},
		},
		{
			name: "a stale in-progress entry of the requeued run is not a re-run",
			polls: [][]*adapter.Observation{
				{started(obs(adapter.Active, "j", 1, "w1"), 100)},
				{started(obs(adapter.Active, "j", 1, "w1"), 100), obs(adapter.Pending, "j", 1, "")},
				{started(obs(adapter.Active, "j", 1, "w1"), 100), obs(adapter.Pending, "j", 1, "")},
				{started(obs(adapter.Active, "j", 1, "w1"), 103)},
			},
			want: []string{"job_started#1/0@w1", "job_abandoned#1/0@w1", "job_started#1/1@w1"},
		},
		{
			name: "declared lost, then failed for good by the library",
			polls: [][]*adapter.Observation{
				{obs(adapter.Active, "j", 1, "w1")},
				{obs(adapter.Lost, "j", 1, "w1")},
				{obs(adapter.Lost, "j", 1, "w1")},
			},
			want: []string{"job_started#1/0@w1", "job_abandoned#1/0@w1"},
		},
		{
			name: "a repeated result of unknown attempt stays on its attempt",
			polls: [][]*adapter.Observation{
				{obs(adapter.Pending, "j", 2, "")},
				{{State: adapter.Failed, ID: "j", Error: boom}},
				{{State: adapter.Failed, ID: "j", Error: boom}},
				{{State: adapter.Failed, ID: "j", Error: boom}},
			},
			want: []string{"job_dead_lettered#2/0@"},
		},
		{
			name: "unknown attempt resolves to the latest known",
			polls: [][]*adapter.Observation{
				{obs(adapter.Pending, "j", 2, "")},
				{{State: adapter.Failed, ID: "j", Error: boom}},
			},
			want: []string{"job_dead_lettered#2/0@"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.EmitExisting = false })
			h.tr.baseline = false
			var got []string
			for _, poll := range tt.polls {
				h.tick(time.Second)
				for _, o := range poll {
					h.tr.observe(o, h.now)
				}
				got = append(got, kinds(h.tr.take())...)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func started(o *adapter.Observation, sec int64) *adapter.Observation {
	o.Started = time.Unix(sec, 0)
	return o
}

func TestObserveBaselineSkipsHistory(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.EmitExisting = false })
	h.tr.observe(obs(adapter.Dead, "old", 1, ""), h.now)
	h.tr.observe(obs(adapter.Active, "run", 1, "w"), h.now)
	h.tr.baseline = false
	require.Empty(t, h.tr.take())
	h.tick(time.Second)
	h.tr.observe(obs(adapter.Dead, "old", 1, ""), h.now)
	h.tr.observe(obs(adapter.Succeeded, "run", 1, "w"), h.now)
	require.Equal(t, []string{"job_succeeded#1/0@w"}, kinds(h.tr.take()))
}

// TestObserveCarrierLaterAndErrorOutput: the trace context seen on any sighting is kept by
// job id, and the stored error reaches span status and the log.
func TestObserveCarrierLaterAndErrorOutput(t *testing.T) {
	h := newHarness(t, nil)
	h.tr.baseline = false
	h.tr.observe(obs(adapter.Active, "c1", 1, "w"), h.now)
	o := obs(adapter.Pending, "c1", 2, "")
	o.Carrier = map[string]any{"traceparent": tp}
	h.tr.observe(o, h.now)
	h.tr.observe(&adapter.Observation{State: adapter.Failed, ID: "c1", Attempt: 2,
		Error: &adapter.Error{Type: "ValueError", Message: "always fails", Stacktrace: "Traceback ..."}}, h.now)
	evs := h.tr.take()
	require.Equal(t, []string{"job_started#1/0@w", "job_retried#1/0@w", "job_dead_lettered#2/0@"}, kinds(evs))

	em := &emitter{serviceName: "svc", system: "celery"}
	td, ld, n := em.build(evs)
	require.Equal(t, 2, n)
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sp.TraceID().String())
	require.Equal(t, ptrace.StatusCodeError, sp.Status().Code())
	require.Equal(t, "always fails", sp.Status().Message())
	sys, _ := sp.Attributes().Get(conventions.AttrMessagingSystem)
	require.Equal(t, "celery", sys.Str())
	rec := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(2)
	for k, v := range map[string]string{conventions.AttrJobErrorType: "ValueError", conventions.AttrJobErrorMessage: "always fails",
		conventions.AttrJobErrorStacktrace: "Traceback ..."} {
		got, ok := rec.Attributes().Get(k)
		require.True(t, ok, k)
		require.Equal(t, v, got.Str())
	}
}
