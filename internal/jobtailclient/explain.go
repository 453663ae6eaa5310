package jobtailclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jobtrace/jobtrace/internal/conventions"
)

// Explanation is the answer of GET /jobs/{job_id}/explain.
type Explanation struct {
	JobID                 string           `json:"job_id"`
	Queue                 string           `json:"queue"`
	JobType               string           `json:"job_type,omitempty"`
	Status                string           `json:"status"`
	Summary               string           `json:"summary"`
	Attempts              []AttemptExplain `json:"attempts"`
	SameFailureAsPrevious bool             `json:"same_failure_as_previous"`
	ComparedWith          *Comparison      `json:"compared_with,omitempty"`
	Partial               bool             `json:"partial"`
	Missing               []string         `json:"missing,omitempty"`
}

// Failed reports whether the job ended without success (the exit code of jobtail explain).
func (e *Explanation) Failed() bool {
	switch e.Status {
	case StatusRetried, StatusDeadLettered, StatusAbandoned, conventions.StatusFailed:
		return true
	}
	return false
}

// AttemptExplain is one attempt of an explanation.
type AttemptExplain struct {
	Attempt        int        `json:"attempt"`
	WorkerID       string     `json:"worker_id,omitempty"`
	Status         string     `json:"status"`
	EnqueuedAt     *time.Time `json:"enqueued_at,omitempty"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	EndedAt        *time.Time `json:"ended_at,omitempty"`
	WaitMS         *float64   `json:"wait_ms,omitempty"`
	RunMS          *float64   `json:"run_ms,omitempty"`
	TraceID        string     `json:"trace_id,omitempty"`
	SpanID         string     `json:"span_id,omitempty"`
	Error          *JobError  `json:"error,omitempty"`
	FirstErrorSpan *ErrorSpan `json:"first_error_span,omitempty"`
	Logs           []LogEntry `json:"logs"`
	LogsTruncated  bool       `json:"logs_truncated,omitempty"`
}

// JobError is an attempt's error and where it was found (span_event, span_status, log, queue).
type JobError struct {
	Type       string `json:"type,omitempty"`
	Message    string `json:"message"`
	Stacktrace string `json:"stacktrace,omitempty"`
	Source     string `json:"source"`
}

// ErrorSpan is the span an attempt's failure started in.
type ErrorSpan struct {
	SpanID         string  `json:"span_id"`
	Name           string  `json:"name"`
	Service        string  `json:"service,omitempty"`
	OnCriticalPath bool    `json:"on_critical_path"`
	DurationMS     float64 `json:"duration_ms"`
	StatusMessage  string  `json:"status_message,omitempty"`
	Exception      *struct {
		Type       string `json:"type,omitempty"`
		Message    string `json:"message,omitempty"`
		Stacktrace string `json:"stacktrace,omitempty"`
	} `json:"exception,omitempty"`
}

// Comparison relates the latest attempt to a recent succeeded one.
type Comparison struct {
	JobID        string   `json:"job_id"`
	Attempt      int      `json:"attempt"`
	Status       string   `json:"status"`
	SpansMissing []string `json:"spans_missing"`
	SpansExtra   []string `json:"spans_extra"`
	Slower       []struct {
		Name       string  `json:"name"`
		MS         float64 `json:"ms"`
		BaselineMS float64 `json:"baseline_ms"`
	} `json:"slower"`
}

// Explain calls GET /jobs/{id}/explain; a negative contextLines leaves the server's default (20).
func (c *Client) Explain(ctx context.Context, jobID string, contextLines int) (*Explanation, json.RawMessage, error) {
	var q url.Values
	if contextLines >= 0 {
		q = url.Values{"context": {strconv.Itoa(contextLines)}}
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/explain", q, nil, &raw); err != nil {
		return nil, nil, err
	}
	out := &Explanation{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, nil, err
	}
	return out, raw, nil
}

// Quantiles are a duration's p50/p95/p99 in milliseconds (nil: not measured).
type Quantiles struct {
	Count int64    `json:"count"`
	P50   *float64 `json:"p50_ms"`
	P95   *float64 `json:"p95_ms"`
	P99   *float64 `json:"p99_ms"`
}

// QueueFigures are the statistics of a queue or of one of its job types.
type QueueFigures struct {
	Queue     string           `json:"queue,omitempty"`
	JobType   string           `json:"job_type,omitempty"`
	Counts    map[string]int64 `json:"counts"`
	Attempts  int64            `json:"attempts"`
	RetryRate float64          `json:"retry_rate"`
	Wait      Quantiles        `json:"wait"`
	Run       Quantiles        `json:"run"`
	TopErrors []struct {
		Message string `json:"message"`
		Count   int64  `json:"count"`
	} `json:"top_errors"`
	JobTypes []QueueFigures `json:"job_types,omitempty"`
}

// QueuesAnswer is the answer of GET /queues.
type QueuesAnswer struct {
	Window string         `json:"window"`
	Queues []QueueFigures `json:"queues"`
}

// Queues calls GET /queues; window 0 leaves the server's default (15m).
func (c *Client) Queues(ctx context.Context, window time.Duration) (*QueuesAnswer, json.RawMessage, error) {
	var q url.Values
	if window > 0 {
		q = url.Values{"window": {window.String()}}
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/queues", q, nil, &raw); err != nil {
		return nil, nil, err
	}
	out := &QueuesAnswer{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, nil, err
	}
	return out, raw, nil
}
