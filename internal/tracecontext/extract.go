package tracecontext

import (
	"encoding/json"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

const (
	// maxNested bounds the maps and JSON strings found inside carriers that are considered
	// per extraction, so that a job with a huge `opts` map costs a bounded amount.
	maxNested = 8
	// maxJSONDecodes and maxJSONLen bound the only allocating step: decoding JSON strings
	// nested in carriers (BullMQ's opts.tm).
	maxJSONDecodes = 4
	maxJSONLen     = 16 << 10
)

// Extractor finds a trace context in a decoded job. It is immutable and safe for concurrent use.
type Extractor struct {
	prec  []Format
	masks []uint32 // per precedence entry: the slots whose presence makes the format worth parsing
	extra []extraPath
}

type extraPath struct {
	segs []string
	src  Source
}

var formatMask = [numFormats]uint32{
	FormatW3C:      1 << slotTraceparent,
	FormatB3:       1<<slotB3 | 1<<slotB3TraceID | 1<<slotB3SpanID,
	FormatJaeger:   1 << slotUber,
	FormatXRay:     1 << slotXRay,
	FormatDatadog:  1 << slotDDTrace,
	FormatPlain:    1 << slotPlainTrace,
	FormatUpstream: 1 << slotUpTrace,
}

// NewExtractor validates cfg and prepares an Extractor.
func NewExtractor(cfg Config) (*Extractor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Extractor{prec: append([]Format(nil), cfg.Precedence...)}
	for _, f := range e.prec {
		e.masks = append(e.masks, formatMask[f])
	}
	for _, p := range cfg.ExtraPaths {
		segs := strings.Split(p, ".")
		src := SourceMetadata
		if strings.EqualFold(segs[len(segs)-1], "headers") {
			src = SourceHeaders
		}
		e.extra = append(e.extra, extraPath{segs: segs, src: src})
	}
	return e, nil
}

// fields collects the recognised values of one carrier.
type fields struct {
	val [numFields]string
	key [numFields]string
	set uint32
}

func (f *fields) add(s slot, k, v string) {
	if f.set&(1<<s) != 0 && !preferKey(s, k, f.key[s]) {
		return
	}
	f.set |= 1 << s
	f.val[s], f.key[s] = v, k
}

func (f *fields) get(s slot) string {
	if f.set&(1<<s) == 0 {
		return ""
	}
	return f.val[s]
}

// nestedCarrier is a map or JSON string found one level inside a carrier.
type nestedCarrier struct {
	order int // position of the parent carrier in carrier order
	key   string
	m     map[string]any
	pm    pcommon.Map
	isPM  bool
	json  string // non-empty: a JSON object string to decode
	src   Source
	// whole: the carrier itself was a JSON string, so what it nests is followed once more.
	whole bool
}

// nestedList keeps at most maxNested entries sorted by (order, key), dropping the largest,
// so the outcome does not depend on map iteration order.
type nestedList struct {
	n     int
	items [maxNested]nestedCarrier
}

func (l *nestedList) add(it nestedCarrier) {
	i := l.n
	if i == maxNested {
		last := &l.items[maxNested-1]
		if !lessNested(&it, last) {
			return
		}
		i--
	} else {
		l.n++
	}
	for i > 0 && lessNested(&it, &l.items[i-1]) {
		l.items[i] = l.items[i-1]
		i--
	}
	l.items[i] = it
}

func lessNested(a, b *nestedCarrier) bool {
	if a.order != b.order {
		return a.order < b.order
	}
	return a.key < b.key
}

// state is the best context found so far. rank indexes Extractor.prec; len(prec) means none.
type state struct {
	best    Context
	rank    int
	decodes int
	nested  nestedList
	rej     Rejected
}

type mapCarrier struct {
	key string
	v   any
}

type attrCarrier struct {
	key string
	v   pcommon.Value
}

// Extract looks for a trace context in a decoded JSON job (as produced by json.Unmarshal into
// map[string]any; json.Number values are accepted as strings). Carriers are consulted in this
// order, which only matters when one format appears in several of them: headers,
// trace_context, metadata, properties, custom, opts, the extra paths, maps nested one level
// inside those, the job's top-level fields, and last JSON object strings nested in carriers
// (decoded only when nothing of the highest precedence was found yet). Across carriers the
// configured format precedence decides. ok is false when no valid context was found; when it
// is true the trace id is non-zero, and so is the span id unless the format allows a trace id
// alone (see Context.SpanID).
func (e *Extractor) Extract(m map[string]any) (Context, bool) {
	c, ok, _ := e.ExtractReport(m)
	return c, ok
}

// ExtractReport is Extract that also reports which carriers were present but rejected, for
// "extraction failures by format" telemetry and sampled logging of bad carriers.
func (e *Extractor) ExtractReport(m map[string]any) (Context, bool, Rejected) {
	if len(m) == 0 {
		return Context{}, false, Rejected{}
	}
	st := state{rank: len(e.prec)}
	var top fields
	var cars [numCarriers]mapCarrier
	found := len(e.extra) > 0
	for k, v := range m {
		s := classify(k)
		switch {
		case s < numFields:
			if str, ok := asString(v); ok {
				top.add(s, k, str)
			}
		case s < endCarriers:
			c := &cars[s-firstCarrier]
			if c.key == "" || preferKey(s, k, c.key) {
				c.key, c.v = k, v
			}
			found = true
		}
	}
	if found {
		e.mapCarriers(m, &cars, &st)
	}
	e.finish(&top, &st)
	return st.best, st.rank < len(e.prec), st.rej
}

// mapCarriers evaluates the carrier maps; most jobs have none and skip it.
func (e *Extractor) mapCarriers(m map[string]any, cars *[numCarriers]mapCarrier, st *state) {
	for i := range cars {
		if cars[i].key != "" {
			e.carrier(cars[i].v, carrierSource(slot(i)+firstCarrier), i, st)
		}
	}
	for j := range e.extra {
		if v, ok := lookupPath(m, e.extra[j].segs); ok {
			e.carrier(v, e.extra[j].src, numCarriers+j, st)
		}
	}
	e.nestedMaps(st)
}

// ExtractAttributes is Extract for OTel attributes (e.g. a log record's), for the correlation
// processor. Top-level attributes count as the payload; map-valued attributes named like the
// carriers above (headers, metadata, …) and the extra paths are carriers, as in Extract.
func (e *Extractor) ExtractAttributes(attrs pcommon.Map) (Context, bool) {
	c, ok, _ := e.ExtractAttributesReport(attrs)
	return c, ok
}

// ExtractAttributesReport is ExtractAttributes that also reports rejected carriers.
func (e *Extractor) ExtractAttributesReport(attrs pcommon.Map) (Context, bool, Rejected) {
	if attrs.Len() == 0 {
		return Context{}, false, Rejected{}
	}
	st := state{rank: len(e.prec)}
	var top fields
	var cars [numCarriers]attrCarrier
	found := len(e.extra) > 0
	for k, v := range attrs.All() {
		s := classify(k)
		switch {
		case s < numFields:
			if v.Type() == pcommon.ValueTypeStr {
				top.add(s, k, v.Str())
			}
		case s < endCarriers:
			c := &cars[s-firstCarrier]
			if c.key == "" || preferKey(s, k, c.key) {
				c.key, c.v = k, v
			}
			found = true
		}
	}
	if found {
		e.attrCarriers(attrs, &cars, &st)
	}
	e.finish(&top, &st)
	return st.best, st.rank < len(e.prec), st.rej
}

func (e *Extractor) attrCarriers(attrs pcommon.Map, cars *[numCarriers]attrCarrier, st *state) {
	for i := range cars {
		if cars[i].key != "" {
			e.pcarrier(cars[i].v, carrierSource(slot(i)+firstCarrier), i, st)
		}
	}
	for j := range e.extra {
		if v, ok := lookupPathP(attrs, e.extra[j].segs); ok {
			e.pcarrier(v, e.extra[j].src, numCarriers+j, st)
		}
	}
	e.nestedMaps(st)
}

// nestedMaps evaluates the maps found one level inside carriers.
func (e *Extractor) nestedMaps(st *state) {
	for i := 0; i < st.nested.n; i++ {
		it := &st.nested.items[i]
		switch {
		case it.json != "":
		case it.isPM:
			var f fields
			scanPMap(it.pm, &f, nil, 0, 0)
			e.eval(&f, it.src, st)
		default:
			var f fields
			scanMap(it.m, &f, nil, 0, 0)
			e.eval(&f, it.src, st)
		}
	}
}

// finish evaluates the top-level fields, then (the cold path) JSON strings nested in
// carriers, unless the best possible format was already found.
func (e *Extractor) finish(top *fields, st *state) {
	e.eval(top, SourcePayload, st)
	if st.rank == 0 || st.nested.n == 0 {
		return
	}
	for i := 0; i < st.nested.n && st.rank > 0; i++ {
		if it := &st.nested.items[i]; it.json != "" {
			e.decodeAndEval(it.json, it.src, it.whole, st)
		}
	}
}

func carrierSource(s slot) Source {
	if s == slotHeaders {
		return SourceHeaders
	}
	return SourceMetadata
}

// carrier evaluates a depth-1 carrier value: a map now, a JSON string later.
func (e *Extractor) carrier(v any, src Source, order int, st *state) {
	switch c := v.(type) {
	case map[string]any:
		var f fields
		scanMap(c, &f, &st.nested, order, src)
		e.eval(&f, src, st)
	case string:
		if looksLikeJSONObject(c) {
			st.nested.add(nestedCarrier{order: order, json: c, src: src, whole: true})
		}
	}
}

func (e *Extractor) pcarrier(v pcommon.Value, src Source, order int, st *state) {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		var f fields
		scanPMap(v.Map(), &f, &st.nested, order, src)
		e.eval(&f, src, st)
	case pcommon.ValueTypeStr:
		if s := v.Str(); looksLikeJSONObject(s) {
			st.nested.add(nestedCarrier{order: order, json: s, src: src, whole: true})
		}
	}
}

