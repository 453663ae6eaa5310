// Package tracetest builds the spans and lifecycle logs that the extension's trace tests and
// benchmarks publish: hand-drawn traces, a busy 1,000-span job trace, and the queuejob
// receiver's lifecycle log records (docs/CONVENTIONS.md). It is imported by tests only.
package tracetest // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
)

// Base is the time every hand-built trace is relative to.
var Base = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// At is Base plus ms milliseconds.
func At(ms int) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(Base.Add(time.Duration(ms) * time.Millisecond))
}

// MustTID decodes a 32-digit hex trace id.
func MustTID(s string) pcommon.TraceID {
	var id pcommon.TraceID
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		panic(err)
	}
	return id
}

// MustSID decodes a 16-digit hex span id.
func MustSID(s string) pcommon.SpanID {
	var id pcommon.SpanID
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		panic(err)
	}
	return id
}

// Span is one span of a hand-built trace; Start and End are ms after Base.
type Span struct {
	Service, Name, ID, Parent string
	Kind                      ptrace.SpanKind
	Start, End                int
	ErrMsg                    string // non-empty: status ERROR with this message
	Attrs                     map[string]any
	Events                    []string
}

// Build makes one trace of the specs, one resource per service.
func Build(traceID string, specs ...Span) ptrace.Traces {
	td := ptrace.NewTraces()
	byService := map[string]ptrace.SpanSlice{}
	for _, sp := range specs {
		ss, ok := byService[sp.Service]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr(conventions.AttrServiceName, sp.Service)
			ss = rs.ScopeSpans().AppendEmpty().Spans()
			byService[sp.Service] = ss
		}
		s := ss.AppendEmpty()
		s.SetTraceID(MustTID(traceID))
		s.SetSpanID(MustSID(sp.ID))
		if sp.Parent != "" {
			s.SetParentSpanID(MustSID(sp.Parent))
		}
		s.SetName(sp.Name)
		s.SetKind(sp.Kind)
		s.SetStartTimestamp(At(sp.Start))
		s.SetEndTimestamp(At(sp.End))
		if sp.ErrMsg != "" {
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage(sp.ErrMsg)
		} else {
			s.Status().SetCode(ptrace.StatusCodeOk)
		}
		if err := s.Attributes().FromRaw(sp.Attrs); err != nil {
			panic(err)
		}
		for _, e := range sp.Events {
			ev := s.Events().AppendEmpty()
			ev.SetName(e)
			ev.SetTimestamp(At(sp.End))
		}
	}
	return td
}

// JobAttrs are the attributes of a queuejob receiver job span, plus extra.
func JobAttrs(jobID, queue, worker, status string, attempt int, extra map[string]any) map[string]any {
	m := map[string]any{
		conventions.AttrMessagingSystem: "redis", conventions.AttrMessagingOperationType: "process", conventions.AttrMessagingDestinationName: queue,
		conventions.AttrMessagingMessageID: jobID, conventions.AttrJobID: jobID, conventions.AttrJobAttempt: attempt,
		conventions.AttrJobStatus: status, conventions.AttrWorkerID: worker, conventions.AttrQueueName: queue,
		conventions.AttrJobTraceFormat: "w3c", conventions.AttrJobExtractedFrom: "payload",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// LifecycleLog appends one queuejob lifecycle log record (docs/CONVENTIONS.md) to ld.
func LifecycleLog(ld plog.Logs, event, jobID, queue, worker string, attempt int, traceID, spanID string, ms int) {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(conventions.AttrServiceName, "jobqueue")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(At(ms))
	lr.Body().SetStr(strings.ReplaceAll(strings.TrimPrefix(event, "job_"), "_", " "))
	lr.SetSeverityText("INFO")
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.Attributes().PutStr(conventions.AttrEventName, event)
	lr.Attributes().PutStr(conventions.AttrJobID, jobID)
	lr.Attributes().PutStr(conventions.AttrQueueName, queue)
	if worker != "" {
		lr.Attributes().PutStr(conventions.AttrWorkerID, worker)
	}
	lr.Attributes().PutInt(conventions.AttrJobAttempt, int64(attempt))
	if traceID != "" {
		lr.SetTraceID(MustTID(traceID))
	}
	if spanID != "" {
		lr.SetSpanID(MustSID(spanID))
	}
}

// BigTrace builds an n-span trace shaped like a busy job: a job span whose children fan out
// ten wide, each with a few attributes; every 50th span fails.
func BigTrace(traceID string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(conventions.AttrServiceName, "worker")
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	tid := MustTID(traceID)
	for i := range n {
		s := ss.AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(pcommon.SpanID{0, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i), 1})
		if i > 0 {
			p := (i - 1) / 10
			s.SetParentSpanID(pcommon.SpanID{0, 0, 0, 0, byte(p >> 16), byte(p >> 8), byte(p), 1})
		}
		s.SetName(fmt.Sprintf("op-%d", i%37))
		s.SetKind(ptrace.SpanKindClient)
		start := Base.Add(time.Duration(i) * time.Millisecond)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(n-i) * time.Millisecond)))
		if i%50 == 0 {
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage("boom")
		}
		a := s.Attributes()
		a.PutStr(conventions.AttrJobID, "bench-job")
		a.PutStr(conventions.AttrQueueName, "high_priority")
		a.PutStr("db.system", "postgresql")
		a.PutStr("db.statement", "SELECT * FROM orders WHERE id = $1")
		a.PutInt("http.response.status_code", 200)
		a.PutStr(conventions.AttrWorkerID, "host-1-1757875600000000000-a1b2-3")
	}
	return td
}

