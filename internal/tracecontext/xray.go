package tracecontext

import "errors"

var (
	errXRayRoot      = errors.New("x-amzn-trace-id: Root is not 1-{8 hex}-{24 hex}")
	errXRayNoRoot    = errors.New("x-amzn-trace-id: no Root")
	errXRayParent    = errors.New("x-amzn-trace-id: Parent is not 16 lowercase hex digits")
	errXRaySampled   = errors.New("x-amzn-trace-id: Sampled is not 0, 1 or ?")
	errXRaySyntax    = errors.New("x-amzn-trace-id: expected key=value pairs separated by ';'")
	errXRayDuplicate = errors.New("x-amzn-trace-id: duplicate Root, Parent or Sampled")
)

const xrayRootLen = 35 // "1-" + 8 + "-" + 24

// ParseXRay parses an AWS X-Amzn-Trace-Id value
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader):
// Root=1-{8 hex epoch}-{24 hex};Parent={16 hex};Sampled={0|1|?}. Keys are case-sensitive as AWS
// writes them; unknown keys (Self, Lineage, custom data) are ignored. The trace id is the 8
// and 24 hex digits concatenated, as the OTel X-Ray propagator does. Root is required; Parent
// is optional because a load balancer starts a trace with Root alone (SpanID is then zero).
// Sampled=? (decision deferred) counts as not sampled.
func ParseXRay(s string) (Context, error) {
	s = trimOWS(s)
	if s == "" {
		return Context{}, errEmpty
	}
	var c Context
	var haveRoot, haveParent, haveSampled bool
	for rest := s; ; {
		part := rest
		i := indexByte(rest, ';')
		if i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		}
		part = trimOWS(part)
		if part != "" {
			eq := indexByte(part, '=')
			if eq <= 0 {
				return Context{}, errXRaySyntax
			}
			k, v := trimOWS(part[:eq]), trimOWS(part[eq+1:])
			switch k {
			case "Root":
				if haveRoot {
					return Context{}, errXRayDuplicate
				}
				haveRoot = true
				if len(v) != xrayRootLen || v[0] != '1' || v[1] != '-' || v[10] != '-' ||
					!decodeHex(c.TraceID[:4], v[2:10], &lowerHex) || !decodeHex(c.TraceID[4:], v[11:], &lowerHex) {
					return Context{}, errXRayRoot
				}
			case "Parent":
				if haveParent {
					return Context{}, errXRayDuplicate
				}
				haveParent = true
				if len(v) != 16 || !decodeHex(c.SpanID[:], v, &lowerHex) {
					return Context{}, errXRayParent
				}
				if isZero(c.SpanID[:]) {
					return Context{}, errZeroSpanID
				}
			case "Sampled":
				if haveSampled {
					return Context{}, errXRayDuplicate
				}
				haveSampled = true
				switch v {
				case "1":
					c.Flags = FlagSampled
				case "0", "?":
				default:
					return Context{}, errXRaySampled
				}
			}
		}
		if i < 0 {
			break
		}
	}
	if !haveRoot {
		return Context{}, errXRayNoRoot
	}
	if isZero(c.TraceID[:]) {
		return Context{}, errZeroTraceID
	}
	c.Format = FormatXRay
	return c, nil
}
