// Package logfilter is the one filter type of the tailstream extension: compiled once per
// stream (or history query, or tail call) from the API's filters, with cheap field checks
// first and an optional OTTL condition on the log context last.
package logfilter // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottllog"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"

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

// Compiler parses OTTL conditions. Building the parser is not free, so one Compiler serves
// the whole extension.
type Compiler struct {
	mu     sync.Mutex
	parser ottl.Parser[*ottllog.TransformContext]
}

// NewCompiler returns a compiler whose OTTL parser offers the standard converters.
func NewCompiler(set component.TelemetrySettings) (*Compiler, error) {
	p, err := ottllog.NewParser(ottlfuncs.StandardConverters[*ottllog.TransformContext](), set)
	if err != nil {
		return nil, err
	}
	return &Compiler{parser: p}, nil
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
}

var levelBits = map[string]uint8{"trace": 1, "debug": 2, "info": 4, "warn": 8, "error": 16, "fatal": 32}

// Compile validates and compiles spec. Relative since/until are resolved against now.
func (c *Compiler) Compile(spec Spec, now time.Time) (*Filter, error) {
	f := &Filter{spec: spec, text: spec.Text, traceID: strings.ToLower(spec.TraceID)}
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
		c.mu.Lock()
		cond, perr := c.parser.ParseCondition(spec.OTTL)
		c.mu.Unlock()
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

// JobID returns the job id every match must have, or "" (the stream hub indexes on it).
func (f *Filter) JobID() string { return f.spec.JobID }

// Since and Until return the time bounds (zero when open).
func (f *Filter) Since() time.Time { return f.since }

// Until returns the upper time bound (zero when open).
func (f *Filter) Until() time.Time { return f.until }

// HasOTTL reports whether the filter has an OTTL condition.
func (f *Filter) HasOTTL() bool { return f.cond != nil }

// Live is the pipeline record an entry was built from, borrowed during ingest so OTTL can
// run on it without rebuilding pdata. The zero value means "not available".
type Live struct {
	RL plog.ResourceLogs
	SL plog.ScopeLogs
	LR plog.LogRecord
	OK bool
}

// MatchesAll reports whether the filter passes every line (no field check, no OTTL).
func (f *Filter) MatchesAll() bool { return !f.hasField && f.cond == nil }

// Match reports whether e passes the filter. live, when set, must be e's source record.
func (f *Filter) Match(e *ring.Entry, live *Live) bool {
	if f.hasField && !f.matchFields(e) {
		return false
	}
	if f.cond == nil {
		return true
	}
	var tctx *ottllog.TransformContext
	if live != nil && live.OK {
		tctx = ottllog.NewTransformContextPtr(live.RL, live.SL, live.LR)
	} else {
		rl, sl, lr := e.Record()
		tctx = ottllog.NewTransformContextPtr(rl, sl, lr)
	}
	defer tctx.Close()
	ok, err := f.cond.Eval(context.Background(), tctx)
	// A condition that errors on a line (e.g. a type mismatch) does not match it: a filter
	// must never widen what a stream sees.
	return err == nil && ok
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
	if f.text != "" && !containsFold(e.Message, f.text) {
		return false
	}
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
