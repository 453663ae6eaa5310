package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/testutil/termcheck"
)

// hostileState puts a and b in every string field the UI shows: ids, names, services,
// statuses, tags, attributes, messages, filters, URLs and error texts.
type hostileState struct {
	jobs    []jobtailclient.Job
	jt      *jobtailclient.JobTrace
	sum     *jobtailclient.TraceSummary
	entries []jobtailclient.LogEntry
	err     error
	filters jobtailclient.StreamFilters
}

func newHostileState(a, b string) hostileState {
	span := func(id, parent string, d time.Duration) jobtailclient.Span {
		return jobtailclient.Span{SpanID: id, ParentSpanID: parent, OperationName: a + b, ServiceName: b, StartTime: base.Add(d),
			DurationMS: 5, Status: "error", Kind: a, Tags: map[string]string{a: b, "db.statement": b + a}}
	}
	sum := &jobtailclient.TraceSummary{
		TraceID: a, Spans: []jobtailclient.Span{span("root", "", 0), span(a, "root", time.Millisecond), span(b, a, 2*time.Millisecond)},
		CriticalPath: []string{"root", a, b}, ErrorSpans: []string{a, b},
		Services: []jobtailclient.ServiceStat{{Name: a, SpanCount: 2, ErrorCount: 1}, {Name: b, SpanCount: 1}},
	}
	entry := jobtailclient.LogEntry{Timestamp: base, Level: a, Service: b, JobID: a, WorkerID: b, QueueName: a, TraceID: b,
		Message: b + " " + a, Attributes: map[string]any{a: b, "error": a, "list": []any{a, b}, "nested": map[string]any{b: a}}}
	return hostileState{
		jobs: []jobtailclient.Job{
			{ID: a, Queue: b, Status: jobtailclient.StatusDeadLettered, Attempts: 3, WorkerID: b, TraceID: a, Started: base, Ended: base.Add(time.Second)},
			{ID: b, Queue: a, Status: a, Attempts: 1, WorkerID: a, Started: base},
		},
		jt:      &jobtailclient.JobTrace{JobID: a, TraceID: a, TraceURL: "http://x/" + b, Status: b},
		sum:     sum,
		entries: []jobtailclient.LogEntry{entry, {Timestamp: base, Level: "error", Message: a}},
		err:     &jobtailclient.APIError{StatusCode: 400, Code: a, Message: b, Field: a},
		filters: jobtailclient.StreamFilters{JobID: a, WorkerID: b, QueueName: a, LogLevel: []string{b}, Service: a, TraceID: b, Text: a, OTTL: b},
	}
}

