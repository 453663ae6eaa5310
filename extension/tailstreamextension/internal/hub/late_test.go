package hub

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// catalog is a Resolver over a map, as the extension's job catalog answers.
type catalog struct {
	mu      sync.Mutex
	byTrace map[string]Attribution
	bySpan  map[string]Attribution
}

func (c *catalog) learn(trace, span string, a Attribution) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byTrace == nil {
		c.byTrace, c.bySpan = map[string]Attribution{}, map[string]Attribution{}
	}
	if trace != "" {
		c.byTrace[trace] = a
	}
	if span != "" {
		c.bySpan[span] = a
	}
}

func (c *catalog) Resolve(trace, span string) (Attribution, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.bySpan[span]; ok && span != "" {
		return a, true
	}
	a, ok := c.byTrace[trace]
	return a, ok && trace != ""
}

const (
	traceJ1 = "0af7651916cd43dd8448eb211c80319c"
	spanJ1  = "b7ad6b7169203331"
	traceX  = "11111111111111111111111111111111"
)

var j1 = Attribution{JobID: "j1", WorkerID: "w1", QueueName: "high"}

func opts() Options { return Options{Follow: true, RateLimit: 10_000, BufferSize: 100} }

// Issue 13, point 2: a stream following a known job gets, at once, lines that carry only
// the job's trace id or only its span id.
func TestJobStreamGetsTraceOnlyAndSpanOnlyLinesOfKnownJob(t *testing.T) {
	cat := &catalog{}
	cat.learn(traceJ1, spanJ1, j1)
	h := newHub(t, ring.New(100, time.Hour), limits, nil)
	h.SetResolver(cat)
	now := time.Now()
	s, err := h.Create("u", compile(t, logfilter.Spec{JobID: "j1"}), nil, opts(), false, now)
	require.NoError(t, err)
	h.Ingest([]*ring.Entry{
		{Message: "sql slow", TraceID: traceJ1, Ingested: now},
		{Message: "span only", SpanID: spanJ1, Ingested: now},
		{Message: "other request", TraceID: traceX, Ingested: now},
	}, now)
	got := s.Drain(nil)
	require.Len(t, got, 2, "Ingest returned: the job's lines must already be queued")
	for _, e := range got {
		assert.Equal(t, "j1", e.JobID)
		assert.Equal(t, "w1", e.WorkerID)
		assert.Equal(t, "high", e.QueueName)
		assert.Equal(t, "j1", e.Attrs.Value("job.id"), "OTTL and history see the attribution too")
		assert.Nil(t, e.Late)
	}
	// A worker-filtered stream finds them too, through the same attribution.
	sel, _, _ := h.Search(context.Background(), compile(t, logfilter.Spec{WorkerID: "w1"}), nil, 0, 10, now)
	assert.Len(t, sel, 2)
}

// Issue 13, points 1 and 3: a line whose job is unknown reaches an unfiltered stream at
// once; when the job becomes known (within the window) the line is attributed in the ring
// and delivered, marked late, to the streams following the job, once.
func TestLateAttribution(t *testing.T) {
	cat := &catalog{}
	h := newHub(t, ring.New(100, time.Hour), limits, nil)
	h.SetResolver(cat)
	now := time.Now()
	job, err := h.Create("u", compile(t, logfilter.Spec{JobID: "j1"}), nil, opts(), false, now)
	require.NoError(t, err)
	all, err := h.Create("u", compile(t, logfilter.Spec{}), nil, opts(), false, now)
	require.NoError(t, err)
	queue, err := h.Create("u", compile(t, logfilter.Spec{QueueName: "high"}), nil, opts(), false, now)
	require.NoError(t, err)

	h.Ingest([]*ring.Entry{{Message: "early worker line", TraceID: traceJ1, Ingested: now}, {Message: "app", TraceID: traceX, Ingested: now}}, now)
	require.Len(t, all.Drain(nil), 2, "unrelated and not-yet-known lines wait for nothing")
	assert.Empty(t, job.Drain(nil))
	assert.Zero(t, h.Reattribute(now, true), "nothing known yet")

	cat.learn(traceJ1, "", j1)
	assert.Equal(t, 1, h.Reattribute(now.Add(time.Second), true))
	got := job.Drain(nil)
	require.Len(t, got, 1)
	assert.Equal(t, "early worker line", got[0].Message)
	assert.NotNil(t, got[0].Late)
	assert.Equal(t, uint64(1), got[0].Seq, "seq unchanged")
	assert.Equal(t, "w1", got[0].WorkerID)
	require.Len(t, queue.Drain(nil), 1, "a queue filter matches the attributed line")
	assert.Empty(t, all.Drain(nil), "a stream that had the line does not get it twice")

	// The ring holds the attributed version: history and the correlation view find it.
	hist, _, _ := h.Search(context.Background(), compile(t, logfilter.Spec{JobID: "j1"}), nil, 0, 10, now)
	require.Len(t, hist, 1)
	assert.NotNil(t, hist[0].Late)
	assert.Zero(t, h.Reattribute(now.Add(2*time.Second), true), "attributed once")
}

