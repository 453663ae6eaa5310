package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"cmp"
	"context"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/critpath"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// SpanView is the design's TraceSpan. Summary spans leave out trace_id, logs and links.
type SpanView struct {
	TraceID       string     `json:"trace_id,omitempty"`
	SpanID        string     `json:"span_id"`
	ParentSpanID  string     `json:"parent_span_id,omitempty"`
	OperationName string     `json:"operation_name"`
	ServiceName   string     `json:"service_name,omitempty"`
	StartTime     time.Time  `json:"start_time"`
	EndTime       *time.Time `json:"end_time,omitempty"`
	DurationMS    float64    `json:"duration_ms"`
	Status        string     `json:"status"`
	StatusMessage string     `json:"status_message,omitempty"`
	Kind          string     `json:"kind,omitempty"`
	Tags          Tags       `json:"tags,omitempty"`
	Logs          []SpanLog  `json:"logs,omitempty"`
	Links         []SpanLink `json:"links,omitempty"`
}

type SpanLog struct {
	Timestamp time.Time         `json:"timestamp"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields,omitempty"`
}

type SpanLink struct {
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
}

type RootSpan struct {
	SpanID        string    `json:"span_id"`
	OperationName string    `json:"operation_name"`
	ServiceName   string    `json:"service_name,omitempty"`
	StartTime     time.Time `json:"start_time"`
	DurationMS    float64   `json:"duration_ms"`
	Status        string    `json:"status"`
}

type ErrorSpan struct {
	SpanID        string `json:"span_id"`
	OperationName string `json:"operation_name"`
	ServiceName   string `json:"service_name,omitempty"`
	Message       string `json:"message,omitempty"`
}

type ServiceStats struct {
	Name       string `json:"name"`
	SpanCount  int    `json:"span_count"`
	ErrorCount int    `json:"error_count"`
}

