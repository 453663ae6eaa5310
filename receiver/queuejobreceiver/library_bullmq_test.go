package queuejobreceiver

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/bullmqtest"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

// requireBullMQView compares the receiver's spans with BullMQ's own view of every job: one span
// per attempt BullMQ made, the last one succeeded or dead-lettered as BullMQ's state says, the
// earlier ones retried with the error BullMQ stored, the queue and the trace id of the job's
// bullmq-otel carrier.
func requireBullMQView(t *testing.T, view map[string]bullmqtest.Job, got map[string][]attemptSpan) {
	t.Helper()
	require.NotEmpty(t, view)
	for id, j := range view {
		spans := got[id]
		require.Len(t, spans, j.AttemptsMade, "%s: one span per attempt BullMQ made: %+v", id, spans)
		for k, s := range spans {
			require.EqualValues(t, k+1, s.attempt, "%s", id)
			require.Equal(t, j.Queue, s.queue, "%s", id)
			require.Equal(t, j.TraceID, s.traceID, "%s: the trace of the job's opts.tm", id)
			require.Equal(t, "bullmq", s.system, "%s", id)
			want := bullmqtest.ErrFlaky
			if j.Name == "bad" {
				want = bullmqtest.ErrBad
			}
			last := k == len(spans)-1
			switch {
			case last && j.State == "completed":
				require.Equal(t, conventions.StatusSucceeded, s.status, "%s", id)
				require.False(t, s.isError)
			case last && j.State == "failed":
				require.Equal(t, conventions.StatusDeadLettered, s.status, "%s", id)
				require.Equal(t, j.FailedReason, s.errMsg, "%s", id)
				require.Equal(t, j.FailedReason, s.statusMsg, "%s", id)
			case last:
				t.Fatalf("%s: BullMQ still reports %s", id, j.State)
			default:
				require.Equal(t, conventions.StatusRetried, s.status, "%s attempt %d", id, k+1)
				require.Equal(t, want, s.errMsg, "%s attempt %d", id, k+1)
				require.True(t, s.isError)
			}
		}
	}
}

func bullmqAttempts(view map[string]bullmqtest.Job) int {
	n := 0
	for _, j := range view {
		n += j.AttemptsMade
	}
	return n
}

// TestBullMQRealLibrary runs real BullMQ workers with bullmq-otel against a private Redis and
// the receiver, with `preset: bullmq` alone, as the read-only ACL user of the README.
func TestBullMQRealLibrary(t *testing.T) {
	srv := redistest.Start(t, readerACL)
	r := startReceiver(t, asReader(libraryConfig(srv.Addr, "bullmq")))
	r.waitOK(t)
	w := bullmqtest.New(t, srv.Port)
	w.Run("run", "2")
	view := w.View()
	require.Len(t, view, 12)
	waitSpans(t, r, bullmqAttempts(view))
	requireBullMQView(t, view, attemptSpans(r.traces))
	require.Zero(t, r.metric(t, "otelcol_receiver_queuejob_polls_failed")[""])
}

func TestBullMQMonitorSeesNoWrite(t *testing.T) {
	srv := redistest.Start(t)
	mon := srv.Monitor()
	cfg := libraryConfig(srv.Addr, "bullmq")
	cfg.ClientName = "jobtrace-queuejob"
	r := startReceiver(t, cfg)
	r.waitOK(t)
	w := bullmqtest.New(t, srv.Port)
	w.Run("run", "1")
	view := w.View()
	waitSpans(t, r, bullmqAttempts(view))
	requireNoWrites(t, srv, mon, cfg.ClientName, "scan", "xread", "xinfo", "hmget", "lrange")
}

// TestBullMQStalledJobAbandoned: a worker dies mid-attempt; once BullMQ's stalled checker
// declares the job stalled, the receiver reports that attempt abandoned, and the re-run's
// success as its own span.
func TestBullMQStalledJobAbandoned(t *testing.T) {
	srv := redistest.Start(t)
	r := startReceiver(t, libraryConfig(srv.Addr, "bullmq"))
	r.waitOK(t)
	w := bullmqtest.New(t, srv.Port)
	w.RunKilled("stuck")
	w.Run("recover")
	j := w.View()["mails:1"]
	require.Equal(t, 1, j.StalledCounter, "BullMQ declared the job stalled")
	require.Equal(t, "completed", j.State)
	waitSpans(t, r, 2)
	spans := attemptSpans(r.traces)["mails:1"]
	require.Len(t, spans, 2, "%+v", spans)
	require.Equal(t, conventions.StatusAbandoned, spans[0].status)
	require.Equal(t, conventions.StatusSucceeded, spans[1].status)
	require.EqualValues(t, j.AttemptsMade, spans[1].attempt)
	require.Equal(t, j.TraceID, spans[0].traceID)
}
