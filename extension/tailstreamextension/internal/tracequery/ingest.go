package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/jobindex"
)

// IngestTraces copies the spans into the cache and teaches the catalog about job spans. The
// work is one pass over the spans plus map inserts under two short locks: no I/O, nothing
// waits, so the pipeline may call it.
func (s *Service) IngestTraces(td ptrace.Traces) {
	spans := tracecache.FromPdata(td)
	s.cache.Put(spans)
	rules := s.spanJobs.Load()
	fromReceiver := receiverSpans(td, len(spans))
	var weak []jobcatalog.SpanObservation
	for i := range spans {
		sp := &spans[i]
		jobID, hasJobID := sp.Attr(conventions.AttrJobID)
		if hasJobID && jobID != "" {
			// Any job id seen on any span finds its trace, even when the span is no job.
			s.jobTraces.put(jobID, sp.TraceID)
		}
		if fromReceiver[i] {
			if hasJobID && jobID != "" && IsJobSpan(sp) {
				o := spanObservation(sp, jobID)
				o.Source = jobcatalog.SourceReceiver
				s.catalog.ObserveSpan(o)
			}
			continue
		}
		o, ok, byJobID := rules.consumerObservation(sp)
		switch {
		case ok && byJobID:
			weak = append(weak, o) // after the batch's stronger job spans, see below
		case ok:
			s.catalog.ObserveSpan(o)
		case hasJobID && jobID != "" && IsJobSpan(sp):
			// Shaped like the receiver's job span but not under its scope: its status is a
			// claim that fills in a job the receiver did not observe, never one it did.
			o := spanObservation(sp, jobID)
			o.Source = jobcatalog.SourceInstrumentation
			o.Failed = sp.IsError()
			s.catalog.ObserveSpan(o)
		}
	}
	// A consumer span known only by its job.id may be one that jobcorrelation tagged inside a
	// known attempt (a message consumed by the job's own code): then it is part of that
	// attempt, not another one.
	for _, o := range weak {
		if !s.catalog.InsideAttempt(o.JobID, o.TraceID, o.SpanID, o.Start, o.End) {
			s.catalog.ObserveSpan(o)
		}
	}
}

// receiverSpans flags, in FromPdata's order, the spans under the queuejob receiver's scope.
func receiverSpans(td ptrace.Traces, n int) []bool {
	out := make([]bool, 0, n)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			mine := ss.Scope().Name() == conventions.ReceiverScope
			for k := 0; k < ss.Spans().Len(); k++ {
				out = append(out, mine)
			}
		}
	}
	return out
}

// spanJobRules decide which spans that are not the receiver's are job attempts.
type spanJobRules struct {
	idAttrs    []string
	jobIDSpans bool
}

// consumerObservation turns an instrumentation's span into a job attempt (docs/CONVENTIONS.md,
// "Jobs from instrumentation"): a CONSUMER span with a message id, or, when configured, any span
// carrying job.id. A span that merely carries job.id (jobcorrelation tags whole traces) is not.
func (r *spanJobRules) consumerObservation(sp *tracecache.Span) (o jobcatalog.SpanObservation, ok, byJobID bool) {
	var sj jobindex.SpanJob
	if sp.Kind == ptrace.SpanKindConsumer {
		sj, ok = jobindex.ConsumerJob(sp.Attr, r.idAttrs)
		if !ok {
			// A consumer span naming its job by job.id only (a team's own instrumentation
			// following our conventions, or a span jobcorrelation tagged).
			sj, ok = jobindex.ConsumerJob(sp.Attr, []string{conventions.AttrJobID})
			byJobID = ok
		}
	}
	if !ok && r.jobIDSpans {
		sj, ok = jobindex.ConsumerJob(sp.Attr, []string{conventions.AttrJobID})
	}
	if !ok {
		return jobcatalog.SpanObservation{}, false, false
	}
	o = spanObservation(sp, sj.ID)
	o.Source = jobcatalog.SourceInstrumentation
	o.Queue, o.JobType, o.WorkerID, o.Attempt = sj.Queue, sj.Type, sj.Worker, sj.Attempt
	o.Failed = spanFailed(sp)
	return o, true, byJobID
}

