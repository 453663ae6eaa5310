package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"github.com/jobtrace/jobtrace/internal/conventions"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// Attribute names from docs/CONVENTIONS.md.
const (
	attrJobID         = conventions.AttrJobID
	attrJobAttempt    = conventions.AttrJobAttempt
	attrJobStatus     = conventions.AttrJobStatus
	attrJobType       = conventions.AttrJobType
	attrWorkerID      = conventions.AttrWorkerID
	attrQueueName     = conventions.AttrQueueName
	attrTraceFormat   = conventions.AttrJobTraceFormat
	attrExtractedFrom = conventions.AttrJobExtractedFrom
	attrEventName     = conventions.AttrEventName
)

// ingest copies the spans into the cache and teaches the catalog about job spans. The work is
// one pass over the spans plus map inserts under two short locks: no I/O, nothing waits.
func (ts *traceState) ingest(td ptrace.Traces) {
	spans := tracecache.FromPdata(td)
	ts.cache.Put(spans)
	for i := range spans {
		s := &spans[i]
		jobID, ok := s.Attr(attrJobID)
		if !ok || !isJobSpan(s) {
			continue
		}
		o := jobcatalog.SpanObservation{
			JobID:        jobID,
			TraceID:      s.TraceID,
			SpanID:       s.SpanID,
			ParentSpanID: s.ParentSpanID,
			Start:        time.Unix(0, s.Start).UTC(),
			End:          time.Unix(0, s.End).UTC(),
		}
		o.Queue, _ = s.Attr(attrQueueName)
		if o.Queue == "" {
			o.Queue, _ = s.Attr("messaging.destination.name")
		}
		o.JobType, _ = s.Attr(attrJobType)
		o.WorkerID, _ = s.Attr(attrWorkerID)
		o.Status, _ = s.Attr(attrJobStatus)
		o.Format, _ = s.Attr(attrTraceFormat)
		o.ExtractedFrom, _ = s.Attr(attrExtractedFrom)
		if v, ok := s.Attr(attrJobAttempt); ok {
			o.Attempt, _ = strconv.Atoi(v)
		}
		for _, l := range s.Links {
			if l.TraceID != s.TraceID {
				o.Links = append(o.Links, l.TraceID)
			}
		}
		ts.catalog.ObserveSpan(o)
	}
}

// isJobSpan tells the queuejob receiver's job spans (they carry job.status) and instrumented
// consumer spans of one attempt from the spans that only got job.id from the correlation
// processor.
func isJobSpan(s *tracecache.Span) bool {
	if _, ok := s.Attr(attrJobStatus); ok {
		return true
	}
	if s.Kind == ptrace.SpanKindConsumer {
		_, ok := s.Attr(attrJobAttempt)
		return ok
	}
	return false
}

// ingestLogs feeds lifecycle logs (event.name job_*) to the catalog; other logs are skipped
// after one attribute lookup.
func (ts *traceState) ingestLogs(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				ts.ingestLog(lrs.At(k))
			}
		}
	}
}

func (ts *traceState) ingestLog(lr plog.LogRecord) {
	attrs := lr.Attributes()
	name := lr.EventName()
	if v, ok := attrs.Get(attrEventName); ok {
		name = v.AsString()
	}
	if len(name) < 4 || name[:4] != "job_" {
		return
	}
	jobID := attrString(attrs, attrJobID)
	if jobID == "" {
		return
	}
	stamp := lr.Timestamp()
	if stamp == 0 {
		stamp = lr.ObservedTimestamp()
	}
	o := jobcatalog.EventObservation{
		JobID:    jobID,
		Queue:    attrString(attrs, attrQueueName),
		WorkerID: attrString(attrs, attrWorkerID),
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
	if v, ok := attrs.Get(attrJobAttempt); ok {
		if n, err := strconv.Atoi(v.AsString()); err == nil {
			o.Attempt = n
		}
	}
	ts.catalog.ObserveEvent(o)
}

func attrString(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}
