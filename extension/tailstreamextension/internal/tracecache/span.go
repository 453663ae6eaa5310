// Package tracecache holds the spans that flowed through the collector (or were fetched from a
// tracing backend), indexed by trace id, bounded by bytes with LRU eviction and a max age.
package tracecache // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
)

// KV is an attribute flattened to a string: the API shows tags as strings, and strings keep
// the size accounting honest.
type KV struct {
	Key   string
	Value string
}

// Event is a span event.
type Event struct {
	Time  int64 // unix ns
	Name  string
	Attrs []KV
}

// Link points at another span, usually in another trace.
type Link struct {
	TraceID pcommon.TraceID
	SpanID  pcommon.SpanID
}

// Span is a self-contained copy of one span: pdata is only valid during the exporter's call,
// and this form is also what backends decode into.
type Span struct {
	TraceID       pcommon.TraceID
	SpanID        pcommon.SpanID
	ParentSpanID  pcommon.SpanID
	Name          string
	Service       string
	Kind          ptrace.SpanKind
	Start         int64 // unix ns
	End           int64 // unix ns
	Status        ptrace.StatusCode
	StatusMessage string
	Attrs         []KV
	Events        []Event
	Links         []Link
}

// Attr returns the value of the span attribute key.
func (s *Span) Attr(key string) (string, bool) {
	for _, kv := range s.Attrs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// IsError reports whether the span ended in error.
func (s *Span) IsError() bool { return s.Status == ptrace.StatusCodeError }

// Size estimates the bytes the span holds, for the cache bound: fixed fields, string bytes and
// per-entry overheads. For a 10,000-span trace it came out ~30% above the measured heap growth
// (see docs/BENCHMARKS.md), which keeps the bound on the safe side.
func (s *Span) Size() int64 {
	const fixed = 16 + 8 + 8 + 16 + 16 + 4 + 8 + 8 + 4 + 16 + 24*3
	n := int64(fixed + len(s.Name) + len(s.Service) + len(s.StatusMessage))
	n += kvSize(s.Attrs)
	for i := range s.Events {
		n += 8 + 16 + 24 + int64(len(s.Events[i].Name)) + kvSize(s.Events[i].Attrs)
	}
	n += int64(len(s.Links)) * 24
	return n
}

func kvSize(kvs []KV) int64 {
	var n int64
	for _, kv := range kvs {
		n += 32 + int64(len(kv.Key)+len(kv.Value))
	}
	return n
}

// FromPdata copies every span of td. Attribute values are stringified once here.
func FromPdata(td ptrace.Traces) []Span {
	out := make([]Span, 0, td.SpanCount())
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		service := ""
		if v, ok := rs.Resource().Attributes().Get(conventions.AttrServiceName); ok {
			service = v.AsString()
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				out = append(out, fromPdataSpan(spans.At(k), service))
			}
		}
	}
	return out
}

func fromPdataSpan(sp ptrace.Span, service string) Span {
	s := Span{
		TraceID:       sp.TraceID(),
		SpanID:        sp.SpanID(),
		ParentSpanID:  sp.ParentSpanID(),
		Name:          sp.Name(),
		Service:       service,
		Kind:          sp.Kind(),
		Start:         int64(sp.StartTimestamp()),
		End:           int64(sp.EndTimestamp()),
		Status:        sp.Status().Code(),
		StatusMessage: sp.Status().Message(),
		Attrs:         kvs(sp.Attributes()),
	}
	if n := sp.Events().Len(); n > 0 {
		s.Events = make([]Event, n)
		for i := range n {
			ev := sp.Events().At(i)
			s.Events[i] = Event{Time: int64(ev.Timestamp()), Name: ev.Name(), Attrs: kvs(ev.Attributes())}
		}
	}
	if n := sp.Links().Len(); n > 0 {
		s.Links = make([]Link, n)
		for i := range n {
			l := sp.Links().At(i)
			s.Links[i] = Link{TraceID: l.TraceID(), SpanID: l.SpanID()}
		}
	}
	return s
}

func kvs(m pcommon.Map) []KV {
	if m.Len() == 0 {
		return nil
	}
	out := make([]KV, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out = append(out, KV{Key: k, Value: v.AsString()})
		return true
	})
	return out
}
