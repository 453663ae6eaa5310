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
)

// IngestTraces copies the spans into the cache and teaches the catalog about job spans. The
// work is one pass over the spans plus map inserts under two short locks: no I/O, nothing
// waits, so the pipeline may call it.
func (s *Service) IngestTraces(td ptrace.Traces) {
	spans := tracecache.FromPdata(td)
	s.cache.Put(spans)
	for i := range spans {
		sp := &spans[i]
		jobID, ok := sp.Attr(conventions.AttrJobID)
		if !ok || !IsJobSpan(sp) {
			continue
		}
		s.catalog.ObserveSpan(spanObservation(sp, jobID))
	}
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

// IsJobSpan tells the queuejob receiver's job spans (they carry job.status) and instrumented
// consumer spans of one attempt from the spans that only got job.id from the correlation
// processor. Jobs from other sources (OTLP consumer spans of other queue libraries) enter the
// catalog by passing this test.
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
