package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import "go.opentelemetry.io/collector/pdata/pcommon"

// Attribution is the job a log line belongs to, as the catalog knows it.
type Attribution struct {
	JobID, WorkerID, Queue string
}

// maxAncestors bounds the walk from a line's span up to a job span: deeper call trees are
// rare, and the walk runs per line on the ingest path.
const maxAncestors = 32

// Attribute finds the job of a line that names none but carries a span id or a trace id:
//   - the job whose attempt span is spanID, or whose span is spanID's nearest ancestor in
//     the cached trace (a line logged in a span below the job's: a database call, an HTTP
//     request). That also tells apart the jobs of one trace (a job that enqueued jobs in its
//     own trace): the nearest job span above the line wins;
//   - else the one job that ran in traceID. When the trace holds several jobs and the span
//     chain does not reach one of them (no span id, or spans not cached yet), the line is
//     left unattributed: guessing would hand one job's lines to another.
//
// The worker is that of the attempt the span points to, else of the latest attempt in that
// trace. It takes a few map lookups under two read locks and allocates nothing.
func (s *Service) Attribute(traceID pcommon.TraceID, spanID pcommon.SpanID) (Attribution, bool) {
	if !spanID.IsEmpty() {
		if o, ok := s.catalog.SpanOwner(spanID); ok {
			return Attribution{JobID: o.JobID, WorkerID: o.WorkerID, Queue: o.Queue}, true
		}
		if !traceID.IsEmpty() {
			var up [maxAncestors]pcommon.SpanID
			n := s.cache.Ancestors(traceID, spanID, up[:])
			for _, sp := range up[:n] {
				if o, ok := s.catalog.SpanOwner(sp); ok {
					return Attribution{JobID: o.JobID, WorkerID: o.WorkerID, Queue: o.Queue}, true
				}
			}
		}
	}
	if traceID.IsEmpty() {
		return Attribution{}, false
	}
	o, ok := s.catalog.TraceOwner(traceID)
	return Attribution{JobID: o.JobID, WorkerID: o.WorkerID, Queue: o.Queue}, ok
}
