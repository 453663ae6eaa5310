package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"

import (
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// holdBuffer keeps logs whose job is not known yet. It has one FIFO queue per resource and
// scope; once a queue is non-empty, every later record of that resource and scope joins it,
// so records of one resource or scope leave in the order they came.
type holdBuffer struct {
	maxRecords int
	maxBytes   int

	mu      sync.Mutex
	queues  []*holdQueue
	records int
	bytes   int
}

type holdQueue struct {
	ld   plog.Logs // one ResourceLogs with one ScopeLogs
	rl   plog.ResourceLogs
	sl   plog.ScopeLogs
	meta []heldMeta
}

type heldMeta struct {
	keys     logKeys
	deadline int64
	size     int
}

func newHoldBuffer(maxRecords, maxBytes int) *holdBuffer {
	return &holdBuffer{maxRecords: maxRecords, maxBytes: maxBytes}
}

// empty is a cheap check for the common case; it may be stale by the time it returns,
// which only costs a lookup on the slow path.
func (h *holdBuffer) empty() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.records == 0
}

// find returns the queue of rl/sl, or nil.
func (h *holdBuffer) find(rl plog.ResourceLogs, sl plog.ScopeLogs) *holdQueue {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.findLocked(rl, sl)
}

func (h *holdBuffer) findLocked(rl plog.ResourceLogs, sl plog.ScopeLogs) *holdQueue {
	for _, q := range h.queues {
		if sameScope(q, rl, sl) {
			return q
		}
	}
	return nil
}

func sameScope(q *holdQueue, rl plog.ResourceLogs, sl plog.ScopeLogs) bool {
	qs := q.sl.Scope()
	s := sl.Scope()
	return q.rl.SchemaUrl() == rl.SchemaUrl() && q.sl.SchemaUrl() == sl.SchemaUrl() &&
		qs.Name() == s.Name() && qs.Version() == s.Version() &&
		q.rl.Resource().Attributes().Equal(rl.Resource().Attributes()) &&
		qs.Attributes().Equal(s.Attributes())
}

// add moves rec into the queue of rl/sl: the caller owns the batch (the processor mutates
// data) and removes the emptied record from it, so the held record is not copied. It reports
// false, holding nothing and leaving rec as it was, when the buffer is full.
func (h *holdBuffer) add(rl plog.ResourceLogs, sl plog.ScopeLogs, rec plog.LogRecord, m heldMeta) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.records+1 > h.maxRecords || h.bytes+m.size > h.maxBytes {
		return false
	}
	q := h.findLocked(rl, sl)
	if q == nil {
		q = &holdQueue{ld: plog.NewLogs()}
		q.rl = q.ld.ResourceLogs().AppendEmpty()
		rl.Resource().CopyTo(q.rl.Resource())
		q.rl.SetSchemaUrl(rl.SchemaUrl())
		q.sl = q.rl.ScopeLogs().AppendEmpty()
		sl.Scope().CopyTo(q.sl.Scope())
		q.sl.SetSchemaUrl(sl.SchemaUrl())
		// Sized for the scope's records, most of which follow this one here when their
		// traces are unknown: growing by doubling allocated twice what was held.
		n := min(sl.LogRecords().Len(), h.maxRecords-h.records)
		q.sl.LogRecords().EnsureCapacity(n)
		q.meta = make([]heldMeta, 0, n)
		h.queues = append(h.queues, q)
	}
	rec.MoveTo(q.sl.LogRecords().AppendEmpty())
	q.meta = append(q.meta, m)
	h.records++
	h.bytes += m.size
	return true
}

// takeAll removes the queue of rl/sl, if any, and returns its records.
func (h *holdBuffer) takeAll(rl plog.ResourceLogs, sl plog.ScopeLogs) (plog.Logs, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.findLocked(rl, sl)
	if q == nil {
		return plog.Logs{}, false
	}
	h.removeLocked(q)
	return q.ld, true
}

// release removes, from the front of every queue, the records ready to go: those ready()
// accepts, and all whose deadline passed. It stops a queue at its first record that must
// still wait, to keep order. all releases everything (shutdown).
func (h *holdBuffer) release(now int64, all bool, ready func(logKeys) bool) plog.Logs {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := plog.NewLogs()
	for _, q := range append([]*holdQueue(nil), h.queues...) {
		n := 0
		for n < len(q.meta) && (all || q.meta[n].deadline <= now || ready(q.meta[n].keys)) {
			n++
		}
		if n == 0 {
			continue
		}
		if n == len(q.meta) {
			h.removeLocked(q)
			q.ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
			continue
		}
		orl := out.ResourceLogs().AppendEmpty()
		q.rl.Resource().CopyTo(orl.Resource())
		orl.SetSchemaUrl(q.rl.SchemaUrl())
		osl := orl.ScopeLogs().AppendEmpty()
		q.sl.Scope().CopyTo(osl.Scope())
		osl.SetSchemaUrl(q.sl.SchemaUrl())
		recs := q.sl.LogRecords()
		for i := 0; i < n; i++ {
			recs.At(i).MoveTo(osl.LogRecords().AppendEmpty())
		}
		i := 0
		recs.RemoveIf(func(plog.LogRecord) bool { i++; return i <= n })
		for _, m := range q.meta[:n] {
			h.records--
			h.bytes -= m.size
		}
		q.meta = append(q.meta[:0], q.meta[n:]...)
	}
	return out
}

func (h *holdBuffer) removeLocked(q *holdQueue) {
	for i, x := range h.queues {
		if x == q {
			h.queues = append(h.queues[:i], h.queues[i+1:]...)
			break
		}
	}
	for _, m := range q.meta {
		h.records--
		h.bytes -= m.size
	}
}

// recordSize estimates the memory a held record costs; it only has to be proportional, to
// bound the buffer by bytes.
func recordSize(rec plog.LogRecord) int {
	n := 96 + valueSize(rec.Body())
	rec.Attributes().Range(func(k string, v pcommon.Value) bool {
		n += 32 + len(k) + valueSize(v)
		return true
	})
	return n
}

func valueSize(v pcommon.Value) int {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return len(v.Str())
	case pcommon.ValueTypeBytes:
		return v.Bytes().Len()
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		return len(v.AsString())
	default:
		return 8
	}
}
