package ui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"
)

func f64(v float64) *float64 { return &v }

// deadExplanation explains Seed's dead-lettered job: three attempts failed alike in the upload
// span of DeadTrace.
func deadExplanation() jobtailclient.Explanation {
	fe := &jobtailclient.ErrorSpan{SpanID: "aaaaaaaaaaaaaaa2", Name: "upload s3", Service: "worker", OnCriticalPath: true, DurationMS: 700}
	att := func(n int, status string) jobtailclient.AttemptExplain {
		a := jobtailclient.AttemptExplain{Attempt: n, Status: status, WorkerID: jobtailtest.WorkerA, WaitMS: f64(12), RunMS: f64(900),
			TraceID: jobtailtest.TraceDead, SpanID: "aaaaaaaaaaaaaaa1",
			Error: &jobtailclient.JobError{Type: "net.OpError", Message: "dial tcp 10.0.0.7:443: connection refused", Source: "span_event"}}
		if n == 3 {
			a.FirstErrorSpan = fe
			a.Logs = []jobtailclient.LogEntry{{Timestamp: base.Add(2800 * time.Millisecond), Level: "error", JobID: jobtailtest.JobDead,
				Message: "upload failed: connection refused\x1b[2J"}}
		}
		return a
	}
	return jobtailclient.Explanation{JobID: jobtailtest.JobDead, Queue: "high_priority", Status: jobtailclient.StatusDeadLettered,
		Summary:               "attempt 3 of 3 failed in worker › upload s3: dial tcp …: connection refused (after 700 ms); attempts 1–2 failed the same way",
		Attempts:              []jobtailclient.AttemptExplain{att(1, "retried"), att(2, "retried"), att(3, "dead_lettered")},
		SameFailureAsPrevious: true,
		ComparedWith: &jobtailclient.Comparison{JobID: jobtailtest.JobOK, Attempt: 1, Status: "succeeded", SpansMissing: []string{"db query"},
			SpansExtra: []string{"upload s3"}},
	}
}

// e on a job opens its explanation in the logs panel's place, with the summary, a row per
// attempt, the first error span (and the trace cursor on it), the comparison and the lines;
// Enter on an attempt jumps to its span in the trace panel.
func TestTUIExplanationPanel(t *testing.T) {
	hs := start(t, nil, 160, 44)
	hs.srv.SetExplanation(deadExplanation())
	hs.waitFor(t, jobtailtest.JobDead, "● API ok")

	hs.keys("e") // the cursor is on the newest job, the dead-lettered one
	hs.waitFor(t, "Explanation job-dead-3", "attempt 3 of 3 failed in worker › upload s3", "attempts 1–2 failed the same way",
		"first error span (attempt 3): worker › upload s3 ◆ critical path",
		"compared with job-ok-1 attempt 1 (succeeded) · missing db query · extra upload s3",
		"[span_event] net.OpError: dial tcp 10.0.0.7:443: connection refused", "lines of attempt 3 (1)", "focus: logs")
	// The trace panel shows the job, its cursor on the first error span.
	hs.waitFor(t, "upload s3 (worker)")
	require.Eventually(t, func() bool {
		return strings.Contains(ansi.Strip(hs.model.LastView()), "▸◆✗   upload s3")
	}, 5*time.Second, 20*time.Millisecond, "the first error span is highlighted in the trace")
	view := ansi.Strip(hs.model.LastView())
	assert.Contains(t, view, `connection refused\x1b[2J`, "data reaches the screen made safe")
	assert.NotContains(t, view, "\x1b[2J")

	// Attempt 1 has no first error span: enter jumps to the attempt's own span.
	hs.keys("up", "up")
	hs.waitFor(t, "lines of attempt 1 (0)")
	hs.keys("enter")
	hs.waitFor(t, "focus: trace", "▸◆✗ process high_priority")

	// esc closes the panel; the logs come back.
	hs.keys("tab", "esc")
	hs.waitFor(t, "Logs job=job-dead-3")
	final := hs.finalView(t)
	assert.NotContains(t, final, "Explanation job-dead-3")
}

func TestTUIExplanationUnknownJob(t *testing.T) {
	hs := start(t, nil, 140, 40)
	hs.waitFor(t, jobtailtest.JobDead)
	hs.keys("e")
	hs.waitFor(t, "Explanation job-dead-3", "✗ 404 job_not_found")
}

// The queue strip shows per queue the attempts by status and the wait/run p95, and follows
// the server without a key press.
func TestTUIQueueStripLive(t *testing.T) {
	hs := start(t, nil, 160, 40)
	hs.srv.SetQueues([]jobtailclient.QueueFigures{{Queue: "high_priority", Counts: map[string]int64{"succeeded": 12, "dead_lettered": 1, "retried": 3},
		Wait: jobtailclient.Quantiles{P95: f64(40)}, Run: jobtailclient.Quantiles{P95: f64(820)}}})
	hs.waitFor(t, "queues (15m0s): high_priority ✓12 ↻3 ✗1 wait p95 40ms run p95 820ms", jobtailtest.JobDead)
	hs.srv.SetQueues([]jobtailclient.QueueFigures{
		{Queue: "high_priority", Counts: map[string]int64{"succeeded": 13}, Wait: jobtailclient.Quantiles{P95: f64(41)}},
		{Queue: "low\x1b]0;pwned\x07", Counts: map[string]int64{"retried": 2}},
	})
	hs.waitFor(t, "high_priority ✓13 wait p95 41ms run p95 -", `│ low\x1b]0;pwned\x07 ↻2`)
	assert.GreaterOrEqual(t, hs.srv.QueuesCalls(), 2)
	view := hs.finalView(t)
	assert.NotContains(t, view, "\x07")
}

func TestRenderExplainPartialAndWrap(t *testing.T) {
	e := deadExplanation()
	e.Partial = true
	e.Summary = strings.Repeat("word ", 40)
	lines := RenderExplain(ExplainView{JobID: e.JobID, Explanation: &e, Cursor: 2}, 80, 20)
	require.Len(t, lines, 20)
	plain := ansi.Strip(strings.Join(lines, "\n"))
	assert.Contains(t, plain, "partial")
	assert.Equal(t, 3, strings.Count(plain, "  word word"), "the summary wraps over lines")
	for _, l := range lines {
		assert.LessOrEqual(t, ansi.StringWidth(l), 80)
	}
}

// Several presses delivered in one read (a loaded machine, tmux send-keys) act as presses.
func TestTUIKeysInOneRead(t *testing.T) {
	hs := start(t, nil, 140, 40)
	hs.waitFor(t, jobtailtest.JobDead, "● API ok")
	hs.tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("sssss")}) // all → … → dead_lettered
	hs.waitFor(t, "status:dead_lettered")
}
