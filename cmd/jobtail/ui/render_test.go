package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"
)

var base = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

func TestBuildSpanRowsTreeOrder(t *testing.T) {
	sum := jobtailtest.OKTrace(base)
	// Shuffle the spans: the tree must not depend on the server's order.
	sum.Spans = []jobtailclient.Span{sum.Spans[3], sum.Spans[1], sum.Spans[2], sum.Spans[0]}
	rows := BuildSpanRows(&sum)
	var got []string
	for _, r := range rows {
		got = append(got, strings.Repeat(" ", r.Depth)+r.Span.OperationName)
	}
	assert.Equal(t, []string{"enqueue high_priority", " process high_priority", "  download file", "  db query"}, got)
	assert.Equal(t, []bool{true, true, false, true}, []bool{rows[0].Critical, rows[1].Critical, rows[2].Critical, rows[3].Critical})
}

func TestBuildSpanRowsMissingParentsAndCycles(t *testing.T) {
	sum := jobtailclient.TraceSummary{Spans: []jobtailclient.Span{
		{SpanID: "b", ParentSpanID: "gone", OperationName: "orphan", StartTime: base.Add(time.Millisecond)},
		{SpanID: "a", OperationName: "root", StartTime: base},
		{SpanID: "x", ParentSpanID: "y", OperationName: "cycle-x", StartTime: base},
		{SpanID: "y", ParentSpanID: "x", OperationName: "cycle-y", StartTime: base},
	}}
	rows := BuildSpanRows(&sum)
	require.Len(t, rows, 4, "every span is listed exactly once")
	assert.Equal(t, "root", rows[0].Span.OperationName)
	assert.Equal(t, "orphan", rows[1].Span.OperationName, "a span whose parent is missing is a root")
	assert.Equal(t, 0, rows[1].Depth)
}

func TestSpanBar(t *testing.T) {
	for _, tc := range []struct {
		name               string
		offset, dur, total time.Duration
		width              int
		want               string
	}{
		{"whole trace", 0, 100 * time.Millisecond, 100 * time.Millisecond, 10, "██████████"},
		{"second half", 50 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 10, "·····█████"},
		{"instant span stays visible", 30 * time.Millisecond, 0, 100 * time.Millisecond, 10, "···█······"},
		{"overflow is clipped", 90 * time.Millisecond, time.Second, 100 * time.Millisecond, 10, "·········█"},
		{"zero total", 0, 0, 0, 4, "████"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, SpanBar(tc.offset, tc.dur, tc.total, tc.width))
		})
	}
}

func TestRenderTrace(t *testing.T) {
	sum := jobtailtest.OKTrace(base)
	rows := BuildSpanRows(&sum)
	lines := RenderTrace(TraceView{JobID: jobtailtest.JobOK, Summary: &sum, Rows: rows, Cursor: 2}, 90, 10)
	require.Len(t, lines, 10)
	for _, l := range lines {
		assert.Equal(t, 90, ansi.StringWidth(l), "every line fills the panel: %q", l)
	}
	text := strings.Join(lines, "\n")
	assert.Contains(t, lines[0], "4 spans · 2.34s · critical path 3 · errors 0")
	assert.Contains(t, lines[1], "services: producer(1) jobqueue(1) worker(1) postgres(1)")
	assert.Contains(t, text, GlyphCritical+"  enqueue high_priority (producer)")
	assert.Contains(t, text, GlyphCritical+"    process high_priority (jobqueue)")
	assert.Contains(t, text, GlyphCursor+"       download file (worker)", "the selected, non-critical span")
	assert.Contains(t, text, GlyphCritical+"      db query (postgres)")

	// Bars are proportional: db query starts at 800/2340 of the timeline and lasts 1500/2340.
	dbLine := lines[5]
	barW := max(10, 90/3)
	want := SpanBar(800*time.Millisecond, 1500*time.Millisecond, 2340*time.Millisecond, barW)
	assert.Equal(t, strings.Repeat("·", 10)+strings.Repeat("█", 19)+"·", want, "800/2340 of 30 cells ≈ 10 blank, 1500/2340 ≈ 19 filled")
	assert.Contains(t, dbLine, want)
	assert.Contains(t, dbLine, "1.50s")
}

