package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import "go.opentelemetry.io/collector/pdata/pcommon"

// Attribution is the job a log line belongs to, as the catalog knows it.
type Attribution struct {
	JobID, WorkerID, Queue string
}

// Attribute finds the job of a line that names none but carries a span id or a trace id:
// the job whose attempt span is spanID, else the one job that ran in traceID. A trace shared
// by several jobs (a job that enqueued jobs in its own trace) names none of them. The worker
// is that of the attempt the ids point to, else of the latest attempt in that trace. It is a
// few map lookups, for the log ingest path.
func (s *Service) Attribute(traceID pcommon.TraceID, spanID pcommon.SpanID) (Attribution, bool) {
	var id string
	ok := false
	if !spanID.IsEmpty() {
		id, ok = s.catalog.JobBySpan(spanID)
	}
	if !ok && !traceID.IsEmpty() {
		if ids := s.catalog.JobsInTrace(traceID); len(ids) == 1 {
			id, ok = ids[0], true
		}
	}
	if !ok {
		return Attribution{}, false
	}
	j, found := s.catalog.Get(id)
	if !found {
		return Attribution{}, false
	}
	a := Attribution{JobID: j.ID, Queue: j.Queue}
	for i := len(j.Attempts) - 1; i >= 0; i-- {
		at := j.Attempts[i]
		if !spanID.IsEmpty() && at.SpanID == spanID || !traceID.IsEmpty() && at.TraceID == traceID {
			a.WorkerID = at.WorkerID
			break
		}
	}
	return a, true
}
