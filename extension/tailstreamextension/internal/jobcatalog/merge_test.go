package jobcatalog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func consumer(job string, attempt int, span byte, failed bool) SpanObservation {
	return SpanObservation{JobID: job, Queue: "mails", Attempt: attempt, TraceID: tr(1), SpanID: sp(span),
		Start: t0.Add(time.Duration(span) * time.Second), End: t0.Add(time.Duration(span)*time.Second + 500*time.Millisecond),
		Source: SourceInstrumentation, Failed: failed}
}

func statuses(j Job) []string {
	var out []string
	for _, a := range j.Attempts {
		out = append(out, a.Status)
	}
	return out
}

// Instrumentation alone: one attempt per distinct consumer span; an error then a later span
// for the same message is retried then succeeded; a lone error is failed.
func TestConsumerSpansMakeAttempts(t *testing.T) {
	c := New(10)
	c.ObserveSpan(consumer("m1", 0, 1, true))
	j, ok := c.Get("m1")
	require.True(t, ok)
	assert.Equal(t, StatusFailed, j.Status())
	c.ObserveSpan(consumer("m1", 0, 2, false))
	c.ObserveSpan(consumer("m1", 0, 2, false)) // the same span again: no third attempt
	j, _ = c.Get("m1")
	assert.Equal(t, []string{StatusRetried, StatusSucceeded}, statuses(j))
	assert.Equal(t, "mails", j.Queue)
	assert.Equal(t, tr(1), j.TraceID())

	// With a retry count (bullmq.job.attempts.made), spans out of order still land right.
	c.ObserveSpan(consumer("m2", 2, 4, false))
	c.ObserveSpan(consumer("m2", 1, 3, true))
	j, _ = c.Get("m2")
	assert.Equal(t, []string{StatusRetried, StatusSucceeded}, statuses(j))
	assert.Empty(t, c.Stats().Conflicts)
}

// The receiver is authoritative: instrumentation spans and other sources' logs merge into its
// job without changing its queue, attempts or statuses; disagreements are counted.
func TestReceiverIsAuthoritative(t *testing.T) {
	c := New(10)
	var hooks []string
	c.OnConflict(func(f string) { hooks = append(hooks, f) })
	// The consumer span arrives first (the receiver polls), then the receiver's job span.
	c.ObserveSpan(consumer("mails:1", 1, 1, true))
	c.ObserveSpan(SpanObservation{JobID: "mails:1", Queue: "mails", Attempt: 1, Status: StatusRetried, TraceID: tr(1), SpanID: sp(11), WorkerID: "w"})
	c.ObserveSpan(SpanObservation{JobID: "mails:1", Queue: "mails", Attempt: 2, Status: StatusSucceeded, TraceID: tr(1), SpanID: sp(12), WorkerID: "w"})
	c.ObserveSpan(consumer("mails:1", 2, 2, false))
	j, _ := c.Get("mails:1")
	require.Len(t, j.Attempts, 2, "one job, one set of attempts")
	assert.Equal(t, []string{StatusRetried, StatusSucceeded}, statuses(j))
	assert.Equal(t, sp(12), j.Attempts[1].SpanID, "the receiver's job span stays the attempt's span")
	assert.Equal(t, sp(2), j.Attempts[1].ConsumerSpanID)
	assert.Empty(t, c.Stats().Conflicts)

	// A forged relabel (issue 18 #5): an OTLP job_started naming another queue, a consumer
	// span claiming success of the failed attempt, and a lifecycle log claiming success.
	c.ObserveEvent(EventObservation{JobID: "mails:1", Queue: "high_priority", WorkerID: "evil", Source: SourceInstrumentation,
		Event: Event{Name: "job_started", Attempt: 3, Time: t0}})
	c.ObserveSpan(SpanObservation{JobID: "mails:1", Queue: "high_priority", Attempt: 1, SpanID: sp(30), Source: SourceInstrumentation})
	c.ObserveEvent(EventObservation{JobID: "mails:1", Source: SourceInstrumentation, Event: Event{Name: "job_succeeded", Attempt: 1, Time: t0}})
	j, _ = c.Get("mails:1")
	assert.Equal(t, "mails", j.Queue)
	assert.Equal(t, []string{StatusRetried, StatusSucceeded}, statuses(j), "no attempt added or changed by the forgery")
	assert.Equal(t, StatusSucceeded, j.Status())
	assert.Equal(t, map[string]int64{ConflictQueue: 2, ConflictStatus: 2}, c.Stats().Conflicts)
	assert.Len(t, hooks, 4)

	// The receiver overrides what an instrumentation said first, and counts the disagreement.
	c.ObserveSpan(SpanObservation{JobID: "x", Queue: "a", Attempt: 1, SpanID: sp(40), Source: SourceInstrumentation})
	c.ObserveSpan(SpanObservation{JobID: "x", Queue: "b", Attempt: 1, Status: StatusDeadLettered, SpanID: sp(41)})
	j, _ = c.Get("x")
	assert.Equal(t, "b", j.Queue)
	assert.Equal(t, StatusDeadLettered, j.Status())
	assert.Equal(t, int64(3), c.Stats().Conflicts[ConflictStatus])
}
