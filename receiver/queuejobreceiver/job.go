package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Reasons a payload is rejected; they label the bad-payload counter.
const (
	reasonOversized = "oversized"
	reasonBinary    = "binary"
	reasonTruncated = "truncated"
	reasonNotJSON   = "not_json"
	reasonNotObject = "not_object"
	reasonMissingID = "missing_id"
)

// parseError carries the counter label of a rejected payload.
type parseError struct {
	reason string
	err    error
}

func (e *parseError) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}

// job is one payload decoded with the configured field paths.
type job struct {
	ID       string
	Type     string
	Queue    string // from fields.queue, may be empty
	Priority string
	Attempt  int // 1-based
	Created  time.Time
	Fields   map[string]any // the decoded payload, the trace-context carrier
}

// fieldPaths is FieldsConfig split once.
type fieldPaths struct {
	id, typ, queue, attempt, priority, created []string
	attemptOffset                              int
}

func newFieldPaths(f FieldsConfig) fieldPaths {
	split := func(p string) []string {
		if p == "" {
			return nil
		}
		return strings.Split(p, ".")
	}
	fp := fieldPaths{
		id: split(f.ID), typ: split(f.Type), queue: split(f.Queue), attempt: split(f.Attempt),
		priority: split(f.Priority), created: split(f.CreatedAt),
	}
	if f.AttemptOffset != nil {
		fp.attemptOffset = *f.AttemptOffset
	}
	return fp
}

// parseJob decodes one raw payload. It never panics; every rejection is a *parseError. The
// returned strings may share memory with raw.
func parseJob(raw string, maxSize int, fp *fieldPaths) (job, error) {
	if len(raw) > maxSize {
		return job{}, &parseError{reason: reasonOversized}
	}
	if strings.IndexByte(raw, 0) >= 0 || !utf8.ValidString(raw) {
		return job{}, &parseError{reason: reasonBinary}
	}
	trimmed := strings.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '"') {
			return job{}, &parseError{reason: reasonNotObject}
		}
		return job{}, &parseError{reason: reasonNotJSON}
	}
	m, err := decodeObject(trimmed)
	if err != nil {
		if errors.Is(err, errJSONTruncated) {
			return job{}, &parseError{reason: reasonTruncated, err: err}
		}
		return job{}, &parseError{reason: reasonNotJSON, err: err}
	}
	j := job{Fields: m, Attempt: 1}
	j.ID = scalarString(lookup(m, fp.id))
	if j.ID == "" {
		return job{}, &parseError{reason: reasonMissingID}
	}
	j.Type = scalarString(lookup(m, fp.typ))
	j.Queue = scalarString(lookup(m, fp.queue))
	j.Priority = scalarString(lookup(m, fp.priority))
	if n, ok := scalarInt(lookup(m, fp.attempt)); ok {
		if a := n + int64(fp.attemptOffset); a >= 1 && a <= math.MaxInt32 {
			j.Attempt = int(a)
		}
	}
	j.Created = scalarTime(lookup(m, fp.created))
	return j, nil
}

func lookup(m map[string]any, path []string) any {
	if len(path) == 0 {
		return nil
	}
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = mm[p]; !ok {
			return nil
		}
	}
	return cur
}

func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

func scalarInt(v any) (int64, bool) {
	switch t := v.(type) {
	case float64:
		if t >= 0 && t <= math.MaxInt32 && t == math.Trunc(t) {
			return int64(t), true
		}
	case string:
		n, err := strconv.ParseInt(t, 10, 32)
		return n, err == nil && n >= 0
	case bool: // Sidekiq's "retry": true is not a count
	}
	return 0, false
}

// scalarTime accepts RFC 3339 strings and epoch seconds (Sidekiq, BullMQ use ms: > 1e12).
func scalarTime(v any) time.Time {
	switch t := v.(type) {
	case string:
		if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return ts
		}
	case float64:
		switch {
		case t > 1e17 || t <= 0 || math.IsNaN(t):
		case t > 1e12:
			return time.UnixMilli(int64(t))
		default:
			sec, frac := math.Modf(t)
			return time.Unix(int64(sec), int64(frac*1e9))
		}
	}
	return time.Time{}
}
