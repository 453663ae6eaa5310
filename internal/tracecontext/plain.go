package tracecontext

import "errors"

var (
	errPlainTraceID    = errors.New("x-trace-id: not 16 or 32 hex digits")
	errPlainSpanID     = errors.New("x-span-id: not 16 hex digits")
	errUpstreamTraceID = errors.New("trace_id: not 32 hex digits")
	errUpstreamSpanID  = errors.New("span_id: not 16 hex digits")
)

// ParsePlain parses plain X-Trace-Id / X-Span-Id values: a trace id of 32 hex digits (or 16,
// left-padded) and a span id of 16 hex digits. Upper case is accepted: these headers follow
// no spec that forbids it and case does not change the id. The span id may be absent, since
// many systems send X-Trace-Id alone; the Context then has a zero SpanID (IsValid is false,
// HasTraceID true). A present but malformed span id makes the whole carrier invalid.
// Anything else (UUIDs with dashes, free text) is rejected: we never guess ids.
func ParsePlain(traceID, spanID string) (Context, error) {
	c, err := parseTraceSpanHex(traceID, spanID, true, errPlainTraceID, errPlainSpanID)
	if err == nil {
		c.Format = FormatPlain
	}
	return c, err
}

// ParseUpstream parses go-redis-work-queue's bare trace_id / span_id job fields: exactly 32
// and 16 hex digits (upstream writes lowercase; upper case is accepted for the same reason as
// in ParsePlain). A missing span_id leaves SpanID zero.
func ParseUpstream(traceID, spanID string) (Context, error) {
	c, err := parseTraceSpanHex(traceID, spanID, false, errUpstreamTraceID, errUpstreamSpanID)
	if err == nil {
		c.Format = FormatUpstream
	}
	return c, err
}

func parseTraceSpanHex(traceID, spanID string, allow64 bool, errTrace, errSpan error) (Context, error) {
	var c Context
	traceID, spanID = trimOWS(traceID), trimOWS(spanID)
	if traceID == "" {
		return c, errEmpty
	}
	if !(len(traceID) == 32 || allow64 && len(traceID) == 16) || !decodeHex(c.TraceID[:], traceID, &anyHex) {
		return Context{}, errTrace
	}
	if isZero(c.TraceID[:]) {
		return Context{}, errZeroTraceID
	}
	if spanID != "" {
		if len(spanID) != 16 || !decodeHex(c.SpanID[:], spanID, &anyHex) {
			return Context{}, errSpan
		}
		if isZero(c.SpanID[:]) {
			return Context{}, errZeroSpanID
		}
	}
	return c, nil
}
