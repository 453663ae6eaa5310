package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/jobsim"
)

type e2eExplanation struct {
	JobID    string `json:"job_id"`
	Status   string `json:"status"`
	Summary  string `json:"summary"`
	Partial  bool   `json:"partial"`
	Attempts []struct {
		Attempt int    `json:"attempt"`
		Status  string `json:"status"`
		Error   *struct {
			Message string `json:"message"`
			Source  string `json:"source"`
		} `json:"error"`
		FirstErrorSpan *struct {
			SpanID         string `json:"span_id"`
			Name           string `json:"name"`
			Service        string `json:"service"`
			OnCriticalPath bool   `json:"on_critical_path"`
		} `json:"first_error_span"`
		Logs []struct {
			Level   string `json:"level"`
			Message string `json:"message"`
			JobID   string `json:"job_id"`
			SpanID  string `json:"span_id"`
		} `json:"logs"`
	} `json:"attempts"`
}

// TestExplainDeadLetteredJobWithJobsim runs jobsim's workers (nested spans under each attempt,
// an exception and an ERROR line on failing ones) through the built collector: a dead-lettered
// job's explanation names the span it failed in, carries that ERROR line, and jobtail explain
// exits 1 for it; /queues counts the run; and in tmux, jobtail shows the queue strip, and e
// on the job opens its explanation, Enter jumping to the attempt's span in the trace panel.
func TestExplainDeadLetteredJobWithJobsim(t *testing.T) {
	c := StartCollector(t)
	cfg := jobsim.DefaultConfig()
	cfg.Redis = c.Redis.Addr
	cfg.Jobs = 10
	cfg.Rate = 10
	cfg.Workers = 3
	cfg.FailRatio = 0.6
	cfg.MaxRetries = 1
	cfg.WorkTime = 300 * time.Millisecond
	cfg.Duration = 60 * time.Second
	cfg.Carrier = "w3c"
	cfg.Seed = 5
	cfg.LogFile = filepath.Join(c.Dir, "worker-logs", "jobsim.log")
	cfg.OTLPEndpoint = c.OTLPHTTPURL
	sum, err := jobsim.Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, cfg.Jobs, sum.Final())
	var dead *jobsim.Job
	var ok *jobsim.Job
	for _, id := range sortedJobIDs(sum.Jobs) {
		j := sum.Jobs[id]
		if j.Outcome == jobsim.DeadLettered && dead == nil {
			dead = j
		}
		if j.Outcome == jobsim.Succeeded && ok == nil {
			ok = j
		}
	}
	require.NotNil(t, dead, "no dead-lettered job in the run: %+v", sum)
	span, service, excMsg, logMsg := jobsim.FailureOf(dead.ID)

	var e e2eExplanation
	Eventually(t, 30*time.Second, func() bool {
		e = e2eExplanation{}
		if getJSON(t, c, "/jobs/"+url.PathEscape(dead.ID)+"/explain", &e) != http.StatusOK || e.Status != "dead_lettered" ||
			len(e.Attempts) != len(dead.Attempts) {
			return false
		}
		last := e.Attempts[len(e.Attempts)-1]
		if last.FirstErrorSpan == nil || last.Error == nil {
			return false
		}
		for _, l := range last.Logs {
			if l.Message == logMsg {
				return true
			}
		}
		return false
	}, "explanation of %s with its failing span and error line", dead.ID)

	last := e.Attempts[len(e.Attempts)-1]
	assert.Equal(t, span, last.FirstErrorSpan.Name, "the span the failure started in")
	assert.Equal(t, service, last.FirstErrorSpan.Service)
	assert.True(t, last.FirstErrorSpan.OnCriticalPath)
	assert.Equal(t, excMsg, last.Error.Message)
	assert.Equal(t, "span_event", last.Error.Source)
	var errLine bool
	for _, l := range last.Logs {
		assert.Equal(t, dead.ID, l.JobID, "only the job's own lines")
		if l.Message == logMsg {
			errLine = true
			assert.Equal(t, "error", l.Level)
			assert.Equal(t, last.FirstErrorSpan.SpanID, l.SpanID, "the line points at the failing span")
		}
	}
	assert.True(t, errLine)
	assert.Contains(t, e.Summary, "attempt 2 of 2 failed in "+service+" › "+span)
	assert.Contains(t, e.Summary, "attempt 1 failed the same way")

	// jobtail explain: the summary, and exit 1 because the job failed.
	cmd := exec.Command(jobtailBin(t), "explain", dead.ID)
	cmd.Env = jobtailEnv(c.TailstreamURL)
	out, err := cmd.Output()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "jobtail explain of a failed job exits non-zero: %v", err)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, string(out), e.Summary)
	if ok != nil {
		// jobsim knows the job succeeded before the receiver's next poll does.
		Eventually(t, 30*time.Second, func() bool {
			var s e2eExplanation
			return getJSON(t, c, "/jobs/"+url.PathEscape(ok.ID)+"/explain", &s) == http.StatusOK && s.Status == "succeeded"
		}, "job %s succeeded", ok.ID)
		out, err := runJobtail(t, c, "explain", ok.ID)
		require.NoError(t, err, "a succeeded job exits 0")
		assert.Contains(t, out, "succeeded on attempt")
	}

	explainInTmux(t, c, dead.ID, span)

	// The queues the run used have figures, wait times among them.
	var qs struct {
		Queues []struct {
			Queue    string         `json:"queue"`
			Attempts int            `json:"attempts"`
			Counts   map[string]int `json:"counts"`
			Wait     struct {
				Count int      `json:"count"`
				P95   *float64 `json:"p95_ms"`
			} `json:"wait"`
			TopErrors []struct {
				Message string `json:"message"`
			} `json:"top_errors"`
		} `json:"queues"`
	}
	attempts := 0
	for _, j := range sum.Jobs {
		attempts += len(j.Attempts)
	}
	total, dl, waits := 0, 0, 0
	var errs []string
	Eventually(t, 30*time.Second, func() bool {
		require.Equal(t, http.StatusOK, getJSON(t, c, "/queues", &qs))
		total, dl, waits, errs = 0, 0, 0, nil
		for _, q := range qs.Queues {
			total += q.Attempts
			dl += q.Counts["dead_lettered"]
			waits += q.Wait.Count
			for _, te := range q.TopErrors {
				errs = append(errs, te.Message)
			}
		}
		return total == attempts
	}, "every attempt of the run is counted in /queues (%d of %d)", total, attempts)
	assert.Equal(t, sum.DeadLettered, dl)
	assert.Positive(t, waits, "wait times are measured")
	assert.NotEmpty(t, errs, "worker errors reach the top errors")
	for _, m := range errs {
		assert.NotRegexp(t, `[0-9]`, m, "normalised: %q", m)
		assert.True(t, strings.TrimSpace(m) != "")
	}
}

