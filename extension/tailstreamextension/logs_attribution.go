package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"encoding/hex"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"
)

// catalogResolver answers the hub's "whose line is this?" from the trace half's job catalog.
type catalogResolver struct{ t *tailstream }

func (r catalogResolver) Resolve(traceHex, spanHex string) (hub.Attribution, bool) {
	var span pcommon.SpanID
	var trace pcommon.TraceID
	decodeHex(span[:], spanHex)
	decodeHex(trace[:], traceHex)
	a, ok := r.t.traces.Attribute(trace, span)
	return hub.Attribution{JobID: a.JobID, WorkerID: a.WorkerID, QueueName: a.Queue}, ok
}

// decodeHex fills dst from s when s is exactly its hex form; dst stays zero otherwise.
func decodeHex(dst []byte, s string) {
	if len(s) != 2*len(dst) {
		return
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		clear(dst)
	}
}
