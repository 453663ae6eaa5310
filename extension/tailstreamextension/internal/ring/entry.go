// Package ring holds the tailstream extension's log entries and the sequence-numbered ring
// buffer of recent ones that serves tail_lines, since, resume and history.
package ring // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"

import (
	"encoding/json"
	"github.com/jobtrace/jobtrace/internal/conventions"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Source is where a line was produced (LogEntry.source in the design).
type Source struct {
	Host      string `json:"host,omitempty"`
	Container string `json:"container,omitempty"`
	File      string `json:"file,omitempty"`
	Line      int64  `json:"line,omitempty"`
}

// Entry is one log line in the design's LogEntry shape, plus its sequence number. Entries
// are immutable once appended to a Buffer, so streams share them without copying.
type Entry struct {
	Seq       uint64    `json:"seq"`
	Timestamp time.Time `json:"timestamp"`
	Level     string    `json:"level"`
	Service   string    `json:"service,omitempty"`
	JobID     string    `json:"job_id,omitempty"`
	WorkerID  string    `json:"worker_id,omitempty"`
	QueueName string    `json:"queue_name,omitempty"`
	TraceID   string    `json:"trace_id,omitempty"`
	SpanID    string    `json:"span_id,omitempty"`
	Message   string    `json:"message"`
	Attrs     Attrs     `json:"attributes,omitempty"`
	Source    *Source   `json:"source,omitempty"`
	// Late is set on a line delivered after its job became known: live streams get it after
	// lines that came later, and it may be older than lines already shown. It marshals as
	// "late": true, and places the line in the live order and rebuilds the version it
	// replaced (Early), so that streams resume exactly after it (internal/hub, Resume).
	Late *LateInfo `json:"late,omitempty"`

	// What OTTL may look at beyond the fields above, kept so that a condition gives the
	// same answer on a replayed line as on the live one (see Record).
	Raw Raw `json:"-"`

	// Ingested is when the collector received the line; retention.max_age counts from it.
	Ingested time.Time `json:"-"`

	json atomic.Pointer[[]byte]
}

// Raw is the part of the original record that the LogEntry shape flattens. The resource and
// scope are the batch's Shared, one per ResourceLogs/ScopeLogs rather than a copy per line;
// nil for entries built by hand.
type Raw struct {
	SeverityNumber int32
	Flags          uint32
	SeverityText   string
	Body           any
	EventName      string
	Observed       time.Time
	*Shared
}

var noShared Shared

// shared returns the entry's resource and scope, empty when it has none.
func (r *Raw) shared() *Shared {
	if r.Shared == nil {
		return &noShared
	}
	return r.Shared
}

// noJSONCache marks an entry whose JSON is no longer kept (see Buffer's jsonKeep): it is
// marshalled again on each use.
var noJSONCache = new([]byte)

// JSON returns the entry's LogEntry JSON. A recent line is marshalled at most once, on first
// use, so lines nobody streams are never marshalled and lines many streams get at once are
// marshalled once. Once the ring has moved on (a replay, a slow stream's backlog) the bytes
// are not kept: caching them for every retained line would double the ring's memory.
func (e *Entry) JSON() []byte {
	p := e.json.Load()
	if p != nil && p != noJSONCache {
		return *p
	}
	b, err := e.appendJSON(make([]byte, 0, e.jsonSizeHint()))
	if err != nil {
		// A NaN or infinite double attribute (OTLP carries them; JSON cannot), or a timestamp
		// beyond year 9999: keep the line visible rather than lose it.
		b, _ = json.Marshal(map[string]any{"seq": e.Seq, "timestamp": e.Timestamp, "level": e.Level, "message": e.Message})
	}
	if p == nil {
		e.json.CompareAndSwap(nil, &b)
	}
	return b
}

// dropJSON releases the entry's cached JSON and stops it from caching again.
func (e *Entry) dropJSON() { e.json.Store(noJSONCache) }

// jsonCached reports whether the entry holds its marshalled JSON.
func (e *Entry) jsonCached() bool {
	p := e.json.Load()
	return p != nil && p != noJSONCache
}

// Attr looks key up in the record's attributes, then the resource's.
func (e *Entry) Attr(key string) (string, bool) {
	if v, ok := e.Attrs.Get(key); ok {
		return anyString(v), true
	}
	if v, ok := e.Raw.shared().Resource[key]; ok {
		return anyString(v), true
	}
	return "", false
}

// anyString is a non-string attribute value as filters compare it: its JSON, unquoted. The
// hand-written encoder gives encoding/json's bytes without its reflection (an int or a bool
// per line on the ingest path); a value JSON cannot hold (NaN) reads as "".
func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		var buf [32]byte
		b, err := appendFloat(buf[:0], x)
		if err != nil {
			return ""
		}
		return string(b)
	default:
		b, err := appendValue(nil, x)
		if err != nil {
			return ""
		}
		return strings.Trim(string(b), `"`)
	}
}

