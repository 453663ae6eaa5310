package piiredactionprocessor // import "github.com/jobtrace/jobtrace/processor/piiredactionprocessor"

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"github.com/jobtrace/jobtrace/internal/conventions"
	"hash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/jobtrace/jobtrace/processor/piiredactionprocessor/internal/scan"
)

// field identifies where a value was found, for telemetry and debug logs.
type field uint8

const (
	fieldLogBody field = iota
	fieldLogAttributes
	fieldSpanName
	fieldSpanAttributes
	fieldSpanEventName
	fieldSpanEventAttributes
	fieldSpanLinkAttributes
	fieldSpanStatusMessage
	fieldResourceAttributes
	fieldScopeAttributes
	fieldDataPointAttributes
	numFields
)

var fieldNames = [numFields]string{
	"log.body", "log.attributes", "span.name", "span.attributes", "span.event.name",
	"span.event.attributes", "span.link.attributes", "span.status.message",
	"resource.attributes", "scope.attributes", "datapoint.attributes",
}

// defaultSensitiveKeys are key words (compared with separators removed) whose values are
// masked whole.
var defaultSensitiveKeys = []string{
	"password", "passwd", "pwd", "passphrase", "secret", "token", "authorization", "cookie",
	"api_key", "access_key", "secret_key", "private_key", "ssn", "card", "card_number",
	"credit_card", "cc_number", "cvv", "cvc", "iban", "credential", "credentials", "session_id",
	"signature",
}

// correlationKeys are never touched, whatever the configuration: the pipeline joins jobs,
// workers, logs and traces on them. Compared lower-cased.
var correlationKeys = map[string]struct{}{}

func init() {
	for _, k := range conventions.Attributes {
		correlationKeys[k] = struct{}{}
	}
	// The carriers and the upstream queue's own field names join records too.
	for _, k := range []string{
		"id", "job_id", "worker_id", "trace_id", "span_id", "parent_span_id",
		"traceid", "spanid", "trace.id", "span.id", "parent.id", "traceparent", "tracestate",
		"b3", "x-b3-traceid", "x-b3-spanid",
		"x-b3-parentspanid", "x-b3-sampled", "uber-trace-id", "x-amzn-trace-id",
		"x-datadog-trace-id", "x-datadog-parent-id", "x-trace-id", "dd.trace_id", "dd.span_id",
		"service.instance.id",
	} {
		correlationKeys[k] = struct{}{}
	}
}

type keyClass uint8

const (
	keyScan      keyClass = iota // scan the value
	keySkip                      // correlation or allowed key: leave alone
	keySensitive                 // key-name rule: replace the whole value
)

type actionSpec struct {
	action Action
	name   string // detector or rule name (telemetry, audit)
	repl   string // mask placeholder or fixed value
}

// redactor applies detectors and actions to values. It is shared by all signals of one
// processor instance and safe for concurrent use.
type redactor struct {
	scanner     *scan.Scanner
	specs       []actionSpec // by detector id; the last one is the key-name rule
	keyNameDet  int
	keyNameOn   bool
	sensitive   map[string]struct{}
	allowedKeys map[string]struct{}
	allowedVals map[string]struct{}
	hmacPool    sync.Pool
	keyCache    sync.Map // string -> keyClass
	cacheSize   atomic.Int64
}

const maxKeyCache = 8192