type CriticalSection struct {
	SpanID string    `json:"span_id"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// Summary is the answer of GET /traces/{trace_id}/summary.
type Summary struct {
	TraceID              string            `json:"trace_id"`
	TraceURL             string            `json:"trace_url"`
	RootSpan             *RootSpan         `json:"root_span,omitempty"`
	SpansCount           int               `json:"spans_count"`
	DurationMS           float64           `json:"duration_ms"`
	Spans                []SpanView        `json:"spans"`
	SpansTruncated       bool              `json:"spans_truncated,omitempty"`
	CriticalPath         []string          `json:"critical_path"`
	CriticalPathSections []CriticalSection `json:"critical_path_sections"`
	ErrorSpans           []ErrorSpan       `json:"error_spans"`
	Services             []ServiceStats    `json:"services"`
	Source               string            `json:"source"`
	Partial              bool              `json:"partial"`
	Warnings             []string          `json:"warnings,omitempty"`
}

func spanStatus(s *tracecache.Span) string {
	if s.IsError() {
		return "error"
	}
	return "ok"
}

func spanKind(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindServer:
		return "server"
	case ptrace.SpanKindClient:
		return "client"
	case ptrace.SpanKindProducer:
		return "producer"
	case ptrace.SpanKindConsumer:
		return "consumer"
	case ptrace.SpanKindInternal:
		return "internal"
	}
	return ""
}

func nsTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func durMS(start, end int64) float64 {
	if end < start {
		return 0
	}
	return float64(end-start) / 1e6
}

func tagsOf(kvs []tracecache.KV) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// ViewSpan builds the API form of a span; full adds trace id, end time, logs and links.
func ViewSpan(s *tracecache.Span, full bool) SpanView {
	v := SpanView{
		SpanID:        s.SpanID.String(),
		OperationName: s.Name,
		ServiceName:   s.Service,
		StartTime:     nsTime(s.Start),
		DurationMS:    durMS(s.Start, s.End),
		Status:        spanStatus(s),
		StatusMessage: s.StatusMessage,
		Kind:          spanKind(s.Kind),
		Tags:          Tags(s.Attrs),
	}
	if !s.ParentSpanID.IsEmpty() {
		v.ParentSpanID = s.ParentSpanID.String()
	}
	if full {
		v.TraceID = s.TraceID.String()
		end := nsTime(s.End)
		v.EndTime = &end
		for _, ev := range s.Events {
			v.Logs = append(v.Logs, SpanLog{Timestamp: nsTime(ev.Time), Message: ev.Name, Fields: tagsOf(ev.Attrs)})
		}
		for _, l := range s.Links {
			v.Links = append(v.Links, SpanLink{TraceID: l.TraceID.String(), SpanID: l.SpanID.String()})
		}
	}
	return v
}

// SortedByStart returns the spans ordered by start time (then id), leaving the cached slice
// untouched.
func SortedByStart(spans []tracecache.Span) []*tracecache.Span {
	out := make([]*tracecache.Span, len(spans))
	for i := range spans {
		out[i] = &spans[i]
	}
	slices.SortFunc(out, func(a, b *tracecache.Span) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		return slices.Compare(a.SpanID[:], b.SpanID[:])
	})
	return out
}

// rootOf picks the earliest true root (no parent), else the earliest span whose parent is
// missing, else the earliest span.
func rootOf(sorted []*tracecache.Span) *tracecache.Span {
	if len(sorted) == 0 {
		return nil
	}
	ids := make(map[pcommon.SpanID]struct{}, len(sorted))
	for _, s := range sorted {
		ids[s.SpanID] = struct{}{}
	}
	var orphan *tracecache.Span
	for _, s := range sorted {
		if s.ParentSpanID.IsEmpty() {
			return s
		}
		if _, ok := ids[s.ParentSpanID]; !ok && orphan == nil {
			orphan = s
		}
	}
	if orphan != nil {
		return orphan
	}
	return sorted[0]
}

// CriticalPath runs the Jaeger UI algorithm over the spans.
func CriticalPath(spans []tracecache.Span) []critpath.Section {
	in := make([]critpath.Span, len(spans))
	for i := range spans {
		s := &spans[i]
		in[i] = critpath.Span{ID: spanIDKey(s.SpanID), Start: s.Start, End: s.End, Kind: critpath.Kind(s.Kind)}
		if !s.ParentSpanID.IsEmpty() {
			in[i].Parent = spanIDKey(s.ParentSpanID)
		}
	}
	return critpath.Compute(in)
}

// spanIDKey is a string key without hex encoding; critpath only compares keys.
func spanIDKey(id pcommon.SpanID) string { return string(id[:]) }

func keyToHex(k string) string { return hex.EncodeToString([]byte(k)) }

// Summary looks the trace up like Trace and summarises it; maxSpans bounds the spans list.
func (s *Service) Summary(ctx context.Context, scope Scope, id pcommon.TraceID, maxSpans int) (Summary, error) {
	tr, err := s.Trace(ctx, scope, id)
	if err != nil {
		return Summary{}, err
	}
	sum := Summarize(tr, maxSpans)
	sum.TraceURL = s.TraceURL(sum.TraceID, tr.ServedBy)
	return sum, nil
}

// Summarize builds the summary of a trace (all but TraceURL, which needs the settings);
// maxSpans bounds the spans list (critical path, errors and services always cover every span).
func Summarize(res Trace, maxSpans int) Summary {
	sorted := SortedByStart(res.Spans)
	sum := Summary{
		TraceID:      res.ID.String(),
		SpansCount:   len(sorted),
		Source:       res.Source,
		Partial:      res.Partial,
		Warnings:     res.BackendErrors,
		Spans:        []SpanView{},
		CriticalPath: []string{},
		ErrorSpans:   []ErrorSpan{},
	}
	if root := rootOf(sorted); root != nil {
		sum.RootSpan = &RootSpan{
			SpanID: root.SpanID.String(), OperationName: root.Name, ServiceName: root.Service,
			StartTime: nsTime(root.Start), DurationMS: durMS(root.Start, root.End), Status: spanStatus(root),
		}
	}
	var minStart, maxEnd int64
	services := map[string]*ServiceStats{}
	// Sized once: span views are large, and growing by doubling copied them ~10 times per summary.
	sum.Spans = make([]SpanView, 0, min(len(sorted), maxSpans))
	for i, s := range sorted {
		if i == 0 || s.Start < minStart {
			minStart = s.Start
		}
		if s.End > maxEnd {
			maxEnd = s.End
		}
		svc := services[s.Service]
		if svc == nil {
			svc = &ServiceStats{Name: s.Service}
			services[s.Service] = svc
		}
		svc.SpanCount++
		if s.IsError() {
			svc.ErrorCount++
			sum.ErrorSpans = append(sum.ErrorSpans, ErrorSpan{
				SpanID: s.SpanID.String(), OperationName: s.Name, ServiceName: s.Service, Message: s.StatusMessage,
			})
		}
		if i < maxSpans {
			sum.Spans = append(sum.Spans, ViewSpan(s, false))
		}
	}
	sum.SpansTruncated = len(sorted) > maxSpans
	sum.DurationMS = durMS(minStart, maxEnd)
	sum.Services = make([]ServiceStats, 0, len(services))
	for _, s := range services {
		sum.Services = append(sum.Services, *s)
	}
	slices.SortFunc(sum.Services, func(a, b ServiceStats) int {
		if c := cmp.Compare(b.SpanCount, a.SpanCount); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	sections := CriticalPath(res.Spans)
	sum.CriticalPathSections = make([]CriticalSection, len(sections))
	for i, s := range sections {
		sum.CriticalPathSections[i] = CriticalSection{SpanID: keyToHex(s.SpanID), Start: nsTime(s.Start), End: nsTime(s.End)}
	}
	for _, id := range critpath.SpanIDs(sections) {
		sum.CriticalPath = append(sum.CriticalPath, keyToHex(id))
	}
	return sum
}

// SpanPage is one page of GET /traces/{trace_id}/spans: spans in start order from an offset.
type SpanPage struct {
	TraceID string     `json:"trace_id"`
	Total   int        `json:"total"`
	Spans   []SpanView `json:"spans"`
	// Next is the offset of the next page, 0 when this is the last.
	Next    int    `json:"-"`
	Source  string `json:"source"`
	Partial bool   `json:"partial"`
}

// Spans looks the trace up like Trace and returns up to limit full span views from offset.
func (s *Service) Spans(ctx context.Context, scope Scope, id pcommon.TraceID, offset, limit int) (SpanPage, error) {
	tr, err := s.Trace(ctx, scope, id)
	if err != nil {
		return SpanPage{}, err
	}
	sorted := SortedByStart(tr.Spans)
	out := SpanPage{TraceID: id.String(), Total: len(sorted), Spans: []SpanView{}, Source: tr.Source, Partial: tr.Partial}
	end := min(offset+limit, len(sorted))
	for i := offset; i < end; i++ {
		out.Spans = append(out.Spans, ViewSpan(sorted[i], true))
	}
	if end < len(sorted) {
		out.Next = end
	}
	return out, nil
}