// Shared is what the records of one ResourceLogs/ScopeLogs have in common, converted once
// and shared (read-only) by their entries.
type Shared struct {
	Resource     map[string]any
	ScopeName    string
	ScopeVersion string
	ScopeAttrs   map[string]any
}

// NewShared converts a resource and scope.
func NewShared(res pcommon.Resource, scope pcommon.InstrumentationScope) *Shared {
	sh := &Shared{ScopeName: intern(scope.Name()), ScopeVersion: intern(scope.Version())}
	if res.Attributes().Len() > 0 {
		sh.Resource = res.Attributes().AsRaw()
	}
	if scope.Attributes().Len() > 0 {
		sh.ScopeAttrs = scope.Attributes().AsRaw()
	}
	return sh
}

// FromRecord converts one pipeline record. It copies what it keeps: the caller's pdata is
// only borrowed for the duration of the pipeline call.
func FromRecord(res pcommon.Resource, scope pcommon.InstrumentationScope, lr plog.LogRecord, now time.Time) *Entry {
	return FromShared(NewShared(res, scope), lr, now)
}

// FromShared converts one record whose resource and scope were converted by NewShared.
func FromShared(sh *Shared, lr plog.LogRecord, now time.Time) *Entry {
	e := &Entry{Ingested: now}
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	if ts == 0 {
		e.Timestamp = now.UTC()
	} else {
		e.Timestamp = ts.AsTime().UTC()
	}
	e.Level = Level(lr.SeverityNumber(), lr.SeverityText())
	e.Message = lr.Body().AsString()
	e.Attrs = attrsFrom(lr.Attributes())
	e.Raw = Raw{
		SeverityNumber: int32(lr.SeverityNumber()),
		SeverityText:   intern(lr.SeverityText()),
		EventName:      intern(lr.EventName()),
		Flags:          uint32(lr.Flags()),
		Shared:         sh,
	}
	if lr.Body().Type() != pcommon.ValueTypeStr {
		e.Raw.Body = lr.Body().AsRaw()
	}
	if lr.ObservedTimestamp() != 0 {
		e.Raw.Observed = lr.ObservedTimestamp().AsTime()
	}
	if id := lr.TraceID(); !id.IsEmpty() {
		e.TraceID = id.String()
	} else if s, ok := e.Attr("trace_id"); ok {
		e.TraceID = strings.ToLower(s)
	}
	if id := lr.SpanID(); !id.IsEmpty() {
		e.SpanID = id.String()
	} else if s, ok := e.Attr("span_id"); ok {
		e.SpanID = strings.ToLower(s)
	}
	// Worker lines carry their ids as attributes too: one string serves both.
	e.Attrs.share("trace_id", e.TraceID)
	e.Attrs.share("span_id", e.SpanID)
	e.Service = first(e, conventions.AttrServiceName)
	// The conventions' attributes first; the upstream zap field names as a fallback for
	// worker logs that did not go through the jobcorrelation processor.
	e.JobID = first(e, conventions.AttrJobID, "job_id")
	e.WorkerID = first(e, conventions.AttrWorkerID, "worker_id")
	e.QueueName = first(e, conventions.AttrQueueName, conventions.AttrMessagingDestinationName)
	src := Source{
		Host:      first(e, conventions.AttrWorkerHost, "host.name"),
		Container: first(e, "container.name", "k8s.container.name"),
		File:      first(e, "log.file.path", "log.file.name", "code.filepath", "code.file.path"),
	}
	if v, ok := lr.Attributes().Get("code.lineno"); ok && v.Type() == pcommon.ValueTypeInt {
		src.Line = v.Int()
	} else if v, ok := lr.Attributes().Get("code.line.number"); ok && v.Type() == pcommon.ValueTypeInt {
		src.Line = v.Int()
	}
	if src != (Source{}) {
		e.Source = &src
	}
	return e
}

