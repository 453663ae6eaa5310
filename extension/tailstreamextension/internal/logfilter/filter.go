// Package logfilter is the one filter type of the tailstream extension: compiled once per
// stream (or history query, or tail call) from the API's filters, with cheap field checks
// first and an optional OTTL condition on the log context last.
package logfilter // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottllog"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/internal/timeparam"
)

// Spec is the API's filter object (LogStream.filters). Since and Until accept RFC 3339
// timestamps or a non-negative Go duration meaning "that long ago" (e.g. "15m"); see
// internal/timeparam.
type Spec struct {
	JobID     string   `json:"job_id,omitempty"`
	WorkerID  string   `json:"worker_id,omitempty"`
	QueueName string   `json:"queue_name,omitempty"`
	LogLevel  []string `json:"log_level,omitempty"`
	Service   string   `json:"service,omitempty"`
	TraceID   string   `json:"trace_id,omitempty"`
	Since     string   `json:"since,omitempty"`
	Until     string   `json:"until,omitempty"`
	Text      string   `json:"text,omitempty"`
	OTTL      string   `json:"ottl,omitempty"`
}

// Applied counts the filter fields that are set (the API's filters_applied).
func (s Spec) Applied() int {
	n := 0
	for _, v := range []string{s.JobID, s.WorkerID, s.QueueName, s.Service, s.TraceID, s.Since, s.Until, s.Text, s.OTTL} {
		if v != "" {
			n++
		}
	}
	if len(s.LogLevel) > 0 {
		n++
	}
	return n
}

// Error is a validation error naming the offending field, for the API's error body.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

// Limits bound what one filter may cost: a filter is user input evaluated on every line.
type Limits struct {
	// MaxNesting is the deepest bracket nesting an OTTL condition may have. The OTTL parser's
	// cost grows superlinearly with depth, so deeper conditions are refused before parsing.
	MaxNesting int
	// ParseBudget bounds the time one OTTL parse may take, waiting for a parser included.
	ParseBudget time.Duration
	// MaxParses bounds the OTTL parses running at once. A parse cannot be interrupted: one
	// past its budget finishes in the background and keeps its slot until then, so hostile
	// conditions sent in a loop cost at most MaxParses parsers' worth of CPU.
	MaxParses int
	// MaxPatternInsts bounds the compiled size of each regular expression given to an OTTL
	// pattern function (IsMatch...). RE2 is linear in the input, but the factor is the
	// pattern's size: (?:x?){500}x{500}y costs ~1500 steps per input byte.
	MaxPatternInsts int
	// MaxMatchBytes is how much of a line's body text and OTTL conditions look at; the rest
	// of a longer body is cut before matching.
	MaxMatchBytes int
}

// DefaultLimits are the limits a Compiler uses unless told otherwise.
func DefaultLimits() Limits {
	return Limits{MaxNesting: 64, ParseBudget: 2 * time.Second, MaxParses: 4, MaxPatternInsts: 500, MaxMatchBytes: 16 << 10}
}

// Compiler parses OTTL conditions. Each parse borrows a parser from a pool: building one is
// not free, and one shared parser behind a lock would make every user wait for the slowest
// compilation.
type Compiler struct {
	set    component.TelemetrySettings
	limits Limits
	pool   sync.Pool     // of *ottl.Parser[*ottllog.TransformContext]
	slots  chan struct{} // one per running parse, background ones included
}

// ErrBusy is returned by Compile when every parse slot stayed taken for the whole parse
// budget: the condition may be fine, the server is busy (the API answers 503).
var ErrBusy = errors.New("the server is busy parsing other OTTL conditions; retry later")

// NewCompiler returns a compiler whose OTTL parser offers the standard converters.
func NewCompiler(set component.TelemetrySettings) (*Compiler, error) {
	return NewCompilerWithLimits(set, DefaultLimits())
}

