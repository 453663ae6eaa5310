package tracecontext

import (
	"encoding/hex"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Context is a trace context found in a job. It is a plain value: copying it is cheap and it
// holds no references other than the TraceState and Baggage strings, which point into the
// carrier they were read from.
type Context struct {
	TraceID [16]byte
	// SpanID is the span that propagated the context: the parent of whatever the caller
	// creates. It is zero only for formats that may legitimately carry a trace id alone
	// (plain X-Trace-Id, upstream trace_id, X-Ray Root without Parent); see IsValid.
	SpanID [8]byte
	// Flags holds W3C trace flags: bit 0 sampled, bit 1 random (W3C Level 2); undefined bits
	// are cleared. Other formats map their sampling decision onto bit 0 only.
	Flags byte
	// TraceState is the validated W3C tracestate (W3C only), verbatim minus outer whitespace.
	TraceState string
	// Baggage is the validated W3C baggage from the same carrier as the context, verbatim.
	Baggage string
	Format  Format
	Source  Source
}

// IsValid reports whether both the trace id and the span id are non-zero, i.e. whether the
// context can serve as a span parent or link target.
func (c Context) IsValid() bool { return c.HasTraceID() && c.SpanID != [8]byte{} }

// HasTraceID reports whether the trace id is non-zero.
func (c Context) HasTraceID() bool { return c.TraceID != [16]byte{} }

// Sampled reports the sampled bit.
func (c Context) Sampled() bool { return c.Flags&FlagSampled != 0 }

// FlagSampled is bit 0 of the W3C trace flags.
const FlagSampled byte = 0x01

// PTraceID returns the trace id as a pdata TraceID.
func (c Context) PTraceID() pcommon.TraceID { return pcommon.TraceID(c.TraceID) }

// PSpanID returns the span id as a pdata SpanID (empty when absent).
func (c Context) PSpanID() pcommon.SpanID { return pcommon.SpanID(c.SpanID) }

// TraceIDHex returns the trace id as 32 lowercase hex digits. It allocates.
func (c Context) TraceIDHex() string { return hex.EncodeToString(c.TraceID[:]) }

// SpanIDHex returns the span id as 16 lowercase hex digits. It allocates.
func (c Context) SpanIDHex() string { return hex.EncodeToString(c.SpanID[:]) }

const invalidNibble = 0xFF

// lowerHex maps lowercase hex digits to their value; everything else (including A-F) to
// invalidNibble. W3C, B3 and X-Ray mandate lowercase.
var lowerHex, anyHex [256]byte

func init() {
	for i := range lowerHex {
		lowerHex[i], anyHex[i] = invalidNibble, invalidNibble
	}
	for c := '0'; c <= '9'; c++ {
		lowerHex[c], anyHex[c] = byte(c-'0'), byte(c-'0')
	}
	for c := 'a'; c <= 'f'; c++ {
		lowerHex[c], anyHex[c] = byte(c-'a'+10), byte(c-'a'+10)
		anyHex[c-'a'+'A'] = byte(c - 'a' + 10)
	}
}

// decodeHex decodes s right-aligned into dst, left-padding with zeros: "abc" into a [2]byte
// gives {0x0a, 0xbc}. s must be 1..2*len(dst) digits of the given table. dst is fully
// overwritten on success and left in an unspecified state on failure.
func decodeHex[T string | []byte](dst []byte, s T, tbl *[256]byte) bool {
	if len(s) == 0 || len(s) > 2*len(dst) {
		return false
	}
	j := len(dst) - 1
	i := len(s)
	for ; i >= 2; i -= 2 {
		hi, lo := tbl[s[i-2]], tbl[s[i-1]]
		if (hi|lo)&0xF0 != 0 {
			return false
		}
		dst[j] = hi<<4 | lo
		j--
	}
	if i == 1 {
		lo := tbl[s[0]]
		if lo&0xF0 != 0 {
			return false
		}
		dst[j] = lo
		j--
	}
	for ; j >= 0; j-- {
		dst[j] = 0
	}
	return true
}

// decodeFixed decodes exactly 2*len(dst) digits. Errors are accumulated rather than branched
// on, since valid input is the common case.
func decodeFixed(dst []byte, s string, tbl *[256]byte) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := tbl[s[2*i]], tbl[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad&0xF0 == 0
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// trimOWS removes the optional whitespace (space, tab) an HTTP stack would strip from a
// header value; payload carriers often keep it.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
