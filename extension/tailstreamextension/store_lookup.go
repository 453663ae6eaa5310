package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"errors"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
	"github.com/jobtrace/jobtrace/internal/jobindex"
	"github.com/jobtrace/jobtrace/internal/joblookup"
)

// The extension answers jobcorrelation's lookups (lookup.extension: tailstream) from what it
// knows about jobs: its catalog, which on a gateway also holds the jobs of the other gateways
// (the cross-gateway tail, the store sync), else the job's lifecycle logs in the log store.

var _ joblookup.Lookup = (*tailstream)(nil)

// LookupJob implements joblookup.Lookup. A job with no attempt yet (only enqueued) counts as
// unknown: its worker is still to come, and the caller asks again later.
func (t *tailstream) LookupJob(ctx context.Context, id string) (jobindex.JobContext, bool, error) {
	if t.traces == nil || id == "" {
		return jobindex.JobContext{}, false, nil
	}
	j, err := t.traces.Job(ctx, tracequery.Unscoped, id)
	if errors.Is(err, tracequery.ErrJobNotFound) && t.store.enabled() {
		var found bool
		if found, err = t.rebuildJob(ctx, id); err != nil {
			return jobindex.JobContext{}, false, err
		}
		if !found {
			return jobindex.JobContext{}, false, nil
		}
		j, err = t.traces.Job(ctx, tracequery.Unscoped, id)
	}
	switch {
	case errors.Is(err, tracequery.ErrJobNotFound):
		return jobindex.JobContext{}, false, nil
	case err != nil:
		return jobindex.JobContext{}, false, err
	}
	return lookupAnswer(&j)
}

func lookupAnswer(j *jobcatalog.Job) (jobindex.JobContext, bool, error) {
	a, ok := j.Latest()
	if !ok || j.Queue == "" {
		return jobindex.JobContext{}, false, nil
	}
	out := jobindex.JobContext{
		JobID: j.ID, Queue: j.Queue, JobType: j.Type, WorkerID: a.WorkerID,
		TraceID: a.TraceID, SpanID: a.SpanID, FromSpan: true, FromReceiver: j.QueueFromReceiver,
	}
	if out.TraceID.IsEmpty() {
		out.TraceID = j.TraceID()
	}
	if out.SpanID.IsEmpty() {
		out.SpanID = a.ConsumerSpanID
	}
	return out, true, nil
}
