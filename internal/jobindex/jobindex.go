// Package jobindex is the bounded job ↔ trace index that the jobcorrelation processor fills and
// reads to tag spans and logs with their job. It keeps one latest trace per job; the tailstream
// extension's job catalog (internal/jobcatalog there) is a separate store that keeps every
// attempt and lifecycle event, and does not query this index.
//
// The Index interface is the seam: today's implementation is in memory (Memory); a Redis-backed
// one can later let several gateway collectors share one index without changing callers.
package jobindex // import "github.com/jobtrace/jobtrace/internal/jobindex"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// JobContext is what the index knows about one job.
type JobContext struct {
	JobID    string
	WorkerID string
	Queue    string
	JobType  string
	// TraceID is the job's trace (the latest one seen for the job).
	TraceID pcommon.TraceID
	// SpanID is the job span (the queuejob receiver's span of the latest attempt, or an
	// instrumentation CONSUMER span); empty when only logs taught the index about this job.
	SpanID pcommon.SpanID
	// FromSpan reports that a span (not only a log) described this job, so Queue and SpanID
	// are as complete as they will get. Logs learned from logs alone are worth holding back
	// a little, waiting for the span.
	FromSpan bool
	// FromReceiver: the queuejob receiver's job span (under conventions.ReceiverScope)
	// described this job. Its queue and type are then authoritative: a later Put from any
	// other source fills them in only when empty and never changes them (the disagreement is
	// counted), so an OTLP span cannot relabel a job the receiver observed.
	FromReceiver bool
}

// Index maps trace ids to jobs and jobs to their trace. Implementations are safe for
// concurrent use.
type Index interface {
	// Put records or refreshes a job. Empty fields of c do not erase known values, so a log
	// that knows only the job id and trace id does not wipe the queue a span taught earlier.
	Put(c JobContext)
	// ByTrace returns the job of a trace. It reports false when the trace is unknown or when
	// several jobs share the trace (a job that enqueues jobs in its own trace), because then
	// a trace id alone cannot say which job a record belongs to.
	ByTrace(traceID pcommon.TraceID) (JobContext, bool)
	// ByJob returns a job by its id.
	ByJob(jobID string) (JobContext, bool)
	// Len reports how many jobs are held.
	Len() int
}
