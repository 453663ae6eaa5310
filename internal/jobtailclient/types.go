package jobtailclient // import "github.com/jobtrace/jobtrace/internal/jobtailclient"

import (
	"encoding/json"
	"fmt"
	"github.com/jobtrace/jobtrace/internal/conventions"
	"strconv"
	"strings"
	"time"
)

// Job statuses as the API reports them.
const (
	StatusQueued       = conventions.StatusQueued
	StatusRunning      = conventions.StatusRunning
	StatusSucceeded    = conventions.StatusSucceeded
	StatusRetried      = conventions.StatusRetried
	StatusDeadLettered = conventions.StatusDeadLettered
	StatusAbandoned    = conventions.StatusAbandoned
	StatusFailed       = conventions.StatusFailed // known only from an instrumentation's failed consumer span
)

// JobStatuses lists the statuses the jobs filter cycles through, in display order.
var JobStatuses = []string{StatusQueued, StatusRunning, StatusSucceeded, StatusRetried, StatusDeadLettered, StatusAbandoned, StatusFailed}

// Job is one entry of GET /jobs.
type Job struct {
	ID       string    `json:"id"`
	Queue    string    `json:"queue"`
	Status   string    `json:"status"`
	Attempts int       `json:"attempts"`
	WorkerID string    `json:"worker_id,omitempty"`
	Started  time.Time `json:"started_at,omitzero"`
	Ended    time.Time `json:"ended_at,omitzero"`
	TraceID  string    `json:"trace_id,omitempty"`
}

// UnmarshalJSON accepts the few spellings the server halves may use for the same field
// (worker/worker_id, started/started_at, queue/queue_name), so the UI does not break on a
// rename that carries the same meaning.
func (j *Job) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			if raw, ok := m[k]; ok {
				var s string
				if json.Unmarshal(raw, &s) == nil && s != "" {
					return s
				}
			}
		}
		return ""
	}
	*j = Job{
		ID:       str("id", "job_id"),
		Queue:    str("queue", "queue_name"),
		Status:   str("status"),
		WorkerID: str("worker_id", "worker"),
		TraceID:  str("trace_id"),
	}
	for _, k := range []string{"attempts", "attempt"} {
		if raw, ok := m[k]; ok {
			if n, err := strconv.Atoi(strings.Trim(string(raw), `"`)); err == nil {
				j.Attempts = n
				break
			}
		}
	}
	j.Started = parseTime(str("started_at", "started", "start_time"))
	j.Ended = parseTime(str("ended_at", "ended", "end_time"))
	return nil
}