// scanMap collects m's trace fields into f and, when nested is non-nil, its map and JSON
// string values into nested.
func scanMap(m map[string]any, f *fields, nested *nestedList, order int, src Source) {
	for k, v := range m {
		switch c := v.(type) {
		case string:
			if s := classify(k); s < numFields {
				f.add(s, k, c)
			} else if nested != nil && looksLikeJSONObject(c) {
				nested.add(nestedCarrier{order: order, key: k, json: c, src: src})
			}
		case json.Number:
			if s := classify(k); s < numFields {
				f.add(s, k, string(c))
			}
		case map[string]any:
			if nested != nil {
				nested.add(nestedCarrier{order: order, key: k, m: c, src: src})
			}
		}
	}
}

func scanPMap(m pcommon.Map, f *fields, nested *nestedList, order int, src Source) {
	for k, v := range m.All() {
		switch v.Type() {
		case pcommon.ValueTypeStr:
			c := v.Str()
			if s := classify(k); s < numFields {
				f.add(s, k, c)
			} else if nested != nil && looksLikeJSONObject(c) {
				nested.add(nestedCarrier{order: order, key: k, json: c, src: src})
			}
		case pcommon.ValueTypeMap:
			if nested != nil {
				nested.add(nestedCarrier{order: order, key: k, pm: v.Map(), isPM: true, src: src})
			}
		}
	}
}

