package ui

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"
	"github.com/jobtrace/jobtrace/internal/testutil/syncbuf"
)

// syncBuffer is shared with the other suites' harnesses.
type syncBuffer = syncbuf.Buffer

type harness struct {
	srv       *jobtailtest.Server
	model     *Model
	tm        *teatest.TestModel
	opened    chan string
	clipboard *syncBuffer
}

func start(t *testing.T, openErr error, w, h int) *harness {
	t.Helper()
	return startWith(t, openErr, w, h, jobtailclient.StreamFilters{})
}

func startWith(t *testing.T, openErr error, w, h int, initial jobtailclient.StreamFilters) *harness {
	t.Helper()
	srv := jobtailtest.New(t)
	srv.Seed(base)
	c, err := jobtailclient.New(jobtailclient.Options{Endpoint: srv.Endpoint()})
	require.NoError(t, err)
	hs := &harness{srv: srv, opened: make(chan string, 4), clipboard: &syncBuffer{}}
	hs.model = New(c, Config{
		RefreshInterval: 50 * time.Millisecond,
		OpenURL: func(u string) error {
			hs.opened <- u
			return openErr
		},
		Clipboard:      hs.clipboard,
		Now:            func() time.Time { return base.Add(10 * time.Second) },
		FollowOptions:  jobtailclient.FollowOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		InitialFilters: initial,
	})
	hs.tm = teatest.NewTestModel(t, hs.model, teatest.WithInitialTermSize(w, h))
	t.Cleanup(func() {
		_ = hs.tm.Quit()
		hs.model.Close()
	})
	return hs
}

func (hs *harness) waitFor(t *testing.T, what ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var view string
	for time.Now().Before(deadline) {
		view = ansi.Strip(hs.model.LastView())
		ok := true
		for _, w := range what {
			ok = ok && strings.Contains(view, w)
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("screen never showed %q; last frame:\n%s", what, view)
}

func (hs *harness) keys(ks ...string) {
	for _, k := range ks {
		switch k {
		case "enter":
			hs.tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
		case "tab":
			hs.tm.Send(tea.KeyMsg{Type: tea.KeyTab})
		case "shift+tab":
			hs.tm.Send(tea.KeyMsg{Type: tea.KeyShiftTab})
		case "esc":
			hs.tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
		case "down":
			hs.tm.Send(tea.KeyMsg{Type: tea.KeyDown})
		case "up":
			hs.tm.Send(tea.KeyMsg{Type: tea.KeyUp})
		case " ":
			hs.tm.Send(tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
		default:
			hs.tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)})
		}
	}
}

// finalView quits and returns the last frame, as the user saw it.
func (hs *harness) finalView(t *testing.T) string {
	t.Helper()
	require.NoError(t, hs.tm.Quit())
	fm := hs.tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second))
	return ansi.Strip(fm.View())
}

func TestTUISelectJobShowsTraceAndLogs(t *testing.T) {
	hs := start(t, nil, 140, 40)
	hs.waitFor(t, jobtailtest.JobDead, jobtailtest.JobRetried, jobtailtest.JobOK, "● API ok")

	// The newest job (dead-lettered) is first: select it.
	hs.keys("enter")
	hs.waitFor(t, "upload s3 (worker)", "errors 2", "upload failed: connection refused", "● connected")

	// Live: a new line for this job appears without a key press; another job's does not.
	require.Eventually(t, func() bool { return hs.srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)
	hs.srv.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(5 * time.Second), Level: "warn", JobID: jobtailtest.JobOK, Message: "other job line"})
	hs.srv.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(5 * time.Second), Level: "warn", JobID: jobtailtest.JobDead, Message: "requeued abandoned job"})
	hs.waitFor(t, "requeued abandoned job")

	// Enter on a span shows its tags.
	hs.keys("down", "enter")
	hs.waitFor(t, "span upload s3", "error = connection refused")

	view := hs.finalView(t)
	assert.Contains(t, view, "job=job-dead-3")
	assert.Contains(t, view, "4 lines")
	assert.NotContains(t, view, "other job line")
	assert.Contains(t, view, "focus: trace")
	creates := hs.srv.Creates()
	require.Len(t, creates, 1)
	assert.Equal(t, jobtailtest.JobDead, creates[0].Filters.JobID)
	assert.True(t, creates[0].Options.Follow)
}

func TestTUIJobsFiltersAndLiveRefresh(t *testing.T) {
	hs := start(t, nil, 120, 30)
	hs.waitFor(t, jobtailtest.JobOK)

	hs.keys("s") // queued: none
	hs.waitFor(t, "status:queued", "no jobs yet")
	hs.keys("s", "s") // running, succeeded
	hs.waitFor(t, "status:succeeded queue:all · 1 shown")

	// Live refresh: a new succeeded job shows up without a key press.
	hs.srv.AddJob(jobtailclient.Job{ID: "job-new-4", Queue: "low_priority", Status: jobtailclient.StatusSucceeded, Attempts: 1, Started: base.Add(5 * time.Second)})
	hs.waitFor(t, "job-new-4", "2 shown")

	hs.keys("s", "s", "s", "s", "s") // retried, dead_lettered, abandoned, failed, all
	hs.waitFor(t, "status:all")
	hs.keys("u") // first queue alphabetically
	hs.waitFor(t, "queue:high_priority · 2 shown")
	view := hs.finalView(t)
	assert.Contains(t, view, jobtailtest.JobDead)
	assert.NotContains(t, view, jobtailtest.JobRetried, "the retried job is in low_priority")
}

