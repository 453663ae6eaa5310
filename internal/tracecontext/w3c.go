package tracecontext

import (
	"errors"
	"strings"
)

// Errors are preallocated so that falling through an invalid carrier costs no allocation.
var (
	errEmpty            = errors.New("empty value")
	errTPLength         = errors.New("traceparent: too short or wrong length for its version")
	errTPVersion        = errors.New("traceparent: version is not 2 lowercase hex digits")
	errTPVersionFF      = errors.New("traceparent: version ff is invalid")
	errTPDelimiter      = errors.New("traceparent: fields must be separated by '-'")
	errTPTraceID        = errors.New("traceparent: trace-id is not 32 lowercase hex digits")
	errTPSpanID         = errors.New("traceparent: parent-id is not 16 lowercase hex digits")
	errTPFlags          = errors.New("traceparent: trace-flags is not 2 lowercase hex digits")
	errZeroTraceID      = errors.New("trace id is all zeros")
	errZeroSpanID       = errors.New("span id is all zeros")
	errTracestateSyntax = errors.New("tracestate: invalid")
	errBaggageSyntax    = errors.New("baggage: invalid")
)

const (
	traceparentLen = 55
	w3cKnownFlags  = 0x03
) // "00-" + 32 + "-" + 16 + "-" + 2

// ParseTraceparent parses a W3C traceparent header value
// (https://www.w3.org/TR/trace-context/#traceparent-header). Hex must be lowercase; version
// ff and all-zero ids are invalid. Version 00 must be exactly 55 characters. A higher
// (future) version is accepted when its first four fields parse and it either ends there
// or continues with '-' (spec §"Versioning of traceparent"); the extra fields are ignored.
// Outer spaces/tabs are trimmed as an HTTP stack would.
func ParseTraceparent(s string) (Context, error) {
	var c Context
	s = trimOWS(s)
	if len(s) < traceparentLen {
		if s == "" {
			return c, errEmpty
		}
		return c, errTPLength
	}
	var v [1]byte
	if !decodeFixed(v[:], s[0:2], &lowerHex) {
		return c, errTPVersion
	}
	if v[0] == 0xff {
		return c, errTPVersionFF
	}
	if v[0] == 0 && len(s) != traceparentLen {
		return c, errTPLength
	}
	if len(s) > traceparentLen && s[traceparentLen] != '-' {
		return c, errTPLength
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return c, errTPDelimiter
	}
	if !decodeFixed(c.TraceID[:], s[3:35], &lowerHex) {
		return Context{}, errTPTraceID
	}
	if !decodeFixed(c.SpanID[:], s[36:52], &lowerHex) {
		return Context{}, errTPSpanID
	}
	var f [1]byte
	if !decodeFixed(f[:], s[53:55], &lowerHex) {
		return Context{}, errTPFlags
	}
	if isZero(c.TraceID[:]) {
		return Context{}, errZeroTraceID
	}
	if isZero(c.SpanID[:]) {
		return Context{}, errZeroSpanID
	}
	// Only sampled (bit 0) and random (bit 1, Level 2) are defined; the spec says other bits
	// must be zero when the context is propagated, and the caller propagates it into spans.
	c.Flags = f[0] & w3cKnownFlags
	c.Format = FormatW3C
	return c, nil
}

// ParseW3C parses traceparent and attaches tracestate and baggage when they are valid. An
// invalid tracestate or baggage is dropped (the spec says to discard it), not an error.
func ParseW3C(traceparent, tracestate, baggage string) (Context, error) {
	c, err := ParseTraceparent(traceparent)
	if err != nil {
		return c, err
	}
	if ts, ok := ValidTraceState(tracestate); ok {
		c.TraceState = ts
	}
	if b, ok := ValidBaggage(baggage); ok {
		c.Baggage = b
	}
	return c, nil
}

const (
	maxTraceStateMembers = 32
	maxTraceStateLen     = 8192
	maxBaggageMembers    = 64
	maxBaggageLen        = 8192
)

