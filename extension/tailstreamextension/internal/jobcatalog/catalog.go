// Package jobcatalog keeps the recent jobs the collector saw — their attempts, status, worker
// and trace — for GET /jobs, job→trace lookups and the correlation timeline. It is fed from the
// queuejob receiver's job spans and lifecycle logs (docs/CONVENTIONS.md) and bounded by a job
// count with least-recently-updated eviction.
//
// It is separate from internal/jobindex on purpose: the index maps one job to its latest trace
// for tagging, while the catalog keeps every attempt (retries may even change the trace) and
// the lifecycle events, which the index has no room for.
package jobcatalog // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"

import (
	"cmp"
	"container/list"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/jobtrace/jobtrace/internal/conventions"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Statuses of a job, from its latest attempt.
const (
	StatusQueued       = conventions.StatusQueued
	StatusRunning      = conventions.StatusRunning
	StatusSucceeded    = conventions.StatusSucceeded
	StatusRetried      = conventions.StatusRetried
	StatusDeadLettered = conventions.StatusDeadLettered
	StatusAbandoned    = conventions.StatusAbandoned
	StatusFailed       = conventions.StatusFailed
)

// ValidStatus reports whether s is a status the API filters on.
func ValidStatus(s string) bool {
	switch s {
	case StatusQueued, StatusRunning, StatusSucceeded, StatusRetried, StatusDeadLettered, StatusAbandoned, StatusFailed:
		return true
	}
	return false
}

const (
	maxAttempts = 64  // a job retried more often keeps its latest attempts
	maxEvents   = 128 // lifecycle events kept per job
)

// Attempt is one run of a job.
type Attempt struct {
	N             int
	Status        string
	WorkerID      string
	TraceID       pcommon.TraceID
	SpanID        pcommon.SpanID
	ParentSpanID  pcommon.SpanID
	Started       time.Time
	Ended         time.Time
	Format        string // job.trace.format
	ExtractedFrom string // job.trace.extracted_from
	FromSpan      bool   // a job span described it (not only logs)
	Links         []pcommon.TraceID
	// FromReceiver: the queuejob receiver observed this attempt, so its status is the
	// receiver's and other sources no longer change it.
	FromReceiver bool
	// ConsumerSpanID is an instrumentation's consumer span of this attempt, when one was seen.
	ConsumerSpanID pcommon.SpanID
}

// Event is one lifecycle log of a job.
type Event struct {
	Time     time.Time
	Name     string // event.name, e.g. job_started
	Attempt  int
	WorkerID string
	Severity string
	Body     string
	TraceID  pcommon.TraceID
	SpanID   pcommon.SpanID
}

// Job is a snapshot of what is known about one job.
type Job struct {
	ID        string
	Queue     string
	Type      string
	FirstSeen time.Time
	Updated   time.Time
	Attempts  []Attempt // by attempt number
	Events    []Event   // in arrival order
	// QueueFromReceiver: Queue is the receiver's, which other sources do not overwrite.
	QueueFromReceiver bool
}

// Latest returns the latest attempt; ok is false when no attempt is known (only enqueued).
func (j *Job) Latest() (Attempt, bool) {
	if len(j.Attempts) == 0 {
		return Attempt{}, false
	}
	return j.Attempts[len(j.Attempts)-1], true
}

// Status is the latest attempt's status, or queued.
func (j *Job) Status() string {
	if a, ok := j.Latest(); ok && a.Status != "" {
		return a.Status
	}
	return StatusQueued
}

// TraceID is the latest known trace of the job.
func (j *Job) TraceID() pcommon.TraceID {
	for i := len(j.Attempts) - 1; i >= 0; i-- {
		if !j.Attempts[i].TraceID.IsEmpty() {
			return j.Attempts[i].TraceID
		}
	}
	for i := len(j.Events) - 1; i >= 0; i-- {
		if !j.Events[i].TraceID.IsEmpty() {
			return j.Events[i].TraceID
		}
	}
	return pcommon.TraceID{}
}

// TraceIDs lists every trace of the job (attempts, events and span links), latest first.
func (j *Job) TraceIDs() []pcommon.TraceID {
	var out []pcommon.TraceID
	add := func(id pcommon.TraceID) {
		if !id.IsEmpty() && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for i := len(j.Attempts) - 1; i >= 0; i-- {
		add(j.Attempts[i].TraceID)
	}
	for i := len(j.Events) - 1; i >= 0; i-- {
		add(j.Events[i].TraceID)
	}
	for i := len(j.Attempts) - 1; i >= 0; i-- {
		for _, l := range j.Attempts[i].Links {
			add(l)
		}
	}
	return out
}

// sortKey orders jobs newest first: the latest attempt's start, else when first seen.
func (j *Job) sortKey() int64 {
	if a, ok := j.Latest(); ok && !a.Started.IsZero() {
		return a.Started.UnixNano()
	}
	return j.FirstSeen.UnixNano()
}

// lastActivity is the latest start or end the job's records carry (their clock, not ours).
func (j *Job) lastActivity() int64 {
	k := j.sortKey()
	if a, ok := j.Latest(); ok && a.Ended.UnixNano() > k {
		k = a.Ended.UnixNano()
	}
	return k
}

// Source tells who made an observation. The receiver is authoritative for a job's queue,
// attempts and statuses (docs/CONVENTIONS.md, "Merging sources").
type Source uint8

const (
	// SourceReceiver: the queuejob receiver's job spans and lifecycle logs.
	SourceReceiver Source = iota
	// SourceInstrumentation: an instrumentation's consumer span (or any span or log that is
	// not the receiver's). It adds to a job and never overwrites the receiver's fields.
	SourceInstrumentation
)

// SpanObservation is what a job span says about an attempt.
type SpanObservation struct {
	JobID, Queue, JobType, WorkerID, Status string
	// Attempt 0 from an instrumentation means it has no retry count: the span is the next
	// attempt without a consumer span of its own.
	Attempt               int
	TraceID               pcommon.TraceID
	SpanID, ParentSpanID  pcommon.SpanID
	Start, End            time.Time
	Format, ExtractedFrom string
	Links                 []pcommon.TraceID
	Source                Source
	// Failed: an instrumentation span ended in error (Status is then left empty: the
	// catalog decides failed or retried).
	Failed bool
}

// EventObservation is what a lifecycle log says.
type EventObservation struct {
	JobID, Queue, WorkerID string
	Source                 Source
	Event
}

// Fields a conflict between sources is counted by.
const (
	ConflictQueue  = "queue"
	ConflictStatus = "status"
)

type record struct {
	job Job
	el  *list.Element
}

// Catalog is safe for concurrent use.
type Catalog struct {
	mu      sync.RWMutex
	max     int
	jobs    map[string]*record
	lru     *list.List // of job id; front = most recently updated
	byTrace map[pcommon.TraceID][]string
	bySpan  map[pcommon.SpanID]string
	now     func() time.Time
	evicted int64
	// conflicts counts, by field, observations that disagreed with the receiver's.
	conflicts  map[string]int64
	onConflict func(field string)
}

// New returns a catalog holding up to max jobs.
func New(maxJobs int) *Catalog {
	return &Catalog{
		max: maxJobs, jobs: map[string]*record{}, lru: list.New(),
		byTrace: map[pcommon.TraceID][]string{}, bySpan: map[pcommon.SpanID]string{}, now: time.Now,
		conflicts: map[string]int64{},
	}
}

// OnConflict sets a callback run (under the catalog's lock: it must not block) for each
// conflict counted; the extension forwards it to its telemetry.
func (c *Catalog) OnConflict(f func(field string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onConflict = f
}

func (c *Catalog) conflict(field string) {
	c.conflicts[field]++
	if c.onConflict != nil {
		c.onConflict(field)
	}
}

// SetMax changes the bound at runtime.
func (c *Catalog) SetMax(maxJobs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = maxJobs
	c.evictLocked()
}

// Stats are the catalog's sizes.
type Stats struct {
	Jobs      int              `json:"jobs"`
	MaxJobs   int              `json:"max_jobs"`
	Evicted   int64            `json:"evicted"`
	Conflicts map[string]int64 `json:"conflicts,omitempty"`
}

// Stats returns sizes and counters.
func (c *Catalog) Stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := Stats{Jobs: len(c.jobs), MaxJobs: c.max, Evicted: c.evicted}
	if len(c.conflicts) > 0 {
		st.Conflicts = make(map[string]int64, len(c.conflicts))
		for k, v := range c.conflicts {
			st.Conflicts[k] = v
		}
	}
	return st
}

func (c *Catalog) touch(id string) *record {
	r, ok := c.jobs[id]
	now := c.now()
	if !ok {
		r = &record{job: Job{ID: id, FirstSeen: now}}
		r.el = c.lru.PushFront(id)
		c.jobs[id] = r
	} else {
		c.lru.MoveToFront(r.el)
	}
	r.job.Updated = now
	return r
}

func (r *record) attempt(n int) *Attempt {
	if n <= 0 {
		// A record without job.attempt belongs to the latest attempt, or starts the first.
		if len(r.job.Attempts) > 0 {
			return &r.job.Attempts[len(r.job.Attempts)-1]
		}
		n = 1
	}
	i, found := slices.BinarySearchFunc(r.job.Attempts, n, func(a Attempt, n int) int { return cmp.Compare(a.N, n) })
	if !found {
		r.job.Attempts = slices.Insert(r.job.Attempts, i, Attempt{N: n})
		if len(r.job.Attempts) > maxAttempts {
			r.job.Attempts = slices.Delete(r.job.Attempts, 0, 1)
			i--
		}
		if i < 0 {
			i = 0
		}
	}
	return &r.job.Attempts[i]
}

func (c *Catalog) indexTrace(id string, tr pcommon.TraceID) {
	if tr.IsEmpty() {
		return
	}
	if ids := c.byTrace[tr]; !slices.Contains(ids, id) {
		c.byTrace[tr] = append(ids, id)
	}
}

// ObserveSpan records a job span (one attempt, ended).
func (c *Catalog) ObserveSpan(o SpanObservation) {
	if o.JobID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if o.Source != SourceReceiver {
		c.observeConsumerLocked(o)
		c.evictLocked()
		return
	}
	r := c.touch(o.JobID)
	c.setQueueLocked(r, o.Queue, o.Source)
	setIf(&r.job.Type, o.JobType)
	a := r.attempt(o.Attempt)
	setIf(&a.WorkerID, o.WorkerID)
	if o.Status != "" {
		if a.ConsumerSpanID != (pcommon.SpanID{}) && !a.FromReceiver && !compatible(a.Status, o.Status) {
			c.conflict(ConflictStatus) // the instrumentation said otherwise
		}
		a.Status = o.Status
		a.FromReceiver = true
	}
	if !o.TraceID.IsEmpty() {
		a.TraceID = o.TraceID
	}
	if !o.SpanID.IsEmpty() {
		a.SpanID = o.SpanID
		c.bySpan[o.SpanID] = o.JobID
	}
	if !o.ParentSpanID.IsEmpty() {
		a.ParentSpanID = o.ParentSpanID
	}
	if !o.Start.IsZero() {
		a.Started = o.Start
	}
	if !o.End.IsZero() && o.Status != StatusRunning {
		a.Ended = o.End
	}
	setIf(&a.Format, o.Format)
	setIf(&a.ExtractedFrom, o.ExtractedFrom)
	a.FromSpan = true
	for _, l := range o.Links {
		if !slices.Contains(a.Links, l) {
			a.Links = append(a.Links, l)
		}
	}
	c.indexTrace(o.JobID, o.TraceID)
	c.evictLocked()
}

// setQueueLocked applies a queue name: the receiver's wins, others only fill it in.
func (c *Catalog) setQueueLocked(r *record, q string, src Source) {
	switch {
	case q == "":
	case src == SourceReceiver:
		r.job.Queue, r.job.QueueFromReceiver = q, true
	case r.job.QueueFromReceiver:
		if q != r.job.Queue {
			c.conflict(ConflictQueue)
		}
	case r.job.Queue == "":
		r.job.Queue = q
	}
}

// compatible reports whether an instrumentation's view of an attempt agrees with the
// receiver's: any failure (failed, retried, dead-lettered, abandoned) matches any other.
func compatible(a, b string) bool {
	if a == "" || b == "" || a == b {
		return true
	}
	return a != StatusSucceeded && b != StatusSucceeded && a != StatusRunning && b != StatusRunning
}

// observeConsumerLocked merges an instrumentation's consumer span: it adds what is missing and
// never overwrites what the receiver observed; disagreements are counted.
func (c *Catalog) observeConsumerLocked(o SpanObservation) {
	r := c.touch(o.JobID)
	c.setQueueLocked(r, o.Queue, o.Source)
	if r.job.Type == "" {
		r.job.Type = o.JobType
	}
	a := r.consumerAttempt(o.Attempt, o.SpanID)
	if a.WorkerID == "" {
		a.WorkerID = o.WorkerID
	}
	own := StatusSucceeded
	switch {
	case o.Status != "" && o.Status != StatusRunning:
		own = o.Status // a span shaped like the receiver's, from another source
	case o.Failed:
		own = StatusFailed
	}
	n := a.N
	if a.FromReceiver {
		if !compatible(a.Status, own) {
			c.conflict(ConflictStatus)
		}
	} else {
		a.Status = own
		if own == StatusFailed && r.laterAttempt(n) {
			a.Status = StatusRetried
		}
	}
	a.ConsumerSpanID = o.SpanID
	if a.TraceID.IsEmpty() {
		a.TraceID = o.TraceID
	}
	if a.SpanID.IsEmpty() && !o.SpanID.IsEmpty() {
		a.SpanID, a.ParentSpanID = o.SpanID, o.ParentSpanID
	}
	if !o.SpanID.IsEmpty() {
		if _, taken := c.bySpan[o.SpanID]; !taken {
			c.bySpan[o.SpanID] = o.JobID
		}
	}
	if a.Started.IsZero() {
		a.Started = o.Start
	}
	if a.Ended.IsZero() {
		a.Ended = o.End
	}
	if a.Format == "" {
		a.Format = o.Format
	}
	if a.ExtractedFrom == "" {
		a.ExtractedFrom = o.ExtractedFrom
	}
	for _, l := range o.Links {
		if !slices.Contains(a.Links, l) {
			a.Links = append(a.Links, l)
		}
	}
	a.FromSpan = true
	// A later attempt of the same message means the earlier failed ones were retried.
	for i := range r.job.Attempts {
		b := &r.job.Attempts[i]
		if b.N < n && !b.FromReceiver && b.Status == StatusFailed {
			b.Status = StatusRetried
		}
	}
	c.indexTrace(o.JobID, o.TraceID)
}

// consumerAttempt finds the attempt an instrumentation span describes: its own number when
// the instrumentation counts attempts, the attempt that already has this span, or else the
// first attempt without a consumer span (one attempt per distinct consumer span).
func (r *record) consumerAttempt(n int, span pcommon.SpanID) *Attempt {
	if n > 0 {
		return r.attempt(n)
	}
	next := 1
	for i := range r.job.Attempts {
		a := &r.job.Attempts[i]
		if !span.IsEmpty() && a.ConsumerSpanID == span {
			return a
		}
		if a.ConsumerSpanID.IsEmpty() {
			return a
		}
		next = a.N + 1
	}
	return r.attempt(next)
}

func (r *record) laterAttempt(n int) bool {
	for _, a := range r.job.Attempts {
		if a.N > n {
			return true
		}
	}
	return false
}

// ObserveEvent records a lifecycle log.
func (c *Catalog) ObserveEvent(o EventObservation) {
	if o.JobID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.touch(o.JobID)
	c.setQueueLocked(r, o.Queue, o.Source)
	r.job.Events = append(r.job.Events, o.Event)
	if len(r.job.Events) > maxEvents {
		r.job.Events = slices.Delete(r.job.Events, 0, len(r.job.Events)-maxEvents)
	}
	c.indexTrace(o.JobID, o.TraceID)
	if o.Name == conventions.EventJobEnqueued {
		c.evictLocked()
		return
	}
	if o.Source != SourceReceiver && r.receiverSeen() {
		// Another source's lifecycle log of a job the receiver observed: kept as an event, but
		// its attempts and statuses stay the receiver's.
		if st, ends := conventions.StatusOfEvent(o.Name); ends {
			if a, ok := r.find(o.Attempt); ok && a.FromReceiver && !compatible(a.Status, st) {
				c.conflict(ConflictStatus)
			}
		}
		c.evictLocked()
		return
	}
	a := r.attempt(o.Attempt)
	setIf(&a.WorkerID, o.WorkerID)
	if a.TraceID.IsEmpty() {
		a.TraceID = o.TraceID
	}
	if a.SpanID.IsEmpty() && !o.SpanID.IsEmpty() {
		a.SpanID = o.SpanID
		c.bySpan[o.SpanID] = o.JobID
	}
	switch o.Name {
	case conventions.EventJobStarted:
		if a.Started.IsZero() || !a.FromSpan {
			a.Started = o.Time
		}
		if a.Status == "" {
			a.Status = StatusRunning
		}
	case conventions.EventJobSucceeded, conventions.EventJobRetried, conventions.EventJobDeadLettered, conventions.EventJobAbandoned:
		// The span, when it comes, has the exact times; the log only fills what is missing.
		if !a.FromSpan || o.Source == SourceReceiver && !a.FromReceiver {
			a.Status, _ = conventions.StatusOfEvent(o.Name)
			if a.Ended.IsZero() {
				a.Ended = o.Time
			}
		}
		if o.Source == SourceReceiver {
			a.FromReceiver = true
		}
	}
	c.evictLocked()
}

// receiverSeen reports whether the receiver observed the job at all.
func (r *record) receiverSeen() bool {
	if r.job.QueueFromReceiver {
		return true
	}
	for _, a := range r.job.Attempts {
		if a.FromReceiver {
			return true
		}
	}
	return false
}

func (r *record) find(n int) (*Attempt, bool) {
	if n <= 0 {
		if len(r.job.Attempts) == 0 {
			return nil, false
		}
		return &r.job.Attempts[len(r.job.Attempts)-1], true
	}
	for i := range r.job.Attempts {
		if r.job.Attempts[i].N == n {
			return &r.job.Attempts[i], true
		}
	}
	return nil, false
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func (c *Catalog) evictLocked() {
	for len(c.jobs) > c.max && c.lru.Len() > 0 {
		el := c.lru.Back()
		id := el.Value.(string)
		c.lru.Remove(el)
		r := c.jobs[id]
		delete(c.jobs, id)
		c.evicted++
		for _, tr := range r.job.TraceIDs() {
			ids := slices.DeleteFunc(c.byTrace[tr], func(s string) bool { return s == id })
			if len(ids) == 0 {
				delete(c.byTrace, tr)
			} else {
				c.byTrace[tr] = ids
			}
		}
		for _, a := range r.job.Attempts {
			if c.bySpan[a.SpanID] == id {
				delete(c.bySpan, a.SpanID)
			}
		}
	}
}

func (j *Job) clone() Job {
	out := *j
	out.Attempts = slices.Clone(j.Attempts)
	out.Events = slices.Clone(j.Events)
	return out
}

// InsideAttempt reports whether a span of trace tr from start to end lies within another span
// of one of the job's attempts in the same trace.
func (c *Catalog) InsideAttempt(jobID string, tr pcommon.TraceID, span pcommon.SpanID, start, end time.Time) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.jobs[jobID]
	if !ok {
		return false
	}
	for _, a := range r.job.Attempts {
		if a.TraceID != tr || a.Started.IsZero() || a.Ended.IsZero() || a.SpanID == span || a.ConsumerSpanID == span {
			continue
		}
		if !start.Before(a.Started) && !end.After(a.Ended) {
			return true
		}
	}
	return false
}

// Get returns a copy of the job.
func (c *Catalog) Get(id string) (Job, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.jobs[id]
	if !ok {
		return Job{}, false
	}
	return r.job.clone(), true
}

// Owner is the job a log line belongs to, for attribution.
type Owner struct {
	JobID, Queue, WorkerID string
}

// SpanOwner returns the job whose attempt span (or an instrumentation's consumer span of an
// attempt) is spanID, with that attempt's worker. It copies nothing: the log ingest path
// calls it per line.
func (c *Catalog) SpanOwner(spanID pcommon.SpanID) (Owner, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.bySpan[spanID]
	if !ok {
		return Owner{}, false
	}
	r, ok := c.jobs[id]
	if !ok {
		return Owner{}, false
	}
	o := Owner{JobID: id, Queue: r.job.Queue}
	for i := len(r.job.Attempts) - 1; i >= 0; i-- {
		if a := &r.job.Attempts[i]; a.SpanID == spanID || a.ConsumerSpanID == spanID {
			o.WorkerID = a.WorkerID
			break
		}
	}
	return o, true
}

// TraceOwner returns the job that ran in trace tr, with the worker of its latest attempt
// there, when exactly one job did: a trace holding several (a job that enqueued jobs in its
// own trace) names none of them. It copies nothing, like SpanOwner.
func (c *Catalog) TraceOwner(tr pcommon.TraceID) (Owner, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := c.byTrace[tr]
	if len(ids) != 1 {
		return Owner{}, false
	}
	r, ok := c.jobs[ids[0]]
	if !ok {
		return Owner{}, false
	}
	o := Owner{JobID: ids[0], Queue: r.job.Queue}
	for i := len(r.job.Attempts) - 1; i >= 0; i-- {
		if a := &r.job.Attempts[i]; a.TraceID == tr {
			o.WorkerID = a.WorkerID
			break
		}
	}
	return o, true
}

// JobsInTrace lists the ids of the jobs that ran in the trace.
func (c *Catalog) JobsInTrace(tr pcommon.TraceID) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.byTrace[tr])
}

