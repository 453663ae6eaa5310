// Package bullmq reads BullMQ's (npm bullmq 6.x) Redis layout read-only. Every fact below was
// checked in BullMQ 6.7.0's Lua scripts (dist/cjs/commands) and job.js:
//
//   - `<prefix>:<q>:meta` exists for every queue (it holds `opts.maxLenEvents` and `version`);
//     queues are found by SCAN MATCH `<prefix>:*:meta`. Queue names cannot contain ':'.
//   - `<prefix>:<q>:wait` and `:active` are lists of job ids; `:delayed`, `:prioritized`,
//     `:completed` and `:failed` sorted sets (completed/failed scored by finishedOn, ms).
//   - `<prefix>:<q>:<id>` is the job hash: `name`, `data`, `opts` (JSON; its `tm` is the
//     bullmq-otel carrier as a JSON *string*), `timestamp`, `atm` (attempts made: HINCRBY'd
//     when an attempt fails or completes, not when it stalls), `ats` (attempts started),
//     `processedOn` (start of the latest attempt), `finishedOn`, `failedReason` (the latest
//     failure; kept after a later success), `stacktrace` (a JSON array, one stack per failure,
//     cut to opts.stackTraceLimit), `stc` (stall count), `pb` (worker name, when set). A
//     top-level `tm` is the carrier of the latest failed attempt's span, not the job's.
//   - `<prefix>:<q>:<id>:lock` holds the owning worker's token `<worker uuid>:<n>`; the uuid is
//     bullmq-otel's `bullmq.worker.id`.
//   - `<prefix>:<q>:events` is a stream trimmed with MAXLEN ~ opts.maxLenEvents (10,000). Events
//     used: added, waiting (with prev=active: an attempt failed and is retried at once), active,
//     delayed (an attempt failed and waits for its backoff, or a delayed add), completed,
//     failed (final), retries-exhausted, stalled (the stalled checker found the lock expired and
//     moved the job back to wait: the worker is lost).
package bullmq // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/bullmq"

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// hashFields are read with one HMGET per job, in this order.
var hashFields = []string{"name", "opts", "timestamp", "atm", "ats", "processedOn", "finishedOn", "failedReason", "stacktrace", "pb"}

const (
	fName = iota
	fOpts
	fTimestamp
	fAtm
	fAts
	fProcessedOn
	fFinishedOn
	fFailedReason
	fStacktrace
	fPB
)

// Reasons a job hash is (partly) unusable; they label the bad-payload counter.
const (
	reasonOptsNotJSON       = "bullmq_opts_not_json"
	reasonCarrierNotJSON    = "bullmq_tm_not_json"
	reasonBadCounter        = "bullmq_bad_counter"
	reasonStacktraceNotJSON = "bullmq_stacktrace_not_json"
	reasonOversized         = "oversized"
)

// jobHash is one decoded job hash. Exists is false when the hash is gone (removeOnComplete,
// removeOnFail, or a job removed by hand).
type jobHash struct {
	Exists       bool
	Name         string
	Carrier      map[string]any // opts.tm decoded: the producer's context, e.g. {"traceparent": ...}
	Timestamp    time.Time      // when added
	AttemptsMade int
	// AttemptsStarted (ats) counts starts, stalled re-runs included: above AttemptsMade while
	// an attempt runs.
	AttemptsStarted int
	Started         time.Time // processedOn: the latest attempt's start
	Finished        time.Time
	FailedReason    string
	Stacktrace      []string
	Worker          string // pb (worker name), else filled from the lock
}

// parseJobHash decodes the HMGET reply of hashFields. bad is called once per unusable field;
// what is usable is still returned, so one bad field loses nothing else.
func parseJobHash(vals []any, maxSize int, bad func(reason string)) jobHash {
	str := func(i int) (string, bool) {
		if i >= len(vals) {
			return "", false
		}
		s, ok := vals[i].(string)
		return s, ok
	}
	var j jobHash
	for i := range hashFields {
		if _, ok := str(i); ok {
			j.Exists = true
			break
		}
	}
	if !j.Exists {
		return j
	}
	j.Name, _ = str(fName)
	j.Worker, _ = str(fPB)
	j.FailedReason, _ = str(fFailedReason)
	if s, ok := str(fOpts); ok && s != "" {
		j.Carrier = parseCarrier(s, maxSize, bad)
	}
	if s, ok := str(fAtm); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			bad(reasonBadCounter)
		} else {
			j.AttemptsMade = n
		}
	}
	if s, ok := str(fAts); ok {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			j.AttemptsStarted = n
		}
	}
	j.Timestamp = msTime(str(fTimestamp))
	j.Started = msTime(str(fProcessedOn))
	j.Finished = msTime(str(fFinishedOn))
	if s, ok := str(fStacktrace); ok && s != "" && s != "null" {
		if len(s) > maxSize || json.Unmarshal([]byte(s), &j.Stacktrace) != nil {
			j.Stacktrace = nil
			bad(reasonStacktraceNotJSON)
		}
	}
	return j
}

// parseCarrier decodes opts and then its tm, the JSON string bullmq-otel's context manager
// wrote with propagation.inject (so any propagator's keys: traceparent, tracestate, b3, ...).
func parseCarrier(opts string, maxSize int, bad func(string)) map[string]any {
	if len(opts) > maxSize {
		bad(reasonOversized)
		return nil
	}
	var o struct {
		TM *string `json:"tm"`
	}
	if err := json.Unmarshal([]byte(opts), &o); err != nil {
		bad(reasonOptsNotJSON)
		return nil
	}
	if o.TM == nil || *o.TM == "" {
		return nil
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(*o.TM), &c); err != nil || c == nil {
		bad(reasonCarrierNotJSON)
		return nil
	}
	return c
}

func msTime(s string, ok bool) time.Time {
	if !ok || s == "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > 1e14 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// splitStack turns one stacktrace entry ("Error: msg\n    at ...") into type and message.
// Node's Error.stack starts with `<name>: <message>`; a message may span lines, but the frames
// start with "    at ", so everything before the first frame is the message.
func splitStack(stack string) (typ, msg string) {
	head := stack
	if i := strings.Index(head, "\n    at "); i >= 0 {
		head = head[:i]
	}
	if i := strings.Index(head, ": "); i > 0 && !strings.ContainsAny(head[:i], " \n") {
		return head[:i], head[i+2:]
	}
	return "", head
}

// workerFromLock is the worker uuid of a lock token `<uuid>:<n>`.
func workerFromLock(token string) string {
	if i := strings.LastIndexByte(token, ':'); i > 0 {
		return token[:i]
	}
	return token
}