// NewCompilerWithLimits is NewCompiler with explicit limits (zero fields take the defaults).
func NewCompilerWithLimits(set component.TelemetrySettings, l Limits) (*Compiler, error) {
	d := DefaultLimits()
	if l.MaxNesting <= 0 {
		l.MaxNesting = d.MaxNesting
	}
	if l.ParseBudget <= 0 {
		l.ParseBudget = d.ParseBudget
	}
	if l.MaxParses <= 0 {
		l.MaxParses = d.MaxParses
	}
	if l.MaxPatternInsts <= 0 {
		l.MaxPatternInsts = d.MaxPatternInsts
	}
	if l.MaxMatchBytes <= 0 {
		l.MaxMatchBytes = d.MaxMatchBytes
	}
	c := &Compiler{set: set, limits: l, slots: make(chan struct{}, l.MaxParses)}
	p, err := c.newParser()
	if err != nil {
		return nil, err
	}
	c.pool.Put(p)
	return c, nil
}

func (c *Compiler) newParser() (*ottl.Parser[*ottllog.TransformContext], error) {
	p, err := ottllog.NewParser(ottlfuncs.StandardConverters[*ottllog.TransformContext](), c.set)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Limits returns the compiler's limits.
func (c *Compiler) Limits() Limits { return c.limits }

func (c *Compiler) parse(cond string) (*ottl.Condition[*ottllog.TransformContext], error) {
	if depth := nesting(cond); depth > c.limits.MaxNesting {
		return nil, fmt.Errorf("nests %d levels deep; the limit is %d", depth, c.limits.MaxNesting)
	}
	if err := checkPatterns(cond, c.limits.MaxPatternInsts); err != nil {
		return nil, err
	}
	type result struct {
		cond *ottl.Condition[*ottllog.TransformContext]
		err  error
	}
	t := time.NewTimer(c.limits.ParseBudget)
	defer t.Stop()
	select {
	case c.slots <- struct{}{}:
	case <-t.C:
		return nil, ErrBusy
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-c.slots }()
		p, _ := c.pool.Get().(*ottl.Parser[*ottllog.TransformContext])
		if p == nil {
			var err error
			if p, err = c.newParser(); err != nil {
				done <- result{err: err}
				return
			}
		}
		cond, err := p.ParseCondition(cond)
		c.pool.Put(p)
		done <- result{cond, err}
	}()
	select {
	case r := <-done:
		return r.cond, r.err
	case <-t.C:
		// The parse cannot be interrupted; it finishes in the background, holding its slot,
		// and is discarded.
		return nil, fmt.Errorf("took longer than %s to parse; simplify the condition", c.limits.ParseBudget)
	}
}

// Filter is a compiled Spec. It is immutable and safe for concurrent use.
type Filter struct {
	spec     Spec
	levels   uint8 // bit set over levelBits; 0 = any
	traceID  string
	since    time.Time
	until    time.Time
	text     string
	cond     *ottl.Condition[*ottllog.TransformContext]
	hasField bool
	maxMatch int // bytes of the body that text and OTTL look at
}

var levelBits = map[string]uint8{"trace": 1, "debug": 2, "info": 4, "warn": 8, "error": 16, "fatal": 32}

// Compile validates and compiles spec. Relative since/until are resolved against now.
func (c *Compiler) Compile(spec Spec, now time.Time) (*Filter, error) {
	f := &Filter{spec: spec, text: spec.Text, traceID: strings.ToLower(spec.TraceID), maxMatch: c.limits.MaxMatchBytes}
	for _, l := range spec.LogLevel {
		ll := strings.ToLower(strings.TrimSpace(l))
		if ll == "warning" {
			ll = "warn"
		}
		bit, ok := levelBits[ll]
		if !ok {
			return nil, &Error{Field: "filters.log_level", Message: fmt.Sprintf("unknown level %q (want trace, debug, info, warn, error or fatal)", l)}
		}
		f.levels |= bit
	}
	if f.traceID != "" && !isHex(f.traceID, 32) {
		return nil, &Error{Field: "filters.trace_id", Message: "must be 32 hex digits"}
	}
	var err error
	if f.since, err = timeparam.Parse(spec.Since, now); err != nil {
		return nil, &Error{Field: "filters.since", Message: err.Error()}
	}
	if f.until, err = timeparam.Parse(spec.Until, now); err != nil {
		return nil, &Error{Field: "filters.until", Message: err.Error()}
	}
	if !f.since.IsZero() && !f.until.IsZero() && f.until.Before(f.since) {
		return nil, &Error{Field: "filters.until", Message: "must not be before since"}
	}
	if strings.TrimSpace(spec.OTTL) != "" {
		cond, perr := c.parse(spec.OTTL)
		if errors.Is(perr, ErrBusy) {
			return nil, perr
		}
		if perr != nil {
			return nil, &Error{Field: "filters.ottl", Message: "invalid OTTL condition: " + perr.Error()}
		}
		f.cond = cond
	}
	f.hasField = spec.JobID != "" || spec.WorkerID != "" || spec.QueueName != "" || spec.Service != "" ||
		f.traceID != "" || f.levels != 0 || f.text != "" || !f.since.IsZero() || !f.until.IsZero()
	return f, nil
}

