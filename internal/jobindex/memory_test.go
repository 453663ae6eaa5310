package jobindex

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func tid(b byte) pcommon.TraceID { return pcommon.TraceID{1, 2, 3, b} }
func sid(b byte) pcommon.SpanID  { return pcommon.SpanID{9, b} }

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPutAndLookups(t *testing.T) {
	m := NewMemory(10, time.Hour)
	want := JobContext{JobID: "j1", WorkerID: "w1", Queue: "high", JobType: "resize", TraceID: tid(1), SpanID: sid(1), FromSpan: true}
	m.Put(want)

	got, ok := m.ByJob("j1")
	require.True(t, ok)
	assert.Equal(t, want, got)
	got, ok = m.ByTrace(tid(1))
	require.True(t, ok)
	assert.Equal(t, want, got)

	_, ok = m.ByJob("nope")
	assert.False(t, ok)
	_, ok = m.ByTrace(tid(2))
	assert.False(t, ok)
	assert.Equal(t, 1, m.Len())
}

func TestPutWithoutJobIDIgnored(t *testing.T) {
	m := NewMemory(10, time.Hour)
	m.Put(JobContext{TraceID: tid(1), Queue: "q"})
	assert.Equal(t, 0, m.Len())
	_, ok := m.ByTrace(tid(1))
	assert.False(t, ok)
}

func TestPutMergesAndKeepsKnownFields(t *testing.T) {
	m := NewMemory(10, time.Hour)
	// A log teaches job, trace and worker; the span adds queue and span id; a later
	// log that knows less must not erase anything.
	m.Put(JobContext{JobID: "j1", TraceID: tid(1), WorkerID: "w1"})
	got, _ := m.ByJob("j1")
	assert.False(t, got.FromSpan)
	assert.Empty(t, got.Queue)

	m.Put(JobContext{JobID: "j1", TraceID: tid(1), Queue: "high", SpanID: sid(7), FromSpan: true})
	m.Put(JobContext{JobID: "j1"})
	got, ok := m.ByTrace(tid(1))
	require.True(t, ok)
	assert.Equal(t, JobContext{JobID: "j1", WorkerID: "w1", Queue: "high", TraceID: tid(1), SpanID: sid(7), FromSpan: true}, got)

	// A later attempt on another worker replaces the worker.
	m.Put(JobContext{JobID: "j1", WorkerID: "w2"})
	got, _ = m.ByJob("j1")
	assert.Equal(t, "w2", got.WorkerID)
}

func TestTraceChangeMovesMapping(t *testing.T) {
	m := NewMemory(10, time.Hour)
	m.Put(JobContext{JobID: "j1", TraceID: tid(1)})
	m.Put(JobContext{JobID: "j1", TraceID: tid(2)})
	_, ok := m.ByTrace(tid(1))
	assert.False(t, ok, "old trace still maps")
	got, ok := m.ByTrace(tid(2))
	require.True(t, ok)
	assert.Equal(t, "j1", got.JobID)
	assert.Equal(t, 1, m.Len())
}

func TestSharedTraceIsAmbiguous(t *testing.T) {
	m := NewMemory(10, time.Hour)
	m.Put(JobContext{JobID: "parent", TraceID: tid(1)})
	m.Put(JobContext{JobID: "child", TraceID: tid(1)})
	_, ok := m.ByTrace(tid(1))
	assert.False(t, ok, "a trace shared by two jobs must not resolve to one of them")
	// Both jobs stay reachable by id.
	p, ok := m.ByJob("parent")
	require.True(t, ok)
	assert.Equal(t, tid(1), p.TraceID)
	c, ok := m.ByJob("child")
	require.True(t, ok)
	assert.Equal(t, tid(1), c.TraceID)

	// Re-putting the same job in the same trace does not make it ambiguous.
	m.Put(JobContext{JobID: "solo", TraceID: tid(3)})
	m.Put(JobContext{JobID: "solo", TraceID: tid(3), Queue: "q"})
	got, ok := m.ByTrace(tid(3))
	require.True(t, ok)
	assert.Equal(t, "q", got.Queue)
}

func TestLRUEviction(t *testing.T) {
	m := NewMemory(3, time.Hour)
	for i := range 3 {
		m.Put(JobContext{JobID: fmt.Sprint("j", i), TraceID: tid(byte(i))})
	}
	// Touch j0 so j1 is the least recently used.
	_, ok := m.ByJob("j0")
	require.True(t, ok)
	m.Put(JobContext{JobID: "j3", TraceID: tid(3)})

	assert.Equal(t, 3, m.Len())
	_, ok = m.ByJob("j1")
	assert.False(t, ok, "least recently used job not evicted")
	_, ok = m.ByTrace(tid(1))
	assert.False(t, ok, "evicted job's trace still maps")
	for _, id := range []string{"j0", "j2", "j3"} {
		_, ok = m.ByJob(id)
		assert.True(t, ok, id)
	}
	assert.Equal(t, Stats{Evicted: 1}, m.Stats())
}

func TestTTLExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	m := NewMemory(10, time.Minute, WithClock(clk.now))
	m.Put(JobContext{JobID: "old", TraceID: tid(1)})
	clk.advance(40 * time.Second)
	m.Put(JobContext{JobID: "young", TraceID: tid(2)})
	clk.advance(30 * time.Second) // old: 70s idle, young: 30s

	_, ok := m.ByTrace(tid(1))
	assert.False(t, ok, "expired job still found")
	_, ok = m.ByJob("young")
	assert.True(t, ok)
	assert.Equal(t, 1, m.Len())

	// The lookup above refreshed "young": 50 more seconds keep it.
	clk.advance(50 * time.Second)
	_, ok = m.ByJob("young")
	assert.True(t, ok, "a lookup did not refresh the TTL")
	clk.advance(61 * time.Second)
	assert.Equal(t, 0, m.Len())
	assert.Equal(t, Stats{Expired: 2}, m.Stats())
}

func TestInternTableBounded(t *testing.T) {
	m := NewMemory(internLimit*3, time.Hour)
	for i := range internLimit * 2 {
		m.Put(JobContext{JobID: fmt.Sprint("j", i), WorkerID: fmt.Sprint("w", i)})
	}
	assert.LessOrEqual(t, len(m.intern), internLimit)
	got, ok := m.ByJob("j1")
	require.True(t, ok)
	assert.Equal(t, "w1", got.WorkerID, "dropping the intern table must not lose values")
}

func TestConcurrentUse(t *testing.T) {
	m := NewMemory(100, time.Hour)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprint("j", g, "-", i)
				m.Put(JobContext{JobID: id, TraceID: pcommon.TraceID{byte(g), byte(i), byte(i >> 8), 1}, Queue: "q"})
				m.ByJob(id)
				m.ByTrace(pcommon.TraceID{byte(g), byte(i), byte(i >> 8), 1})
				m.Len()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 100, m.Len())
	assert.Equal(t, uint64(2000-100), m.Stats().Evicted)
}

func jobIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15)
	}
	return ids
}

// BenchmarkMemoryPerJob reports the heap bytes one job costs in a full index of 100k
// realistic jobs (32-hex ids, 50 workers, 2 queues).
func BenchmarkMemoryPerJob(b *testing.B) {
	const n = 100_000
	ids := jobIDs(n)
	workers := make([]string, 50)
	for i := range workers {
		workers[i] = fmt.Sprintf("vm-15485-1795775243850107691-4b53-%d", i)
	}
	queues := []string{"high_priority", "low_priority"}
	var perJob float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := NewMemory(n, time.Hour)
		for i, id := range ids {
			m.Put(JobContext{
				JobID: id, WorkerID: workers[i%len(workers)], Queue: queues[i%2],
				TraceID: pcommon.TraceID{byte(i), byte(i >> 8), byte(i >> 16), 7, 7},
				SpanID:  pcommon.SpanID{byte(i), 1}, FromSpan: true,
			})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perJob = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perJob, "bytes/job")
}

func BenchmarkByTraceHit(b *testing.B) {
	const n = 100_000
	m := NewMemory(n, time.Hour)
	traces := make([]pcommon.TraceID, n)
	for i, id := range jobIDs(n) {
		traces[i] = pcommon.TraceID{byte(i), byte(i >> 8), byte(i >> 16), 7}
		m.Put(JobContext{JobID: id, TraceID: traces[i], Queue: "q", WorkerID: "w"})
	}
	i := 0
	for b.Loop() {
		if _, ok := m.ByTrace(traces[i%n]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

// Issue 18 #5: once the receiver taught a job's queue, another source's span cannot relabel it.
func TestReceiverQueueIsAuthoritative(t *testing.T) {
	m := NewMemory(10, time.Hour)
	tr := pcommon.TraceID{1}
	m.Put(JobContext{JobID: "lo1", Queue: "unknown-yet", TraceID: tr})
	m.Put(JobContext{JobID: "lo1", Queue: "low_priority", JobType: "resize", TraceID: tr, FromSpan: true, FromReceiver: true})
	m.Put(JobContext{JobID: "lo1", Queue: "high_priority", JobType: "evil", WorkerID: "w2", TraceID: tr, FromSpan: true})
	jc, ok := m.ByJob("lo1")
	if !ok || jc.Queue != "low_priority" || jc.JobType != "resize" || !jc.FromReceiver {
		t.Fatalf("relabelled: %+v", jc)
	}
	if jc.WorkerID != "w2" {
		t.Fatalf("other sources still add what the receiver does not own: %+v", jc)
	}
	if got := m.Stats().Conflicts; got != 2 {
		t.Fatalf("conflicts %d, want 2 (queue, type)", got)
	}
	// Before the receiver saw it, other sources fill in as before.
	m.Put(JobContext{JobID: "x", Queue: "a"})
	m.Put(JobContext{JobID: "x", Queue: "b"})
	if jc, _ := m.ByJob("x"); jc.Queue != "b" {
		t.Fatalf("without the receiver the latest source wins: %+v", jc)
	}
}
