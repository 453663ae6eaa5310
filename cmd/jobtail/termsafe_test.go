package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"
	"github.com/jobtrace/jobtrace/internal/testutil/termcheck"
)

// TestScriptableOutputIsTerminalSafe is issue 18's reproduction through the commands: a job,
// a span and log lines carrying OSC 52, a title change, a cursor position request and a
// carriage return, printed as text and as JSON. Nothing reaches the terminal raw; the JSON
// still decodes to the same strings.
func TestScriptableOutputIsTerminalSafe(t *testing.T) {
	srv := jobtailtest.New(t)
	const job = "escjob"
	hostile := termcheck.Hostile
	srv.AddJob(jobtailclient.Job{ID: job, Queue: "high" + hostile, Status: jobtailclient.StatusDeadLettered, Attempts: 1,
		WorkerID: "w" + hostile, TraceID: strings.Repeat("ab", 16), Started: base, Ended: base.Add(time.Second)})
	sum := jobtailtest.DeadTrace(base)
	sum.TraceID = strings.Repeat("ab", 16)
	for i := range sum.Spans {
		sum.Spans[i].OperationName += hostile
		sum.Spans[i].ServiceName += hostile
	}
	srv.AddTrace(job, sum, "http://jaeger.example/trace/"+hostile)
	srv.AppendLog(jobtailclient.LogEntry{Timestamp: base, Level: "error", JobID: job, Service: "svc" + hostile,
		Message: hostile, Attributes: map[string]any{"error" + hostile: hostile}})

	check := func(what, out string) {
		t.Helper()
		require.NoError(t, termcheck.Check(out, true), "%s:\n%s", what, out)
	}
	for _, args := range [][]string{
		{"jobs"}, {"trace", job}, {"logs", "--job-id", job},
	} {
		code, out, errOut := runCLI(t, append(args, "--endpoint", srv.Endpoint())...)
		require.Equal(t, 0, code, errOut)
		check(strings.Join(args, " "), out)
		check(strings.Join(args, " ")+" stderr", errOut)
	}
	_, out, _ := runCLI(t, "logs", "--job-id", job, "--endpoint", srv.Endpoint())
	assert.Contains(t, out, `\x1b]52;c;aGFja2Vk\x07`, "the sequence is shown, escaped")
	assert.Contains(t, out, `real-error\x0dfake-ok`)

	for _, args := range [][]string{
		{"jobs", "--json"}, {"trace", job, "--json"}, {"logs", "--job-id", job, "--json"},
	} {
		code, out, errOut := runCLI(t, append(args, "--endpoint", srv.Endpoint())...)
		require.Equal(t, 0, code, errOut)
		check(strings.Join(args, " "), out)
		require.NotContains(t, out, "\u009b", "raw C1 CSI in --json output")
	}
	_, out, _ = runCLI(t, "logs", "--job-id", job, "--json", "--endpoint", srv.Endpoint())
	var e jobtailclient.LogEntry
	require.NoError(t, json.Unmarshal([]byte(out), &e))
	assert.Equal(t, strings.ToValidUTF8(hostile, "\ufffd"), e.Message, "--json keeps the data, only escaped")

	// Errors quote the server and the command line.
	code, _, errOut := runCLI(t, "trace", "no-such"+hostile, "--endpoint", srv.Endpoint())
	assert.Equal(t, 1, code)
	check("error", errOut)
	code, _, errOut = runCLI(t, "jobs", "--bogus"+hostile)
	assert.Equal(t, 2, code)
	check("flag error", errOut)
}

// FuzzScriptablePrinters feeds arbitrary bytes through every printer of the scriptable mode:
// the jobs table, the trace text, plain and JSON log lines, control messages, reconnect notes,
// JSON output and error messages.
func FuzzScriptablePrinters(f *testing.F) {
	for _, s := range []string{"", "ok", termcheck.Hostile, "\u0085\x9b", "a\tb\nc"} {
		f.Add(s, "job-1")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var out, errOut bytes.Buffer
		jobs := []jobtailclient.Job{{ID: a, Queue: b, Status: a, WorkerID: b, TraceID: a, Started: base}}
		require.NoError(t, printJobs(&out, jobs, base))
		require.NoError(t, writeJSON(&out, jobs))
		sum := &jobtailclient.TraceSummary{TraceID: a, Spans: []jobtailclient.Span{
			{SpanID: a, OperationName: b, ServiceName: a, StartTime: base, DurationMS: 1, Status: "error", Tags: map[string]string{a: b}},
			{SpanID: b, ParentSpanID: a, OperationName: a, StartTime: base, DurationMS: 1},
		}, CriticalPath: []string{a, b, "missing" + b}, ErrorSpans: []string{a, b}, Services: []jobtailclient.ServiceStat{{Name: b}}}
		require.NoError(t, printTrace(&out, &jobtailclient.JobTrace{JobID: a, TraceURL: b}, sum))
		raw, _ := json.Marshal(map[string]any{"message": a, "job_id": b, "attributes": map[string]any{a: b}})
		entry := jobtailclient.LogEntry{Level: a, JobID: b, Service: a, Message: b, Attributes: map[string]any{a: b}, Raw: raw}
		for _, asJSON := range []bool{false, true} {
			require.NoError(t, printEvent(&out, &errOut, jobtailclient.Event{Entry: &entry}, asJSON))
			entry.Raw = json.RawMessage(a) // not JSON at all
			require.NoError(t, printEvent(&out, &errOut, jobtailclient.Event{Entry: &entry}, asJSON))
			entry.Raw = raw
		}
		ctl := &jobtailclient.Control{Type: a, Raw: raw}
		require.NoError(t, printEvent(&out, &errOut, jobtailclient.Event{Control: ctl}, false))
		require.NoError(t, printEvent(&out, &errOut, jobtailclient.Event{StateChanged: true,
			State: jobtailclient.StateReconnecting, Err: errors.New(b)}, false))
		printError(&errOut, errors.New(a))
		printError(&errOut, usageError{errors.New(b)})
		_, _ = safeWriter{&errOut}.Write([]byte(a))
		if err := termcheck.Check(out.String(), true); err != nil {
			t.Fatalf("stdout: %v", err)
		}
		if err := termcheck.Check(errOut.String(), true); err != nil {
			t.Fatalf("stderr: %v", err)
		}
	})
}
