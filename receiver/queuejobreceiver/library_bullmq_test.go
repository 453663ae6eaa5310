package queuejobreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/bullmqtest"
)

// aclBullMQ is the README's ACL line for the bullmq preset (default prefix "bull").
const aclBullMQ = "user jobtrace on ><password> resetkeys ~bull:* resetchannels -@all +@read +ping"

// requireBullMQView compares the receiver's spans with BullMQ's own view of every job: one span
// per attempt BullMQ made, the last one succeeded or dead-lettered as BullMQ's state says, the
// earlier ones retried with the error BullMQ stored, the queue and the trace id of the job's
// bullmq-otel carrier.
func requireBullMQView(t *testing.T, view map[string]bullmqtest.Job, got map[string]map[int64][]attemptOut) {
	t.Helper()
	require.NotEmpty(t, view)
	for id, j := range view {
		attempts := got[id]
		require.Len(t, attempts, j.AttemptsMade, "%s: one span per attempt BullMQ made: %+v", id, attempts)
		want := bullmqtest.ErrFlaky
		if j.Name == "bad" {
			want = bullmqtest.ErrBad
		}
		for n := int64(1); n <= int64(j.AttemptsMade); n++ {
			require.Len(t, attempts[n], 1, "%s attempt %d", id, n)
			s := attempts[n][0]
			require.Equal(t, j.Queue, s.queue, "%s", id)
			require.Equal(t, j.TraceID, s.traceID, "%s: the trace of the job's opts.tm", id)
			require.Equal(t, "bullmq", s.system, "%s", id)
			require.Equal(t, j.Name, s.typ, "%s", id)
			last := n == int64(j.AttemptsMade)
			switch {
			case last && j.State == "completed":
				require.Equal(t, conventions.StatusSucceeded, s.status, "%s", id)
			case last && j.State == "failed":
				require.Equal(t, conventions.StatusDeadLettered, s.status, "%s", id)
				require.Equal(t, j.FailedReason, s.errMsg, "%s", id)
				require.Equal(t, j.FailedReason, s.statusMsg, "%s", id)
			case last:
				t.Fatalf("%s: BullMQ still reports %s", id, j.State)
			default:
				require.Equal(t, conventions.StatusRetried, s.status, "%s attempt %d", id, n)
				require.Equal(t, want, s.errMsg, "%s attempt %d", id, n)
				require.Equal(t, "Error", s.errType, "%s attempt %d", id, n)
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
// the receiver with `preset: bullmq` alone, as the README's read-only ACL user, and a second
// receiver under MONITOR.
func TestBullMQRealLibrary(t *testing.T) {
	readmeHasLine(t, aclBullMQ)
	l := startLibrary(t, "bullmq", aclBullMQ, nil)
	w := bullmqtest.New(t, l.srv.Port)
	w.Run("run", "2")
	view := w.View()
	require.Len(t, view, 12) // 2 queues x 2 x (ok, flaky, bad)
	want := bullmqAttempts(view)
	eventually(t, 20*time.Second, "one span per BullMQ attempt", func() bool { return len(libSpans(l.r)) >= want },
		func() string { return eventSummary(l.r) })
	time.Sleep(100 * time.Millisecond) // nothing more may come: a duplicate would fail below
	requireBullMQView(t, view, byJob(libSpans(l.r)))
	l.checkReadOnly(t, "scan", "xread", "xinfo", "hmget", "lrange", "zrange")
}

// TestBullMQStalledJobAbandoned: a worker dies mid-attempt; once BullMQ's stalled checker
// declares the job stalled, the receiver reports that attempt abandoned, and the re-run's
// success as its own span.
func TestBullMQStalledJobAbandoned(t *testing.T) {
	l := startLibrary(t, "bullmq", aclBullMQ, nil)
	w := bullmqtest.New(t, l.srv.Port)
	w.RunKilled("stuck")
	w.Run("recover")
	j := w.View()["mails:1"]
	require.Equal(t, 1, j.StalledCounter, "BullMQ declared the job stalled")
	require.Equal(t, "completed", j.State)
	eventually(t, 20*time.Second, "abandoned and re-run spans", func() bool { return len(libSpans(l.r)) >= 2 },
		func() string { return eventSummary(l.r) })
	time.Sleep(100 * time.Millisecond)
	spans := byJob(libSpans(l.r))["mails:1"][1]
	require.Len(t, spans, 2, "%+v", spans)
	require.Equal(t, conventions.StatusAbandoned, spans[0].status)
	require.Equal(t, conventions.StatusSucceeded, spans[1].status)
	require.Equal(t, j.TraceID, spans[0].traceID)
	require.NotEmpty(t, spans[0].worker, "the stalled attempt's worker, from its lock")
}