func TestTUILogPanelPauseSearchAndBanner(t *testing.T) {
	hs := start(t, nil, 140, 40)
	hs.waitFor(t, jobtailtest.JobDead)
	hs.keys("enter")
	hs.waitFor(t, "job dead-lettered")
	require.Eventually(t, func() bool { return hs.srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)

	hs.keys("tab") // trace → logs
	hs.keys(" ")
	hs.waitFor(t, "PAUSED +0", "focus: logs")
	hs.srv.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(6 * time.Second), Level: "info", JobID: jobtailtest.JobDead, Message: "held back"})
	hs.waitFor(t, "PAUSED +1")
	hs.keys("p")
	hs.waitFor(t, "FOLLOW", "held back")

	hs.keys("/", "u", "p", "l", "o", "a", "d", "enter")
	hs.waitFor(t, "/upload: 1 matches")

	hs.srv.SendControl(map[string]any{"type": "dropped", "count": 42, "reason": "rate_limited"})
	hs.srv.SendControl(map[string]any{"type": "status", "status": "rate_limited"})
	hs.waitFor(t, "⚠ 42 lines dropped by the server (rate_limited 42)", "stream is rate limited")
	hs.srv.SendControl(map[string]any{"type": "dropped", "reason": "store_gap", "total": 0,
		"from": base.Format(time.RFC3339Nano), "until": base.Add(5 * time.Second).Format(time.RFC3339Nano)})
	hs.waitFor(t, "lines missed the live tail from "+base.Local().Format("15:04:05")+" to "+base.Add(5*time.Second).Local().Format("15:04:05")+" (store_gap)",
		"⚠ 42 lines dropped by the server (rate_limited 42)")

	view := hs.finalView(t)
	assert.Contains(t, view, GlyphCursor+"10:00:02.800 ERROR job-dead-3 [worker] upload failed", "the current match is marked")
}

func TestTUIFilterFormShowsServerErrorsInline(t *testing.T) {
	hs := start(t, nil, 120, 30)
	hs.waitFor(t, jobtailtest.JobOK)
	hs.keys("f")
	hs.waitFor(t, "Log filters")
	for range 6 { // Job ID → … → OTTL
		hs.keys("tab")
	}
	hs.keys(`attributes["x" ==`, "enter")
	hs.waitFor(t, "400 invalid_filter: ottl: condition has invalid syntax")

	// Fix it: clear, enter a valid condition and a level; the stream starts.
	hs.tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU})
	hs.keys(`attributes["error"] == "dial tcp 10.0.0.7:443: connection refused"`, "up", "up", "up")
	hs.keys("error", "enter")
	hs.waitFor(t, "upload failed: connection refused", "level=error")

	view := hs.finalView(t)
	assert.NotContains(t, view, "Log filters", "the form closed on success")
	assert.NotContains(t, view, "job dead-lettered", "the OTTL condition filters the other error line")
	creates := hs.srv.Creates()
	require.Len(t, creates, 1, "the invalid request created nothing")
	assert.Equal(t, []string{"error"}, creates[0].Filters.LogLevel)
}

func TestTUIOpenTrace(t *testing.T) {
	t.Run("browser", func(t *testing.T) {
		hs := start(t, nil, 120, 30)
		hs.keys("o")
		hs.waitFor(t, "select a job first")
		hs.waitFor(t, jobtailtest.JobDead)
		hs.keys("enter")
		hs.waitFor(t, "upload s3")
		hs.keys("o")
		assert.Equal(t, "http://localhost:16686/trace/"+jobtailtest.TraceDead, <-hs.opened)
		hs.waitFor(t, "opened http://localhost:16686/trace/"+jobtailtest.TraceDead)
		assert.Empty(t, hs.clipboard.String())
	})
	t.Run("no opener: show and copy with OSC 52", func(t *testing.T) {
		t.Setenv("TMUX", "")
		hs := start(t, ErrNoOpener, 120, 30)
		hs.waitFor(t, jobtailtest.JobDead)
		hs.keys("enter")
		hs.waitFor(t, "upload s3")
		hs.keys("o")
		<-hs.opened
		url := "http://localhost:16686/trace/" + jobtailtest.TraceDead
		hs.waitFor(t, "trace URL (copied to clipboard): "+url)
		assert.Equal(t, "\x1b]52;c;"+base64.StdEncoding.EncodeToString([]byte(url))+"\x07", hs.clipboard.String())
	})
}