// spanFailed: ERROR status, an exception event, or bullmq-otel's "job failed" event (it leaves
// the status unset and records the reason as an event attribute).
func spanFailed(sp *tracecache.Span) bool {
	if sp.IsError() {
		return true
	}
	for i := range sp.Events {
		e := &sp.Events[i]
		if e.Name == "exception" {
			return true
		}
		for _, kv := range e.Attrs {
			if kv.Key == conventions.AttrBullMQFailedReason {
				return true
			}
		}
	}
	return false
}

func spanObservation(sp *tracecache.Span, jobID string) jobcatalog.SpanObservation {
	o := jobcatalog.SpanObservation{
		JobID:        jobID,
		TraceID:      sp.TraceID,
		SpanID:       sp.SpanID,
		ParentSpanID: sp.ParentSpanID,
		Start:        time.Unix(0, sp.Start).UTC(),
		End:          time.Unix(0, sp.End).UTC(),
	}
	o.Queue, _ = sp.Attr(conventions.AttrQueueName)
	if o.Queue == "" {
		o.Queue, _ = sp.Attr(conventions.AttrMessagingDestinationName)
	}
	o.JobType, _ = sp.Attr(conventions.AttrJobType)
	o.WorkerID, _ = sp.Attr(conventions.AttrWorkerID)
	o.Status, _ = sp.Attr(conventions.AttrJobStatus)
	o.Format, _ = sp.Attr(conventions.AttrJobTraceFormat)
	o.ExtractedFrom, _ = sp.Attr(conventions.AttrJobExtractedFrom)
	if v, ok := sp.Attr(conventions.AttrJobAttempt); ok {
		o.Attempt, _ = strconv.Atoi(v)
	}
	for _, l := range sp.Links {
		if l.TraceID != sp.TraceID {
			o.Links = append(o.Links, l.TraceID)
		}
	}
	return o
}

// IsJobSpan tells the queuejob receiver's job spans (they carry job.status) and consumer spans
// with job.attempt from the spans that only got job.id from the correlation processor. Other
// sources' spans become jobs through spanJobRules.
func IsJobSpan(s *tracecache.Span) bool {
	if _, ok := s.Attr(conventions.AttrJobStatus); ok {
		return true
	}
	if s.Kind == ptrace.SpanKindConsumer {
		_, ok := s.Attr(conventions.AttrJobAttempt)
		return ok
	}
	return false
}

// IngestLogs feeds lifecycle logs (event.name job_*) to the catalog; other logs are skipped
// after one attribute lookup. Like IngestTraces it never waits.
func (s *Service) IngestLogs(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if o, ok := EventObservation(lrs.At(k)); ok {
					if sls.At(j).Scope().Name() != conventions.ReceiverScope {
						o.Source = jobcatalog.SourceInstrumentation
					}
					s.catalog.ObserveEvent(o)
				}
			}
		}
	}
}

// EventObservation reads one lifecycle log record; ok is false for any other record. It is
// exported so that a durable store can rebuild a job from stored lifecycle logs the same way.
func EventObservation(lr plog.LogRecord) (jobcatalog.EventObservation, bool) {
	attrs := lr.Attributes()
	name := lr.EventName()
	if v, ok := attrs.Get(conventions.AttrEventName); ok {
		name = v.AsString()
	}
	if !strings.HasPrefix(name, "job_") {
		return jobcatalog.EventObservation{}, false
	}
	jobID := attrString(attrs, conventions.AttrJobID)
	if jobID == "" {
		return jobcatalog.EventObservation{}, false
	}
	stamp := lr.Timestamp()
	if stamp == 0 {
		stamp = lr.ObservedTimestamp()
	}
	o := jobcatalog.EventObservation{
		JobID:    jobID,
		Queue:    attrString(attrs, conventions.AttrQueueName),
		WorkerID: attrString(attrs, conventions.AttrWorkerID),
		Event: jobcatalog.Event{
			Time:     stamp.AsTime().UTC(),
			Name:     name,
			Severity: lr.SeverityText(),
			Body:     lr.Body().AsString(),
			TraceID:  lr.TraceID(),
			SpanID:   lr.SpanID(),
		},
	}
	if o.Severity == "" && lr.SeverityNumber() != plog.SeverityNumberUnspecified {
		o.Severity = ring.Level(lr.SeverityNumber(), "")
	}
	o.Event.WorkerID = o.WorkerID
	if v, ok := attrs.Get(conventions.AttrJobAttempt); ok {
		if n, err := strconv.Atoi(v.AsString()); err == nil {
			o.Attempt = n
		}
	}
	return o, true
}

func attrString(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}