// decodeAndEval is the cold path: decode a JSON object string and evaluate it as a carrier.
// At depth 1 (a carrier that is itself a JSON string) its own nested values are followed too.
func (e *Extractor) decodeAndEval(s string, src Source, followNested bool, st *state) {
	if st.decodes >= maxJSONDecodes {
		return
	}
	st.decodes++
	// Plain Unmarshal, like the caller's own decoding: numbers become float64 and are
	// ignored, so a nested carrier behaves exactly like the same keys at top level.
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) != nil || m == nil {
		return
	}
	var f fields
	var inner *nestedList
	if followNested {
		inner = new(nestedList)
	}
	scanMap(m, &f, inner, 0, src)
	e.eval(&f, src, st)
	if inner == nil {
		return
	}
	for i := 0; i < inner.n && st.rank > 0; i++ {
		it := &inner.items[i]
		if it.json != "" {
			e.decodeAndEval(it.json, src, false, st)
			continue
		}
		var g fields
		scanMap(it.m, &g, nil, 0, 0)
		e.eval(&g, src, st)
	}
}

// Rejected describes carriers that were present but invalid. Only carriers that were tried
// are reported: a format ranked below the one finally extracted is never parsed, and JSON
// strings are not decoded once the top-precedence format was found.
type Rejected struct {
	// Formats holds every format with at least one rejected carrier.
	Formats FormatSet
	// Err is the first rejection met (carrier order, then precedence), e.g.
	// "traceparent: version ff is invalid"; nil when nothing was rejected.
	Err error
}

