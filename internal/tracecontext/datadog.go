package tracecontext

import "errors"

var (
	errDDTraceID  = errors.New("x-datadog-trace-id: not an unsigned 64-bit decimal")
	errDDParentID = errors.New("x-datadog-parent-id: not an unsigned 64-bit decimal")
	errDDNoParent = errors.New("x-datadog-parent-id: missing")
)

// ParseDatadog parses Datadog's x-datadog-trace-id and x-datadog-parent-id (unsigned 64-bit
// decimals, non-zero; the parent id is required, as in dd-trace-go) and takes the upper 64
// trace-id bits from the `_dd.p.tid` member of x-datadog-tags (16 lowercase hex). A malformed
// _dd.p.tid is ignored, as dd-trace-go does, leaving a 64-bit trace id. Sampling is unknown
// from these three values; see ParseDatadogWithPriority.
func ParseDatadog(traceID, parentID, tags string) (Context, error) {
	var c Context
	traceID, parentID = trimOWS(traceID), trimOWS(parentID)
	if traceID == "" {
		return c, errEmpty
	}
	lo, ok := parseUint64(traceID)
	if !ok {
		return c, errDDTraceID
	}
	if parentID == "" {
		return c, errDDNoParent
	}
	span, ok := parseUint64(parentID)
	if !ok {
		return c, errDDParentID
	}
	if lo == 0 {
		return c, errZeroTraceID
	}
	if span == 0 {
		return c, errZeroSpanID
	}
	if tid, ok := ddTagValue(tags, "_dd.p.tid"); ok && len(tid) == 16 {
		if !decodeHex(c.TraceID[:8], tid, &lowerHex) {
			clear(c.TraceID[:8])
		}
	}
	putUint64(c.TraceID[8:], lo)
	putUint64(c.SpanID[:], span)
	c.Format = FormatDatadog
	return c, nil
}

// ParseDatadogWithPriority is ParseDatadog plus x-datadog-sampling-priority: a priority
// above 0 (AUTO_KEEP 1, USER_KEEP 2) sets the sampled flag; 0, negative or malformed does not.
func ParseDatadogWithPriority(traceID, parentID, tags, priority string) (Context, error) {
	c, err := ParseDatadog(traceID, parentID, tags)
	if err != nil {
		return c, err
	}
	p := trimOWS(priority)
	if p != "" && p[0] != '-' {
		if v, ok := parseUint64(p); ok && v > 0 {
			c.Flags = FlagSampled
		}
	}
	return c, nil
}

// parseUint64 parses 1-20 decimal digits without overflow. No sign, no spaces.
func parseUint64(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		if v > (1<<64-1)/10 || v*10 > 1<<64-1-uint64(d) {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	return v, true
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

// ddTagValue finds key in a comma-separated k=v list (x-datadog-tags).
func ddTagValue(tags, key string) (string, bool) {
	for rest := tags; rest != ""; {
		member := rest
		i := indexByte(rest, ',')
		if i >= 0 {
			member, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		member = trimOWS(member)
		if eq := indexByte(member, '='); eq > 0 && member[:eq] == key {
			return member[eq+1:], true
		}
	}
	return "", false
}
