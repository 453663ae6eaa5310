package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"

import (
	"cmp"
	"github.com/jobtrace/jobtrace/internal/conventions"
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/jobindex"
	"github.com/jobtrace/jobtrace/internal/tracecontext"
	"github.com/jobtrace/jobtrace/internal/workerid"
)

// Attribute keys of docs/CONVENTIONS.md.
const (
	attrJobID      = conventions.AttrJobID
	attrJobType    = conventions.AttrJobType
	attrWorkerID   = conventions.AttrWorkerID
	attrWorkerHost = conventions.AttrWorkerHost
	attrWorkerPID  = conventions.AttrWorkerPID
	attrWorkerSlot = conventions.AttrWorkerSlot
	attrQueueName  = conventions.AttrQueueName
	attrMsgDest    = conventions.AttrMessagingDestinationName
)

// go-redis-work-queue's zap fields.
const (
	zapID       = "id"
	zapWorkerID = "worker_id"
	zapTS       = "ts"
	zapMsg      = "msg"
)

// counts is what one batch did, added to the telemetry once per batch.
type counts struct {
	tagged, untagged, held, conflicts int64
	// releasedEarly left before their job was known or their wait ended: the hold was full.
	releasedEarly int64
}

// correlator holds the tagging rules. It is stateless apart from the shared index, so the
// traces and logs instances of one component ID each have one over the same index.
type correlator struct {
	idx         jobindex.Index
	wholeTrace  bool
	jobIDKeys   []string
	jobMessages map[string]struct{}
	extractor   *tracecontext.Extractor
}

func newCorrelator(cfg *Config, idx jobindex.Index) (*correlator, error) {
	msgs := make(map[string]struct{}, len(cfg.JobMessages))
	for _, m := range cfg.JobMessages {
		msgs[m] = struct{}{}
	}
	ex, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
	if err != nil {
		return nil, err
	}
	return &correlator{
		idx:         idx,
		wholeTrace:  cfg.SpanTagging != SpanTaggingJobSpansOnly,
		jobIDKeys:   cfg.JobIDAttributes,
		jobMessages: msgs,
		extractor:   ex,
	}, nil
}

// memo caches the last index lookup of a batch: consecutive records mostly belong to the
// same job, and a hit then costs no lock.
type memo struct {
	valid bool
	jobID string
	trace pcommon.TraceID
	jc    jobindex.JobContext
	found bool
}

func (c *correlator) lookup(m *memo, jobID string, trace pcommon.TraceID) (jobindex.JobContext, bool) {
	if m.valid && m.jobID == jobID && m.trace == trace {
		return m.jc, m.found
	}
	var jc jobindex.JobContext
	var found bool
	switch {
	case jobID != "":
		jc, found = c.idx.ByJob(jobID)
	case !trace.IsEmpty():
		jc, found = c.idx.ByTrace(trace)
	default:
		return jc, false
	}
	*m = memo{valid: true, jobID: jobID, trace: trace, jc: jc, found: found}
	return jc, found
}

// logKeys is what a log record says about itself.
type logKeys struct {
	jobID string
	trace pcommon.TraceID
	// complete: the record names its job, worker, queue, job type and trace itself (the
	// queuejob receiver's lifecycle logs do), so no span could add a tag to it.
	complete bool
}

// prepareLog turns what the record says about itself into the conventions' attributes and
// trace context (upstream zap fields, common job-id keys), teaches the index when the
// record links a job to a trace, and looks its job up.
func (c *correlator) prepareLog(rec plog.LogRecord, m *memo) (logKeys, jobindex.JobContext, bool) {
	attrs := rec.Attributes()
	var k logKeys
	k.jobID = strAttr(attrs, attrJobID)
	if k.jobID == "" {
		if k.jobID = c.jobIDFromLog(rec, attrs); k.jobID != "" {
			attrs.PutStr(attrJobID, k.jobID)
		}
	}
	worker := strAttr(attrs, attrWorkerID)
	if worker == "" {
		if worker = strAttr(attrs, zapWorkerID); worker != "" {
			attrs.PutStr(attrWorkerID, worker)
		}
	}
	k.trace = rec.TraceID()
	if k.trace.IsEmpty() {
		// upstream trace_id/span_id, and any other carrier the receiver understands
		// (traceparent, b3, headers maps...).
		if tc, ok := c.extractor.ExtractAttributes(attrs); ok {
			rec.SetTraceID(tc.PTraceID())
			if rec.SpanID().IsEmpty() {
				rec.SetSpanID(tc.PSpanID())
			}
			k.trace = tc.PTraceID()
		}
	}
	if rec.Timestamp() == 0 {
		if v, ok := attrs.Get(zapTS); ok && v.Type() == pcommon.ValueTypeDouble {
			rec.SetTimestamp(epochSeconds(v.Double()))
		}
	}

	k.complete = k.jobID != "" && worker != "" && !k.trace.IsEmpty() &&
		strAttr(attrs, attrQueueName) != "" && strAttr(attrs, attrJobType) != ""
	jc, found := c.lookup(m, k.jobID, k.trace)
	// Spans are the authority on a job; a log only teaches what no span told yet, so a late
	// line from an earlier attempt does not move the job back to its old worker.
	if k.jobID != "" && !k.trace.IsEmpty() && (!found || !jc.FromSpan && (jc.TraceID != k.trace || worker != "" && jc.WorkerID != worker)) {
		c.idx.Put(jobindex.JobContext{JobID: k.jobID, TraceID: k.trace, WorkerID: worker})
		m.valid = false
		jc, found = c.lookup(m, k.jobID, k.trace)
	}
	return k, jc, found
}

