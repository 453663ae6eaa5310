// Package explain answers "why did this job fail?" from what the extension already holds: the
// job's attempts (from the job catalog), the spans of its traces, and its log lines. It knows
// no HTTP and does no I/O: the caller gathers the inputs, Explain works them out.
//
// Per attempt it finds the subtree of spans the attempt ran (its job span, an instrumented
// consumer span of the same attempt, and their descendants, never another job's spans), that
// subtree's critical path (internal/critpath), the first error span, the best error message
// available, and the attempt's warning and error lines with the lines that led up to the
// first error. Over the job it tells whether the latest attempt failed like the one before, how
// it differs from a recent successful run of the same job type, and says it in one sentence.
package explain // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/explain"

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/critpath"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/errnorm"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// Error sources, best first.
const (
	SourceSpanEvent  = "span_event"
	SourceSpanStatus = "span_status"
	SourceLog        = "log"
	SourceQueue      = "queue"
)

// Semantic-convention names of exception events (OpenTelemetry exceptions spec).
const (
	eventException          = "exception"
	attrExceptionType       = "exception.type"
	attrExceptionMessage    = "exception.message"
	attrExceptionStacktrace = "exception.stacktrace"
	attrErrorType           = "error.type"
)

// Defaults of Options.
const (
	DefaultContextLines = 20
	DefaultMaxLogs      = 100      // per attempt
	DefaultMaxLogBytes  = 64 << 10 // per attempt, LogEntry JSON bytes
	DefaultMaxTotalLogs = 500      // per answer
	DefaultMaxTotalLogB = 512 << 10
	maxSlower           = 5
	maxNames            = 50 // spans_missing / spans_extra entries
)

// Job is what the catalog knows of the job.
type Job struct {
	ID, Queue, Type, Status string
	Attempts                []Attempt // by attempt number
}

// Attempt is one run of the job.
type Attempt struct {
	N                    int
	Status               string
	WorkerID             string
	TraceID              pcommon.TraceID
	SpanID, ParentSpanID pcommon.SpanID
	// Enqueued is when the attempt was queued, when a lifecycle log said so; otherwise Explain
	// works it out (the previous attempt's end, or the end of the enqueue span).
	Enqueued, Started, Ended time.Time
}

// Failed reports whether the attempt ended without success.
func (a *Attempt) Failed() bool {
	switch a.Status {
	case conventions.StatusRetried, conventions.StatusDeadLettered, conventions.StatusAbandoned, conventions.StatusFailed:
		return true
	}
	return false
}

// Baseline is a succeeded attempt of another job to compare with.
type Baseline struct {
	JobID   string
	Attempt Attempt
	Spans   []tracecache.Span // spans of its trace
}

// Options bound the answer.
type Options struct {
	ContextLines  int // lines before the first error (default 20)
	MaxLogs       int // per attempt
	MaxLogBytes   int // per attempt
	MaxTotalLogs  int
	MaxTotalBytes int
}

func (o *Options) defaults() {
	if o.ContextLines < 0 {
		o.ContextLines = 0
	} else if o.ContextLines == 0 {
		o.ContextLines = DefaultContextLines
	}
	if o.MaxLogs <= 0 {
		o.MaxLogs = DefaultMaxLogs
	}
	if o.MaxLogBytes <= 0 {
		o.MaxLogBytes = DefaultMaxLogBytes
	}
	if o.MaxTotalLogs <= 0 {
		o.MaxTotalLogs = DefaultMaxTotalLogs
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = DefaultMaxTotalLogB
	}
}

// NoContext asks for no context lines (ContextLines 0 means the default).
const NoContext = -1

// Input is everything Explain looks at.
type Input struct {
	Job Job
	// Spans of the job's traces (any order; other jobs' spans may be among them).
	Spans []tracecache.Span
	// Partial is set when a backend could not be asked or answered with part of a trace.
	Partial bool
	// Logs are candidate lines; only those whose job id is the job's are used.
	Logs     []*ring.Entry
	Baseline *Baseline
	Options  Options
}