// BigTraceChildren builds n child spans of parent in traceID, with ids unique per trace.
func BigTraceChildren(traceID, parent string, n int) ptrace.Traces {
	specs := make([]Span, n)
	for i := range specs {
		specs[i] = Span{Service: "worker", Name: "child", ID: fmt.Sprintf("%08x%08x", i+1, hash32(traceID)), Parent: parent, Start: i, End: i + 1}
	}
	return Build(traceID, specs...)
}

func hash32(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// The scenario trace T1: jobs j1 (a retry) and j2 (started by j1), and j3 (only started) in T3.
const (
	T1  = "0af7651916cd43dd8448eb211c80319c"
	T3  = "5b8efff798038103d269b633813fc60c"
	SA  = "a000000000000001" // order-api SERVER POST /orders, root
	SB  = "b000000000000002" // order-api PRODUCER enqueue high_priority
	SC1 = "c100000000000003" // job j1 attempt 1 (retried)
	SC2 = "c200000000000004" // job j1 attempt 2 (succeeded)
	SD  = "d000000000000005" // worker SELECT under attempt 2
	SE  = "e000000000000006" // worker PRODUCER enqueue low_priority (starts job j2)
	SF  = "f000000000000007" // job j2 attempt 1
	SG  = "9000000000000008" // worker POST /charge, error
)

// Scenario returns the spans of T1 and the lifecycle logs of j1, j2's trace and j3. j1 and
// its spans carry job.owner bob.
func Scenario() (ptrace.Traces, plog.Logs) {
	td := Build(T1,
		Span{Service: "order-api", Name: "POST /orders", ID: SA, Kind: ptrace.SpanKindServer, Start: 0, End: 50},
		Span{Service: "order-api", Name: "enqueue high_priority", ID: SB, Parent: SA, Kind: ptrace.SpanKindProducer, Start: 10, End: 12},
		Span{Service: "jobqueue", Name: "process high_priority", ID: SC1, Parent: SB, Kind: ptrace.SpanKindConsumer, Start: 100, End: 300,
			ErrMsg: "job retried", Attrs: JobAttrs("j1", "high_priority", "w1", "retried", 1, map[string]any{"job.owner": "bob"}), Events: []string{"job_retried"}},
		Span{Service: "jobqueue", Name: "process high_priority", ID: SC2, Parent: SB, Kind: ptrace.SpanKindConsumer, Start: 400, End: 900,
			Attrs: JobAttrs("j1", "high_priority", "w2", "succeeded", 2, map[string]any{"job.owner": "bob"})},
		Span{Service: "worker", Name: "SELECT orders", ID: SD, Parent: SC2, Kind: ptrace.SpanKindClient, Start: 420, End: 600,
			Attrs: map[string]any{conventions.AttrJobID: "j1", "db.system": "postgresql"}},
		Span{Service: "worker", Name: "enqueue low_priority", ID: SE, Parent: SC2, Kind: ptrace.SpanKindProducer, Start: 610, End: 615,
			Attrs: map[string]any{conventions.AttrJobID: "j1"}},
		Span{Service: "worker", Name: "POST /charge", ID: SG, Parent: SC2, Kind: ptrace.SpanKindClient, Start: 620, End: 880,
			ErrMsg: "timeout", Attrs: map[string]any{conventions.AttrJobID: "j1", "http.response.status_code": 504}},
		Span{Service: "jobqueue", Name: "process low_priority", ID: SF, Parent: SE, Kind: ptrace.SpanKindConsumer, Start: 700, End: 1000,
			Attrs: JobAttrs("j2", "low_priority", "w3", "succeeded", 1, nil)},
	)
	ld := plog.NewLogs()
	LifecycleLog(ld, "job_enqueued", "j1", "high_priority", "", 1, T1, SC1, 11)
	LifecycleLog(ld, "job_started", "j1", "high_priority", "w1", 1, T1, SC1, 100)
	LifecycleLog(ld, "job_retried", "j1", "high_priority", "w1", 1, T1, SC1, 300)
	LifecycleLog(ld, "job_started", "j1", "high_priority", "w2", 2, T1, SC2, 400)
	LifecycleLog(ld, "job_succeeded", "j1", "high_priority", "w2", 2, T1, SC2, 900)
	LifecycleLog(ld, "job_started", "j3", "high_priority", "w9", 1, T3, "3000000000000001", 2000)
	return td, ld
}
