package tracecontext

// slot identifies a recognised carrier key. Values below numFields are trace fields, the
// ones from firstCarrier on are the names of nested carrier maps (top level only).
type slot uint8

const (
	slotTraceparent slot = iota
	slotTracestate
	slotBaggage
	slotB3
	slotB3TraceID
	slotB3SpanID
	slotB3Sampled
	slotB3Flags
	slotUber
	slotXRay
	slotDDTrace
	slotDDParent
	slotDDTags
	slotDDPriority
	slotPlainTrace
	slotPlainSpan
	slotUpTrace
	slotUpSpan
	numFields

	firstCarrier = numFields
)

// Carrier slots, in the order carriers are consulted for a format found in several of them.
const (
	slotHeaders slot = firstCarrier + iota
	slotTraceContext
	slotMetadata
	slotProperties
	slotCustom
	slotOpts
	endCarriers

	numCarriers = int(endCarriers - firstCarrier)
	slotNone    = slot(0xff)
)

// canonical key names, lowercase.
var slotNames = [endCarriers]string{
	slotTraceparent:  "traceparent",
	slotTracestate:   "tracestate",
	slotBaggage:      "baggage",
	slotB3:           "b3",
	slotB3TraceID:    "x-b3-traceid",
	slotB3SpanID:     "x-b3-spanid",
	slotB3Sampled:    "x-b3-sampled",
	slotB3Flags:      "x-b3-flags",
	slotUber:         "uber-trace-id",
	slotXRay:         "x-amzn-trace-id",
	slotDDTrace:      "x-datadog-trace-id",
	slotDDParent:     "x-datadog-parent-id",
	slotDDTags:       "x-datadog-tags",
	slotDDPriority:   "x-datadog-sampling-priority",
	slotPlainTrace:   "x-trace-id",
	slotPlainSpan:    "x-span-id",
	slotUpTrace:      "trace_id",
	slotUpSpan:       "span_id",
	slotHeaders:      "headers",
	slotTraceContext: "trace_context",
	slotMetadata:     "metadata",
	slotProperties:   "properties",
	slotCustom:       "custom",
	slotOpts:         "opts",
}

// candidates maps (key length, lowercased first byte) to at most two slots (stored +1, 0 =
// none), so that classifying one of a job's many unrelated keys usually costs two loads and
// no comparison. Every job key goes through here, so it is the hottest code in Extract.
var candidates [32][128][2]uint8

func init() {
	for s := slot(0); s < endCarriers; s++ {
		name := slotNames[s]
		c := &candidates[len(name)][name[0]]
		switch {
		case c[0] == 0:
			c[0] = uint8(s) + 1
		case c[1] == 0:
			c[1] = uint8(s) + 1
		default:
			panic("tracecontext: more than two key names share a length and first byte: " + name)
		}
	}
}

// classify returns the slot of key k, matched ASCII case-insensitively, or slotNone.
func classify(k string) slot {
	if len(k) >= len(candidates) || len(k) == 0 {
		return slotNone
	}
	f := k[0]
	if f >= 'A' && f <= 'Z' {
		f += 'a' - 'A'
	}
	if f >= 128 {
		return slotNone
	}
	c := &candidates[len(k)][f]
	for _, s := range c {
		if s == 0 {
			break
		}
		if eqFoldLower(k, slotNames[s-1]) {
			return slot(s - 1)
		}
	}
	return slotNone
}

// preferKey decides, deterministically whatever the map iteration order, which of two keys
// that differ only in case supplies a slot: the canonical lowercase spelling, else the
// smaller key.
func preferKey(s slot, newKey, oldKey string) bool {
	switch c := slotNames[s]; {
	case newKey == c:
		return true
	case oldKey == c:
		return false
	}
	return newKey < oldKey
}
