package tailstreamextension

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/explain"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore/logstoretest"
)

// After a restart the job is only in the durable store: its explanation is rebuilt from it,
// with the worker's error line; with the store down the answer is a 503, not a false 404.
func TestExplainFromTheStore(t *testing.T) {
	old := time.Now().Add(-5 * time.Hour).UTC()
	fake := &logstoretest.Fake{}
	fake.Add(storedLifecycle("job_started", "j9", "high", 1, old.Add(time.Second))...)
	fake.Add(stored(rec{job: "j9", queue: "high", level: "error", msg: "charge card failed", ts: old.Add(1500 * time.Millisecond)})...)
	fake.Add(storedLifecycle("job_dead_lettered", "j9", "high", 1, old.Add(2*time.Second))...)
	srv := startStoreServer(t, fake, nil)

	code, body := srv.do(t, http.MethodGet, "/api/v1/jobs/j9/explain", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	var e explain.Explanation
	require.NoError(t, json.Unmarshal(body, &e))
	assert.Equal(t, "dead_lettered", e.Status)
	require.Len(t, e.Attempts, 1)
	require.NotNil(t, e.Attempts[0].Error)
	assert.Equal(t, "charge card failed", e.Attempts[0].Error.Message)
	assert.Equal(t, explain.SourceLog, e.Attempts[0].Error.Source)
	assert.Contains(t, msgsOf(e.Attempts[0].Logs), "charge card failed")

	fake.SetDown(true)
	code, body = srv.do(t, http.MethodGet, "/api/v1/jobs/nope/explain", "tok-admin", nil)
	assert.Equal(t, http.StatusServiceUnavailable, code, string(body))
	code, body = srv.do(t, http.MethodGet, "/api/v1/jobs/j9/explain", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	require.NoError(t, json.Unmarshal(body, &e))
	assert.True(t, e.Partial, "the store could not be asked for older lines")
}
