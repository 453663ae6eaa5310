package tracecontext

import "errors"

var (
	errB3SamplingOnly = errors.New("b3: sampling decision only, no trace context")
	errB3TraceID      = errors.New("b3: trace id is not 16 or 32 lowercase hex digits")
	errB3SpanID       = errors.New("b3: span id is not 16 lowercase hex digits")
	errB3Sampling     = errors.New("b3: sampling state is not 0, 1 or d")
	errB3Parent       = errors.New("b3: parent span id is not 16 lowercase hex digits")
	errB3Syntax       = errors.New("b3: expected {traceid}-{spanid}[-{sampling}[-{parentspanid}]]")
	errB3Sampled      = errors.New("x-b3-sampled: not 0, 1, true or false")
	errB3Missing      = errors.New("x-b3: trace id and span id must both be present")
)

// ParseB3Single parses a B3 single header (https://github.com/openzipkin/b3-propagation):
// {traceid}-{spanid}[-{sampling}[-{parentspanid}]], lowercase hex, a 64-bit trace id
// left-padded to 128 bits. A lone sampling state ("0", "1", "d") carries no ids and yields
// an error: there is nothing to correlate with. "d" (debug) implies sampled.
func ParseB3Single(s string) (Context, error) {
	s = trimOWS(s)
	var c Context
	switch {
	case s == "":
		return c, errEmpty
	case len(s) == 1:
		if s == "0" || s == "1" || s == "d" {
			return c, errB3SamplingOnly
		}
		return c, errB3Sampling
	}
	var tid string
	switch {
	case len(s) > 16 && s[16] == '-':
		tid = s[:16]
	case len(s) > 32 && s[32] == '-':
		tid = s[:32]
	default:
		return c, errB3TraceID
	}
	rest := s[len(tid)+1:]
	if len(rest) < 16 {
		return c, errB3SpanID
	}
	sid := rest[:16]
	rest = rest[16:]
	if !decodeHex(c.TraceID[:], tid, &lowerHex) {
		return Context{}, errB3TraceID
	}
	if !decodeHex(c.SpanID[:], sid, &lowerHex) {
		return Context{}, errB3SpanID
	}
	if rest != "" {
		// "-{sampling}" or "-{sampling}-{parent}"; "-{parent}" alone is invalid per spec.
		if len(rest) != 2 && len(rest) != 2+1+16 || rest[0] != '-' {
			return Context{}, errB3Syntax
		}
		switch rest[1] {
		case '1', 'd':
			c.Flags = FlagSampled
		case '0':
		default:
			return Context{}, errB3Sampling
		}
		if len(rest) > 2 {
			var p [8]byte
			if rest[2] != '-' || !decodeHex(p[:], rest[3:], &lowerHex) || len(rest[3:]) != 16 {
				return Context{}, errB3Parent
			}
		}
	}
	if isZero(c.TraceID[:]) {
		return Context{}, errZeroTraceID
	}
	if isZero(c.SpanID[:]) {
		return Context{}, errZeroSpanID
	}
	c.Format = FormatB3
	return c, nil
}

// ParseB3Multi parses the X-B3-TraceId, X-B3-SpanId, X-B3-Sampled and X-B3-Flags headers.
// Trace id: 16 or 32 lowercase hex (64-bit left-padded); span id: 16 lowercase hex; both are
// required. Sampled accepts 0/1 and, for interop, true/false (any case); anything else makes
// the carrier invalid. Flags "1" (debug) implies sampled; other flag values are ignored.
func ParseB3Multi(traceID, spanID, sampled, flags string) (Context, error) {
	var c Context
	traceID, spanID, sampled, flags = trimOWS(traceID), trimOWS(spanID), trimOWS(sampled), trimOWS(flags)
	switch {
	case sampled == "":
	case sampled == "1" || eqFoldLower(sampled, "true"):
		c.Flags = FlagSampled
	case sampled == "0" || eqFoldLower(sampled, "false"):
	default:
		return Context{}, errB3Sampled
	}
	if flags == "1" {
		c.Flags = FlagSampled
	}
	if traceID == "" || spanID == "" {
		if traceID == "" && spanID == "" {
			return Context{}, errEmpty
		}
		return Context{}, errB3Missing
	}
	if (len(traceID) != 16 && len(traceID) != 32) || !decodeHex(c.TraceID[:], traceID, &lowerHex) {
		return Context{}, errB3TraceID
	}
	if len(spanID) != 16 || !decodeHex(c.SpanID[:], spanID, &lowerHex) {
		return Context{}, errB3SpanID
	}
	if isZero(c.TraceID[:]) {
		return Context{}, errZeroTraceID
	}
	if isZero(c.SpanID[:]) {
		return Context{}, errZeroSpanID
	}
	c.Format = FormatB3
	return c, nil
}

// eqFoldLower reports whether s equals lower (which must be lowercase ASCII) ignoring ASCII case.
func eqFoldLower(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
