package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"strconv"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jsonenc"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// Tags is span attributes written as a JSON object in attribute order. encoding/json
// would need a map per span and sort its keys on every answer, which was most of the time
// of a 1,000-span summary.
type Tags []tracecache.KV

func (l Tags) MarshalJSON() ([]byte, error) { return l.appendJSON(nil), nil }

func (l Tags) appendJSON(b []byte) []byte {
	start := len(b)
	b = append(b, '{')
	for i, kv := range l {
		if dupBefore(l, i) {
			continue // a merged span (Zipkin's shared halves) may repeat a key: first wins
		}
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, kv.Key)
		b = append(b, ':')
		b = jsonenc.AppendString(b, kv.Value)
	}
	return append(b, '}')
}

func dupBefore(l Tags, i int) bool {
	for j := 0; j < i; j++ {
		if l[j].Key == l[i].Key {
			return true
		}
	}
	return false
}

// AppendJSON writes the summary by hand. encoding/json re-validates and compacts the output of
// every MarshalJSON and reflects over each of a large trace's spans; for the 1,000-span summary
// that was about two thirds of the request's CPU.
func (s *Summary) AppendJSON(b []byte) []byte {
	b = append(b, `{"trace_id":`...)
	b = jsonenc.AppendString(b, s.TraceID)
	b = append(b, `,"trace_url":`...)
	b = jsonenc.AppendString(b, s.TraceURL)
	if r := s.RootSpan; r != nil {
		b = append(b, `,"root_span":{"span_id":`...)
		b = jsonenc.AppendString(b, r.SpanID)
		b = append(b, `,"operation_name":`...)
		b = jsonenc.AppendString(b, r.OperationName)
		if r.ServiceName != "" {
			b = append(b, `,"service_name":`...)
			b = jsonenc.AppendString(b, r.ServiceName)
		}
		b = append(b, `,"start_time":`...)
		b = appendJSONTime(b, r.StartTime)
		b = append(b, `,"duration_ms":`...)
		b = strconv.AppendFloat(b, r.DurationMS, 'f', -1, 64)
		b = append(b, `,"status":`...)
		b = jsonenc.AppendString(b, r.Status)
		b = append(b, '}')
	}
	b = append(b, `,"spans_count":`...)
	b = strconv.AppendInt(b, int64(s.SpansCount), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, s.DurationMS, 'f', -1, 64)
	b = append(b, `,"spans":[`...)
	for i := range s.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.Spans[i].appendSummaryJSON(b)
	}
	b = append(b, ']')
	if s.SpansTruncated {
		b = append(b, `,"spans_truncated":true`...)
	}
	b = append(b, `,"critical_path":[`...)
	for i, id := range s.CriticalPath {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, id)
	}
	b = append(b, `],"critical_path_sections":[`...)
	for i, sec := range s.CriticalPathSections {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"span_id":`...)
		b = jsonenc.AppendString(b, sec.SpanID)
		b = append(b, `,"start":`...)
		b = appendJSONTime(b, sec.Start)
		b = append(b, `,"end":`...)
		b = appendJSONTime(b, sec.End)
		b = append(b, '}')
	}
	b = append(b, `],"error_spans":[`...)
	for i, e := range s.ErrorSpans {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"span_id":`...)
		b = jsonenc.AppendString(b, e.SpanID)
		b = append(b, `,"operation_name":`...)
		b = jsonenc.AppendString(b, e.OperationName)
		if e.ServiceName != "" {
			b = append(b, `,"service_name":`...)
			b = jsonenc.AppendString(b, e.ServiceName)
		}
		if e.Message != "" {
			b = append(b, `,"message":`...)
			b = jsonenc.AppendString(b, e.Message)
		}
		b = append(b, '}')
	}
	b = append(b, `],"services":[`...)
	for i, sv := range s.Services {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = jsonenc.AppendString(b, sv.Name)
		b = append(b, `,"span_count":`...)
		b = strconv.AppendInt(b, int64(sv.SpanCount), 10)
		b = append(b, `,"error_count":`...)
		b = strconv.AppendInt(b, int64(sv.ErrorCount), 10)
		b = append(b, '}')
	}
	b = append(b, `],"source":`...)
	b = jsonenc.AppendString(b, s.Source)
	b = append(b, `,"partial":`...)
	b = strconv.AppendBool(b, s.Partial)
	if len(s.Warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range s.Warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, w)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// MarshalJSON keeps encoding/json users (tests, callers) on the same bytes.
func (s Summary) MarshalJSON() ([]byte, error) { return s.AppendJSON(nil), nil }

// appendSummaryJSON writes the fields a summary span has (spanView with full=false).
func (v *SpanView) appendSummaryJSON(b []byte) []byte {
	b = append(b, `{"span_id":`...)
	b = jsonenc.AppendString(b, v.SpanID)
	if v.ParentSpanID != "" {
		b = append(b, `,"parent_span_id":`...)
		b = jsonenc.AppendString(b, v.ParentSpanID)
	}
	b = append(b, `,"operation_name":`...)
	b = jsonenc.AppendString(b, v.OperationName)
	if v.ServiceName != "" {
		b = append(b, `,"service_name":`...)
		b = jsonenc.AppendString(b, v.ServiceName)
	}
	b = append(b, `,"start_time":`...)
	b = appendJSONTime(b, v.StartTime)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, v.DurationMS, 'f', -1, 64)
	b = append(b, `,"status":`...)
	b = jsonenc.AppendString(b, v.Status)
	if v.StatusMessage != "" {
		b = append(b, `,"status_message":`...)
		b = jsonenc.AppendString(b, v.StatusMessage)
	}
	if v.Kind != "" {
		b = append(b, `,"kind":`...)
		b = jsonenc.AppendString(b, v.Kind)
	}
	if len(v.Tags) > 0 {
		b = append(b, `,"tags":`...)
		b = v.Tags.appendJSON(b)
	}
	return append(b, '}')
}

func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