// Past the window (the hold bound) a line is no longer attributed.
func TestLateAttributionBoundedByWindow(t *testing.T) {
	cat := &catalog{}
	l := limits
	l.LateWindow = time.Second
	h := newHub(t, ring.New(100, time.Hour), l, nil)
	h.SetResolver(cat)
	now := time.Now()
	job, err := h.Create("u", compile(t, logfilter.Spec{JobID: "j1"}), nil, opts(), false, now)
	require.NoError(t, err)
	h.Ingest([]*ring.Entry{{Message: "old", TraceID: traceJ1, Ingested: now}}, now)
	cat.learn(traceJ1, "", j1)
	assert.Zero(t, h.Reattribute(now.Add(2*time.Second), true))
	assert.Empty(t, job.Drain(nil))
	assert.True(t, h.late.empty(), "forgotten, memory returned")
}

func TestLatePendingBounded(t *testing.T) {
	cat := &catalog{}
	l := limits
	l.LatePending = 2
	h := newHub(t, ring.New(100, time.Hour), l, nil)
	h.SetResolver(cat)
	now := time.Now()
	var es []*ring.Entry
	for range 5 {
		es = append(es, &ring.Entry{TraceID: traceJ1, Ingested: now})
	}
	h.Ingest(es, now)
	cat.learn(traceJ1, "", j1)
	assert.Equal(t, 2, h.Reattribute(now, true), "only the newest LatePending lines are remembered")
}

// Issue 18, finding 2: a hostile filter evaluates off the ingest path. Ingest returns at
// once, another stream has its lines, the hostile stream drops what its evaluator cannot
// keep up with (counted), and it is closed for exceeding the per-line budget.
func TestHostileFilterDoesNotBlockIngest(t *testing.T) {
	m := &counts{}
	l := limits
	l.FilterBudget = 5 * time.Millisecond
	l.FilterStrikes = 2
	h := newHub(t, ring.New(1000, time.Hour), l, m)
	now := time.Now()
	// At the pattern bound, on a line at the body cut: ~50ms or more per evaluation.
	hostile := logfilter.Spec{OTTL: `IsMatch(body, "(?:x?){160}x{160}y")`}
	var bad []*Stream
	for range 3 {
		s, err := h.Create("mallory", compile(t, hostile), nil, Options{Follow: true, RateLimit: 1000, BufferSize: 4}, false, now)
		require.NoError(t, err)
		bad = append(bad, s)
	}
	good, err := h.Create("alice", compile(t, logfilter.Spec{LogLevel: []string{"info"}}), nil, opts(), false, now)
	require.NoError(t, err)

	var es []*ring.Entry
	for range 40 {
		es = append(es, &ring.Entry{Level: "info", Message: strings.Repeat("x", 256<<10), Ingested: now})
	}
	es = append(es, &ring.Entry{Level: "info", Message: "marker", Ingested: now})
	done := make(chan struct{})
	go func() {
		h.Ingest(es, now)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		// Evaluated inline, 3 streams × 41 lines × the cost of one evaluation.
		t.Fatal("Ingest is blocked behind the hostile filters")
	}
	got := good.Drain(nil)
	require.Len(t, got, 41, "the other stream's lines were queued by the time Ingest returned")
	assert.Equal(t, "marker", got[40].Message)

	for _, s := range bad {
		select {
		case <-s.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the hostile stream was not closed")
		}
		a, _, ok := s.Attach()
		assert.False(t, ok)
		assert.Nil(t, a)
		assert.Greater(t, s.Stats(now).DroppedBehind, uint64(0), "what the evaluator could not take is counted")
		assert.Equal(t, EndFilterTooSlow, s.EndReason())
	}
	m.mu.Lock()
	assert.Greater(t, m.dropped[ReasonFilterBehind], int64(0))
	m.mu.Unlock()
	_, ok := h.Get(good.ID)
	assert.True(t, ok)
}