func TestRenderTraceErrorsAndTags(t *testing.T) {
	sum := jobtailtest.DeadTrace(base)
	rows := BuildSpanRows(&sum)
	lines := RenderTrace(TraceView{JobID: jobtailtest.JobDead, Summary: &sum, Rows: rows}, 100, 8)
	text := strings.Join(lines, "\n")
	assert.Contains(t, lines[0], "errors 2")
	assert.Contains(t, lines[1], "jobqueue(1, 1 err) worker(1, 1 err)")
	assert.Contains(t, text, GlyphCritical+GlyphError+"   upload s3 (worker)", "a failed span on the critical path shows both marks")
	assert.Contains(t, text, GlyphCritical+GlyphError+" process high_priority (jobqueue)")

	lines = RenderTrace(TraceView{JobID: jobtailtest.JobDead, Summary: &sum, Rows: rows, Cursor: 1, ShowTags: true}, 100, 8)
	text = strings.Join(lines, "\n")
	assert.Contains(t, text, "span upload s3 "+GlyphCritical+" critical path "+GlyphError+" error")
	assert.Contains(t, text, "error = connection refused")
	assert.Contains(t, text, "parent aaaaaaaaaaaaaaa1")

	lines = RenderTrace(TraceView{JobID: "j", Err: errors.New("404 not_found: job j is unknown")}, 60, 4)
	assert.Contains(t, lines[1], GlyphError+" 404 not_found: job j is unknown")
}

func TestRenderJobs(t *testing.T) {
	jobs := []jobtailclient.Job{
		{ID: "j-dead", Queue: "high_priority", Status: jobtailclient.StatusDeadLettered, Attempts: 3, Started: base, Ended: base.Add(900 * time.Millisecond)},
		{ID: "j-ok", Queue: "low_priority", Status: jobtailclient.StatusSucceeded, Attempts: 1, Started: base, Ended: base.Add(2 * time.Second)},
		{ID: "j-run", Queue: "low_priority", Status: jobtailclient.StatusRunning, Attempts: 1, Started: base},
	}
	lines := RenderJobs(JobsView{Jobs: jobs, Cursor: 1, StatusFilter: "", QueueFilter: "low_priority", SelectedJob: "j-dead",
		Now: base.Add(5 * time.Second)}, 80, 8)
	require.Len(t, lines, 8)
	assert.Contains(t, lines[0], "status:all queue:low_priority · 3 shown")
	assert.Contains(t, lines[2], "• ✗ dead_lettered")
	assert.Contains(t, lines[2], "900ms")
	assert.Contains(t, lines[3], GlyphCursor+" ✓ succeeded")
	assert.Contains(t, lines[4], "◌ running")
	assert.Contains(t, lines[4], "5.00s", "a running job's duration grows with the clock")

	lines = RenderJobs(JobsView{Err: errors.New("dial tcp: connection refused")}, 60, 5)
	assert.Contains(t, lines[1], GlyphError+" dial tcp: connection refused")
	assert.Contains(t, strings.Join(lines, "\n"), "no jobs yet")
}

