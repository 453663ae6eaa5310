package jobcatalog

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func tr(b byte) pcommon.TraceID { return pcommon.TraceID{15: b} }
func sp(b byte) pcommon.SpanID  { return pcommon.SpanID{7: b} }

func TestLifecycleAndSpans(t *testing.T) {
	c := New(100)
	c.ObserveEvent(EventObservation{JobID: "j1", Queue: "high_priority", Event: Event{Name: "job_enqueued", Time: t0, TraceID: tr(1)}})
	j, ok := c.Get("j1")
	require.True(t, ok)
	assert.Equal(t, StatusQueued, j.Status())

	c.ObserveEvent(EventObservation{JobID: "j1", WorkerID: "w1", Event: Event{Name: "job_started", Attempt: 1, Time: t0.Add(time.Second), TraceID: tr(1), SpanID: sp(1)}})
	j, _ = c.Get("j1")
	assert.Equal(t, StatusRunning, j.Status())
	a, _ := j.Latest()
	assert.Equal(t, "w1", a.WorkerID)
	assert.Equal(t, sp(1), a.SpanID)

	// The attempt's span arrives with exact times and the retried status.
	c.ObserveSpan(SpanObservation{JobID: "j1", Queue: "high_priority", Attempt: 1, Status: StatusRetried, WorkerID: "w1",
		TraceID: tr(1), SpanID: sp(1), ParentSpanID: sp(9), Start: t0.Add(time.Second), End: t0.Add(3 * time.Second), Format: "w3c", ExtractedFrom: "payload"})
	// A late retried log does not overwrite what the span said.
	c.ObserveEvent(EventObservation{JobID: "j1", WorkerID: "w1", Event: Event{Name: "job_retried", Attempt: 1, Time: t0.Add(4 * time.Second)}})
	c.ObserveEvent(EventObservation{JobID: "j1", WorkerID: "w2", Event: Event{Name: "job_started", Attempt: 2, Time: t0.Add(5 * time.Second), TraceID: tr(1), SpanID: sp(2)}})
	c.ObserveEvent(EventObservation{JobID: "j1", WorkerID: "w2", Event: Event{Name: "job_dead_lettered", Attempt: 2, Time: t0.Add(6 * time.Second)}})

	j, _ = c.Get("j1")
	require.Len(t, j.Attempts, 2)
	assert.Equal(t, StatusRetried, j.Attempts[0].Status)
	assert.Equal(t, t0.Add(3*time.Second), j.Attempts[0].Ended)
	assert.Equal(t, StatusDeadLettered, j.Status())
	assert.Equal(t, t0.Add(6*time.Second), j.Attempts[1].Ended)
	assert.Len(t, j.Events, 5)
	assert.Equal(t, []string{"j1"}, c.JobsInTrace(tr(1)))
	id, ok := c.JobBySpan(sp(2))
	assert.True(t, ok)
	assert.Equal(t, "j1", id)
}

func TestRetryWithNewTrace(t *testing.T) {
	c := New(10)
	c.ObserveSpan(SpanObservation{JobID: "j", Attempt: 1, Status: StatusRetried, TraceID: tr(1), SpanID: sp(1), Links: []pcommon.TraceID{tr(7)}})
	c.ObserveSpan(SpanObservation{JobID: "j", Attempt: 2, Status: StatusSucceeded, TraceID: tr(2), SpanID: sp(2)})
	j, _ := c.Get("j")
	assert.Equal(t, tr(2), j.TraceID())
	assert.Equal(t, []pcommon.TraceID{tr(2), tr(1), tr(7)}, j.TraceIDs())
}

func TestListFiltersAndPages(t *testing.T) {
	c := New(100)
	for i := range 10 {
		q := "high_priority"
		if i%2 == 1 {
			q = "low_priority"
		}
		st := StatusSucceeded
		if i == 3 {
			st = StatusDeadLettered
		}
		c.ObserveSpan(SpanObservation{JobID: fmt.Sprintf("j%02d", i), Queue: q, Attempt: 1, Status: st, WorkerID: fmt.Sprintf("w%d", i%3),
			TraceID: tr(byte(i + 1)), Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i)*time.Second + 1)})
	}
	ids := func(js []Job) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}

	page1, next, err := c.List(Filter{}, 4, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"j09", "j08", "j07", "j06"}, ids(page1), "newest first")
	// A job arriving between pages does not shift the next page.
	c.ObserveSpan(SpanObservation{JobID: "new", Attempt: 1, Status: StatusSucceeded, Start: t0.Add(time.Hour)})
	page2, next2, err := c.List(Filter{}, 4, next)
	require.NoError(t, err)
	assert.Equal(t, []string{"j05", "j04", "j03", "j02"}, ids(page2))
	page3, next3, err := c.List(Filter{}, 4, next2)
	require.NoError(t, err)
	assert.Equal(t, []string{"j01", "j00"}, ids(page3))
	assert.Empty(t, next3)

	got, _, _ := c.List(Filter{Queue: "low_priority"}, 100, "")
	assert.Equal(t, []string{"j09", "j07", "j05", "j03", "j01"}, ids(got))
	got, _, _ = c.List(Filter{Status: StatusDeadLettered}, 100, "")
	assert.Equal(t, []string{"j03"}, ids(got))
	got, _, _ = c.List(Filter{WorkerID: "w0"}, 100, "")
	assert.Equal(t, []string{"j09", "j06", "j03", "j00"}, ids(got))
	got, _, _ = c.List(Filter{Since: t0.Add(8 * time.Second), Queue: "high_priority"}, 100, "")
	assert.Equal(t, []string{"j08"}, ids(got))
	got, _, _ = c.List(Filter{Allow: func(j *Job) bool { return j.ID == "j04" }}, 100, "")
	assert.Equal(t, []string{"j04"}, ids(got))

	_, _, err = c.List(Filter{}, 10, "!!not-a-cursor")
	assert.ErrorIs(t, err, ErrBadCursor)
	_, _, err = c.List(Filter{}, 10, "Zm9v") // "foo": valid base64, no separator
	assert.ErrorIs(t, err, ErrBadCursor)
}

func TestEvictsLeastRecentlyUpdated(t *testing.T) {
	c := New(3)
	for i := range 3 {
		c.ObserveSpan(SpanObservation{JobID: fmt.Sprint(i), TraceID: tr(byte(i + 1)), SpanID: sp(byte(i + 1))})
	}
	c.ObserveEvent(EventObservation{JobID: "0", Event: Event{Name: "job_started"}}) // 0 is fresh again
	c.ObserveSpan(SpanObservation{JobID: "3", TraceID: tr(4)})
	_, ok := c.Get("1")
	assert.False(t, ok)
	_, ok = c.Get("0")
	assert.True(t, ok)
	assert.Empty(t, c.JobsInTrace(tr(2)), "indexes forget evicted jobs")
	_, ok = c.JobBySpan(sp(2))
	assert.False(t, ok)
	assert.Equal(t, Stats{Jobs: 3, MaxJobs: 3, Evicted: 1}, c.Stats())
}

func TestIgnoresRecordsWithoutJobID(t *testing.T) {
	c := New(3)
	c.ObserveSpan(SpanObservation{TraceID: tr(1)})
	c.ObserveEvent(EventObservation{Event: Event{Name: "job_started"}})
	assert.Equal(t, 0, c.Stats().Jobs)
}