// Explanation is the answer of GET /jobs/{job_id}/explain.
type Explanation struct {
	JobID                 string        `json:"job_id"`
	Queue                 string        `json:"queue"`
	JobType               string        `json:"job_type,omitempty"`
	Status                string        `json:"status"`
	Summary               string        `json:"summary"`
	Attempts              []AttemptInfo `json:"attempts"`
	SameFailureAsPrevious bool          `json:"same_failure_as_previous"`
	ComparedWith          *Comparison   `json:"compared_with,omitempty"`
	Partial               bool          `json:"partial"`
	// Missing says what made the answer partial, for people reading it.
	Missing []string `json:"missing,omitempty"`
}

// AttemptInfo explains one attempt.
type AttemptInfo struct {
	Attempt        int           `json:"attempt"`
	WorkerID       string        `json:"worker_id,omitempty"`
	Status         string        `json:"status"`
	EnqueuedAt     *time.Time    `json:"enqueued_at,omitempty"`
	StartedAt      *time.Time    `json:"started_at,omitempty"`
	EndedAt        *time.Time    `json:"ended_at,omitempty"`
	WaitMS         *float64      `json:"wait_ms,omitempty"`
	RunMS          *float64      `json:"run_ms,omitempty"`
	TraceID        string        `json:"trace_id,omitempty"`
	SpanID         string        `json:"span_id,omitempty"`
	Error          *Error        `json:"error,omitempty"`
	FirstErrorSpan *ErrorSpan    `json:"first_error_span,omitempty"`
	Logs           []*ring.Entry `json:"logs"`
	LogsTruncated  bool          `json:"logs_truncated,omitempty"`
}

// Error is the best-sourced error of an attempt.
type Error struct {
	Type       string `json:"type,omitempty"`
	Message    string `json:"message"`
	Stacktrace string `json:"stacktrace,omitempty"`
	Source     string `json:"source"`
}

// ErrorSpan is the span an attempt's failure started in.
type ErrorSpan struct {
	SpanID         string     `json:"span_id"`
	Name           string     `json:"name"`
	Service        string     `json:"service,omitempty"`
	OnCriticalPath bool       `json:"on_critical_path"`
	DurationMS     float64    `json:"duration_ms"`
	StatusMessage  string     `json:"status_message,omitempty"`
	Exception      *Exception `json:"exception,omitempty"`
}

// Exception is a span's semconv exception event.
type Exception struct {
	Type       string `json:"type,omitempty"`
	Message    string `json:"message,omitempty"`
	Stacktrace string `json:"stacktrace,omitempty"`
}

// Comparison relates the latest attempt to a succeeded one of the same job type or queue.
type Comparison struct {
	JobID        string   `json:"job_id"`
	Attempt      int      `json:"attempt"`
	Status       string   `json:"status"`
	SpansMissing []string `json:"spans_missing"`
	SpansExtra   []string `json:"spans_extra"`
	Slower       []Slower `json:"slower"`
}

// Slower is a span name that took over twice its baseline time.
type Slower struct {
	Name       string  `json:"name"`
	MS         float64 `json:"ms"`
	BaselineMS float64 `json:"baseline_ms"`
}

// attemptWork is the per-attempt state Explain builds before rendering.
type attemptWork struct {
	a        *Attempt
	spans    []*tracecache.Span // the subtree, in start order
	roots    map[pcommon.SpanID]bool
	inTree   map[pcommon.SpanID]bool
	critical map[string]bool // span id keys on the subtree's critical path
	found    bool            // the attempt's own span is among the spans
	errSpan  *tracecache.Span
	onPath   bool
	info     AttemptInfo
	key      string // what makes two failures "the same"
	errText  string // normalised message for the summary
	logs     []*ring.Entry
}