// explainInTmux drives the interactive UI in a private tmux server: the queue strip is over
// the jobs, e on the dead-lettered job (the only one after filtering) explains it in place of
// the logs, and Enter on the selected attempt puts the trace panel's cursor on its span.
// JOBTAIL_EXPLAIN_CAPTURE=path saves the explanation screen.
func explainInTmux(t *testing.T, c *Collector, jobID, span string) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required in CI for the interactive UI test")
		}
		t.Log("tmux not installed: interactive part skipped")
		return
	}
	sock := fmt.Sprintf("jobtail-explain-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", sock, "kill-server").Run() })
	cmdline := fmt.Sprintf("env PATH=/nonexistent TERM=xterm-256color JOBTAIL_TOKEN= JOBTRACE_TOKEN= JOBTAIL_ENDPOINT=%s %s", c.TailstreamURL, jobtailBin(t))
	tmux("-f", "/dev/null", "new-session", "-d", "-s", "ui", "-x", "170", "-y", "44", cmdline)
	waitScreen := func(what string, cond func(string) bool) string {
		t.Helper()
		var s string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			s = tmux("capture-pane", "-p", "-t", "ui")
			if cond(s) {
				return s
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("screen never showed %s; last screen:\n%s", what, s)
		return ""
	}
	waitScreen("the queue strip and the jobs", func(s string) bool {
		return strings.Contains(s, "queues (15m0s): ") && strings.Contains(s, "wait p95") && strings.Contains(s, "dead_lettered")
	})
	for range 5 { // all → queued → running → succeeded → retried → dead_lettered
		tmux("send-keys", "-t", "ui", "s")
		time.Sleep(100 * time.Millisecond)
	}
	waitScreen("the dead_lettered filter", func(s string) bool { return strings.Contains(s, "status:dead_lettered") })
	// Put the cursor on our job: it is among the dead-lettered ones, newest first. One press at
	// a time, each waited for (the cursor line changes): presses sent faster than a loaded
	// machine redraws would carry the cursor past the job.
	// The cursor's row and line, and the job it is on (the line's other columns, such as ages,
	// change on their own; the row does not when the list scrolls).
	cursor := func(s string) (row int, line, job string) {
		for i, l := range strings.Split(s, "\n") {
			if _, after, ok := strings.Cut(l, "▸ ✗ dead_lettered "); ok {
				f := strings.Fields(after)
				if len(f) > 0 {
					job = f[0]
				}
				return i, l, job
			}
			if strings.Contains(l, "▸ ") {
				return i, l, l
			}
		}
		return -1, "", ""
	}
	for i := 0; i < 20; i++ {
		row, line, job := cursor(tmux("capture-pane", "-p", "-t", "ui"))
		if strings.Contains(line, "▸ ✗ dead_lettered "+jobID[:16]) {
			break
		}
		tmux("send-keys", "-t", "ui", "Down")
		waitScreen("the cursor moved down", func(s string) bool {
			r, _, j := cursor(s)
			return r != row || j != job
		})
	}
	tmux("send-keys", "-t", "ui", "e")
	shot := waitScreen("the explanation", func(s string) bool {
		return strings.Contains(s, "Explanation "+jobID) && strings.Contains(s, "failed in") &&
			strings.Contains(s, "first error span (attempt 2): ") && strings.Contains(s, "lines of attempt 2") &&
			strings.Contains(s, span) && strings.Contains(s, "focus: logs")
	})
	if p := os.Getenv("JOBTAIL_EXPLAIN_CAPTURE"); p != "" {
		if err := os.WriteFile(p, []byte(shot), 0o644); err != nil {
			t.Error(err)
		}
	}
	tmux("send-keys", "-t", "ui", "Enter")
	waitScreen("the attempt's span selected in the trace", func(s string) bool {
		return strings.Contains(s, "focus: trace") && strings.Contains(s, "▸")
	})
	tmux("send-keys", "-t", "ui", "q")
}