// JobBySpan returns the job whose attempt span is spanID.
func (c *Catalog) JobBySpan(spanID pcommon.SpanID) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.bySpan[spanID]
	return id, ok
}

// Filter selects jobs for List. Zero fields match everything.
type Filter struct {
	Queue    string
	Status   string
	WorkerID string
	Since    time.Time
	// Allow, when set, hides jobs outside the caller's scope.
	Allow func(j *Job) bool
}

// ErrBadCursor is returned for a cursor this catalog did not produce.
var ErrBadCursor = errors.New("malformed cursor")

// List returns up to limit jobs matching f, newest first, after cursor, and the cursor of the
// next page ("" when there is none). The cursor is the position (sort key, id) of the last
// job returned, so pages stay stable while new jobs arrive at the top.
func (c *Catalog) List(f Filter, limit int, cursor string) ([]Job, string, error) {
	var afterKey int64
	var afterID string
	if cursor != "" {
		var err error
		if afterKey, afterID, err = decodeCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	type ref struct {
		key int64
		r   *record
	}
	c.mu.RLock()
	refs := make([]ref, 0, len(c.jobs))
	for _, r := range c.jobs {
		j := &r.job
		if !matches(j, f) {
			continue
		}
		k := j.sortKey()
		if cursor != "" && (k > afterKey || (k == afterKey && j.ID >= afterID)) {
			continue
		}
		refs = append(refs, ref{k, r})
	}
	slices.SortFunc(refs, func(a, b ref) int {
		if c := cmp.Compare(b.key, a.key); c != 0 {
			return c
		}
		return strings.Compare(b.r.job.ID, a.r.job.ID)
	})
	next := ""
	if len(refs) > limit {
		refs = refs[:limit]
		last := refs[len(refs)-1]
		next = encodeCursor(last.key, last.r.job.ID)
	}
	out := make([]Job, len(refs))
	for i, rf := range refs {
		out[i] = rf.r.job.clone()
	}
	c.mu.RUnlock()
	return out, next, nil
}

func matches(j *Job, f Filter) bool {
	if f.Queue != "" && j.Queue != f.Queue {
		return false
	}
	if f.Status != "" && j.Status() != f.Status {
		return false
	}
	if f.WorkerID != "" {
		a, _ := j.Latest()
		if a.WorkerID != f.WorkerID {
			return false
		}
	}
	if !f.Since.IsZero() && j.lastActivity() < f.Since.UnixNano() {
		return false
	}
	if f.Allow != nil && !f.Allow(j) {
		return false
	}
	return true
}

func encodeCursor(key int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(key, 10) + ":" + id))
}

func decodeCursor(s string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	k, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return 0, "", ErrBadCursor
	}
	key, err := strconv.ParseInt(k, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %w", ErrBadCursor, err)
	}
	return key, id, nil
}