// Explain works out the explanation.
func Explain(in Input) Explanation {
	in.Options.defaults()
	job := &in.Job
	out := Explanation{JobID: job.ID, Queue: job.Queue, JobType: job.Type, Status: job.Status,
		Attempts: make([]AttemptInfo, 0, len(job.Attempts)), Partial: in.Partial}
	if in.Partial {
		out.Missing = append(out.Missing, "a trace backend could not be asked, or answered with part of the trace")
	}
	byTrace := groupByTrace(in.Spans)
	children := map[pcommon.TraceID]map[pcommon.SpanID][]*tracecache.Span{}
	works := make([]*attemptWork, len(job.Attempts))
	for i := range job.Attempts {
		a := &job.Attempts[i]
		w := &attemptWork{a: a}
		works[i] = w
		ch, ok := children[a.TraceID]
		if !ok {
			ch = childIndex(byTrace[a.TraceID])
			children[a.TraceID] = ch
		}
		w.subtree(byTrace[a.TraceID], ch, job.ID)
		if !a.SpanID.IsEmpty() && !w.found {
			out.Partial = true
			out.Missing = append(out.Missing, "the span of attempt "+strconv.Itoa(a.N))
		}
		w.criticalPath()
		if a.Failed() {
			w.pickErrorSpan()
		}
	}
	assignLogs(works, in.Logs, job.ID)
	totalN, totalB := 0, 0
	// Budgets go to the latest attempts first: they decide the job's status.
	for i := len(works) - 1; i >= 0; i-- {
		w := works[i]
		w.info = w.render(i, works, byTrace, &in.Options, &totalN, &totalB)
	}
	for _, w := range works {
		out.Attempts = append(out.Attempts, w.info)
	}
	if n := len(works); n >= 2 {
		last, prev := works[n-1], works[n-2]
		out.SameFailureAsPrevious = last.a.Failed() && prev.a.Failed() && last.key == prev.key
	}
	if n := len(works); n > 0 && works[n-1].a.Failed() && in.Baseline != nil {
		out.ComparedWith = compare(works[n-1], in.Baseline)
	}
	out.Summary = summarize(job, works)
	return out
}

func groupByTrace(spans []tracecache.Span) map[pcommon.TraceID][]*tracecache.Span {
	out := map[pcommon.TraceID][]*tracecache.Span{}
	for i := range spans {
		s := &spans[i]
		out[s.TraceID] = append(out[s.TraceID], s)
	}
	return out
}

// isJobSpanOf reports whether s is a span of attempt n of jobID that describes the attempt
// itself: the queuejob receiver's job span, or an instrumented consumer span of that attempt.
func isJobSpanOf(s *tracecache.Span, jobID string, n int) bool {
	if v, ok := s.Attr(conventions.AttrJobID); !ok || v != jobID {
		return false
	}
	att, ok := s.Attr(conventions.AttrJobAttempt)
	if !ok || att != strconv.Itoa(n) {
		return false
	}
	if _, ok := s.Attr(conventions.AttrJobStatus); ok {
		return true
	}
	return s.Kind == ptrace.SpanKindConsumer
}

// isReceiverSpan tells the queuejob receiver's job spans: their status repeats the queue's
// stored error, which is the "queue" source, not a span status of the worker.
func isReceiverSpan(s *tracecache.Span) bool {
	_, ok := s.Attr(conventions.AttrJobStatus)
	return ok
}

// childIndex maps each span id of a trace to its children; the attempts of one trace share it.
func childIndex(spans []*tracecache.Span) map[pcommon.SpanID][]*tracecache.Span {
	children := make(map[pcommon.SpanID][]*tracecache.Span, len(spans))
	for _, s := range spans {
		if !s.ParentSpanID.IsEmpty() {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		}
	}
	return children
}

