// Package conventions is the one home of the attribute contract in docs/CONVENTIONS.md: the
// attribute names, lifecycle event names and job status values that the receiver emits and every
// other component reads. A test ties this file to the document, so neither can drift alone.
package conventions

// Attributes of job spans, lifecycle logs and correlated records.
const (
	AttrJobID            = "job.id"
	AttrJobAttempt       = "job.attempt"
	AttrJobPriority      = "job.priority"
	AttrJobType          = "job.type"
	AttrJobStatus        = "job.status"
	AttrJobTraceFormat   = "job.trace.format"
	AttrJobExtractedFrom = "job.trace.extracted_from"
	AttrJobStartEstimate = "job.start_estimated"

	// The error the queue library stored for a failing attempt.
	AttrJobErrorType       = "job.error.type"
	AttrJobErrorMessage    = "job.error.message"
	AttrJobErrorStacktrace = "job.error.stacktrace"

	AttrWorkerID   = "worker.id"
	AttrWorkerHost = "worker.host"
	AttrWorkerPID  = "worker.pid"
	AttrWorkerSlot = "worker.slot"

	AttrQueueName = "queue.name"
	AttrEventName = "event.name"

	// OpenTelemetry semantic-convention names the contract uses as they are.
	AttrServiceName              = "service.name"
	AttrMessagingSystem          = "messaging.system"
	AttrMessagingOperationType   = "messaging.operation.type"
	AttrMessagingDestinationName = "messaging.destination.name"
	AttrMessagingMessageID       = "messaging.message.id"
)

// Attributes lists every attribute name of the contract, for code that must treat them alike
// (the redaction processor never masks them; the contract test compares it with the document).
var Attributes = []string{
	AttrJobID, AttrJobAttempt, AttrJobPriority, AttrJobType, AttrJobStatus, AttrJobTraceFormat,
	AttrJobExtractedFrom, AttrJobStartEstimate, AttrJobErrorType, AttrJobErrorMessage, AttrJobErrorStacktrace,
	AttrWorkerID, AttrWorkerHost, AttrWorkerPID, AttrWorkerSlot,
	AttrQueueName, AttrEventName,
	AttrServiceName, AttrMessagingSystem, AttrMessagingOperationType, AttrMessagingDestinationName,
	AttrMessagingMessageID,
}

// CorrelationAttributes are the attributes jobcorrelation adds to spans and logs, in the order
// the document lists them.
var CorrelationAttributes = []string{
	AttrJobID, AttrWorkerID, AttrWorkerHost, AttrWorkerPID, AttrWorkerSlot, AttrQueueName, AttrJobType,
}

// Lifecycle event names (the `event.name` attribute and the record's EventName).
const (
	EventJobEnqueued     = "job_enqueued"
	EventJobStarted      = "job_started"
	EventJobSucceeded    = "job_succeeded"
	EventJobRetried      = "job_retried"
	EventJobDeadLettered = "job_dead_lettered"
	EventJobAbandoned    = "job_abandoned"
)

// Events lists the lifecycle events in the order a job lives them.
var Events = []string{
	EventJobEnqueued, EventJobStarted, EventJobSucceeded, EventJobRetried, EventJobDeadLettered, EventJobAbandoned,
}

// Job status values of `job.status`, set on attempt-ending spans and events.
const (
	StatusSucceeded    = "succeeded"
	StatusRetried      = "retried"
	StatusDeadLettered = "dead_lettered"
	StatusAbandoned    = "abandoned"
)

// The API also reports a job that has not ended an attempt yet; these are never a `job.status`.
const (
	StatusQueued  = "queued" // enqueued, no attempt started yet
	StatusRunning = "running"
)

// Statuses lists the job status values.
var Statuses = []string{StatusSucceeded, StatusRetried, StatusDeadLettered, StatusAbandoned}

// StatusOfEvent maps an attempt-ending lifecycle event to the status it records, and reports
// whether the event ends an attempt at all.
func StatusOfEvent(event string) (string, bool) {
	switch event {
	case EventJobSucceeded:
		return StatusSucceeded, true
	case EventJobRetried:
		return StatusRetried, true
	case EventJobDeadLettered:
		return StatusDeadLettered, true
	case EventJobAbandoned:
		return StatusAbandoned, true
	}
	return "", false
}