// Duration is the attempt's run time, or the time since it started while it runs.
func (j Job) Duration(now time.Time) time.Duration {
	if j.Started.IsZero() {
		return 0
	}
	if j.Ended.IsZero() {
		return now.Sub(j.Started)
	}
	return j.Ended.Sub(j.Started)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// JobsQuery holds the filters of GET /jobs. Zero values are omitted.
type JobsQuery struct {
	Queue    string
	Status   string
	WorkerID string
	Since    time.Time
	Limit    int
	Cursor   string
}

// JobsPage is the answer of GET /jobs.
type JobsPage struct {
	Jobs       []Job  `json:"jobs"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// JobTrace is the answer of GET /jobs/{id}/trace.
type JobTrace struct {
	JobID            string    `json:"job_id"`
	TraceID          string    `json:"trace_id"`
	SpanID           string    `json:"span_id,omitempty"`
	ParentSpanID     string    `json:"parent_span_id,omitempty"`
	TraceURL         string    `json:"trace_url,omitempty"`
	SpansCount       int       `json:"spans_count"`
	DurationMS       float64   `json:"duration_ms"`
	Status           string    `json:"status,omitempty"`
	Errors           int       `json:"errors"`
	ExtractedAt      time.Time `json:"extracted_at,omitzero"`
	ExtractionMethod string    `json:"extraction_method,omitempty"`
	Format           string    `json:"format,omitempty"`
}

// Span is one span of a trace summary.
type Span struct {
	SpanID        string            `json:"span_id"`
	ParentSpanID  string            `json:"parent_span_id,omitempty"`
	OperationName string            `json:"operation_name"`
	ServiceName   string            `json:"service_name,omitempty"`
	StartTime     time.Time         `json:"start_time"`
	DurationMS    float64           `json:"duration_ms"`
	Status        string            `json:"status,omitempty"`
	Kind          string            `json:"kind,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
}

// IsError reports whether the span ended in error.
func (s Span) IsError() bool { return strings.EqualFold(s.Status, "error") }

// End is the span's end time.
func (s Span) End() time.Time { return s.StartTime.Add(msToDuration(s.DurationMS)) }

// UnmarshalJSON tolerates tag values that are not strings (numbers, booleans): the design
// types them as strings, but a server that passes attribute values through may not.
func (s *Span) UnmarshalJSON(b []byte) error {
	type plain Span
	var aux struct {
		plain
		Tags map[string]any `json:"tags"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*s = Span(aux.plain)
	if len(aux.Tags) > 0 {
		s.Tags = make(map[string]string, len(aux.Tags))
		for k, v := range aux.Tags {
			if str, ok := v.(string); ok {
				s.Tags[k] = str
			} else {
				enc, _ := json.Marshal(v)
				s.Tags[k] = string(enc)
			}
		}
	}
	return nil
}

// ServiceStat is one entry of a summary's services list.
type ServiceStat struct {
	Name       string `json:"name"`
	SpanCount  int    `json:"span_count"`
	ErrorCount int    `json:"error_count"`
}

// UnmarshalJSON accepts the design document's bare service names as well as the objects.
func (s *ServiceStat) UnmarshalJSON(b []byte) error {
	var name string
	if json.Unmarshal(b, &name) == nil {
		*s = ServiceStat{Name: name}
		return nil
	}
	type plain ServiceStat
	return json.Unmarshal(b, (*plain)(s))
}

// TraceSummary is the answer of GET /traces/{id}/summary.
type TraceSummary struct {
	TraceID      string        `json:"trace_id"`
	RootSpan     *Span         `json:"root_span,omitempty"`
	Spans        []Span        `json:"spans"`
	CriticalPath []string      `json:"critical_path"`
	ErrorSpans   []string      `json:"error_spans"`
	Services     []ServiceStat `json:"services"`
	Partial      bool          `json:"partial,omitempty"`
}

// UnmarshalJSON accepts error_spans given as span ids or as span objects.
func (t *TraceSummary) UnmarshalJSON(b []byte) error {
	type plain TraceSummary
	var aux struct {
		plain
		ErrorSpans []json.RawMessage `json:"error_spans"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*t = TraceSummary(aux.plain)
	t.ErrorSpans = nil
	for _, raw := range aux.ErrorSpans {
		var id string
		if json.Unmarshal(raw, &id) == nil {
			t.ErrorSpans = append(t.ErrorSpans, id)
			continue
		}
		var sp struct {
			SpanID string `json:"span_id"`
		}
		if json.Unmarshal(raw, &sp) == nil && sp.SpanID != "" {
			t.ErrorSpans = append(t.ErrorSpans, sp.SpanID)
		}
	}
	return nil
}

// Bounds returns the earliest start and the latest end over all spans.
func (t *TraceSummary) Bounds() (start, end time.Time) {
	all := t.Spans
	if t.RootSpan != nil {
		all = append([]Span{*t.RootSpan}, all...)
	}
	for _, s := range all {
		if s.StartTime.IsZero() {
			continue
		}
		if start.IsZero() || s.StartTime.Before(start) {
			start = s.StartTime
		}
		if e := s.End(); e.After(end) {
			end = e
		}
	}
	return start, end
}

// AllSpans returns the spans with the root span included once, even when the server lists
// the root only under root_span.
func (t *TraceSummary) AllSpans() []Span {
	out := make([]Span, 0, len(t.Spans)+1)
	seen := make(map[string]bool, len(t.Spans)+1)
	for _, s := range t.Spans {
		if !seen[s.SpanID] {
			seen[s.SpanID] = true
			out = append(out, s)
		}
	}
	if t.RootSpan != nil && t.RootSpan.SpanID != "" && !seen[t.RootSpan.SpanID] {
		out = append([]Span{*t.RootSpan}, out...)
	}
	return out
}

func msToDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// MSToDuration converts the API's duration_ms to a time.Duration.
func MSToDuration(ms float64) time.Duration { return msToDuration(ms) }

// StreamFilters are the filters of POST /logs/streams.
type StreamFilters struct {
	JobID     string     `json:"job_id,omitempty"`
	WorkerID  string     `json:"worker_id,omitempty"`
	QueueName string     `json:"queue_name,omitempty"`
	LogLevel  []string   `json:"log_level,omitempty"`
	Service   string     `json:"service,omitempty"`
	TraceID   string     `json:"trace_id,omitempty"`
	Since     *time.Time `json:"since,omitempty"`
	Until     *time.Time `json:"until,omitempty"`
	Text      string     `json:"text,omitempty"`
	OTTL      string     `json:"ottl,omitempty"`
}

// Describe renders the non-empty filters as key=value pairs, for status lines.
func (f StreamFilters) Describe() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("job", f.JobID)
	add("worker", f.WorkerID)
	add("queue", f.QueueName)
	add("level", strings.Join(f.LogLevel, ","))
	add("service", f.Service)
	add("trace", f.TraceID)
	add("text", f.Text)
	add("ottl", f.OTTL)
	if f.Since != nil {
		add("since", f.Since.Format(time.RFC3339))
	}
	if len(parts) == 0 {
		return "all logs"
	}
	return strings.Join(parts, " ")
}

// StreamOptions are the options of POST /logs/streams.
type StreamOptions struct {
	Follow     bool `json:"follow"`
	TailLines  int  `json:"tail_lines,omitempty"`
	RateLimit  int  `json:"rate_limit,omitempty"`
	BufferSize int  `json:"buffer_size,omitempty"`
}

// StreamRequest is the body of POST /logs/streams.
type StreamRequest struct {
	Filters StreamFilters `json:"filters"`
	Options StreamOptions `json:"options"`
}

// StreamInfo is the 201 answer of POST /logs/streams.
type StreamInfo struct {
	StreamID       string    `json:"stream_id"`
	Endpoint       string    `json:"endpoint"`
	SSEEndpoint    string    `json:"sse_endpoint,omitempty"`
	FiltersApplied int       `json:"filters_applied"`
	EstimatedRate  float64   `json:"estimated_rate"`
	ExpiresAt      time.Time `json:"expires_at,omitzero"`
}

// LogEntry is one log line of a stream.
type LogEntry struct {
	Timestamp  time.Time      `json:"timestamp"`
	Level      string         `json:"level"`
	Service    string         `json:"service,omitempty"`
	JobID      string         `json:"job_id,omitempty"`
	WorkerID   string         `json:"worker_id,omitempty"`
	QueueName  string         `json:"queue_name,omitempty"`
	TraceID    string         `json:"trace_id,omitempty"`
	SpanID     string         `json:"span_id,omitempty"`
	Message    string         `json:"message"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Source     map[string]any `json:"source,omitempty"`
	Seq        uint64         `json:"seq"`
	// Late: the server attributed this line to its job after it came; it may be older than
	// lines already delivered.
	Late bool `json:"late,omitempty"`

	// Raw is the entry as the server sent it, so --json output loses nothing.
	Raw json.RawMessage `json:"-"`
}

// Control is an in-band control message of a stream (a message with a "type").
type Control struct {
	Type string `json:"type"` // warning | dropped | status
	// dropped
	Reason  string `json:"reason,omitempty"`
	Dropped uint64 `json:"-"`
	// CountKnown is false when the server could not count what was dropped (a store_gap:
	// lines of other gateways that missed the live tail); From..Until then says when.
	CountKnown bool      `json:"-"`
	From       time.Time `json:"from,omitempty"`
	Until      time.Time `json:"until,omitempty"`
	// warning / status
	Message     string  `json:"message,omitempty"`
	Status      string  `json:"status,omitempty"`
	BufferUsage float64 `json:"buffer_usage,omitempty"`
	CurrentRate float64 `json:"current_rate,omitempty"`

	Raw json.RawMessage `json:"-"`
}

// decodeMessage splits a stream message into a log entry or a control message. Counts of
// dropped lines arrive under "count", "dropped" or "lines_dropped" depending on the sender;
// all mean the same.
func decodeMessage(b []byte) (*LogEntry, *Control, error) {
	var probe struct {
		Type  string           `json:"type"`
		Stats *json.RawMessage `json:"stats"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, nil, fmt.Errorf("decode stream message: %w", err)
	}
	if probe.Type != "" {
		c := &Control{Raw: append(json.RawMessage(nil), b...)}
		if err := json.Unmarshal(b, c); err != nil {
			return nil, nil, fmt.Errorf("decode control message: %w", err)
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if stats, ok := m["stats"].(map[string]any); ok {
			for k, v := range stats {
				if _, dup := m[k]; !dup {
					m[k] = v
				}
			}
		}
		for _, k := range []string{"count", "dropped", "lines_dropped"} {
			if v, ok := m[k].(float64); ok {
				c.Dropped, c.CountKnown = uint64(v), true
				break
			}
		}
		if c.CurrentRate == 0 {
			if v, ok := m["current_rate"].(float64); ok {
				c.CurrentRate = v
			}
		}
		if c.BufferUsage == 0 {
			if v, ok := m["buffer_usage"].(float64); ok {
				c.BufferUsage = v
			}
		}
		if c.Message == "" {
			if v, ok := m["warning"].(string); ok {
				c.Message = v
			}
		}
		return nil, c, nil
	}
	e := &LogEntry{Raw: append(json.RawMessage(nil), b...)}
	if err := json.Unmarshal(b, e); err != nil {
		return nil, nil, fmt.Errorf("decode log entry: %w", err)
	}
	return e, nil, nil
}

// APIError is a non-2xx answer of the API: {"error":{"code","message","field"}}.
type APIError struct {
	StatusCode int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.StatusCode, e.Code, e.Message)
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

// Retryable reports whether trying again later may succeed (server trouble or throttling),
// as opposed to a request the server will keep refusing.
func (e *APIError) Retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == 429 || e.StatusCode == 408
}
