package queuejobreceiver

import (
	"fmt"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/tracecontext"
)

type trackerHarness struct {
	t   *testing.T
	tr  *tracker
	fp  fieldPaths
	now time.Time
}

func newHarness(t *testing.T, mutate func(*Config)) *trackerHarness {
	cfg := createDefaultConfig().(*Config)
	cfg.EmitExisting = true
	if mutate != nil {
		mutate(cfg)
	}
	r := cfg.resolved()
	ex, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
	require.NoError(t, err)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	return &trackerHarness{t: t, tr: newTracker(&r, ex, now), fp: newFieldPaths(r.Fields), now: now}
}

func payloadFor(id string, retries int, created time.Time) string {
	return fmt.Sprintf(`{"id":%q,"filepath":"/x","filesize":1,"priority":"high","retries":%d,"creation_time":%q,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}`,
		id, retries, created.Format(time.RFC3339Nano))
}

func (h *trackerHarness) job(raw string) (*job, uint64) {
	j, err := parseJob(raw, 1<<20, &h.fp)
	require.NoError(h.t, err)
	return &j, xxhash.Sum64String(raw)
}

func (h *trackerHarness) tick(d time.Duration) { h.now = h.now.Add(d) }

func kinds(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s#%d/%d@%s", e.kind, e.attempt, e.rerun, e.worker))
	}
	return out
}

func TestTrackerRetryInferenceAndTiming(t *testing.T) {
	h := newHarness(t, nil)
	created := h.now
	h.tick(time.Second)
	a1, h1 := h.job(payloadFor("j1", 0, created))
	h.tr.seenProcessing(a1, h1, "w1", true, true, h.now)
	require.Equal(t, []string{"job_started#1/0@w1"}, kinds(h.tr.take()))
	h.tick(time.Second)
	// Attempt 3 completes; attempt 2 was never seen: both earlier attempts ended in retries.
	a3, h3 := h.job(payloadFor("j1", 2, created))
	require.True(t, h.tr.seenFinished(a3, h3, evSucceeded, h.now))
	evs := h.tr.take()
	require.Equal(t, []string{"job_retried#1/0@w1", "job_retried#2/0@", "job_succeeded#3/0@"}, kinds(evs))
	require.False(t, evs[0].startEstimated)
	require.Equal(t, created.Add(time.Second), evs[0].start)
	require.True(t, evs[2].startEstimated)
	require.Equal(t, h.now, evs[2].start, "attempt 3 cannot have started before attempt 2 ended")
	// Seen again on the next poll: nothing new.
	require.False(t, h.tr.seenFinished(a3, h3, evSucceeded, h.now))
	h.tr.seenProcessing(a1, h1, "w1", true, true, h.now)
	require.Empty(t, h.tr.take())
}

func TestTrackerDoesNotInventHistory(t *testing.T) {
	h := newHarness(t, nil)
	// Created long before the receiver started: attempts 1 and 2 happened out of view.
	old := h.now.Add(-time.Hour)
	a3, h3 := h.job(payloadFor("old", 2, old))
	h.tr.seenFinished(a3, h3, evDeadLettered, h.now)
	require.Equal(t, []string{"job_dead_lettered#3/0@"}, kinds(h.tr.take()))
}

func TestTrackerBaselineSkipsHistory(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.EmitExisting = false })
	a, ha := h.job(payloadFor("done", 0, h.now))
	h.tr.seenFinished(a, ha, evSucceeded, h.now)
	b, hb := h.job(payloadFor("running", 0, h.now))
	h.tr.seenProcessing(b, hb, "w1", true, true, h.now)
	require.Empty(t, h.tr.take())
	h.tr.baseline = false
	h.tick(time.Second)
	h.tr.seenFinished(a, ha, evSucceeded, h.now)
	h.tr.seenFinished(b, hb, evSucceeded, h.now)
	evs := h.tr.take()
	require.Equal(t, []string{"job_succeeded#1/0@w1"}, kinds(evs), "only the job still running at start ends later")
	require.True(t, evs[0].startEstimated)
}

func TestTrackerAbandonedAndRerun(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AbandonGrace = 500 * time.Millisecond })
	j, hj := h.job(payloadFor("ab", 0, h.now))
	h.tr.seenProcessing(j, hj, "w1", true, true, h.now)
	h.tick(100 * time.Millisecond)
	h.tr.seenProcessing(j, hj, "w1", true, false, h.now) // heartbeat gone: grace starts
	h.tick(300 * time.Millisecond)
	h.tr.seenProcessing(j, hj, "w1", true, false, h.now)
	require.Equal(t, []string{"job_started#1/0@w1"}, kinds(h.tr.take()), "still inside the grace")
	h.tick(300 * time.Millisecond)
	h.tr.seenProcessing(j, hj, "w1", true, false, h.now)
	h.tr.seenProcessing(j, hj, "w1", true, false, h.now)
	require.Equal(t, []string{"job_abandoned#1/0@w1"}, kinds(h.tr.take()))
	// The reaper requeues the same payload; another worker runs it and completes.
	h.tr.seenPending(j, hj, "high_priority", h.now)
	h.tick(time.Second)
	h.tr.seenProcessing(j, hj, "w2", true, true, h.now)
	h.tick(time.Second)
	h.tr.seenFinished(j, hj, evSucceeded, h.now)
	evs := h.tr.take()
	require.Equal(t, []string{"job_started#1/1@w2", "job_succeeded#1/1@w2"}, kinds(evs))
	require.NotEqual(t, spanID("ab", 1, 0), spanID("ab", 1, 1), "a re-run is its own span")
	require.False(t, evs[1].startEstimated)
}

func TestTrackerHeartbeatRace(t *testing.T) {
	// A worker is between BRPOPLPUSH and its first heartbeat SET: not abandoned.
	h := newHarness(t, nil)
	j, hj := h.job(payloadFor("race", 0, h.now))
	h.tr.seenProcessing(j, hj, "w1", true, false, h.now)
	h.tick(20 * time.Millisecond)
	h.tr.seenProcessing(j, hj, "w1", true, true, h.now)
	h.tick(5 * time.Second)
	h.tr.seenProcessing(j, hj, "w1", true, true, h.now)
	require.Equal(t, []string{"job_started#1/0@w1"}, kinds(h.tr.take()))
}

func TestTrackerEnqueued(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.EmitEnqueued = true })
	j, hj := h.job(payloadFor("e", 0, h.now))
	h.tr.seenPending(j, hj, "high_priority", h.now)
	h.tr.seenPending(j, hj, "high_priority", h.now)
	evs := h.tr.take()
	require.Equal(t, []string{"job_enqueued#1/0@"}, kinds(evs))
	require.Equal(t, "high_priority", evs[0].job.queue)
}

func TestSpanIDContract(t *testing.T) {
	// sha256("job-1/2")[:8], computed independently with `printf job-1/2 | sha256sum`.
	id := spanID("job-1", 2, 0)
	require.Equal(t, "4a864c3d43d3408c", fmt.Sprintf("%x", id[:]))
}
