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
	// The names of semantic conventions before v1.24, still set by instrumentations in use
	// (opentelemetry-ruby sidekiq, opentelemetry-python celery).
	AttrMessagingMessageIDLegacy   = "messaging.message_id"
	AttrMessagingDestinationLegacy = "messaging.destination"
	// opentelemetry-ruby sidekiq's job class on its consumer span.
	AttrMessagingSidekiqJobClass = "messaging.sidekiq.job_class"
)

// Attributes queue-library instrumentations set on their consumer spans, read to turn such a
// span into a job attempt (docs/CONVENTIONS.md, "Jobs from instrumentation"). They are the
// libraries' names, not ours.
const (
	AttrBullMQJobID        = "bullmq.job.id"            // bullmq-otel: the per-queue job id
	AttrBullMQQueueName    = "bullmq.queue.name"        // bullmq-otel
	AttrBullMQAttemptsMade = "bullmq.job.attempts.made" // bullmq-otel: set when the attempt ends, counting it
	AttrBullMQWorkerID     = "bullmq.worker.id"         // bullmq-otel: the worker's uuid
	AttrBullMQJobName      = "bullmq.job.name"          // bullmq-otel
	AttrBullMQFailedReason = "bullmq.job.failed.reason" // bullmq-otel: on its "job failed" event
	AttrCeleryRetries      = "celery.retries"           // opentelemetry-python celery: retries so far
	AttrCeleryTaskName     = "celery.task_name"         // opentelemetry-python celery
)

// ReceiverScope is the instrumentation scope of the queuejob receiver's spans and logs. Data
// under it is what the receiver observed in Redis, authoritative for a job's queue, status and
// attempts (see CONVENTIONS.md, "Merging sources").
const ReceiverScope = "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

// Attributes lists every attribute name of the contract, for code that must treat them alike
// (the redaction processor never masks them; the contract test compares it with the document).
var Attributes = []string{
	AttrJobID, AttrJobAttempt, AttrJobPriority, AttrJobType, AttrJobStatus, AttrJobTraceFormat,
	AttrJobExtractedFrom, AttrJobStartEstimate, AttrJobErrorType, AttrJobErrorMessage, AttrJobErrorStacktrace,
	AttrWorkerID, AttrWorkerHost, AttrWorkerPID, AttrWorkerSlot,
	AttrQueueName, AttrEventName,
	AttrServiceName, AttrMessagingSystem, AttrMessagingOperationType, AttrMessagingDestinationName,
	AttrMessagingMessageID, AttrMessagingMessageIDLegacy, AttrMessagingDestinationLegacy,
	AttrMessagingSidekiqJobClass,
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
	// StatusFailed: the latest attempt is known only from an instrumentation's consumer span,
	// which ended in error, and no later attempt is known (whether the library will retry it
	// cannot be told from the span).
	StatusFailed = "failed"
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
