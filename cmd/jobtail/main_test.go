package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"
)

var base = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func seeded(t *testing.T) *jobtailtest.Server {
	srv := jobtailtest.New(t)
	srv.Seed(base)
	return srv
}

func TestJobsCommand(t *testing.T) {
	srv := seeded(t)
	code, out, errOut := runCLI(t, "jobs", "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^JOB\s+QUEUE\s+STATUS\s+ATTEMPTS`, lines[0])
	assert.Regexp(t, `^job-dead-3\s+high_priority\s+dead_lettered\s+3\s+2026-11-27T10:00:02Z\s+900ms\s+`+jobtailtest.WorkerA+`\s+`+jobtailtest.TraceDead, lines[1])

	code, out, errOut = runCLI(t, "jobs", "--status", "dead_lettered", "--json", "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code, errOut)
	var jobs []jobtailclient.Job
	require.NoError(t, json.Unmarshal([]byte(out), &jobs))
	require.Len(t, jobs, 1)
	assert.Equal(t, jobtailtest.JobDead, jobs[0].ID)

	// The server's validation error reaches the user with its field.
	code, _, errOut = runCLI(t, "jobs", "--status", "exploded", "--endpoint", srv.Endpoint())
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "400 invalid_parameter")
	assert.Contains(t, errOut, "(field status)")
}

func TestEndpointAndTokenFromEnv(t *testing.T) {
	srv := seeded(t)
	srv.Token = "tok-123"
	t.Setenv("JOBTAIL_ENDPOINT", srv.URL)
	t.Setenv("JOBTAIL_TOKEN", "tok-123")
	code, out, errOut := runCLI(t, "jobs")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, jobtailtest.JobOK)

	code, _, errOut = runCLI(t, "jobs", "--token", "wrong")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "401 unauthorized")

	// The collector's own admin token is the fallback.
	t.Setenv("JOBTAIL_TOKEN", "")
	t.Setenv("JOBTRACE_TOKEN", "tok-123")
	code, _, errOut = runCLI(t, "jobs")
	require.Equal(t, 0, code, errOut)
}

func TestTraceCommand(t *testing.T) {
	srv := seeded(t)
	for _, id := range []string{jobtailtest.JobOK, jobtailtest.TraceOK} {
		code, out, errOut := runCLI(t, "trace", id, "--endpoint", srv.Endpoint())
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "4 spans · 2.34s · critical path 3 · errors 0")
		assert.Contains(t, out, "◆    process high_priority (jobqueue)")
		assert.Contains(t, out, "critical path: enqueue high_priority → process high_priority → db query")
	}
	code, out, errOut := runCLI(t, "trace", "--endpoint", srv.Endpoint(), jobtailtest.JobDead)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "job job-dead-3 · http://localhost:16686/trace/"+jobtailtest.TraceDead)
	assert.Contains(t, out, "error spans: process high_priority (aaaaaaaaaaaaaaa1), upload s3 (aaaaaaaaaaaaaaa2)")

	code, out, errOut = runCLI(t, "trace", jobtailtest.JobDead, "--json", "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code, errOut)
	var got struct {
		Job     jobtailclient.JobTrace     `json:"job"`
		Summary jobtailclient.TraceSummary `json:"summary"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, jobtailtest.TraceDead, got.Job.TraceID)
	assert.Equal(t, []string{"aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2"}, got.Summary.CriticalPath)

	code, _, errOut = runCLI(t, "trace", "no-such-job", "--endpoint", srv.Endpoint())
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404 not_found: job no-such-job is unknown")

	code, _, errOut = runCLI(t, "trace")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "usage:")
}

func TestLogsCommand(t *testing.T) {
	srv := seeded(t)
	code, out, errOut := runCLI(t, "logs", "--job-id", jobtailtest.JobDead, "--level", "error", "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "10:00:02.800 ERROR job-dead-3 [worker] upload failed: connection refused error=dial tcp 10.0.0.7:443: connection refused\n"+
		"10:00:02.900 ERROR job-dead-3 [jobqueue] job dead-lettered\n", out)

	code, out, errOut = runCLI(t, "logs", "--job-id", jobtailtest.JobOK, "--json", "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	var e jobtailclient.LogEntry
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &e))
	assert.Equal(t, "job completed", e.Message)
	assert.Equal(t, uint64(2), e.Seq)

	code, _, errOut = runCLI(t, "logs", "--ottl", "nonsense(", "--endpoint", srv.Endpoint())
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "ottl: condition has invalid syntax")
	assert.Contains(t, errOut, "(field filters.ottl)")
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogsFollowAcrossReconnect(t *testing.T) {
	srv := seeded(t)
	srv.IgnoreLastEventID = true
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuf
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"logs", "--job-id", jobtailtest.JobOK, "--follow", "--endpoint", srv.Endpoint()}, &out, &errb)
	}()
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") == 2 && srv.ActiveConns() == 1 }, 10*time.Second, 10*time.Millisecond)
	srv.DropConnections()
	require.Eventually(t, func() bool { return len(srv.Attaches()) == 2 && srv.ActiveConns() == 1 }, 10*time.Second, 10*time.Millisecond)
	srv.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(3 * time.Second), Level: "info", JobID: jobtailtest.JobOK, Message: "after the cut"})
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "after the cut") }, 10*time.Second, 10*time.Millisecond)
	cancel()
	assert.Equal(t, 0, <-done)
	assert.Equal(t, 1, strings.Count(out.String(), "job completed"), "no duplicate after the reconnect:\n%s", out.String())
	assert.Contains(t, errb.String(), "reconnecting (attempt 1)")
}

func TestUsageErrors(t *testing.T) {
	code, _, errOut := runCLI(t, "jobs", "--bogus")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "flag provided but not defined: -bogus")
	code, _, errOut = runCLI(t, "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
	code, _, errOut = runCLI(t, "logs", "--since", "yesterday")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--since "yesterday"`)
	code, _, errOut = runCLI(t, "jobs", "--endpoint", "ftp://x:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "scheme must be http or https")
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
