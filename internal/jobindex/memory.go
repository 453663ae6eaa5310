package jobindex // import "github.com/jobtrace/jobtrace/internal/jobindex"

import (
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// internLimit bounds the table of interned worker ids, queue names and job types. Worker ids
// change on every worker restart, so the table is dropped and rebuilt when it grows past this;
// entries keep their own pointers, so dropping it only costs a little sharing.
const internLimit = 4096

const (
	flagFromSpan uint8 = 1 << iota
	flagSharedTrace
	flagFromReceiver
)

// entry is one job. Worker, queue and job type point into the intern table: thousands of jobs
// share a handful of those strings, and a pointer is half a string header. Keeping the entry
// at 96 bytes (its allocation size class) is most of the ≤300 bytes/job budget.
type entry struct {
	prev, next *entry
	jobID      string
	worker     *string
	queue      *string
	jobType    *string
	trace      pcommon.TraceID
	span       pcommon.SpanID
	expires    int64
	flags      uint8
}

// Stats counts what the index dropped.
type Stats struct {
	// Evicted counts jobs dropped because the index was full (least recently used first).
	Evicted uint64
	// Expired counts jobs dropped because they were not used for the TTL.
	Expired uint64
	// Conflicts counts Puts from other sources that disagreed with the queue or type the
	// receiver taught (kept).
	Conflicts uint64
}

// Memory is an in-memory Index bounded by a job count (LRU) and a TTL. Every Put and every
// successful lookup refreshes a job's TTL, so the LRU list is also sorted by expiry and
// expired jobs are dropped from its tail.
type Memory struct {
	mu      sync.Mutex
	max     int
	ttl     int64
	now     func() time.Time
	byJob   map[string]*entry
	byTrace map[pcommon.TraceID]*entry
	head    *entry // most recently used
	tail    *entry
	intern  map[string]*string
	stats   Stats
}

var _ Index = (*Memory)(nil)

// Option configures a Memory index.
type Option func(*Memory)

// WithClock replaces time.Now, for tests of the TTL.
func WithClock(now func() time.Time) Option { return func(m *Memory) { m.now = now } }

// NewMemory returns an index holding at most maxJobs jobs, each for ttl after its last use.
// maxJobs and ttl must be positive; callers validate their configuration first.
func NewMemory(maxJobs int, ttl time.Duration, opts ...Option) *Memory {
	m := &Memory{
		max:     maxJobs,
		ttl:     int64(ttl),
		now:     time.Now,
		byJob:   make(map[string]*entry),
		byTrace: make(map[pcommon.TraceID]*entry),
		intern:  make(map[string]*string),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Put implements Index.
func (m *Memory) Put(c JobContext) {
	if c.JobID == "" {
		return
	}
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireLocked(now)
	e := m.byJob[c.JobID]
	if e == nil {
		// Clone: the caller's string may share a large buffer (a decoded batch) that the
		// index must not keep alive.
		e = &entry{jobID: strings.Clone(c.JobID)}
		m.byJob[e.jobID] = e
		m.pushFront(e)
		for len(m.byJob) > m.max {
			m.removeLocked(m.tail)
			m.stats.Evicted++
		}
	} else {
		m.moveToFront(e)
	}
	e.expires = now + m.ttl
	if c.WorkerID != "" {
		e.worker = m.internLocked(c.WorkerID)
	}
	authoritative := c.FromReceiver || e.flags&flagFromReceiver == 0
	if c.Queue != "" && c.Queue != deref(e.queue) {
		switch {
		case authoritative || deref(e.queue) == "":
			e.queue = m.internLocked(c.Queue)
		default:
			m.stats.Conflicts++
		}
	}
	if c.JobType != "" && c.JobType != deref(e.jobType) {
		switch {
		case authoritative || deref(e.jobType) == "":
			e.jobType = m.internLocked(c.JobType)
		default:
			m.stats.Conflicts++
		}
	}
	if c.FromReceiver {
		e.flags |= flagFromReceiver
	}
	if !c.SpanID.IsEmpty() {
		e.span = c.SpanID
	}
	if c.FromSpan {
		e.flags |= flagFromSpan
	}
	if !c.TraceID.IsEmpty() && c.TraceID != e.trace {
		if !e.trace.IsEmpty() && m.byTrace[e.trace] == e {
			delete(m.byTrace, e.trace)
		}
		e.trace = c.TraceID
		e.flags &^= flagSharedTrace
		if other := m.byTrace[c.TraceID]; other != nil && other != e {
			other.flags |= flagSharedTrace
			e.flags |= flagSharedTrace
		}
		m.byTrace[c.TraceID] = e
	}
}

// ByTrace implements Index.
func (m *Memory) ByTrace(traceID pcommon.TraceID) (JobContext, bool) {
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byTrace[traceID]
	if e == nil || !m.touchLocked(e, now) || e.flags&flagSharedTrace != 0 {
		return JobContext{}, false
	}
	return e.context(), true
}

// ByJob implements Index.
func (m *Memory) ByJob(jobID string) (JobContext, bool) {
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byJob[jobID]
	if e == nil || !m.touchLocked(e, now) {
		return JobContext{}, false
	}
	return e.context(), true
}

// Len implements Index. Expired jobs are not counted.
func (m *Memory) Len() int {
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireLocked(now)
	return len(m.byJob)
}

// Stats reports how many jobs were evicted and expired so far.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// touchLocked refreshes e, or drops it and reports false when it has expired.
func (m *Memory) touchLocked(e *entry, now int64) bool {
	if e.expires <= now {
		m.removeLocked(e)
		m.stats.Expired++
		return false
	}
	e.expires = now + m.ttl
	m.moveToFront(e)
	return true
}

func (m *Memory) expireLocked(now int64) {
	for m.tail != nil && m.tail.expires <= now {
		m.removeLocked(m.tail)
		m.stats.Expired++
	}
}

func (m *Memory) internLocked(s string) *string {
	if p, ok := m.intern[s]; ok {
		return p
	}
	if len(m.intern) >= internLimit {
		clear(m.intern)
	}
	c := strings.Clone(s)
	m.intern[c] = &c
	return &c
}

func (m *Memory) removeLocked(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		m.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		m.tail = e.prev
	}
	e.prev, e.next = nil, nil
	delete(m.byJob, e.jobID)
	if !e.trace.IsEmpty() && m.byTrace[e.trace] == e {
		delete(m.byTrace, e.trace)
	}
}

func (m *Memory) pushFront(e *entry) {
	e.prev = nil
	e.next = m.head
	if m.head != nil {
		m.head.prev = e
	}
	m.head = e
	if m.tail == nil {
		m.tail = e
	}
}

func (m *Memory) moveToFront(e *entry) {
	if m.head == e {
		return
	}
	// unlink (e is not the head, so e.prev != nil)
	e.prev.next = e.next
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		m.tail = e.prev
	}
	m.pushFront(e)
}

func (e *entry) context() JobContext {
	return JobContext{
		JobID:        e.jobID,
		WorkerID:     deref(e.worker),
		Queue:        deref(e.queue),
		JobType:      deref(e.jobType),
		TraceID:      e.trace,
		SpanID:       e.span,
		FromSpan:     e.flags&flagFromSpan != 0,
		FromReceiver: e.flags&flagFromReceiver != 0,
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
