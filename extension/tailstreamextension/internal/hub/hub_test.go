package hub

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

type counts struct {
	mu                            sync.Mutex
	filtered, evaluated, streamed int64
	dropped                       map[string]int64
	active                        int64
}

func (c *counts) Filtered(n int64)  { c.mu.Lock(); c.filtered += n; c.mu.Unlock() }
func (c *counts) Evaluated(n int64) { c.mu.Lock(); c.evaluated += n; c.mu.Unlock() }
func (c *counts) Streamed(n int64)  { c.mu.Lock(); c.streamed += n; c.mu.Unlock() }
func (c *counts) Dropped(r string, n int64) {
	c.mu.Lock()
	if c.dropped == nil {
		c.dropped = map[string]int64{}
	}
	c.dropped[r] += n
	c.mu.Unlock()
}
func (c *counts) StreamsActive(d int64) { c.mu.Lock(); c.active += d; c.mu.Unlock() }

func compile(t testing.TB, s logfilter.Spec) *logfilter.Filter {
	c, err := logfilter.NewCompiler(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	f, err := c.Compile(s, time.Now())
	require.NoError(t, err)
	return f
}

func entriesFor(job string, n int) []*ring.Entry {
	out := make([]*ring.Entry, n)
	for i := range out {
		out[i] = &ring.Entry{JobID: job, Message: job + " " + strconv.Itoa(i), Level: "info", Ingested: time.Now()}
	}
	return out
}

var limits = Limits{MaxStreams: 10, MaxStreamsPerUser: 3, Expiry: time.Hour, IdleTimeout: time.Minute}

func TestIngestQueuesDropsAndIndex(t *testing.T) {
	m := &counts{}
	h := newHub(t, ring.New(100, time.Hour), limits, m)
	now := time.Now()
	j1, err := h.Create("u", compile(t, logfilter.Spec{JobID: "j1"}), nil, Options{Follow: true, RateLimit: 1000, BufferSize: 5}, false, now)
	require.NoError(t, err)
	all, err := h.Create("u", compile(t, logfilter.Spec{}), nil, Options{Follow: true, RateLimit: 3, BufferSize: 100}, false, now)
	require.NoError(t, err)

	h.Ingest(entriesFor("j1", 8), now)
	h.Ingest(entriesFor("j2", 2), now)
	assert.Len(t, j1.Drain(nil), 5)
	st := j1.Stats(now)
	assert.EqualValues(t, 3, st.DroppedFull)
	assert.EqualValues(t, 2, st.LinesFiltered, "the j2 lines, rejected by the index without evaluation")
	assert.Equal(t, 3, len(all.Drain(nil)), "burst of 3 then rate limited")
	assert.EqualValues(t, 7, all.Stats(now).DroppedRate)
	assert.Equal(t, StatusRateLimited, all.Status(now))
	assert.Equal(t, StatusActive, all.Status(now.Add(2*time.Second)))
	assert.EqualValues(t, 2*10-(8+10), m.filtered, "n streams × lines − matches")
	assert.EqualValues(t, 8+10, m.evaluated, "j1 stream evaluated only j1 lines")
	assert.Equal(t, map[string]int64{ReasonBufferFull: 3, ReasonRateLimited: 7}, m.dropped)

	rep := all.TakeDropReport()
	assert.EqualValues(t, 7, rep.RateLimited)
	assert.Zero(t, all.TakeDropReport().RateLimited, "reported once")
}

func TestLimitsSweepAndAttach(t *testing.T) {
	m := &counts{}
	h := newHub(t, ring.New(10, time.Hour), limits, m)
	now := time.Now()
	f := compile(t, logfilter.Spec{})
	opts := Options{RateLimit: 10, BufferSize: 10}
	var ss []*Stream
	for i := 0; i < 3; i++ {
		s, err := h.Create("u", f, nil, opts, false, now)
		require.NoError(t, err)
		ss = append(ss, s)
	}
	_, err := h.Create("u", f, nil, opts, false, now)
	assert.ErrorIs(t, err, ErrTooManyUserStreams)
	assert.EqualValues(t, 3, m.active)

	a, first, ok := ss[0].Attach()
	require.True(t, ok)
	assert.True(t, first)
	b, first, _ := ss[0].Attach()
	assert.False(t, first)
	<-a.Done()
	assert.Equal(t, EndReplaced, ss[0].Reason(a))

	removed := h.Sweep(now.Add(2 * time.Minute))
	assert.Len(t, removed, 2, "the two unattached streams idled out")
	assert.Equal(t, EndIdle, removed[ss[1]])
	removed = h.Sweep(now.Add(2 * time.Hour))
	assert.Equal(t, EndExpired, removed[ss[0]])
	<-b.Done()
	assert.Equal(t, EndExpired, ss[0].Reason(b))
	assert.Zero(t, h.Len())
	assert.Zero(t, m.active)
	_, _, ok = ss[0].Attach()
	assert.False(t, ok, "an ended stream cannot be attached")
}

func TestScopeBeforeFilter(t *testing.T) {
	h := newHub(t, ring.New(10, time.Hour), limits, nil)
	now := time.Now()
	onlyHigh := func(e *ring.Entry) bool { return e.QueueName == "high" }
	s, err := h.Create("u", compile(t, logfilter.Spec{OTTL: `true`}), onlyHigh, Options{RateLimit: 100, BufferSize: 10}, false, now)
	require.NoError(t, err)
	h.Ingest([]*ring.Entry{{QueueName: "low", Ingested: now}, {QueueName: "high", Ingested: now}}, now)
	got := drainN(t, s, 1)
	assert.Equal(t, "high", got[0].QueueName)
	sel, _, _ := h.Search(context.Background(), compile(t, logfilter.Spec{}), onlyHigh, 0, 10, now)
	assert.Len(t, sel, 1)
	later, err := h.Create("u", compile(t, logfilter.Spec{}), onlyHigh, Options{RateLimit: 100, BufferSize: 10}, false, now)
	require.NoError(t, err)
	rep, _ := h.Replay(context.Background(), later, 0, now)
	assert.Len(t, rep, 1, "the replay is scoped too")
}

// BenchmarkIngest is the pipeline's cost per line with 500 job-filtered streams (one job
// each, the latency scenario) and with 50 unfiltered streams whose clients never read.
func BenchmarkIngest(b *testing.B) {
	for _, tc := range []struct {
		name    string
		streams int
		spec    func(i int) logfilter.Spec
		drain   bool // drain every stream after each batch: clients keeping up
	}{
		{"no_streams", 0, nil, false},
		{"500_job_streams", 500, func(i int) logfilter.Spec { return logfilter.Spec{JobID: "job-" + strconv.Itoa(i)} }, false},
		{"50_unfiltered_full_queues", 50, func(int) logfilter.Spec { return logfilter.Spec{} }, false},
		{"50_unfiltered_drained", 50, func(int) logfilter.Spec { return logfilter.Spec{} }, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := newHub(b, ring.New(100_000, time.Hour), Limits{MaxStreams: 1000, MaxStreamsPerUser: 1000, Expiry: time.Hour, IdleTimeout: time.Hour}, nil)
			now := time.Now()
			var streams []*Stream
			for i := 0; i < tc.streams; i++ {
				opts := Options{RateLimit: 1000, BufferSize: 1000}
				if tc.drain {
					opts = Options{BufferSize: 1000} // no rate limit: every line is queued
				}
				s, err := h.Create("u", compile(b, tc.spec(i)), nil, opts, false, now)
				require.NoError(b, err)
				streams = append(streams, s)
			}
			var buf []*ring.Entry
			batch := make([]*ring.Entry, 500)
			for i := range batch {
				batch[i] = &ring.Entry{JobID: "job-" + strconv.Itoa(i), Level: "info", Message: "m", Ingested: now}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Ingest(batch, now)
				if tc.drain {
					for _, s := range streams {
						buf = s.Drain(buf[:0])
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/line")
		})
	}
}

// A stream whose queue is full when a batch arrives (a client that stopped reading) has the
// batch's matching lines counted as buffer_full drops at once; once drained it queues again.
func TestFullStreamDropsWholeBatch(t *testing.T) {
	m := &counts{}
	h := newHub(t, ring.New(100, time.Hour), limits, m)
	now := time.Now()
	opts := Options{Follow: true, RateLimit: 100000, BufferSize: 4}
	all, err := h.Create("u", compile(t, logfilter.Spec{}), nil, opts, false, now)
	require.NoError(t, err)
	errs, err := h.Create("u", compile(t, logfilter.Spec{LogLevel: []string{"error"}}), nil, opts, false, now)
	require.NoError(t, err)

	fill := entriesFor("j", 4)
	for _, e := range fill {
		e.Level = "error"
	}
	h.Ingest(fill, now) // both queues are now full
	batch := entriesFor("j", 10)
	for _, e := range batch[:3] {
		e.Level = "error"
	}
	h.Ingest(batch, now)

	assert.EqualValues(t, 10, all.Stats(now).DroppedFull, "every line of the batch")
	assert.EqualValues(t, 3, errs.Stats(now).DroppedFull, "only the lines its filter matches")
	assert.Equal(t, map[string]int64{ReasonBufferFull: 13}, m.dropped)
	assert.EqualValues(t, 10, all.TakeDropReport().BufferFull, "reported in-band")

	assert.Len(t, all.Drain(nil), 4, "the lines queued before it filled")
	h.Ingest(entriesFor("j", 2), now)
	got := all.Drain(nil)
	require.Len(t, got, 2, "a drained stream queues again")
	assert.Equal(t, "j 0", got[0].Message)
}

// newHub returns a hub whose streams end with the test.
func newHub(t testing.TB, rb *ring.Buffer, l Limits, m Metrics) *Hub {
	h := New(rb, l, m)
	t.Cleanup(func() { h.CloseAll(EndShutdown) })
	return h
}

// drainN drains s until it has given n entries (filters with costly parts deliver from the
// stream's own goroutine), and checks that no more come right after.
func drainN(t *testing.T, s *Stream, n int) []*ring.Entry {
	t.Helper()
	var got []*ring.Entry
	require.Eventually(t, func() bool { got = s.Drain(got); return len(got) >= n }, 10*time.Second, time.Millisecond)
	require.Len(t, got, n)
	return got
}

// TestIdleStreamsHoldLittleMemory: a stream's buffer_size is a bound, not an allocation.
// 500 streams of buffer_size 10,000 took 120 MB before the first line.
func TestIdleStreamsHoldLittleMemory(t *testing.T) {
	h := newHub(t, ring.New(100, time.Hour), Limits{MaxStreams: 1000, MaxStreamsPerUser: 1000, Expiry: time.Hour, IdleTimeout: time.Hour}, &counts{})
	f := compile(t, logfilter.Spec{JobID: "j"})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 500 {
		_, err := h.Create("u", f, nil, Options{Follow: true, RateLimit: 1000, BufferSize: 10_000}, false, time.Now())
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perStream := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / 500
	assert.Less(t, perStream, 8192.0, "bytes per idle stream")
}

// offerMany is offer for a whole batch under one lock: the same lines queued, the same drops
// counted for the same reasons.
func TestOfferManyMatchesOfferOneByOne(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rate, buffer int
		batches      []int
		gap          time.Duration // between batches
		drainBetween bool
	}{
		{name: "room for all", rate: 0, buffer: 1000, batches: []int{10, 200, 5}},
		{name: "queue fills mid-batch", rate: 0, buffer: 50, batches: []int{30, 30, 30}},
		{name: "rate limit mid-batch", rate: 40, buffer: 1000, batches: []int{25, 25, 25}, gap: 100 * time.Millisecond},
		{name: "rate limit and draining", rate: 100, buffer: 60, batches: []int{80, 80, 10, 80}, gap: 300 * time.Millisecond, drainBetween: true},
		{name: "full, then drained", rate: 0, buffer: 20, batches: []int{25, 5, 25}, drainBetween: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t, ring.New(100, time.Hour), Limits{MaxStreams: 10, MaxStreamsPerUser: 10, Expiry: time.Hour, IdleTimeout: time.Hour}, &counts{})
			f := compile(t, logfilter.Spec{})
			t0 := time.Now()
			one, err := h.Create("u", f, nil, Options{Follow: true, RateLimit: tc.rate, BufferSize: tc.buffer}, false, t0)
			require.NoError(t, err)
			many, err := h.Create("u", f, nil, Options{Follow: true, RateLimit: tc.rate, BufferSize: tc.buffer}, false, t0)
			require.NoError(t, err)
			var gotOne, gotMany []*ring.Entry
			var rateOne, fullOne, rateMany, fullMany int64
			now := t0
			for b, n := range tc.batches {
				now = now.Add(tc.gap)
				es := entriesFor("job-"+string(rune('a'+b)), n)
				for _, e := range es {
					switch one.offer(e, now) {
					case outRateLimited:
						rateOne++
					case outBufferFull:
						fullOne++
					}
				}
				_, r, f, _, _ := many.offerMany(es, now)
				rateMany += r
				fullMany += f
				if tc.drainBetween {
					gotOne = one.Drain(gotOne)
					gotMany = many.Drain(gotMany)
				}
			}
			gotOne = one.Drain(gotOne)
			gotMany = many.Drain(gotMany)
			require.Equal(t, gotOne, gotMany, "the same lines, in the same order")
			assert.Equal(t, rateOne, rateMany, "rate-limited drops")
			assert.Equal(t, fullOne, fullMany, "buffer-full drops")
			assert.Equal(t, one.matched.Load(), many.matched.Load())
			assert.Equal(t, one.droppedFull.Load(), many.droppedFull.Load())
			assert.Equal(t, one.droppedRate, many.droppedRate)
			assert.Positive(t, len(gotOne))
		})
	}
}