func first(e *Entry, keys ...string) string {
	for _, k := range keys {
		if s, ok := e.Attr(k); ok && s != "" {
			return s
		}
	}
	return ""
}

// Level maps a record's severity to the design's levels: trace, debug, info, warn, error, fatal.
func Level(num plog.SeverityNumber, text string) string {
	switch {
	case num >= plog.SeverityNumberFatal:
		return "fatal"
	case num >= plog.SeverityNumberError:
		return "error"
	case num >= plog.SeverityNumberWarn:
		return "warn"
	case num >= plog.SeverityNumberInfo:
		return "info"
	case num >= plog.SeverityNumberDebug:
		return "debug"
	case num >= plog.SeverityNumberTrace:
		return "trace"
	}
	return NormalizeLevel(text)
}

// NormalizeLevel maps level names (zap's, syslog's, OTel severity texts) to the design's.
// Unknown or empty text is info: a line without a level is ordinary output.
func NormalizeLevel(text string) string {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "trace", "trace2", "trace3", "trace4":
		return "trace"
	case "debug", "debug2", "debug3", "debug4":
		return "debug"
	case "warn", "warning", "warn2", "warn3", "warn4":
		return "warn"
	case "error", "err", "error2", "error3", "error4":
		return "error"
	case "fatal", "dpanic", "panic", "critical", "crit", "emerg", "alert", "fatal2", "fatal3", "fatal4":
		return "fatal"
	}
	return "info"
}

// Record rebuilds a single-record plog.Logs from the entry so that OTTL can evaluate a
// replayed or historical line. Only the filter's slow path uses it.
func (e *Entry) Record() (plog.ResourceLogs, plog.ScopeLogs, plog.LogRecord) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sh := e.Raw.shared()
	_ = rl.Resource().Attributes().FromRaw(sh.Resource)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(sh.ScopeName)
	sl.Scope().SetVersion(sh.ScopeVersion)
	_ = sl.Scope().Attributes().FromRaw(sh.ScopeAttrs)
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(e.Timestamp))
	if !e.Raw.Observed.IsZero() {
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(e.Raw.Observed))
	}
	lr.SetSeverityNumber(plog.SeverityNumber(e.Raw.SeverityNumber))
	lr.SetSeverityText(e.Raw.SeverityText)
	lr.SetEventName(e.Raw.EventName)
	lr.SetFlags(plog.LogRecordFlags(e.Raw.Flags))
	if e.Raw.Body != nil {
		_ = lr.Body().FromRaw(e.Raw.Body)
	} else {
		lr.Body().SetStr(e.Message)
	}
	attrs := lr.Attributes()
	attrs.EnsureCapacity(len(e.Attrs))
	for _, kv := range e.Attrs {
		_ = attrs.PutEmpty(kv.Key).FromRaw(kv.Value)
	}
	// Trace and span ids came from the record only when they parse back.
	if b, err := hexBytes(e.TraceID, 16); err == nil {
		lr.SetTraceID(pcommon.TraceID(b))
	}
	if b, err := hexBytes(e.SpanID, 8); err == nil {
		var id pcommon.SpanID
		copy(id[:], b)
		lr.SetSpanID(id)
	}
	return rl, sl, lr
}

// LateInfo is what a late version knows beyond the line.
type LateInfo struct {
	ID     uint64 // orders late deliveries across the hub, from 1
	At     uint64 // the ring's head when it was delivered
	filled uint8  // what Attributed filled in (fill* bits), for Early
}

// MarshalJSON writes the LogEntry's "late": true.
func (*LateInfo) MarshalJSON() ([]byte, error) { return []byte("true"), nil }

