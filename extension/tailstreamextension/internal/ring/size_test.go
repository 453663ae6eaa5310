package ring

import (
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Two realistic lines: the live-tail burst's app line (a body with a trace id, service.name on
// the resource) and a go-redis-work-queue worker line as file_log and jobcorrelation leave it.
func burstLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "burst-app")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for k := 0; k < n; k++ {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr("order " + strconv.Itoa(k) + " placed by ****")
		var id pcommon.TraceID
		id[0] = 0x66
		for j := 1; j < 9; j++ {
			id[j] = byte(k >> (8 * (j - 1)))
		}
		lr.SetTraceID(id)
	}
	return ld
}

func workerLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "worker")
	sl := rl.ScopeLogs().AppendEmpty()
	lrs := sl.LogRecords()
	for k := 0; k < n; k++ {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr("job completed")
		var tid pcommon.TraceID
		var sid pcommon.SpanID
		tid[0], tid[1], tid[2] = 0x4b, byte(k), byte(k>>8)
		sid[0], sid[1], sid[2] = 0x1c, byte(k), byte(k>>8)
		lr.SetTraceID(tid)
		lr.SetSpanID(sid)
		job := "job-" + strconv.Itoa(k)
		worker := "host-a-4242-1733040000000000000-beef-" + strconv.Itoa(k%4)
		a := lr.Attributes()
		a.PutStr("id", job)
		a.PutStr("worker_id", worker)
		a.PutStr("trace_id", tid.String())
		a.PutStr("span_id", sid.String())
		a.PutStr("caller", "worker/worker.go:212")
		a.PutStr("log.file.path", "/var/log/worker/worker-1.log")
		a.PutStr("job.id", job)
		a.PutStr("worker.id", worker)
		a.PutStr("worker.host", "host-a")
		a.PutInt("worker.pid", 4242)
		a.PutInt("worker.slot", int64(k%4))
		a.PutStr("queue.name", "high_priority")
	}
	return ld
}

// bigLogs: a 10 KB body (a stack trace) with a nested attribute, the lines a count bound
// alone does not bound.
func bigLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for k := 0; k < n; k++ {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr(strings.Repeat("at com.example.Worker.run(Worker.java:42)\n", 240) + strconv.Itoa(k))
		m := lr.Attributes().PutEmptyMap("http")
		m.PutStr("url", "https://example.com/orders/"+strconv.Itoa(k))
		m.PutInt("status", 500)
	}
	return ld
}

func entriesOf(ld plog.Logs, now time.Time) []*Entry {
	var out []*Entry
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sh := NewShared(rls.At(i).Resource(), sls.At(j).Scope())
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				out = append(out, FromShared(sh, lrs.At(k), now))
			}
		}
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// fillHeap returns the heap bytes a full ring of n lines of kind takes, per line, and the
// ring's own estimate (Size) per line. The pdata the lines came from is released first, as the
// pipeline releases it; streamed is the fraction of lines whose JSON was asked for.
func fillHeap(n int, kind func(int) plog.Logs, streamed float64) (heap, estimate float64) {
	now := time.Now()
	before := heapInUse()
	b := New(n, time.Hour)
	b.SetMaxBytes(1 << 40) // only to have it count
	const per = 1000
	for i := 0; i < n; i += per {
		es := entriesOf(kind(per), now)
		b.Append(es)
		for k, e := range es {
			if float64(k%100) < streamed*100 {
				_ = e.JSON()
			}
		}
	}
	after := heapInUse()
	runtime.KeepAlive(b)
	return float64(after-before) / float64(n), float64(b.Bytes()) / float64(n)
}

// sizeCases are the lines the byte figures are taken for; streamed is the fraction whose JSON
// was asked for (live fan-out asks every streamed line's).
var sizeCases = []struct {
	name     string
	kind     func(int) plog.Logs
	streamed float64
}{
	{"burst_app_line", burstLogs, 0},
	{"burst_app_line_streamed", burstLogs, 1},
	{"worker_line", workerLogs, 0},
	{"worker_line_streamed", workerLogs, 1},
	{"10KB_line", bigLogs, 0},
}

// BenchmarkEntryBytes reports the heap one ring line takes (B/line) for realistic lines, and
// what the ring's estimate says (est-B/line): retention.max_bytes is only as good as that.
func BenchmarkEntryBytes(b *testing.B) {
	for _, c := range sizeCases {
		b.Run(c.name, func(b *testing.B) {
			var heap, est float64
			for i := 0; i < b.N; i++ {
				heap, est = fillHeap(20_000, c.kind, c.streamed)
			}
			b.ReportMetric(heap, "B/line")
			b.ReportMetric(est, "est-B/line")
		})
	}
}

// TestSizeTracksHeap: the byte estimate behind retention.max_bytes stays within a factor of
// what a full ring really takes on the heap, for lines never streamed and lines streamed.
func TestSizeTracksHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("fills rings of 20k lines")
	}
	for _, c := range sizeCases {
		t.Run(c.name, func(t *testing.T) {
			heap, est := fillHeap(20_000, c.kind, c.streamed)
			t.Logf("heap %.0f B/line, estimate %.0f B/line", heap, est)
			assert.InDelta(t, 1, est/heap, 0.2, "estimate %.0f vs heap %.0f B/line", est, heap)
		})
	}
	assert.EqualValues(t, entryBytes-12, unsafe.Sizeof(Entry{}), "entryBytes must follow the struct (keep it a size class)")
}

// BenchmarkFromShared is the conversion cost per line on the ingest path, and
// BenchmarkEntryJSON the marshalling each streamed line pays once.
func BenchmarkFromShared(b *testing.B) {
	for _, c := range []struct {
		name string
		kind func(int) plog.Logs
	}{{"burst_app_line", burstLogs}, {"worker_line", workerLogs}} {
		b.Run(c.name, func(b *testing.B) {
			ld := c.kind(1000)
			rl := ld.ResourceLogs().At(0)
			sl := rl.ScopeLogs().At(0)
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sh := NewShared(rl.Resource(), sl.Scope())
				_ = FromShared(sh, sl.LogRecords().At(i%1000), now)
			}
		})
	}
}

func BenchmarkEntryJSON(b *testing.B) {
	es := entriesOf(workerLogs(1000), time.Now())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := es[i%1000]
		if _, err := e.appendJSON(make([]byte, 0, e.jsonSizeHint())); err != nil { // what JSON does on a cache miss
			b.Fatal(err)
		}
	}
}

// BenchmarkEntryJSONReflect is the encoding/json path JSON took before the hand-written encoder.
func BenchmarkEntryJSONReflect(b *testing.B) {
	var refs []any
	for _, e := range entriesOf(workerLogs(1000), time.Now()) {
		refs = append(refs, reflectValue(e))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := json.Marshal(refs[i%1000]); err != nil {
			b.Fatal(err)
		}
	}
}