func (r *Rejected) add(f Format, err error) {
	if err == errEmpty { // an empty value is an absent carrier, not a bad one
		return
	}
	r.Formats |= 1 << f
	if r.Err == nil {
		r.Err = err
	}
}

// FormatSet is a set of formats.
type FormatSet uint16

// Has reports whether f is in the set.
func (s FormatSet) Has(f Format) bool { return f < numFormats && s&(1<<f) != 0 }

// Each calls fn for every format in the set, in Format order, without allocating.
func (s FormatSet) Each(fn func(Format)) {
	for f := FormatW3C; f < numFormats; f++ {
		if s&(1<<f) != 0 {
			fn(f)
		}
	}
}

// eval tries, in precedence order, every format that could beat the current best.
func (e *Extractor) eval(f *fields, src Source, st *state) {
	if f.set == 0 {
		return
	}
	for r := 0; r < st.rank; r++ {
		if f.set&e.masks[r] == 0 {
			continue
		}
		c, err := parseFields(e.prec[r], f)
		if err != nil {
			st.rej.add(e.prec[r], err)
			continue
		}
		if b, ok := ValidBaggage(f.get(slotBaggage)); ok {
			c.Baggage = b
		}
		c.Source = src
		st.best, st.rank = c, r
		return
	}
}

func parseFields(format Format, f *fields) (Context, error) {
	switch format {
	case FormatW3C:
		c, err := ParseTraceparent(f.val[slotTraceparent])
		if err == nil {
			if ts, ok := ValidTraceState(f.get(slotTracestate)); ok {
				c.TraceState = ts
			}
		}
		return c, err
	case FormatB3:
		// The single header wins over the multi headers, as in the OTel B3 propagator; when
		// it is invalid or carries only a sampling decision, the multi headers are tried.
		if f.set&(1<<slotB3) != 0 {
			if c, err := ParseB3Single(f.val[slotB3]); err == nil {
				return c, nil
			}
		}
		return ParseB3Multi(f.get(slotB3TraceID), f.get(slotB3SpanID), f.get(slotB3Sampled), f.get(slotB3Flags))
	case FormatJaeger:
		return ParseUberTraceID(f.val[slotUber])
	case FormatXRay:
		return ParseXRay(f.val[slotXRay])
	case FormatDatadog:
		return ParseDatadogWithPriority(f.val[slotDDTrace], f.get(slotDDParent), f.get(slotDDTags), f.get(slotDDPriority))
	case FormatPlain:
		return ParsePlain(f.val[slotPlainTrace], f.get(slotPlainSpan))
	case FormatUpstream:
		return ParseUpstream(f.val[slotUpTrace], f.get(slotUpSpan))
	}
	return Context{}, errEmpty
}

func asString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case json.Number:
		return string(s), true
	}
	return "", false
}

// looksLikeJSONObject is a cheap filter so that only plausible JSON objects are decoded.
func looksLikeJSONObject(s string) bool {
	if len(s) < 2 || len(s) > maxJSONLen {
		return false
	}
	i, j := 0, len(s)-1
	for i < j && isJSONSpace(s[i]) {
		i++
	}
	for j > i && isJSONSpace(s[j]) {
		j--
	}
	return s[i] == '{' && s[j] == '}'
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// lookupPath walks segs through nested maps, matching each segment exactly first and then
// case-insensitively (smallest matching key wins, for determinism).
func lookupPath(m map[string]any, segs []string) (any, bool) {
	var cur any = m
	for _, seg := range segs {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := mm[seg]
		if !ok {
			found := ""
			for k, kv := range mm {
				if strings.EqualFold(k, seg) && (found == "" || k < found) {
					found, v = k, kv
				}
			}
			if found == "" {
				return nil, false
			}
		}
		cur = v
	}
	return cur, true
}

func lookupPathP(m pcommon.Map, segs []string) (pcommon.Value, bool) {
	mm := m
	var v pcommon.Value
	for i, seg := range segs {
		if i > 0 {
			if v.Type() != pcommon.ValueTypeMap {
				return pcommon.Value{}, false
			}
			mm = v.Map()
		}
		var ok bool
		v, ok = mm.Get(seg)
		if !ok {
			found := ""
			for k, kv := range mm.All() {
				if strings.EqualFold(k, seg) && (found == "" || k < found) {
					found, v = k, kv
				}
			}
			if found == "" {
				return pcommon.Value{}, false
			}
		}
	}
	return v, true
}
