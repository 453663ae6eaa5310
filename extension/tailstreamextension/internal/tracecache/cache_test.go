package tracecache

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func tid(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

func sid(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

func mkSpans(trace uint64, n int) []Span {
	out := make([]Span, n)
	for i := range out {
		out[i] = Span{TraceID: tid(trace), SpanID: sid(uint64(i + 1)), Name: "op", Start: int64(i), End: int64(i + 10)}
		if i > 0 {
			out[i].ParentSpanID = sid(1)
		}
	}
	return out
}

func TestPutMergesAndDedupes(t *testing.T) {
	c := New(1<<20, time.Hour)
	all := mkSpans(1, 4)
	c.Put(all[:2])
	c.Put(all[1:]) // span 2 again, plus 3 and 4
	tr, ok := c.Get(tid(1))
	require.True(t, ok)
	assert.Len(t, tr.Spans, 4)
	assert.False(t, tr.Incomplete())
	assert.Equal(t, 4, c.Stats().Spans)

	_, ok = c.Get(tid(2))
	assert.False(t, ok)
	st := c.Stats()
	assert.Equal(t, int64(1), st.Hits)
	assert.Equal(t, int64(1), st.Misses)
}

func TestIncomplete(t *testing.T) {
	c := New(1<<20, time.Hour)
	c.Put(mkSpans(1, 3)[1:]) // root missing
	tr, _ := c.Get(tid(1))
	assert.True(t, tr.Incomplete())
	assert.True(t, (&Trace{}).Incomplete())
}

func TestEvictsLeastRecentlyUsedByBytes(t *testing.T) {
	one := mkSpans(1, 10)
	var sz int64
	for i := range one {
		sz += one[i].Size() + 16
	}
	c := New(3*sz, time.Hour) // room for three traces of this size
	for i := uint64(1); i <= 3; i++ {
		c.Put(mkSpans(i, 10))
	}
	_, ok := c.Get(tid(1)) // 1 becomes most recent; 2 is now the LRU
	require.True(t, ok)
	c.Put(mkSpans(4, 10))
	_, ok = c.Get(tid(2))
	assert.False(t, ok, "least recently used trace evicted")
	for _, id := range []uint64{1, 3, 4} {
		_, ok = c.Get(tid(id))
		assert.True(t, ok, "trace %d kept", id)
	}
	st := c.Stats()
	assert.LessOrEqual(t, st.Bytes, st.MaxBytes)
	assert.Equal(t, int64(1), st.Evicted)
}

func TestOversizedTraceDropped(t *testing.T) {
	c := New(100, time.Hour)
	c.Put(mkSpans(1, 10))
	_, ok := c.Get(tid(1))
	assert.False(t, ok)
	assert.Equal(t, int64(1), c.Stats().Oversized)
	assert.Equal(t, int64(0), c.Stats().Bytes)
}

func TestMaxAge(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New(1<<20, time.Minute)
	c.SetClock(func() time.Time { return now })
	c.Put(mkSpans(1, 2))
	now = now.Add(30 * time.Second)
	c.Put(mkSpans(2, 2))
	now = now.Add(45 * time.Second) // trace 1 is 75 s old, trace 2 45 s
	_, ok := c.Get(tid(1))
	assert.False(t, ok)
	_, ok = c.Get(tid(2))
	assert.True(t, ok)
	// The periodic sweep removes old traces nobody asks for.
	now = now.Add(2 * time.Minute)
	c.Put(mkSpans(3, 1))
	st := c.Stats()
	assert.Equal(t, 1, st.Traces)
	assert.Equal(t, int64(2), st.Expired)
}

func TestTenThousandSpanTrace(t *testing.T) {
	c := New(100<<20, time.Hour)
	spans := mkSpans(7, 10000)
	for i := 0; i < len(spans); i += 500 { // arrives in batches, like the pipeline sends it
		c.Put(spans[i : i+500])
	}
	tr, ok := c.Get(tid(7))
	require.True(t, ok)
	assert.Len(t, tr.Spans, 10000)
	s, ok := c.Span(tid(7), sid(9999))
	require.True(t, ok)
	assert.Equal(t, int64(9998), s.Start)
}

func TestSetLimitsShrinks(t *testing.T) {
	c := New(1<<20, time.Hour)
	c.Put(mkSpans(1, 10))
	c.Put(mkSpans(2, 10))
	c.SetLimits(c.Stats().Bytes/2+1, time.Hour)
	assert.Equal(t, 1, c.Stats().Traces)
}

func TestFromPdata(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "worker")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(tid(9))
	sp.SetSpanID(sid(1))
	sp.SetParentSpanID(sid(2))
	sp.SetName("process high_priority")
	sp.SetKind(ptrace.SpanKindConsumer)
	sp.SetStartTimestamp(100)
	sp.SetEndTimestamp(200)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("boom")
	sp.Attributes().PutStr("job.id", "j1")
	sp.Attributes().PutInt("job.attempt", 2)
	ev := sp.Events().AppendEmpty()
	ev.SetName("job_retried")
	ev.SetTimestamp(150)
	l := sp.Links().AppendEmpty()
	l.SetTraceID(tid(8))
	l.SetSpanID(sid(3))

	got := FromPdata(td)
	require.Len(t, got, 1)
	s := got[0]
	assert.Equal(t, "worker", s.Service)
	assert.Equal(t, ptrace.SpanKindConsumer, s.Kind)
	assert.True(t, s.IsError())
	assert.Equal(t, "boom", s.StatusMessage)
	v, _ := s.Attr("job.attempt")
	assert.Equal(t, "2", v)
	assert.Equal(t, []Event{{Time: 150, Name: "job_retried"}}, s.Events)
	assert.Equal(t, tid(8), s.Links[0].TraceID)
	assert.Greater(t, s.Size(), int64(len("process high_priority")))
}