func (c *correlator) jobIDFromLog(rec plog.LogRecord, attrs pcommon.Map) string {
	if len(c.jobMessages) > 0 && c.isJobMessage(rec, attrs) {
		if id := strAttr(attrs, zapID); id != "" {
			return id
		}
	}
	return c.jobIDFromKeys(attrs)
}

// isJobMessage checks the body and, for lines parsed without moving msg to the body, the
// msg attribute.
func (c *correlator) isJobMessage(rec plog.LogRecord, attrs pcommon.Map) bool {
	if b := rec.Body(); b.Type() == pcommon.ValueTypeStr {
		if _, ok := c.jobMessages[b.Str()]; ok {
			return true
		}
	}
	_, ok := c.jobMessages[strAttr(attrs, zapMsg)]
	return ok
}

func (c *correlator) jobIDFromKeys(attrs pcommon.Map) string {
	for _, key := range c.jobIDKeys {
		v, ok := attrs.Get(key)
		if !ok {
			continue
		}
		switch v.Type() {
		case pcommon.ValueTypeStr:
			if s := v.Str(); s != "" {
				return s
			}
		case pcommon.ValueTypeInt:
			// BullMQ's default job ids are numbers.
			return strconv.FormatInt(v.Int(), 10)
		}
	}
	return ""
}

// finishLog tags a record that leaves the processor, with the job context when it was
// found, and splits its worker id either way.
func (c *correlator) finishLog(rec plog.LogRecord, jc jobindex.JobContext, found bool, n *counts) {
	attrs := rec.Attributes()
	if found {
		n.tagged++
		// Up to seven keys are added; growing the slice once beats growing it per key.
		attrs.EnsureCapacity(attrs.Len() + 7)
		n.conflicts += putStr(attrs, attrJobID, jc.JobID)
		n.conflicts += putStr(attrs, attrWorkerID, jc.WorkerID)
		n.conflicts += putStr(attrs, attrQueueName, jc.Queue)
		n.conflicts += putStr(attrs, attrJobType, jc.JobType)
		switch t := rec.TraceID(); {
		case t.IsEmpty():
			rec.SetTraceID(jc.TraceID)
			if rec.SpanID().IsEmpty() {
				rec.SetSpanID(jc.SpanID)
			}
		case t != jc.TraceID && !jc.TraceID.IsEmpty():
			n.conflicts++
		}
	} else {
		n.untagged++
	}
	n.conflicts += putWorkerParts(attrs)
}

// spanJobID is the job a span names itself, if any.
func (c *correlator) spanJobID(attrs pcommon.Map) string {
	if id := strAttr(attrs, attrJobID); id != "" {
		return id
	}
	return c.jobIDFromKeys(attrs)
}

// spanJob is spanJobID, except that an instrumentation's consumer span without job.id names
// its job its own way (bullmq-otel's <queue>:<id>, messaging.message_id): the rules of the
// extension's catalog, jobindex.ConsumerJob.
func (c *correlator) spanJob(span ptrace.Span, attrs pcommon.Map) (string, jobindex.SpanJob) {
	if span.Kind() == ptrace.SpanKindConsumer && strAttr(attrs, attrJobID) == "" {
		if j, ok := jobindex.ConsumerJob(attrGetter(attrs), c.jobIDKeys); ok {
			return j.ID, j
		}
	}
	return c.spanJobID(attrs), jobindex.SpanJob{}
}