// Spec returns the filter's source.
func (f *Filter) Spec() Spec { return f.spec }

// JobID returns the job id every match must have, or "" (the stream hub indexes on it, and resolves it against
// the job's trace and span ids).
func (f *Filter) JobID() string { return f.spec.JobID }

// Since and Until return the time bounds (zero when open).
func (f *Filter) Since() time.Time { return f.since }

// Until returns the upper time bound (zero when open).
func (f *Filter) Until() time.Time { return f.until }

// HasOTTL reports whether the filter has an OTTL condition.
func (f *Filter) HasOTTL() bool { return f.cond != nil }

// MatchesAll reports whether the filter passes every line (no field check, no OTTL).
func (f *Filter) MatchesAll() bool { return !f.hasField && f.cond == nil }

// Slow reports whether the filter has parts whose cost grows with the line or the user's
// input (text search, OTTL): the hub evaluates those off the ingest path.
func (f *Filter) Slow() bool { return f.text != "" || f.cond != nil }

// Match reports whether e passes the filter.
func (f *Filter) Match(e *ring.Entry) bool {
	return f.MatchCheap(e) && f.MatchSlow(e)
}

// MatchCheap applies the field checks whose cost does not depend on the line's size.
func (f *Filter) MatchCheap(e *ring.Entry) bool {
	return !f.hasField || f.matchFields(e)
}

// MatchSlow applies the text search and the OTTL condition to e, on at most MaxMatchBytes
// of its body.
func (f *Filter) MatchSlow(e *ring.Entry) bool {
	if f.text != "" && !containsFold(cut(e.Message, f.maxMatch), f.text) {
		return false
	}
	if f.cond == nil {
		return true
	}
	rl, sl, lr := e.Record()
	if b := lr.Body(); b.Type() == pcommon.ValueTypeStr && len(b.Str()) > f.maxMatch {
		b.SetStr(cut(b.Str(), f.maxMatch))
	}
	tctx := ottllog.NewTransformContextPtr(rl, sl, lr)
	defer tctx.Close()
	ok, err := f.cond.Eval(context.Background(), tctx)
	// A condition that errors on a line (e.g. a type mismatch) does not match it: a filter
	// must never widen what a stream sees.
	return err == nil && ok
}

// cut shortens s to at most n bytes, at a UTF-8 boundary.
func cut(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (f *Filter) matchFields(e *ring.Entry) bool {
	s := &f.spec
	if s.JobID != "" && e.JobID != s.JobID {
		return false
	}
	if s.WorkerID != "" && e.WorkerID != s.WorkerID {
		return false
	}
	if s.QueueName != "" && e.QueueName != s.QueueName {
		return false
	}
	if s.Service != "" && e.Service != s.Service {
		return false
	}
	if f.traceID != "" && e.TraceID != f.traceID {
		return false
	}
	if f.levels != 0 && levelBits[e.Level]&f.levels == 0 {
		return false
	}
	if !f.since.IsZero() && e.Timestamp.Before(f.since) {
		return false
	}
	if !f.until.IsZero() && e.Timestamp.After(f.until) {
		return false
	}
	// text is no field check: its cost grows with the body and the user's input, so it is
	// MatchSlow's, off the ingest path.
	return true
}

// containsFold is a case-insensitive strings.Contains that does not allocate.
func containsFold(s, sub string) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return true
		}
	}
	return false
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