func TestTUIHelpTabAndResize(t *testing.T) {
	hs := start(t, nil, 120, 30)
	hs.waitFor(t, jobtailtest.JobOK)
	hs.keys("?")
	hs.waitFor(t, "jobtail — keys", "critical path")
	hs.keys("x") // any key closes help
	hs.keys("tab", "tab")
	hs.waitFor(t, "focus: logs")
	hs.keys("shift+tab")
	hs.waitFor(t, "focus: trace")

	hs.tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	view := hs.finalView(t)
	lines := strings.Split(view, "\n")
	assert.Len(t, lines, 24, "the view fills the new height")
	for _, l := range lines {
		assert.LessOrEqual(t, ansi.StringWidth(l), 80, "no line overflows the new width: %q", l)
	}
	// Narrow: the panels stack, so the jobs panel's bottom border comes before the trace title.
	assert.Less(t, strings.Index(view, "Jobs"), strings.Index(view, "Trace"))
	assert.NotEqual(t, lineOf(lines, "Jobs"), lineOf(lines, "Trace"))
}

func lineOf(lines []string, s string) int {
	for i, l := range lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

func TestTUIShowsAPIAndStreamConnectionState(t *testing.T) {
	hs := start(t, nil, 140, 40)
	hs.waitFor(t, jobtailtest.JobDead)
	hs.keys("enter")
	hs.waitFor(t, "● connected")
	require.Eventually(t, func() bool { return hs.srv.ActiveConns() == 1 }, 5*time.Second, 10*time.Millisecond)

	// Cut the API entirely: both the job refresh and the stream report it.
	hs.srv.CloseClientConnections()
	hs.srv.ForgetStreams()
	hs.srv.Listener.Close()
	hs.waitFor(t, "API unreachable", "reconnecting #")
}

func TestModelIgnoresStaleStreams(t *testing.T) {
	// Events of a replaced stream must not leak into the new one's panel.
	m := New(nil, Config{Now: func() time.Time { return base }})
	m.streamGen = 2
	m.logActive = true
	_, _ = m.Update(streamEventsMsg{gen: 1, events: []jobtailclient.Event{{Entry: &jobtailclient.LogEntry{Message: "old"}}}})
	_, _ = m.Update(streamEventsMsg{gen: 2, events: []jobtailclient.Event{{Entry: &jobtailclient.LogEntry{Message: "new"}}}, closed: true})
	require.Len(t, m.entries, 1)
	assert.Equal(t, "new", m.entries[0].Message)
	assert.Equal(t, jobtailclient.StateClosed, m.conn)

	_, _ = m.Update(streamCreatedMsg{err: errors.New("boom")})
	assert.EqualError(t, m.connErr, "boom", "a failed stream creation without the form open shows in the log panel")
}

// teatest parks one goroutine per test model on a signal channel it never closes; ours must
// all be gone (the follower, the event waiters, the program).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/charmbracelet/x/exp/teatest.NewTestModel.func2"))
}

func TestMatchCountFollowsScrollbackTrim(t *testing.T) {
	m := New(nil, Config{Now: func() time.Time { return base }})
	m.search = "needle"
	batch := make([]jobtailclient.LogEntry, maxLogLines)
	for i := range batch {
		batch[i] = jobtailclient.LogEntry{Timestamp: base, Message: "hay"}
		if i < 5 {
			batch[i].Message = "needle"
		}
	}
	m.appendEntries(batch...)
	assert.Equal(t, 5, m.matchCount)
	m.appendEntries(jobtailclient.LogEntry{Message: "hay"}, jobtailclient.LogEntry{Message: "hay"}, jobtailclient.LogEntry{Message: "needle"})
	assert.Len(t, m.entries, maxLogLines)
	assert.Equal(t, CountMatches(m.entries, "needle"), m.matchCount, "trimmed matches leave the count")
	assert.Equal(t, 3, m.matchCount, "three needles trimmed, one added")
}

// A line that arrives late (attributed once its job became known) goes where its time puts it.
func TestLateLinesInsertedInTimeOrder(t *testing.T) {
	m := New(nil, Config{Now: func() time.Time { return base }})
	for i, msg := range []string{"started", "failed", "dead-lettered"} {
		m.onEvent(jobtailclient.Event{Entry: &jobtailclient.LogEntry{Timestamp: base.Add(time.Duration(i*2) * time.Second), Message: msg}})
	}
	m.onEvent(jobtailclient.Event{Entry: &jobtailclient.LogEntry{Timestamp: base.Add(3 * time.Second), Message: "worker: upload error", Late: true}})
	var got []string
	for _, e := range m.entries {
		got = append(got, e.Message)
	}
	assert.Equal(t, []string{"started", "failed", "worker: upload error", "dead-lettered"}, got)
}

func TestTUIStartedForOneJob(t *testing.T) {
	hs := startWith(t, nil, 140, 40, jobtailclient.StreamFilters{JobID: jobtailtest.JobOK, LogLevel: []string{"info"}})
	hs.waitFor(t, "db query (postgres)", "job=job-ok-1 level=info", "job completed", "focus: trace")
}
