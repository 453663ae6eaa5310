package tracecontext

import "errors"

var (
	errUberSyntax  = errors.New("uber-trace-id: expected {trace-id}:{span-id}:{parent-span-id}:{flags}")
	errUberTraceID = errors.New("uber-trace-id: trace id is not 1-32 hex digits")
	errUberSpanID  = errors.New("uber-trace-id: span id is not 1-16 hex digits")
	errUberParent  = errors.New("uber-trace-id: parent span id is not 1-16 hex digits")
	errUberFlags   = errors.New("uber-trace-id: flags are not 1-2 hex digits")
	errUberEscape  = errors.New("uber-trace-id: bad percent-encoding or too long")
)

// maxUberLen bounds the decoded header: 32+16+16+2 digits and 3 colons fit with room to spare.
const maxUberLen = 96

// ParseUberTraceID parses a Jaeger uber-trace-id value
// (https://www.jaegertracing.io/docs/client-libraries/#tracespan-identity):
// {trace-id}:{span-id}:{parent-span-id}:{flags}. The value may be URL-encoded (Jaeger clients
// send ':' as %3A in HTTP headers). Ids are variable-length hex, upper or lower case as the
// Jaeger clients accept, left-padded to 128/64 bits; a zero trace or span id is invalid, the
// deprecated parent id may be 0 or empty. Flag bit 0 is sampled (debug, bit 1, implies nothing more).
func ParseUberTraceID(s string) (Context, error) {
	s = trimOWS(s)
	if s == "" {
		return Context{}, errEmpty
	}
	if indexByte(s, '%') < 0 {
		return parseUber(s)
	}
	if len(s) > 3*maxUberLen {
		return Context{}, errUberEscape
	}
	var buf [maxUberLen]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return Context{}, errUberEscape
			}
			hi, lo := anyHex[s[i+1]], anyHex[s[i+2]]
			if (hi|lo)&0xF0 != 0 {
				return Context{}, errUberEscape
			}
			c = hi<<4 | lo
			i += 2
		}
		if n == len(buf) {
			return Context{}, errUberEscape
		}
		buf[n] = c
		n++
	}
	return parseUber(buf[:n])
}

func parseUber[T string | []byte](s T) (Context, error) {
	var c Context
	var fields [4]T
	nf := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			if nf == len(fields) {
				return Context{}, errUberSyntax
			}
			fields[nf] = s[start:i]
			nf++
			start = i + 1
		}
	}
	if nf != 4 {
		return Context{}, errUberSyntax
	}
	if !decodeHex(c.TraceID[:], fields[0], &anyHex) {
		return Context{}, errUberTraceID
	}
	if !decodeHex(c.SpanID[:], fields[1], &anyHex) {
		return Context{}, errUberSpanID
	}
	// The parent id is deprecated and the OTel Jaeger propagator ignores it; we only
	// insist that it is not garbage. Empty flags mean "not sampled", as in that propagator.
	var p [8]byte
	if len(fields[2]) > 0 && !decodeHex(p[:], fields[2], &anyHex) {
		return Context{}, errUberParent
	}
	var f [1]byte
	if len(fields[3]) > 0 && !decodeHex(f[:], fields[3], &anyHex) {
		return Context{}, errUberFlags
	}
	if isZero(c.TraceID[:]) {
		return Context{}, errZeroTraceID
	}
	if isZero(c.SpanID[:]) {
		return Context{}, errZeroSpanID
	}
	c.Flags = f[0] & FlagSampled
	c.Format = FormatJaeger
	return c, nil
}