// ValidTraceState checks a tracestate value against the W3C Trace Context Level 1 grammar:
// at most 32 list members, keys (simple or tenant@system) unique, values 1-256 printable
// characters without ',' or '=' and not ending in a space. Empty members are allowed. It
// returns the value without outer whitespace, and false (with "") when s is empty or invalid.
func ValidTraceState(s string) (string, bool) {
	s = trimOWS(s)
	if s == "" || len(s) > maxTraceStateLen {
		return "", false
	}
	var keys [maxTraceStateMembers]string
	n := 0
	for rest := s; ; {
		member := rest
		i := indexByte(rest, ',')
		if i >= 0 {
			member, rest = rest[:i], rest[i+1:]
		}
		member = trimOWS(member)
		if member != "" {
			eq := indexByte(member, '=')
			if eq < 0 || !validTraceStateKey(member[:eq]) || !validTraceStateValue(member[eq+1:]) {
				return "", false
			}
			if n == maxTraceStateMembers {
				return "", false
			}
			k := member[:eq]
			for _, prev := range keys[:n] {
				if prev == k {
					return "", false
				}
			}
			keys[n] = k
			n++
		}
		if i < 0 {
			break
		}
	}
	if n == 0 {
		return "", false
	}
	return s, true
}

func isLcAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isKeyChar(c byte) bool {
	return isLcAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '*' || c == '/'
}

func validTraceStateKey(k string) bool {
	at := indexByte(k, '@')
	if at < 0 {
		// simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
		if len(k) == 0 || len(k) > 256 || !isLcAlpha(k[0]) {
			return false
		}
		for i := 1; i < len(k); i++ {
			if !isKeyChar(k[i]) {
				return false
			}
		}
		return true
	}
	// multi-tenant-key = tenant-id "@" system-id
	// tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
	// system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
	tenant, system := k[:at], k[at+1:]
	if len(tenant) == 0 || len(tenant) > 241 || !(isLcAlpha(tenant[0]) || isDigit(tenant[0])) {
		return false
	}
	for i := 1; i < len(tenant); i++ {
		if !isKeyChar(tenant[i]) {
			return false
		}
	}
	if len(system) == 0 || len(system) > 14 || !isLcAlpha(system[0]) {
		return false
	}
	for i := 1; i < len(system); i++ {
		if !isKeyChar(system[i]) {
			return false
		}
	}
	return true
}

// value = 0*255(chr) nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; chr = %x20 / nblk-chr
func validTraceStateValue(v string) bool {
	if len(v) == 0 || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

// ValidBaggage checks a W3C baggage value (https://www.w3.org/TR/baggage/): comma-separated
// `key=value` members with optional `;property` parts, keys RFC 7230 tokens, values
// baggage-octets (percent-encoding allowed), at most 64 members and 8192 bytes. It returns
// the value without outer whitespace, and false (with "") when s is empty or invalid.
func ValidBaggage(s string) (string, bool) {
	s = trimOWS(s)
	if s == "" || len(s) > maxBaggageLen {
		return "", false
	}
	n := 0
	for rest := s; ; {
		member := rest
		i := indexByte(rest, ',')
		if i >= 0 {
			member, rest = rest[:i], rest[i+1:]
		}
		n++
		if n > maxBaggageMembers || !validBaggageMember(member) {
			return "", false
		}
		if i < 0 {
			break
		}
	}
	return s, true
}

// list-member = key OWS "=" OWS value *( OWS ";" OWS property )
// property = key OWS "=" OWS value / key OWS
func validBaggageMember(m string) bool {
	first := true
	for rest := m; ; {
		part := rest
		i := indexByte(rest, ';')
		if i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		}
		part = trimOWS(part)
		eq := indexByte(part, '=')
		switch {
		case eq < 0:
			if first || !isToken(part) { // the member itself needs a value
				return false
			}
		default:
			if !isToken(trimOWS(part[:eq])) || !isBaggageValue(trimOWS(part[eq+1:])) {
				return false
			}
		}
		first = false
		if i < 0 {
			return true
		}
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!', c == '#', c == '$', c == '%', c == '&', c == '\'', c == '*', c == '+',
			c == '-', c == '.', c == '^', c == '_', c == '`', c == '|', c == '~':
		default:
			return false
		}
	}
	return true
}

// baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
func isBaggageValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

func indexByte(s string, c byte) int { return strings.IndexByte(s, c) }
