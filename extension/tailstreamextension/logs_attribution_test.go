package tailstreamextension

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hub calls the resolver per line that names no job: hex decoding and the catalog
// lookup allocate nothing, found or not.
func TestCatalogResolverAllocatesNothing(t *testing.T) {
	srv := startServer(t, nil)
	require.NoError(t, srv.ext.PublishTraces(context.Background(), jobSpanTraces(traceA, "00f067aa0ba902b7", "j9", "high", "w9")))
	r := catalogResolver{srv.ext}
	a, ok := r.Resolve(traceA, "00f067aa0ba902b7")
	require.True(t, ok)
	assert.Equal(t, "j9", a.JobID)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = r.Resolve(traceA, "00f067aa0ba902b7") }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = r.Resolve(traceB, "00f067aa0ba902b1") }))
}