func TestRenderLogs(t *testing.T) {
	entries := []jobtailclient.LogEntry{
		{Timestamp: base, Level: "info", JobID: "j1", Service: "jobqueue", Message: "job started"},
		{Timestamp: base.Add(time.Second), Level: "error", JobID: "j1", Message: "upload failed", Attributes: map[string]any{"error": "refused", "attempt": 2}},
		{Timestamp: base.Add(2 * time.Second), Level: "warn", JobID: "j1", Message: "job retried"},
	}
	v := LogsView{Active: true, Filters: jobtailclient.StreamFilters{JobID: "j1", LogLevel: []string{"error", "warn"}}, Entries: entries,
		Conn: jobtailclient.StateConnected, Rate: 2.5, Dropped: map[string]uint64{"rate_limited": 40, "buffer_full": 2},
		Search: "upload", MatchIndex: 1, Matches: CountMatches(entries, "upload")}
	lines := RenderLogs(v, 120, 8)
	require.Len(t, lines, 8)
	assert.Contains(t, lines[0], "job=j1 level=error,warn · ● connected · 2.5 lines/s · FOLLOW · 3 lines · /upload: 1 matches")
	assert.Contains(t, lines[1], "⚠ 42 lines dropped by the server (buffer_full 2, rate_limited 40)")
	assert.Contains(t, lines[2], "10:00:00.000 INFO  j1 [jobqueue] job started")
	assert.Contains(t, lines[3], GlyphCursor+"10:00:01.000 ERROR j1 upload failed attempt=2 error=refused")
	assert.Contains(t, lines[4], "WARN  j1 job retried")

	// Scrolled up by one with room for two lines: the window ends one line earlier.
	v = LogsView{Active: true, Entries: entries, Offset: 1, Paused: true, Pending: 7, Conn: jobtailclient.StateReconnecting, ConnAttempt: 3,
		ConnErr: errors.New("connection reset")}
	lines = RenderLogs(v, 100, 4)
	assert.Contains(t, lines[0], "○ reconnecting #3")
	assert.Contains(t, lines[0], "PAUSED +7")
	assert.Contains(t, lines[1], GlyphError+" connection reset")
	assert.Contains(t, lines[2], "job started")
	assert.Contains(t, lines[3], "upload failed")

	v.Searching, v.SearchInput = true, "retr"
	lines = RenderLogs(v, 100, 4)
	assert.Equal(t, "/retr█", strings.TrimRight(lines[3], " "))
}

func TestFilterFormRoundTripAndErrors(t *testing.T) {
	f := NewFilterForm(jobtailclient.StreamFilters{JobID: "j1", LogLevel: []string{"error", "warn"}})
	f.SetValue("ottl", `attributes["x" ==`)
	f.SetValue("log_level", " ERROR, warn ,")
	got := f.Filters()
	assert.Equal(t, jobtailclient.StreamFilters{JobID: "j1", LogLevel: []string{"error", "warn"}, OTTL: `attributes["x" ==`}, got)

	f.Err = &jobtailclient.APIError{StatusCode: 400, Code: "invalid_filter", Message: "ottl: unexpected token", Field: "filters.ottl"}
	lines := f.Render(100, 14)
	idx := -1
	for i, l := range lines {
		if strings.Contains(l, "OTTL") {
			idx = i
		}
	}
	require.GreaterOrEqual(t, idx, 0)
	assert.Contains(t, lines[idx+1], GlyphError+" 400 invalid_filter: ottl: unexpected token", "the error sits under its field")

	f.Err = errors.New("dial tcp: refused")
	assert.Contains(t, strings.Join(f.Render(100, 14), "\n"), GlyphError+" dial tcp: refused", "errors without a field still show")
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 850 * time.Microsecond: "850µs", 12500 * time.Microsecond: "12.5ms", 40 * time.Millisecond: "40ms",
		250 * time.Millisecond: "250ms", 2340 * time.Millisecond: "2.34s", 185 * time.Second: "3m05s",
	} {
		assert.Equal(t, want, FormatDuration(d), d.String())
	}
}

func TestPlainLogLineSkipsRepeatedIDs(t *testing.T) {
	e := jobtailclient.LogEntry{Timestamp: base, Level: "warn", JobID: "j1", TraceID: "t1", Message: "job retried",
		Attributes: map[string]any{"job.id": "j1", "id": "j1", "trace_id": "t1", "retries": 1, "caller": "w.go:12"}}
	assert.Equal(t, "10:00:00.000 WARN  j1 job retried caller=w.go:12 retries=1", PlainLogLine(e))
}

// A drop the server could not count (lines of other gateways that missed the live tail) is
// shown by its time range, never as a count it does not have.
func TestRenderUncountedGap(t *testing.T) {
	from, until := base, base.Add(12*time.Second)
	v := LogsView{Active: true, Conn: jobtailclient.StateConnected,
		Dropped: map[string]uint64{"store_gap": 30},
		Gaps:    []Gap{{Reason: "store_gap"}, {Reason: "store_gap", From: from, Until: until}}}
	lines := RenderLogs(v, 200, 6)
	joined := strings.Join(lines, "\n")
	assert.Contains(t, joined, "⚠ 30 lines dropped by the server (store_gap 30)")
	assert.Contains(t, joined, "⚠ lines missed the live tail from "+from.Local().Format("15:04:05")+" to "+until.Local().Format("15:04:05")+" (store_gap) (2 gaps): they are in history")
}