// Issue 18, finding 2: history and replay stop when the client leaves or the budget runs out.
func TestQueriesHonourContextAndBudget(t *testing.T) {
	h := newHub(t, ring.New(20_000, time.Hour), limits, nil)
	now := time.Now()
	h.Ingest(entriesFor("j1", 20_000), now)
	f := compile(t, logfilter.Spec{OTTL: `IsMatch(body, "j1")`})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	page, total, partial := h.Search(ctx, f, nil, 0, 10, now)
	assert.True(t, partial, "a gone client stops the search")
	assert.Less(t, total, 20_000)
	assert.LessOrEqual(t, len(page), 10)
	s, err := h.Create("u", f, nil, opts(), false, now)
	require.NoError(t, err)
	_, partial = h.Replay(ctx, s, 0, now)
	assert.True(t, partial)
	_, _, partial, _ = h.Resume(ctx, s, 1, -1, now)
	assert.True(t, partial)

	l := limits
	l.QueryBudget = time.Nanosecond
	hb := newHub(t, ring.New(20_000, time.Hour), l, nil)
	hb.Ingest(entriesFor("j1", 20_000), now)
	_, total, partial = hb.Search(context.Background(), f, nil, 0, 10, now)
	assert.True(t, partial, "the time budget stops the search")
	assert.Less(t, total, 20_000)

	_, total, partial = h.Search(context.Background(), f, nil, 0, 10, now)
	assert.False(t, partial)
	assert.Equal(t, 20_000, total)
}

// Issue 13 leftover 1: streams whose filter has a costly part (text, OTTL) get the late
// version of a line through their evaluator, under the same "had it already" rule: an OTTL
// condition on the job's attributes matches only the late version, a text search that
// matched the early version does not get the line twice.
func TestLateAttributionReachesSlowFilters(t *testing.T) {
	cat := &catalog{}
	h := newHub(t, ring.New(100, time.Hour), Limits{MaxStreams: 10, MaxStreamsPerUser: 10, Expiry: time.Hour, IdleTimeout: time.Minute}, nil)
	h.SetResolver(cat)
	now := time.Now()
	mk := func(s logfilter.Spec) *Stream {
		st, err := h.Create("u", compile(t, s), nil, opts(), false, now)
		require.NoError(t, err)
		return st
	}
	ottlJob := mk(logfilter.Spec{OTTL: `attributes["job.id"] == "j1"`})
	ottlQueue := mk(logfilter.Spec{OTTL: `attributes["queue.name"] == "high" and IsMatch(body, "early")`})
	jobText := mk(logfilter.Spec{JobID: "j1", Text: "worker"})
	text := mk(logfilter.Spec{Text: "early"})
	ottlBody := mk(logfilter.Spec{OTTL: `IsMatch(body, "early")`})
	ottlNoJob := mk(logfilter.Spec{OTTL: `attributes["job.id"] == nil`})

	h.Ingest([]*ring.Entry{{Message: "early worker line", TraceID: traceJ1, Ingested: now}}, now)
	drain := func(s *Stream, want int) []*ring.Entry {
		t.Helper()
		var got []*ring.Entry
		require.Eventually(t, func() bool {
			got = append(got, s.Drain(nil)...)
			return len(got) >= want
		}, 5*time.Second, 5*time.Millisecond)
		time.Sleep(20 * time.Millisecond) // a second, wrong delivery would be queued by now
		got = append(got, s.Drain(nil)...)
		require.Len(t, got, want)
		return got
	}
	drain(text, 1)
	drain(ottlBody, 1)
	drain(ottlNoJob, 1)

	cat.learn(traceJ1, "", j1)
	require.Equal(t, 1, h.Reattribute(now.Add(time.Second), true))
	for name, s := range map[string]*Stream{"ottl on job.id": ottlJob, "ottl on queue.name": ottlQueue, "job and text": jobText} {
		got := drain(s, 1)
		assert.NotNil(t, got[0].Late, name)
		assert.Equal(t, "j1", got[0].JobID, name)
	}
	// Let every evaluator finish before checking that nothing more arrives.
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, text.Drain(nil), "the text stream had the line before its job was known")
	assert.Empty(t, ottlBody.Drain(nil), "so had the OTTL stream on the body")
	assert.Empty(t, ottlNoJob.Drain(nil), "the late version does not match an OTTL condition the early one did")
}
