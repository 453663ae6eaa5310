package backends

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

type zipkinEndpoint struct {
	ServiceName string `json:"serviceName"`
	IPv4        string `json:"ipv4"`
	Port        int    `json:"port"`
}

type zipkinSpan struct {
	TraceID        string            `json:"traceId"`
	ParentID       string            `json:"parentId"`
	ID             string            `json:"id"`
	Kind           string            `json:"kind"`
	Name           string            `json:"name"`
	Timestamp      int64             `json:"timestamp"` // µs since epoch
	Duration       int64             `json:"duration"`  // µs
	Shared         bool              `json:"shared"`
	LocalEndpoint  *zipkinEndpoint   `json:"localEndpoint"`
	RemoteEndpoint *zipkinEndpoint   `json:"remoteEndpoint"`
	Tags           map[string]string `json:"tags"`
	Annotations    []struct {
		Timestamp int64  `json:"timestamp"`
		Value     string `json:"value"`
	} `json:"annotations"`
}

// DecodeZipkin decodes a Zipkin v2 GET /api/v2/trace/{id} answer: a JSON array of spans with
// times in microseconds and 64- or 128-bit hex ids.
//
// Zipkin's B3 "shared" spans reuse the client's span id for the server side. The cache keys
// spans by id, so a shared server half is given the client half as parent only when the ids
// differ; when they are equal the client half wins and the server's tags are merged into it.
func DecodeZipkin(body []byte) ([]tracecache.Span, error) {
	var in []zipkinSpan
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("decode zipkin answer: %w", err)
	}
	// Non-shared first so that a shared duplicate merges into its client half.
	sort.SliceStable(in, func(i, j int) bool { return !in[i].Shared && in[j].Shared })
	out := make([]tracecache.Span, 0, len(in))
	byID := map[pcommon.SpanID]int{}
	for i, z := range in {
		traceID, err := traceIDFromHex(z.TraceID)
		if err != nil {
			return nil, fmt.Errorf("span %d: traceId: %w", i, err)
		}
		spanID, err := spanIDFromHex(z.ID)
		if err != nil {
			return nil, fmt.Errorf("span %d: id: %w", i, err)
		}
		var parent pcommon.SpanID
		if z.ParentID != "" {
			if parent, err = spanIDFromHex(z.ParentID); err != nil {
				return nil, fmt.Errorf("span %d: parentId: %w", i, err)
			}
		}
		s := tracecache.Span{
			TraceID:      traceID,
			SpanID:       spanID,
			ParentSpanID: parent,
			Name:         z.Name,
			Kind:         zipkinKind(z.Kind),
			Start:        z.Timestamp * 1000,
			End:          (z.Timestamp + z.Duration) * 1000,
		}
		if z.LocalEndpoint != nil {
			s.Service = z.LocalEndpoint.ServiceName
		}
		keys := make([]string, 0, len(z.Tags))
		for k := range z.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s.Attrs = append(s.Attrs, tracecache.KV{Key: k, Value: z.Tags[k]})
		}
		if z.RemoteEndpoint != nil && z.RemoteEndpoint.ServiceName != "" {
			s.Attrs = append(s.Attrs, tracecache.KV{Key: "peer.service", Value: z.RemoteEndpoint.ServiceName})
		}
		// Zipkin marks failure with an "error" tag (its value is the message, possibly empty);
		// OTel-originated spans carry otel.status_code instead.
		if msg, ok := z.Tags["error"]; ok {
			s.Status, s.StatusMessage = ptrace.StatusCodeError, msg
		} else if code := z.Tags["otel.status_code"]; strings.EqualFold(code, "ERROR") {
			s.Status, s.StatusMessage = ptrace.StatusCodeError, z.Tags["otel.status_description"]
		} else if strings.EqualFold(code, "OK") {
			s.Status = ptrace.StatusCodeOk
		}
		for _, a := range z.Annotations {
			s.Events = append(s.Events, tracecache.Event{Time: a.Timestamp * 1000, Name: a.Value})
		}
		if j, dup := byID[spanID]; dup {
			prev := &out[j]
			prev.Attrs = append(prev.Attrs, s.Attrs...)
			prev.Events = append(prev.Events, s.Events...)
			if s.Status == ptrace.StatusCodeError {
				prev.Status, prev.StatusMessage = s.Status, s.StatusMessage
			}
			continue
		}
		byID[spanID] = len(out)
		out = append(out, s)
	}
	return out, nil
}

func zipkinKind(k string) ptrace.SpanKind {
	switch k {
	case "CLIENT":
		return ptrace.SpanKindClient
	case "SERVER":
		return ptrace.SpanKindServer
	case "PRODUCER":
		return ptrace.SpanKindProducer
	case "CONSUMER":
		return ptrace.SpanKindConsumer
	}
	return ptrace.SpanKindInternal
}

// traceIDFromHex accepts Zipkin's 64-bit (16 hex) and 128-bit (32 hex) trace ids; a 64-bit id
// is the low half, as Zipkin and OTel agree.
func traceIDFromHex(s string) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	if len(s) != 16 && len(s) != 32 {
		return id, fmt.Errorf("want 16 or 32 hex digits, got %q", s)
	}
	s = strings.Repeat("0", 32-len(s)) + s
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

func spanIDFromHex(s string) (pcommon.SpanID, error) {
	var id pcommon.SpanID
	if len(s) > 16 || len(s) == 0 {
		return id, fmt.Errorf("want up to 16 hex digits, got %q", s)
	}
	s = strings.Repeat("0", 16-len(s)) + s
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}
