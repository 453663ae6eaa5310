package jobsim

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// failure is how a simulated attempt goes wrong. Each job fails one way on every attempt, so
// an explanation has "failed the same way" to find, and the demo still shows two kinds.
type failure struct {
	span, service      string // the span the error starts in
	excType, excMsg    string
	status, logMessage string
	stack              string
}

var failures = []failure{
	{span: "charge card", service: "payments", excType: "payments.UpstreamError",
		excMsg: "upstream 502 Bad Gateway from payments-gw", status: "upstream 502",
		logMessage: "charge card failed",
		stack:      "payments.(*Client).Charge\n\tpayments/client.go:88\nworker.handle\n\tworker/handle.go:41"},
	{span: "read file", service: "file-worker", excType: "*fs.PathError",
		excMsg: "open /srv/data/input: no such file or directory", status: "file not found",
		logMessage: "read file failed",
		stack:      "os.Open\n\tos/file.go:310\nworker.readFile\n\tworker/read.go:19"},
}

func failureOf(jobID string) failure {
	sum := sha256.Sum256([]byte("jobsim/failure/" + jobID))
	// Two jobs in three fail upstream, the rest on a missing file.
	if sum[0]%3 == 2 {
		return failures[1]
	}
	return failures[0]
}

// JobSpanID is the span id the queuejob receiver gives an attempt (docs/CONVENTIONS.md):
// sha256(job.id + "/" + attempt [+ "/" + rerun])[:8]. Worker spans hang under it, as an
// instrumented worker's would under its consumer span.
func JobSpanID(jobID string, attempt, rerun int) string {
	s := jobID + "/" + strconv.Itoa(attempt)
	if rerun > 0 {
		s += "/" + strconv.Itoa(rerun)
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// workerSpanID is deterministic too, so a rerun of the simulation draws the same ids and the
// random streams that decide outcomes are left alone.
func workerSpanID(jobID string, attempt, rerun int, name string) pcommon.SpanID {
	sum := sha256.Sum256([]byte("jobsim/" + jobID + "/" + strconv.Itoa(attempt) + "/" + strconv.Itoa(rerun) + "/" + name))
	var id pcommon.SpanID
	copy(id[:], sum[:8])
	return id
}

// WorkerSpanNames are the spans one attempt emits, parent first.
var WorkerSpanNames = []string{"handle job", "read file", "transform", "charge card", "load customer"}

// attemptRun is what the worker spans and the failure line need to know of one attempt.
type attemptRun struct {
	jobID, traceID, workerID, queue string
	attempt, rerun                  int
	start, end                      time.Time
	failed                          bool
}

// logFailure writes the worker's ERROR line of a failing attempt, pointing at the span the
// error started in, as an instrumented worker's logger would.
func (s *sim) logFailure(r attemptRun) {
	f := failureOf(r.jobID)
	s.log.Error(f.logMessage, zap.String("id", r.jobID), zap.String("job_id", r.jobID), zap.Int("attempt", r.attempt),
		zap.String("trace_id", r.traceID), zap.String("span_id", workerSpanID(r.jobID, r.attempt, r.rerun, f.span).String()),
		zap.String("worker_id", r.workerID), zap.String("error", f.excMsg), zap.String("error_type", f.excType))
}

// addWorkerSpans emits the attempt's work as nested spans under the receiver's job span:
//
//	handle job (file-worker)
//	├── read file (file-worker)
//	├── transform (file-worker)
//	└── charge card (payments)
//	    └── load customer (payments)
//
// On a failing attempt the failure's span ends in error with a semconv exception event, and the
// error propagates to handle job; with the file failure nothing after read file runs.
func (o *otlpSender) addWorkerSpans(r attemptRun) {
	var tid pcommon.TraceID
	if _, err := hex.Decode(tid[:], []byte(r.traceID)); err != nil || r.traceID == "" {
		return
	}
	var parent pcommon.SpanID
	_, _ = hex.Decode(parent[:], []byte(JobSpanID(r.jobID, r.attempt, r.rerun)))
	total := r.end.Sub(r.start)
	if total <= 0 {
		total = time.Millisecond
	}
	frac := func(f float64) pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(r.start.Add(time.Duration(f * float64(total))))
	}
	f := failureOf(r.jobID)
	fileFails := r.failed && f.span == "read file"
	id := func(name string) pcommon.SpanID { return workerSpanID(r.jobID, r.attempt, r.rerun, name) }
	o.mu.Lock()
	defer o.mu.Unlock()
	add := func(service, name string, parentID pcommon.SpanID, kind ptrace.SpanKind, from, to float64) ptrace.Span {
		sp := o.service(service).AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(id(name))
		sp.SetParentSpanID(parentID)
		sp.SetName(name)
		sp.SetKind(kind)
		sp.SetStartTimestamp(frac(from))
		sp.SetEndTimestamp(frac(to))
		sp.Attributes().PutStr("job.id", r.jobID)
		sp.Status().SetCode(ptrace.StatusCodeOk)
		return sp
	}
	fail := func(sp ptrace.Span, withException bool) {
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(f.status)
		if withException {
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(sp.EndTimestamp())
			ev.Attributes().PutStr("exception.type", f.excType)
			ev.Attributes().PutStr("exception.message", f.excMsg)
			ev.Attributes().PutStr("exception.stacktrace", f.stack)
		}
	}
	handleEnd := 1.0
	// A span naming its job teaches jobcorrelation the job's queue and worker (and makes it
	// release the job's held lines), so it names them as the receiver does: the logical queue
	// name, not the Redis key.
	handle := add("file-worker", "handle job", parent, ptrace.SpanKindInternal, 0.01, handleEnd)
	handle.Attributes().PutStr("messaging.destination.name", r.queue)
	handle.Attributes().PutStr("worker.id", r.workerID)
	read := add("file-worker", "read file", id("handle job"), ptrace.SpanKindInternal, 0.02, 0.25)
	read.Attributes().PutStr("file.path", "/srv/data/input")
	if fileFails {
		fail(read, true)
		fail(handle, false)
		return
	}
	add("file-worker", "transform", id("handle job"), ptrace.SpanKindInternal, 0.25, 0.55)
	charge := add("payments", "charge card", id("handle job"), ptrace.SpanKindServer, 0.57, 0.97)
	add("payments", "load customer", id("charge card"), ptrace.SpanKindClient, 0.59, 0.70).
		Attributes().PutStr("db.system.name", "postgresql")
	if r.failed {
		fail(charge, true)
		fail(handle, false)
	}
}

// FailureOf tells how jobsim makes a job's attempts fail: the span the error starts in, its
// service, the exception message and the ERROR line's message, for tests to compare with.
func FailureOf(jobID string) (span, service, exceptionMessage, logMessage string) {
	f := failureOf(jobID)
	return f.span, f.service, f.excMsg, f.logMessage
}