// UnmarshalJSON reads "late" back; what the line replaced is not known then.
func (*LateInfo) UnmarshalJSON(b []byte) error {
	var late bool
	return json.Unmarshal(b, &late)
}

const (
	fillJob uint8 = 1 << iota
	fillWorker
	fillQueue
	fillJobAttr
	fillWorkerAttr
	fillQueueAttr
	fillAttrs // Attrs was nil
)

// Attribute fills the job, worker and queue the line does not name itself, in the fields
// and the attributes, so that filters and OTTL see what the export path's tags say. Only
// for an entry not yet shared (before it is appended to a Buffer).
func (e *Entry) Attribute(jobID, workerID, queue string) { e.attribute(jobID, workerID, queue) }

func (e *Entry) attribute(jobID, workerID, queue string) (filled uint8) {
	put := func(field *string, key, v string, bit, attrBit uint8) {
		if *field != "" || v == "" {
			return
		}
		*field = v
		filled |= bit
		if _, ok := e.Attrs.Get(key); !ok {
			if e.Attrs == nil {
				filled |= fillAttrs
			}
			// A new slice: a shared entry's copy (Attributed) shares the original's.
			e.Attrs = e.Attrs.with(key, v)
			filled |= attrBit
		}
	}
	put(&e.JobID, conventions.AttrJobID, jobID, fillJob, fillJobAttr)
	put(&e.WorkerID, conventions.AttrWorkerID, workerID, fillWorker, fillWorkerAttr)
	put(&e.QueueName, conventions.AttrQueueName, queue, fillQueue, fillQueueAttr)
	return filled
}

// copyLine copies e's line (its Attrs are shared: they are replaced, never changed, once the
// entry is shared), without the late bookkeeping and the JSON cache.
func (e *Entry) copyLine() *Entry {
	return &Entry{
		Seq: e.Seq, Timestamp: e.Timestamp, Level: e.Level, Service: e.Service,
		JobID: e.JobID, WorkerID: e.WorkerID, QueueName: e.QueueName,
		TraceID: e.TraceID, SpanID: e.SpanID, Message: e.Message, Source: e.Source,
		Attrs: e.Attrs, Raw: e.Raw, Ingested: e.Ingested,
	}
}

// Attributed returns a copy of a shared entry with its job, worker and queue filled and a
// Late whose ID and At the caller sets before sharing it. The copy keeps the
// seq: it replaces the original in the Buffer.
func (e *Entry) Attributed(jobID, workerID, queue string) *Entry {
	c := e.copyLine()
	c.Late = &LateInfo{}
	c.Late.filled = c.attribute(jobID, workerID, queue)
	return c
}

// Early rebuilds the version a late entry replaced, as it was (nil for an entry that is not
// late). It allocates: for resumes and replays, not the ingest path.
func (e *Entry) Early() *Entry {
	li := e.Late
	if li == nil {
		return nil
	}
	c := e.copyLine()
	var drop [3]string
	n := 0
	for _, f := range []struct {
		bit, attrBit uint8
		field        *string
		key          string
	}{
		{fillJob, fillJobAttr, &c.JobID, conventions.AttrJobID},
		{fillWorker, fillWorkerAttr, &c.WorkerID, conventions.AttrWorkerID},
		{fillQueue, fillQueueAttr, &c.QueueName, conventions.AttrQueueName},
	} {
		if li.filled&f.bit != 0 {
			*f.field = ""
		}
		if li.filled&f.attrBit != 0 {
			drop[n] = f.key
			n++
		}
	}
	switch {
	case li.filled&fillAttrs != 0:
		c.Attrs = nil
	case n > 0:
		kept := make(Attrs, 0, len(c.Attrs))
		for _, kv := range c.Attrs {
			if !slices.Contains(drop[:n], kv.Key) {
				kept = append(kept, kv)
			}
		}
		c.Attrs = kept
	}
	return c
}

// LateID orders e among late deliveries (0: e is no late version).
func (e *Entry) LateID() uint64 {
	if e.Late == nil {
		return 0
	}
	return e.Late.ID
}