// subtree collects the attempt's spans: its roots and their descendants, leaving out spans of
// other jobs (a child job's spans belong to that job).
func (w *attemptWork) subtree(spans []*tracecache.Span, children map[pcommon.SpanID][]*tracecache.Span, jobID string) {
	w.roots = map[pcommon.SpanID]bool{}
	w.inTree = map[pcommon.SpanID]bool{}
	if len(spans) == 0 {
		return
	}
	var queue []*tracecache.Span
	for _, s := range spans {
		if s.SpanID == w.a.SpanID || isJobSpanOf(s, jobID, w.a.N) {
			if s.SpanID == w.a.SpanID {
				w.found = true
			}
			if !w.roots[s.SpanID] {
				w.roots[s.SpanID] = true
				queue = append(queue, s)
			}
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if w.inTree[s.SpanID] {
			continue
		}
		w.inTree[s.SpanID] = true
		w.spans = append(w.spans, s)
		for _, c := range children[s.SpanID] {
			if v, ok := c.Attr(conventions.AttrJobID); ok && v != jobID {
				continue
			}
			queue = append(queue, c)
		}
	}
	slices.SortFunc(w.spans, func(a, b *tracecache.Span) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		return slices.Compare(a.SpanID[:], b.SpanID[:])
	})
}

func key(id pcommon.SpanID) string { return string(id[:]) }

// criticalPath runs critpath over the subtree alone: the attempt's own critical path, which
// the enqueue span (a producer the job does not block) and other jobs never enter. The
// queuejob receiver sees an attempt start and end only when it polls, so its job span may be
// narrower than the work under it; a root is widened to cover its subtree, or critpath would
// clip the worker's first spans away.
func (w *attemptWork) criticalPath() {
	w.critical = map[string]bool{}
	if len(w.spans) == 0 {
		return
	}
	lo, hi := w.spans[0].Start, w.spans[0].End
	for _, s := range w.spans {
		lo, hi = min(lo, s.Start), max(hi, s.End)
	}
	in := make([]critpath.Span, len(w.spans))
	for i, s := range w.spans {
		in[i] = critpath.Span{ID: key(s.SpanID), Start: s.Start, End: s.End, Kind: critpath.Kind(s.Kind)}
		if !w.roots[s.SpanID] && w.inTree[s.ParentSpanID] {
			in[i].Parent = key(s.ParentSpanID)
		} else {
			in[i].Start, in[i].End = lo, hi
		}
	}
	for _, sec := range critpath.Compute(in) {
		w.critical[sec.SpanID] = true
	}
}

func hasException(s *tracecache.Span) bool {
	for i := range s.Events {
		if s.Events[i].Name == eventException {
			return true
		}
	}
	return false
}

