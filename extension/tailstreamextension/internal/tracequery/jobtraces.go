package tracequery

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// jobTraceIndex maps every job id seen on a span to its latest trace, bounded like the
// catalog. It answers JobTrace for job ids that no job span described (a trace tagged by
// jobcorrelation, a producer span) without making them jobs.
type jobTraceIndex struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, pcommon.TraceID]
}

func newJobTraceIndex(n int) *jobTraceIndex {
	l, _ := simplelru.NewLRU[string, pcommon.TraceID](n, nil)
	return &jobTraceIndex{lru: l}
}

func (x *jobTraceIndex) put(jobID string, tr pcommon.TraceID) {
	if tr.IsEmpty() {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.lru.Peek(jobID); ok && old == tr {
		return
	}
	x.lru.Add(jobID, tr)
}

func (x *jobTraceIndex) get(jobID string) (pcommon.TraceID, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lru.Get(jobID)
}

func (x *jobTraceIndex) setMax(n int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.lru.Resize(n)
}
