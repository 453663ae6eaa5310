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

	"github.com/jobtrace/jobtrace/internal/jobindex"
)

// Lookup answers questions about jobs. Implementations are safe for concurrent use and must
// honour ctx: the caller bounds every call with its own timeout.
type Lookup interface {
	extension.Extension
	// LookupJob returns the job with id. found is false when the source does not know it;
	// err means it could not say (a store down), which is not the same as unknown.
	// The job comes as the index keeps it: FromSpan when the answer is as complete as a job
	// span's, FromReceiver when queue and type are the queuejob receiver's (authoritative,
	// docs/CONVENTIONS.md "Merging sources").
	LookupJob(ctx context.Context, id string) (job jobindex.JobContext, found bool, err error)
}
