package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"
)

func fp(v float64) *float64 { return &v }

func explanations(srv *jobtailtest.Server) {
	srv.SetExplanation(jobtailclient.Explanation{JobID: jobtailtest.JobDead, Queue: "high_priority", Status: jobtailclient.StatusDeadLettered,
		Summary: "attempt 2 of 2 failed in worker › upload s3: connection refused (after 700 ms); attempt 1 failed the same way",
		Attempts: []jobtailclient.AttemptExplain{
			{Attempt: 1, Status: "retried", WorkerID: "w-1", WaitMS: fp(12), RunMS: fp(1260),
				Error: &jobtailclient.JobError{Message: "connection refused", Source: "span_status"}},
			{Attempt: 2, Status: "dead_lettered", WorkerID: "w-2\x1b[31m", WaitMS: fp(3), RunMS: fp(900),
				Error:          &jobtailclient.JobError{Type: "net.OpError", Message: "connection refused", Source: "span_event"},
				FirstErrorSpan: &jobtailclient.ErrorSpan{SpanID: "aaaaaaaaaaaaaaa2", Name: "upload s3", Service: "worker", OnCriticalPath: true},
				Logs:           []jobtailclient.LogEntry{{Timestamp: base, Level: "error", JobID: jobtailtest.JobDead, Message: "upload failed"}}},
		},
		SameFailureAsPrevious: true,
	})
	srv.SetExplanation(jobtailclient.Explanation{JobID: jobtailtest.JobOK, Queue: "high_priority", Status: jobtailclient.StatusSucceeded,
		Summary: "succeeded on attempt 1", Attempts: []jobtailclient.AttemptExplain{{Attempt: 1, Status: "succeeded"}}})
	srv.SetExplanation(jobtailclient.Explanation{JobID: "job-running", Status: jobtailclient.StatusRunning, Summary: "attempt 1 is running"})
}

// The exit code tells scripts what happened: 0 succeeded, 1 failed, 3 not finished; an unknown
// job is an error (1, with the server's message).
func TestExplainCommand(t *testing.T) {
	srv := seeded(t)
	explanations(srv)
	code, out, errOut := runCLI(t, "explain", jobtailtest.JobDead, "--endpoint", srv.Endpoint())
	require.Equal(t, 1, code, errOut)
	assert.Empty(t, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Equal(t, "job job-dead-3 · queue high_priority · dead_lettered", lines[0])
	assert.Equal(t, "attempt 2 of 2 failed in worker › upload s3: connection refused (after 700 ms); attempt 1 failed the same way", lines[1])
	assert.Regexp(t, `^ATTEMPT\s+STATUS\s+WORKER\s+WAIT\s+RUN\s+ERROR`, lines[2])
	assert.Regexp(t, `^1\s+retried\s+w-1\s+12ms\s+1\.26s\s+\[span_status\] connection refused$`, lines[3])
	assert.Regexp(t, `^2\s+dead_lettered\s+w-2\\x1b\[31m\s+3ms\s+900ms\s+\[span_event\] net\.OpError: connection refused$`, lines[4])
	assert.Contains(t, out, "first error span: worker › upload s3 ◆ critical path (span aaaaaaaaaaaaaaa2)")
	assert.Contains(t, out, "ERROR job-dead-3 upload failed")
	assert.NotContains(t, out, "\x1b")

	code, out, _ = runCLI(t, "explain", "--json", jobtailtest.JobDead, "--endpoint", srv.Endpoint())
	require.Equal(t, 1, code)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "dead_lettered", got["status"])
	assert.NotContains(t, out, "\x1b", "control characters stay escaped in --json")
	assert.Len(t, got["attempts"], 2)

	code, _, errOut = runCLI(t, "explain", jobtailtest.JobOK, "--context", "0", "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{"", "", "0"}, srv.ExplainContexts(), "no ?context= unless asked; --context 0 asks for none")
	code, out, errOut = runCLI(t, "explain", jobtailtest.JobOK, "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "succeeded on attempt 1")
	code, _, _ = runCLI(t, "explain", "job-running", "--endpoint", srv.Endpoint())
	assert.Equal(t, 3, code)

	code, _, errOut = runCLI(t, "explain", "nope", "--endpoint", srv.Endpoint())
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404 job_not_found")
	code, _, _ = runCLI(t, "explain", "--endpoint", srv.Endpoint())
	assert.Equal(t, 2, code, "a job id is required")
}

func TestQueuesCommand(t *testing.T) {
	srv := seeded(t)
	srv.SetQueues([]jobtailclient.QueueFigures{{Queue: "high_priority", Attempts: 4, RetryRate: 0.25,
		Counts: map[string]int64{"succeeded": 3, "retried": 1}, Wait: jobtailclient.Quantiles{Count: 4, P50: fp(10), P95: fp(40), P99: fp(41)},
		TopErrors: []struct {
			Message string `json:"message"`
			Count   int64  `json:"count"`
		}{{Message: "upstream …", Count: 1}},
		JobTypes: []jobtailclient.QueueFigures{{JobType: "resize", Attempts: 4}}}})
	code, out, errOut := runCLI(t, "queues", "--window", "5m", "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	assert.Equal(t, "window 5m0s", lines[0])
	assert.Regexp(t, `^high_priority\s+\(all\)\s+4\s+3\s+1\s+0\s+0\s+25\.0%\s+10ms/40ms/41ms\s+-/-/-\s+upstream … \(1\)$`, lines[2])
	assert.Regexp(t, `^high_priority\s+resize\s+4\s`, lines[3])

	code, out, _ = runCLI(t, "queues", "--json", "--endpoint", srv.Endpoint())
	require.Equal(t, 0, code)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "15m0s", got["window"])
}