func newRedactor(cfg *Config) (*redactor, error) {
	r := &redactor{
		sensitive:   map[string]struct{}{},
		allowedKeys: map[string]struct{}{},
		allowedVals: map[string]struct{}{},
	}
	def := cfg.DefaultAction
	if def == "" {
		def = ActionMask
	}
	var disabled []scan.Kind
	for k := scan.Kind(0); k < scan.NumKinds; k++ {
		d := cfg.Detectors[k.String()]
		if d.Enabled != nil && !*d.Enabled {
			disabled = append(disabled, k)
		}
		r.specs = append(r.specs, spec(k.String(), d.Action, d.Label, d.Value, def))
	}
	rules := make([]scan.Rule, 0, len(cfg.CustomRules))
	for _, cr := range cfg.CustomRules {
		rule, err := scan.NewRule(cr.Pattern, cr.Validator)
		if err != nil {
			return nil, err
		}
		rules = append(rules, rule)
		r.specs = append(r.specs, spec(cr.Name, cr.Action, cr.Label, cr.Value, def))
	}
	kn := cfg.Detectors[keyNameDetector]
	r.keyNameDet = len(r.specs)
	r.keyNameOn = kn.Enabled == nil || *kn.Enabled
	r.specs = append(r.specs, spec(keyNameDetector, kn.Action, kn.Label, kn.Value, def))
	regions := cfg.Phone.Regions
	if regions == nil {
		regions = []string{} // international numbers only
	}
	r.scanner = scan.New(scan.Options{
		Disabled: disabled, SecretParams: nilIfEmpty(cfg.SecretParams), Rules: rules,
		PhoneRegions: regions, SecretKeywords: cfg.SecretKeywords,
	})

	keys := cfg.SensitiveKeys
	if len(keys) == 0 {
		keys = defaultSensitiveKeys
	}
	for _, k := range append(append([]string(nil), keys...), cfg.ExtraSensitiveKeys...) {
		r.sensitive[normWord(k)] = struct{}{}
	}
	for _, k := range cfg.AllowedKeys {
		r.allowedKeys[k] = struct{}{}
		r.allowedKeys[strings.ToLower(k)] = struct{}{}
	}
	for _, v := range cfg.AllowedValues {
		r.allowedVals[v] = struct{}{}
	}
	key := []byte(string(cfg.HMACKey))
	r.hmacPool.New = func() any { return hmac.New(sha256.New, key) }
	return r, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func spec(name string, a Action, label, value string, def Action) actionSpec {
	if a == "" {
		a = def
	}
	s := actionSpec{action: a, name: name}
	switch a {
	case ActionFixed:
		s.repl = value
		if s.repl == "" {
			s.repl = "****"
		}
	default:
		if label == "" {
			label = name
		}
		s.repl = "[REDACTED:" + label + "]"
	}
	return s
}

// normWord lower-cases and drops everything but letters and digits.
func normWord(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		}
	}
	return string(b)
}

func (r *redactor) classifyKey(k string) keyClass {
	if c, ok := r.keyCache.Load(k); ok {
		return c.(keyClass)
	}
	c := r.computeKeyClass(k)
	if r.cacheSize.Load() < maxKeyCache {
		if _, loaded := r.keyCache.LoadOrStore(k, c); !loaded {
			r.cacheSize.Add(1)
		}
	}
	return c
}

func (r *redactor) computeKeyClass(k string) keyClass {
	lower := strings.ToLower(k)
	if _, ok := correlationKeys[lower]; ok {
		return keySkip
	}
	if _, ok := r.allowedKeys[k]; ok {
		return keySkip
	}
	if _, ok := r.allowedKeys[lower]; ok {
		return keySkip
	}
	if r.keyNameOn && r.sensitiveKey(k) {
		return keySensitive
	}
	return keyScan
}

