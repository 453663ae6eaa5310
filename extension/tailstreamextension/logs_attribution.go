package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"encoding/hex"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"
)

// catalogResolver answers the hub's "whose line is this?" from the job catalog: the job
// whose attempt span is the line's span id, else the one job that ran in its trace. A trace
// shared by several jobs (a job that enqueued jobs in its own trace) names none of them.
type catalogResolver struct{ t *tailstream }

func (r catalogResolver) Resolve(traceHex, spanHex string) (hub.Attribution, bool) {
	cat := r.t.traceState().catalog
	var span pcommon.SpanID
	var trace pcommon.TraceID
	hasSpan := decodeHex(span[:], spanHex)
	hasTrace := decodeHex(trace[:], traceHex)
	var id string
	ok := false
	if hasSpan {
		id, ok = cat.JobBySpan(span)
	}
	if !ok && hasTrace {
		if ids := cat.JobsInTrace(trace); len(ids) == 1 {
			id, ok = ids[0], true
		}
	}
	if !ok {
		return hub.Attribution{}, false
	}
	j, found := cat.Get(id)
	if !found {
		return hub.Attribution{}, false
	}
	a := hub.Attribution{JobID: j.ID, QueueName: j.Queue}
	// The worker of the attempt the line belongs to; the latest when the line says nothing
	// more precise than the trace of several attempts.
	for i := len(j.Attempts) - 1; i >= 0; i-- {
		at := j.Attempts[i]
		if hasSpan && at.SpanID == span || !hasSpan && hasTrace && at.TraceID == trace {
			a.WorkerID = at.WorkerID
			break
		}
	}
	if a.WorkerID == "" {
		if at, ok := j.Latest(); ok && (!hasTrace || at.TraceID == trace) {
			a.WorkerID = at.WorkerID
		}
	}
	return a, true
}

func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil && !allZero(dst)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
