package jobindex

import (
	"strconv"

	"github.com/jobtrace/jobtrace/internal/conventions"
)

// SpanJob is the job attempt an instrumentation's CONSUMER span processed.
type SpanJob struct {
	ID    string
	Queue string
	Type  string
	// Attempt is 1-based, from the instrumentation's own retry count; 0 when it has none
	// (then each distinct consumer span of the message is one attempt).
	Attempt int
	Worker  string
}

// ConsumerJob reads which job a consumer span processed, from the attributes real
// instrumentations set (checked in their sources):
//
//   - the configured idAttrs first (a team's own attribute);
//   - bullmq-otel: bullmq.job.id with bullmq.queue.name, as `<queue>:<id>` (jobtrace's BullMQ
//     job id: BullMQ ids are counters per queue), attempt = bullmq.job.attempts.made, which
//     counts the attempt the span ran;
//   - messaging.message.id (semantic conventions ≥ 1.24; asynq has no instrumentation of its
//     own, and community wrappers use this), then messaging.message_id (opentelemetry-ruby
//     sidekiq: the jid; opentelemetry-python celery: the task id, with celery.retries).
//
// get looks an attribute up as a string. The caller decides that the span is a consumer span.
func ConsumerJob(get func(string) (string, bool), idAttrs []string) (SpanJob, bool) {
	var j SpanJob
	for _, k := range idAttrs {
		if v, ok := get(k); ok && v != "" {
			j.ID = v
			break
		}
	}
	bullQueue, _ := get(conventions.AttrBullMQQueueName)
	if j.ID == "" {
		if id, ok := get(conventions.AttrBullMQJobID); ok && id != "" && bullQueue != "" {
			j.ID = bullQueue + ":" + id
		}
	}
	for _, k := range []string{conventions.AttrMessagingMessageID, conventions.AttrMessagingMessageIDLegacy} {
		if j.ID != "" {
			break
		}
		if v, ok := get(k); ok && v != "" {
			j.ID = v
		}
	}
	if j.ID == "" {
		return SpanJob{}, false
	}
	for _, k := range []string{conventions.AttrQueueName, conventions.AttrMessagingDestinationName, conventions.AttrBullMQQueueName, conventions.AttrMessagingDestinationLegacy} {
		if v, ok := get(k); ok && v != "" {
			j.Queue = v
			break
		}
	}
	for _, k := range []string{conventions.AttrJobType, conventions.AttrBullMQJobName, conventions.AttrCeleryTaskName, conventions.AttrMessagingSidekiqJobClass} {
		if v, ok := get(k); ok && v != "" {
			j.Type = v
			break
		}
	}
	for _, k := range []string{conventions.AttrWorkerID, conventions.AttrBullMQWorkerID} {
		if v, ok := get(k); ok && v != "" {
			j.Worker = v
			break
		}
	}
	j.Attempt = attemptOf(get)
	return j, true
}

func attemptOf(get func(string) (string, bool)) int {
	num := func(k string) (int, bool) {
		v, ok := get(k)
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= 0 && n < 1<<20
	}
	if n, ok := num(conventions.AttrJobAttempt); ok && n >= 1 {
		return n
	}
	if n, ok := num(conventions.AttrBullMQAttemptsMade); ok && n >= 1 {
		return n
	}
	if n, ok := num(conventions.AttrCeleryRetries); ok {
		return n + 1
	}
	return 0
}
