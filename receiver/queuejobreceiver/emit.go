package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/metadata"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
)

var scopeName = metadata.ScopeName

var eventSeverity = [numEventKinds]plog.SeverityNumber{
	plog.SeverityNumberInfo, plog.SeverityNumberInfo, plog.SeverityNumberInfo,
	plog.SeverityNumberWarn, plog.SeverityNumberError, plog.SeverityNumberWarn,
}

type emitter struct {
	serviceName string
	link        bool // propagation: link
	version     string
	system      string // messaging.system: redis for list layouts, else the library
}

// build turns one poll's events into at most one Traces and one Logs batch.
func (e *emitter) build(events []event) (ptrace.Traces, plog.Logs, int) {
	td := ptrace.NewTraces()
	ld := plog.NewLogs()
	var spans ptrace.SpanSlice
	var records plog.LogRecordSlice
	nspans := 0
	system := e.system
	if system == "" {
		system = "redis"
	}
	for i := range events {
		ev := &events[i]
		sid := pcommon.SpanID(spanID(ev.job.id, ev.attempt, ev.rerun))
		tid := pcommon.TraceID(ev.job.traceID)
		if records == (plog.LogRecordSlice{}) {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr(conventions.AttrServiceName, e.serviceName)
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(scopeName)
			sl.Scope().SetVersion(e.version)
			records = sl.LogRecords()
		}
		lr := records.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.at))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ev.at))
		lr.SetSeverityNumber(eventSeverity[ev.kind])
		lr.SetSeverityText(severityText(eventSeverity[ev.kind]))
		lr.Body().SetStr(eventBodies[ev.kind])
		lr.SetTraceID(tid)
		lr.SetSpanID(sid)
		lr.SetEventName(ev.kind.String())
		la := lr.Attributes()
		la.PutStr(conventions.AttrEventName, ev.kind.String())
		la.PutStr(conventions.AttrJobID, ev.job.id)
		if ev.worker != "" {
			la.PutStr(conventions.AttrWorkerID, ev.worker)
		}
		la.PutStr(conventions.AttrQueueName, ev.job.queue)
		la.PutInt(conventions.AttrJobAttempt, int64(ev.attempt))
		if ev.job.typ != "" {
			la.PutStr(conventions.AttrJobType, ev.job.typ)
		}
		if !ev.kind.endsAttempt() {
			continue
		}
		putError(la, ev.err)
		la.PutStr(conventions.AttrJobStatus, eventStatus[ev.kind])

		if spans == (ptrace.SpanSlice{}) {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr(conventions.AttrServiceName, e.serviceName)
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(scopeName)
			ss.Scope().SetVersion(e.version)
			spans = ss.Spans()
		}
		nspans++
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		if ev.job.tcFound && ev.job.tc.SpanID != [8]byte{} {
			if e.link {
				l := sp.Links().AppendEmpty()
				l.SetTraceID(pcommon.TraceID(ev.job.tc.TraceID))
				l.SetSpanID(pcommon.SpanID(ev.job.tc.SpanID))
				l.SetFlags(uint32(ev.job.tc.Flags))
				l.TraceState().FromRaw(ev.job.tc.TraceState)
			} else {
				sp.SetParentSpanID(pcommon.SpanID(ev.job.tc.SpanID))
				sp.TraceState().FromRaw(ev.job.tc.TraceState)
			}
		}
		sp.SetName("process " + ev.job.queue)
		sp.SetKind(ptrace.SpanKindConsumer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(ev.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(ev.at))
		a := sp.Attributes()
		a.PutStr(conventions.AttrMessagingSystem, system)
		a.PutStr(conventions.AttrMessagingOperationType, "process")
		a.PutStr(conventions.AttrMessagingDestinationName, ev.job.queue)
		a.PutStr(conventions.AttrMessagingMessageID, ev.job.id)
		a.PutStr(conventions.AttrJobID, ev.job.id)
		a.PutInt(conventions.AttrJobAttempt, int64(ev.attempt))
		if ev.job.priority != "" {
			a.PutStr(conventions.AttrJobPriority, ev.job.priority)
		}
		if ev.job.typ != "" {
			a.PutStr(conventions.AttrJobType, ev.job.typ)
		}
		a.PutStr(conventions.AttrJobStatus, eventStatus[ev.kind])
		if ev.worker != "" {
			a.PutStr(conventions.AttrWorkerID, ev.worker)
		}
		a.PutStr(conventions.AttrQueueName, ev.job.queue)
		if ev.job.tcFound {
			a.PutStr(conventions.AttrJobTraceFormat, ev.job.tc.Format.String())
			a.PutStr(conventions.AttrJobExtractedFrom, ev.job.tc.Source.String())
		} else {
			a.PutStr(conventions.AttrJobTraceFormat, "none")
		}
		if ev.startEstimated {
			a.PutBool(conventions.AttrJobStartEstimate, true)
		}
		if ev.kind == evSucceeded {
			sp.Status().SetCode(ptrace.StatusCodeOk)
			continue
		}
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(eventBodies[ev.kind])
		if ev.err != nil && ev.err.Message != "" {
			sp.Status().SetMessage(ev.err.Message)
		} else if ev.err != nil && ev.err.Type != "" {
			sp.Status().SetMessage(ev.err.Type)
		}
		putError(a, ev.err)
		se := sp.Events().AppendEmpty()
		se.SetName(ev.kind.String())
		se.SetTimestamp(pcommon.NewTimestampFromTime(ev.at))
		se.Attributes().PutInt(conventions.AttrJobAttempt, int64(ev.attempt))
	}
	return td, ld, nspans
}

func severityText(s plog.SeverityNumber) string {
	switch s {
	case plog.SeverityNumberWarn:
		return "WARN"
	case plog.SeverityNumberError:
		return "ERROR"
	}
	return "INFO"
}

// putError records the error a queue library stored for a failed attempt.
func putError(m pcommon.Map, err *adapter.Error) {
	if err == nil {
		return
	}
	if err.Type != "" {
		m.PutStr(conventions.AttrJobErrorType, err.Type)
	}
	if err.Message != "" {
		m.PutStr(conventions.AttrJobErrorMessage, err.Message)
	}
	if err.Stacktrace != "" {
		m.PutStr(conventions.AttrJobErrorStacktrace, err.Stacktrace)
	}
}