// sensitiveKey splits k into words (separators and lower→upper case changes) and reports whether
// a word, or two adjacent words joined, is a sensitive key word.
func (r *redactor) sensitiveKey(k string) bool {
	var words [16]string
	n := 0
	start := -1
	flush := func(end int) {
		if start >= 0 && n < len(words) {
			words[n] = strings.ToLower(k[start:end])
			n++
		}
		start = -1
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum {
			flush(i)
			continue
		}
		if start >= 0 && c >= 'A' && c <= 'Z' && k[i-1] >= 'a' && k[i-1] <= 'z' {
			flush(i)
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(k))
	for i := 0; i < n; i++ {
		if _, ok := r.sensitive[words[i]]; ok {
			return true
		}
		if i+1 < n {
			if _, ok := r.sensitive[words[i]+words[i+1]]; ok {
				return true
			}
		}
	}
	return false
}

// tally counts redactions per detector and field for one batch, and per detector for the
// current record (audit attributes).
type tally struct {
	batch  []int64 // [det*numFields+field]
	record []int
	recSum int
}

func (r *redactor) newTally() *tally {
	return &tally{batch: make([]int64, len(r.specs)*int(numFields)), record: make([]int, len(r.specs))}
}

func (t *tally) add(det int, f field) {
	t.batch[det*int(numFields)+int(f)]++
	t.record[det]++
	t.recSum++
}

func (t *tally) resetRecord() {
	if t.recSum == 0 {
		return
	}
	clear(t.record)
	t.recSum = 0
}

// redactString scans v and returns the redacted string. drop reports that a matched detector's
// action is "drop".
func (r *redactor) redactString(v string, f field, t *tally) (out string, changed, drop bool) {
	var buf [16]scan.Match
	ms := r.scanner.Scan(v, buf[:0])
	if len(ms) == 0 {
		return v, false, false
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		orig := v[m.Start:m.End]
		if len(r.allowedVals) > 0 {
			if _, ok := r.allowedVals[orig]; ok {
				continue
			}
		}
		if !changed {
			b.Grow(len(v) + 16)
			changed = true
		}
		sp := &r.specs[m.Det]
		if sp.action == ActionDrop {
			drop = true
		}
		b.WriteString(v[last:m.Start])
		r.replace(&b, sp, m.Det, orig)
		last = m.End
		t.add(m.Det, f)
	}
	if !changed {
		return v, false, false
	}
	b.WriteString(v[last:])
	return b.String(), true, drop
}

func (r *redactor) replace(b *strings.Builder, sp *actionSpec, det int, orig string) {
	switch sp.action {
	case ActionHash:
		h := r.hmacPool.Get().(hash.Hash)
		h.Reset()
		h.Write([]byte(orig))
		var sum [sha256.Size]byte
		s := h.Sum(sum[:0])
		r.hmacPool.Put(h)
		var hx [32]byte
		hex.Encode(hx[:], s[:16])
		b.WriteString("[HMAC:")
		b.WriteString(sp.name)
		b.WriteByte(':')
		b.Write(hx[:])
		b.WriteByte(']')
	case ActionPartial:
		partial(b, orig, det == int(scan.Email))
	default: // mask, fixed, and drop where the field cannot be dropped
		b.WriteString(sp.repl)
	}
}

// partial keeps the last four letters or digits and stars the others, preserving separators,
// so "4111 1111 1111 1234" becomes "**** **** **** 1234". For an email only the local part is
// starred.
func partial(b *strings.Builder, s string, email bool) {
	if email {
		if at := strings.LastIndexByte(s, '@'); at > 0 {
			b.WriteString(strings.Repeat("*", at))
			b.WriteString(s[at:])
			return
		}
	}
	keep := 4
	alnum := 0
	for i := 0; i < len(s); i++ {
		if isAlnumByte(s[i]) {
			alnum++
		}
	}
	if alnum <= keep {
		keep = 0
	}
	seen := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnumByte(c) {
			b.WriteByte(c)
			continue
		}
		seen++
		if seen > alnum-keep {
			b.WriteByte(c)
		} else {
			b.WriteByte('*')
		}
	}
}

func isAlnumByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// redactMap processes attributes (or a map body). Values under sensitive keys are replaced
// whole; others are scanned, recursing into maps and slices.
func (r *redactor) redactMap(m pcommon.Map, f field, t *tally) {
	m.RemoveIf(func(k string, v pcommon.Value) bool {
		switch r.classifyKey(k) {
		case keySkip:
			return false
		case keySensitive:
			if v.Type() == pcommon.ValueTypeEmpty {
				return false
			}
			sp := &r.specs[r.keyNameDet]
			t.add(r.keyNameDet, f)
			if sp.action == ActionDrop {
				return true
			}
			var b strings.Builder
			r.replace(&b, sp, r.keyNameDet, v.AsString())
			v.SetStr(b.String())
			return false
		}
		return r.redactValue(v, f, t, true)
	})
}

// redactValue redacts v in place and reports whether the holding attribute should be dropped.
func (r *redactor) redactValue(v pcommon.Value, f field, t *tally, droppable bool) bool {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		out, changed, drop := r.redactString(v.Str(), f, t)
		if drop && droppable {
			return true
		}
		if changed {
			v.SetStr(out)
		}
	case pcommon.ValueTypeMap:
		r.redactMap(v.Map(), f, t)
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			r.redactValue(s.At(i), f, t, false)
		}
	case pcommon.ValueTypeInt:
		// Card numbers logged as integers: only values long enough to be one are looked at.
		n := v.Int()
		if n >= 1_000_000_000_000 {
			var nb [20]byte
			str := string(strconv.AppendInt(nb[:0], n, 10))
			out, changed, drop := r.redactString(str, f, t)
			if drop && droppable {
				return true
			}
			if changed {
				v.SetStr(out)
			}
		}
	}
	return false
}

// redactField redacts a string field that cannot be removed (span name, status message, event
// name, string body): "drop" masks instead.
func (r *redactor) redactField(s string, f field, t *tally) (string, bool) {
	out, changed, _ := r.redactString(s, f, t)
	return out, changed
}
