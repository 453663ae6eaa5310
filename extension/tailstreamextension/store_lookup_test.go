package tailstreamextension

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore/logstoretest"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

func TestLookupJobFromCatalogThenStore(t *testing.T) {
	fake := &logstoretest.Fake{}
	srv := startStoreServer(t, fake, nil)
	ctx := context.Background()

	// In memory: the catalog answers, the store is not asked.
	ld := plog.NewLogs()
	lifecycleLog(ld, "job_started", "mem-1", "low", "w-7", 1, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0)
	ld.ResourceLogs().At(0).ScopeLogs().At(0).Scope().SetName(conventions.ReceiverScope)
	require.NoError(t, srv.ext.PublishLogs(ctx, ld))
	job, found, err := srv.ext.LookupJob(ctx, "mem-1")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "low", job.Queue)
	assert.Equal(t, "w-7", job.WorkerID)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", job.TraceID.String())
	assert.Equal(t, "00f067aa0ba902b7", job.SpanID.String())
	assert.True(t, job.FromReceiver)
	assert.Zero(t, fake.Queries())

	// Only in the store (another gateway saw it): rebuilt from its lifecycle logs.
	fake.Add(storedLifecycle("job_started", "gw-b-1", "high", 2, time.Now().Add(-time.Second))...)
	job, found, err = srv.ext.LookupJob(ctx, "gw-b-1")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "gw-b-1", job.JobID)
	assert.Equal(t, "high", job.Queue)
	assert.Equal(t, "w-1", job.WorkerID)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", job.TraceID.String())
	assert.Equal(t, int64(1), fake.Queries())

	// Unknown everywhere: not found, no error. Only enqueued: not found yet (no worker).
	_, found, err = srv.ext.LookupJob(ctx, "nope")
	require.NoError(t, err)
	assert.False(t, found)
	fake.Add(storedLifecycle("job_enqueued", "waiting", "high", 1, time.Now())...)
	_, found, err = srv.ext.LookupJob(ctx, "waiting")
	require.NoError(t, err)
	assert.False(t, found)

	// Store down: an error, never a false "unknown".
	fake.SetDown(true)
	_, found, err = srv.ext.LookupJob(ctx, "other")
	require.Error(t, err)
	assert.False(t, found)
}
