// Package joblookup is the seam through which the jobcorrelation processor asks another
// component about a job its own index has not met. On a gateway of a scale-out setup a line
// that names only a job id can arrive where its job's span never will (the agents route it by
// job id, the span by trace id); the tailstream extension knows the job from its catalog, which
// the cross-gateway tail and the store sync fill, or from the shared log store's lifecycle
// logs. The processor finds the extension by its component ID in Start, as contrib's
// fileexporter finds its encoding extension, and asks it through this interface, so neither
// imports the other.
package joblookup // import "github.com/jobtrace/jobtrace/internal/joblookup"

import (
	"context"

	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Job is what a lookup knows about one job: the fields jobcorrelation tags records with.
type Job struct {
	JobID    string
	WorkerID string
	Queue    string
	JobType  string
	TraceID  pcommon.TraceID
	// SpanID is the job span of the latest attempt, when known.
	SpanID pcommon.SpanID
	// FromReceiver: queue and type come from the queuejob receiver (its spans or lifecycle
	// logs), which are authoritative for them (docs/CONVENTIONS.md, "Merging sources").
	FromReceiver bool
}

// Lookup answers questions about jobs. Implementations are safe for concurrent use and must
// honour ctx: the caller bounds every call with its own timeout.
type Lookup interface {
	extension.Extension
	// LookupJob returns the job with id. found is false when the source does not know it;
	// err means it could not say (a store down), which is not the same as unknown.
	LookupJob(ctx context.Context, id string) (job Job, found bool, err error)
}