// learnSpans teaches the index every job named by a span of td, before any span is tagged,
// so spans and the job span of the same batch tag each other. It reports whether it learned.
func (c *correlator) learnSpans(td ptrace.Traces) bool {
	learned := false
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			fromReceiver := sss.At(j).Scope().Name() == conventions.ReceiverScope
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				attrs := span.Attributes()
				jobID, sj := c.spanJob(span, attrs)
				if jobID == "" || span.TraceID().IsEmpty() {
					continue
				}
				queue := strAttr(attrs, attrQueueName)
				if queue == "" {
					queue = strAttr(attrs, attrMsgDest)
				}
				jc := jobindex.JobContext{
					JobID:    jobID,
					WorkerID: cmp.Or(strAttr(attrs, attrWorkerID), sj.Worker),
					Queue:    cmp.Or(queue, sj.Queue),
					JobType:  cmp.Or(strAttr(attrs, attrJobType), sj.Type),
					TraceID:  span.TraceID(),
				}
				if span.Kind() == ptrace.SpanKindProducer {
					// The enqueueing side: its trace is where the job was sent from, which a
					// consumer span may replace; it must never replace the consumer's. Its
					// destination is the producer's address (a Redis key, an exchange), not
					// necessarily the queue name consumers and the queuejob receiver use.
					if _, known := c.idx.ByJob(jobID); known {
						continue
					}
					jc.Queue = ""
				} else {
					jc.SpanID = span.SpanID()
					jc.FromSpan = true
					// The receiver's job span is authoritative for the job's queue and type.
					_, hasStatus := attrs.Get(conventions.AttrJobStatus)
					jc.FromReceiver = fromReceiver && hasStatus
				}
				c.idx.Put(jc)
				learned = true
			}
		}
	}
	return learned
}

// tagSpans adds job context to the spans of td; it returns how many got something, and
// the conflicts.
func (c *correlator) tagSpans(td ptrace.Traces) (tagged, conflicts int64) {
	var m memo
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				attrs := span.Attributes()
				jobID, _ := c.spanJob(span, attrs)
				if jobID == "" && !c.wholeTrace {
					continue
				}
				jc, found := c.lookup(&m, jobID, span.TraceID())
				if !found {
					continue
				}
				before := attrs.Len()
				conflicts += putStr(attrs, attrJobID, jc.JobID)
				conflicts += putStr(attrs, attrWorkerID, jc.WorkerID)
				conflicts += putStr(attrs, attrQueueName, jc.Queue)
				conflicts += putStr(attrs, attrJobType, jc.JobType)
				if attrs.Len() > before {
					tagged++
				}
			}
		}
	}
	return tagged, conflicts
}

// putWorkerParts splits worker.id into host, pid and slot when it has the upstream form.
func putWorkerParts(attrs pcommon.Map) int64 {
	w := strAttr(attrs, attrWorkerID)
	if w == "" {
		return 0
	}
	id, ok := workerid.Parse(w)
	if !ok {
		return 0
	}
	return putStr(attrs, attrWorkerHost, id.Host) +
		putInt(attrs, attrWorkerPID, id.PID) +
		putInt(attrs, attrWorkerSlot, id.Slot)
}

func attrGetter(m pcommon.Map) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m.Get(k)
		if !ok {
			return "", false
		}
		return v.AsString(), true
	}
}

func strAttr(m pcommon.Map, k string) string {
	v, ok := m.Get(k)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	return v.Str()
}

// putStr sets k to v unless the record already has a value; a different existing value is
// kept and reported as one conflict.
func putStr(m pcommon.Map, k, v string) int64 {
	if v == "" {
		return 0
	}
	if cur, ok := m.Get(k); ok {
		if cur.Type() == pcommon.ValueTypeStr && cur.Str() == v || cur.AsString() == v {
			return 0
		}
		return 1
	}
	m.PutStr(k, v)
	return 0
}

func putInt(m pcommon.Map, k string, v int64) int64 {
	if cur, ok := m.Get(k); ok {
		if cur.Type() == pcommon.ValueTypeInt && cur.Int() == v || cur.AsString() == strconv.FormatInt(v, 10) {
			return 0
		}
		return 1
	}
	m.PutInt(k, v)
	return 0
}

func epochSeconds(f float64) pcommon.Timestamp {
	if f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/1e9 {
		return 0
	}
	sec, frac := math.Modf(f)
	// Round to microseconds: zap writes at most that much precision, and float64 noise
	// below it would otherwise show up as odd nanoseconds.
	return pcommon.Timestamp(int64(sec)*1e9 + int64(math.Round(frac*1e6))*1e3)
}