// pickErrorSpan chooses the earliest-ending error span on the critical path, else the
// earliest-ending error span anywhere in the subtree. The queuejob receiver's job span only
// restates the job's status, so it counts only when it recorded an exception; an instrumented
// consumer span's error is the worker's own and counts.
func (w *attemptWork) pickErrorSpan() {
	var best, bestOff *tracecache.Span
	earlier := func(a, b *tracecache.Span) bool {
		if b == nil {
			return true
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Start > b.Start // the inner of two spans ending together
	}
	for _, s := range w.spans {
		if !s.IsError() || (w.roots[s.SpanID] && isReceiverSpan(s) && !hasException(s)) {
			continue
		}
		if w.critical[key(s.SpanID)] {
			if earlier(s, best) {
				best = s
			}
		} else if earlier(s, bestOff) {
			bestOff = s
		}
	}
	switch {
	case best != nil:
		w.errSpan, w.onPath = best, true
	case bestOff != nil:
		w.errSpan = bestOff
	}
}

func exceptionOf(s *tracecache.Span) *Exception {
	for i := range s.Events {
		ev := &s.Events[i]
		if ev.Name != eventException {
			continue
		}
		ex := &Exception{}
		for _, kv := range ev.Attrs {
			switch kv.Key {
			case attrExceptionType:
				ex.Type = kv.Value
			case attrExceptionMessage:
				ex.Message = kv.Value
			case attrExceptionStacktrace:
				ex.Stacktrace = kv.Value
			}
		}
		if ex.Type != "" || ex.Message != "" {
			return ex
		}
	}
	return nil
}

func nsTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func ms(d time.Duration) *float64 {
	v := float64(d) / 1e6
	return &v
}

func durMS(start, end int64) float64 {
	if end < start {
		return 0
	}
	return float64(end-start) / 1e6
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// enqueued is when the attempt was put on the queue: what a lifecycle log said; for a retry
// or a requeue, when the previous attempt ended (the job went back to the queue then); for a
// first attempt, the end of the producer span that enqueued it.
func (w *attemptWork) enqueued(i int, works []*attemptWork, byTrace map[pcommon.TraceID][]*tracecache.Span) time.Time {
	a := w.a
	if !a.Enqueued.IsZero() {
		return a.Enqueued
	}
	if i > 0 && !works[i-1].a.Ended.IsZero() {
		return works[i-1].a.Ended
	}
	if a.ParentSpanID.IsEmpty() {
		return time.Time{}
	}
	for _, s := range byTrace[a.TraceID] {
		if s.SpanID == a.ParentSpanID && s.Kind == ptrace.SpanKindProducer {
			return nsTime(s.End)
		}
	}
	return time.Time{}
}

func (w *attemptWork) render(i int, works []*attemptWork, byTrace map[pcommon.TraceID][]*tracecache.Span,
	o *Options, totalN, totalB *int,
) AttemptInfo {
	a := w.a
	info := AttemptInfo{Attempt: a.N, WorkerID: a.WorkerID, Status: a.Status,
		StartedAt: timePtr(a.Started), EndedAt: timePtr(a.Ended)}
	if info.Status == "" {
		info.Status = conventions.StatusRunning
	}
	if enq := w.enqueued(i, works, byTrace); !enq.IsZero() {
		info.EnqueuedAt = timePtr(enq)
		if !a.Started.IsZero() {
			info.WaitMS = ms(max(0, a.Started.Sub(enq)))
		}
	}
	if !a.Started.IsZero() && !a.Ended.IsZero() {
		info.RunMS = ms(max(0, a.Ended.Sub(a.Started)))
	}
	if !a.TraceID.IsEmpty() {
		info.TraceID = a.TraceID.String()
	}
	if !a.SpanID.IsEmpty() {
		info.SpanID = a.SpanID.String()
	}
	if s := w.errSpan; s != nil {
		info.FirstErrorSpan = &ErrorSpan{SpanID: s.SpanID.String(), Name: s.Name, Service: s.Service,
			OnCriticalPath: w.onPath, DurationMS: durMS(s.Start, s.End), StatusMessage: s.StatusMessage, Exception: exceptionOf(s)}
	}
	if a.Failed() {
		info.Error = w.bestError()
	}
	info.Logs, info.LogsTruncated = w.selectLogs(o, totalN, totalB)
	if info.Error != nil {
		w.errText = errnorm.Normalize(info.Error.Message)
	}
	w.key = w.errText
	if w.errSpan != nil {
		w.key = w.errSpan.Service + "\x00" + w.errSpan.Name + "\x00" + w.key
	}
	if a.Status == conventions.StatusAbandoned {
		w.key = "abandoned\x00" + w.key
	}
	return info
}

// bestError takes the error from the best source the attempt has: an exception event, a
// span status, an ERROR log line of the worker, the error the queue stored.
func (w *attemptWork) bestError() *Error {
	// 1. exception events: the first error span's, else the earliest in the subtree.
	if w.errSpan != nil {
		if ex := exceptionOf(w.errSpan); ex != nil {
			return &Error{Type: ex.Type, Message: orStr(ex.Message, ex.Type), Stacktrace: ex.Stacktrace, Source: SourceSpanEvent}
		}
	}
	var exSpan *tracecache.Span
	var exTime int64
	for _, s := range w.spans {
		for j := range s.Events {
			if ev := &s.Events[j]; ev.Name == eventException && (exSpan == nil || ev.Time < exTime) {
				if exceptionOf(s) != nil {
					exSpan, exTime = s, ev.Time
				}
			}
		}
	}
	if exSpan != nil {
		ex := exceptionOf(exSpan)
		return &Error{Type: ex.Type, Message: orStr(ex.Message, ex.Type), Stacktrace: ex.Stacktrace, Source: SourceSpanEvent}
	}
	// 2. span status messages of the worker's spans.
	if s := w.errSpan; s != nil && s.StatusMessage != "" && !isReceiverSpan(s) {
		t, _ := s.Attr(attrErrorType)
		return &Error{Type: t, Message: s.StatusMessage, Source: SourceSpanStatus}
	}
	var st *tracecache.Span
	for _, s := range w.spans {
		if s.IsError() && s.StatusMessage != "" && !isReceiverSpan(s) && (st == nil || s.End < st.End) {
			st = s
		}
	}
	if st != nil {
		t, _ := st.Attr(attrErrorType)
		return &Error{Type: t, Message: st.StatusMessage, Source: SourceSpanStatus}
	}
	// 3. the first ERROR line the worker wrote (lifecycle lines only restate the status).
	for _, e := range w.logs {
		if !isErrorLevel(e.Level) || isLifecycle(e) {
			continue
		}
		msg := firstAttr(e, "error", "error.message", attrExceptionMessage)
		if msg == "" {
			msg = e.Message
		} else if e.Message != "" && !strings.Contains(msg, e.Message) {
			msg = e.Message + ": " + msg
		}
		return &Error{Type: firstAttr(e, attrExceptionType, attrErrorType), Message: msg,
			Stacktrace: firstAttr(e, "stacktrace", attrExceptionStacktrace), Source: SourceLog}
	}
	// 4. the queue's stored error, on the job span or on the lifecycle line.
	for _, s := range w.spans {
		if w.roots[s.SpanID] && isReceiverSpan(s) {
			if e := storedError(s.Attr); e != nil {
				return e
			}
		}
	}
	for _, e := range w.logs {
		if isLifecycle(e) {
			if se := storedError(e.Attr); se != nil {
				return se
			}
		}
	}
	// bullmq-otel records BullMQ's failedReason on its consumer span's "job failed" event.
	for _, s := range w.spans {
		if !w.roots[s.SpanID] {
			continue
		}
		for i := range s.Events {
			for _, kv := range s.Events[i].Attrs {
				if kv.Key == conventions.AttrBullMQFailedReason && kv.Value != "" {
					return &Error{Message: kv.Value, Source: SourceQueue}
				}
			}
		}
	}
	return nil
}

func storedError(attr func(string) (string, bool)) *Error {
	msg, _ := attr(conventions.AttrJobErrorMessage)
	typ, _ := attr(conventions.AttrJobErrorType)
	stack, _ := attr(conventions.AttrJobErrorStacktrace)
	if msg == "" && typ == "" {
		return nil
	}
	return &Error{Type: typ, Message: orStr(msg, typ), Stacktrace: stack, Source: SourceQueue}
}

func orStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstAttr(e *ring.Entry, keys ...string) string {
	for _, k := range keys {
		if v, ok := e.Attr(k); ok && v != "" {
			return v
		}
	}
	return ""
}

func isErrorLevel(l string) bool { return l == "error" || l == "fatal" }

func isLifecycle(e *ring.Entry) bool {
	name := e.Raw.EventName
	if v, ok := e.Attr(conventions.AttrEventName); ok {
		name = v
	}
	return strings.HasPrefix(name, "job_")
}