// renderAll renders every panel and mode of the UI over st: the jobs panel, the trace panel
// (tree, tags, loading, error), the log panel (follow, search, banner, errors), the filter form
// with a server error, the help, and whole frames of the model with its status bar and footer.
func renderAll(t *testing.T, st hostileState, a, b string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	out["jobs"] = RenderJobs(JobsView{Jobs: st.jobs, Cursor: 0, StatusFilter: a, QueueFilter: b, SelectedJob: a, Err: st.err, Now: base}, 90, 12)
	out["jobs narrow"] = RenderJobs(JobsView{Jobs: st.jobs, Cursor: 1, Now: base}, 30, 8)
	rows := BuildSpanRows(st.sum)
	out["trace"] = RenderTrace(TraceView{JobID: a, JobTrace: st.jt, Summary: st.sum, Rows: rows, Cursor: 1}, 100, 12)
	out["trace tags"] = RenderTrace(TraceView{JobID: a, Summary: st.sum, Rows: rows, Cursor: 1, ShowTags: true}, 100, 12)
	out["trace loading"] = RenderTrace(TraceView{JobID: a, Loading: true}, 60, 3)
	out["trace error"] = RenderTrace(TraceView{JobID: a, Err: st.err}, 60, 3)
	lv := LogsView{Filters: st.filters, Entries: st.entries, Active: true, Conn: jobtailclient.StateReconnecting, ConnErr: errors.New(b),
		Dropped: map[string]uint64{a: 3}, Warning: b, ServerStatus: "rate_limited", Search: a, Matches: 1, MatchIndex: 0,
		Searching: true, SearchInput: b}
	out["logs"] = RenderLogs(lv, 120, 10)
	lv.Search, lv.Searching = "", false
	out["logs plain"] = RenderLogs(lv, 120, 10)
	for i, e := range st.entries {
		out["plain line "+string(rune('0'+i))] = []string{PlainLogLine(e), FormatLogLine(e, "", false), FormatLogLine(e, b, true)}
	}
	form := NewFilterForm(st.filters)
	form.Err = st.err
	out["filter form"] = form.Render(80, 20)
	form.Err = errors.New(a)
	out["filter form other error"] = form.Render(80, 20)
	out["help"] = HelpLines

	c, err := jobtailclient.New(jobtailclient.Options{Endpoint: "127.0.0.1:1"})
	require.NoError(t, err)
	m := New(c, Config{Now: func() time.Time { return base }})
	m.width, m.height = 140, 40
	m.jobs, m.jobsErr = st.jobs, st.err
	m.selectedJob, m.jobTrace, m.summary, m.spanRows = a, st.jt, st.sum, rows
	m.logActive, m.filters, m.entries, m.connErr, m.warning = true, st.filters, st.entries, st.err, b
	m.dropped = map[string]uint64{b: 1}
	m.flash = "trace URL (copied to clipboard): " + a
	m.search, m.matchCount = b, 1
	out["frame"] = strings.Split(m.View(), "\n")
	m.showTags, m.spanCursor, m.focus, m.width = true, 2, PanelTrace, 80
	out["frame stacked tags"] = strings.Split(m.View(), "\n")
	m.form = NewFilterForm(st.filters)
	m.form.Err = st.err
	out["frame form"] = strings.Split(m.View(), "\n")
	m.form, m.showHelp = nil, true
	out["frame help"] = strings.Split(m.View(), "\n")
	return out
}

// TestHostileDataIsEscapedInEveryPanel is issue 18's reproduction against the UI: the
// sequences are shown as visible escapes, and none reaches the terminal.
func TestHostileDataIsEscapedInEveryPanel(t *testing.T) {
	a, b := "escjob"+termcheck.Hostile, "svc"+termcheck.Hostile
	for name, lines := range renderAll(t, newHostileState(a, b), a, b) {
		require.NoError(t, termcheck.CheckLines(lines), "%s:\n%s", name, termcheck.Joined(lines))
	}
	// The sequences stay visible, so an operator sees that someone tried.
	lines := RenderLogs(LogsView{Active: true, Entries: newHostileState(a, b).entries}, 300, 5)
	joined := termcheck.Joined(lines)
	assert.Contains(t, joined, `\x1b]52;c;aGFja2Vk\x07`)
	assert.Contains(t, joined, `real-error\x0dfake-ok`, "a carriage return must not hide what precedes it")
	assert.Contains(t, joined, `\u009b2J`)
}

func TestHighlightKeepsRunesWhole(t *testing.T) {
	// Lowering İ (2 bytes) gives 3 bytes: offsets into a lowered copy would cut runes.
	got := highlight("İİx ok", "ok", false)
	require.NoError(t, termcheck.Check(got, false))
	assert.Equal(t, "İİx ok", got)
	assert.Equal(t, "ÉCOLE", highlight("ÉCOLE", "école", false))
}

func TestShortIDCutsAtRuneBoundary(t *testing.T) {
	got := shortID("日本語", 4)
	require.NoError(t, termcheck.Check(got, false))
	assert.Equal(t, "日…", got)
}

func TestOpenTraceRefusesNonWebURLs(t *testing.T) {
	for _, u := range []string{"file:///etc/passwd", "--help", "javascript:alert(1)", "http://x/\nrm -rf ~"} {
		assert.False(t, isWebURL(u), u)
	}
	assert.True(t, isWebURL("https://jaeger.example/trace/abc"))
}

// FuzzRenderPaths feeds arbitrary bytes through every render path of the UI (panels, plain
// lines, the filter form, whole frames): no control character or C1 reaches the output.
func FuzzRenderPaths(f *testing.F) {
	for _, s := range []string{"", "ok", termcheck.Hostile, "İ\u0085\x9b", "\xe6\x97", "a\tb\nc\r"} {
		f.Add(s, "job-1")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for name, lines := range renderAll(t, newHostileState(a, b), a, b) {
			if err := termcheck.CheckLines(lines); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
}
