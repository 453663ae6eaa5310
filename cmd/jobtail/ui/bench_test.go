package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
)

// bigTrace is a trace of n spans: a root with chains of ten nested children.
func bigTrace(n int) *jobtailclient.TraceSummary {
	sum := &jobtailclient.TraceSummary{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
	for i := range n {
		parent := ""
		if i > 0 {
			parent = fmt.Sprintf("%016x", (i-1)/10*10)
			if i%10 == 0 {
				parent = fmt.Sprintf("%016x", 0)
			}
		}
		sum.Spans = append(sum.Spans, jobtailclient.Span{SpanID: fmt.Sprintf("%016x", i), ParentSpanID: parent,
			OperationName: fmt.Sprintf("op-%d", i), ServiceName: "svc", StartTime: base.Add(time.Duration(i) * time.Millisecond),
			DurationMS: float64(n - i)})
		if i%100 == 0 {
			sum.CriticalPath = append(sum.CriticalPath, fmt.Sprintf("%016x", i))
		}
	}
	return sum
}

// A trace is flattened once when it loads; a 10,000-span trace must not stall the UI.
func BenchmarkBuildSpanRows10k(b *testing.B) {
	sum := bigTrace(10_000)
	b.ReportAllocs()
	for b.Loop() {
		_ = BuildSpanRows(sum)
	}
}

// RenderTrace runs on every frame; it only draws the visible rows.
func BenchmarkRenderTrace10kSpans(b *testing.B) {
	sum := bigTrace(10_000)
	rows := BuildSpanRows(sum)
	v := TraceView{JobID: "j", Summary: sum, Rows: rows, Cursor: 5000}
	b.ReportAllocs()
	for b.Loop() {
		_ = RenderTrace(v, 120, 40)
	}
}

// RenderLogs with a full scrollback and an active search, every frame.
func BenchmarkRenderLogs10kLinesSearch(b *testing.B) {
	entries := make([]jobtailclient.LogEntry, maxLogLines)
	for i := range entries {
		entries[i] = jobtailclient.LogEntry{Timestamp: base.Add(time.Duration(i) * time.Millisecond), Level: "info", JobID: "job-1",
			Message: fmt.Sprintf("line %d processed", i), Attributes: map[string]any{"worker.id": "w-1", "n": i}}
	}
	v := LogsView{Active: true, Entries: entries, Search: "line 99", MatchIndex: -1, Conn: jobtailclient.StateConnected,
		Matches: CountMatches(entries, "line 99")}
	b.ReportAllocs()
	for b.Loop() {
		_ = RenderLogs(v, 160, 30)
	}
}

// A full frame of the model with a loaded trace and a full log panel.
func BenchmarkView(b *testing.B) {
	m := New(nil, Config{Now: func() time.Time { return base }})
	m.client, _ = jobtailclient.New(jobtailclient.Options{})
	m.width, m.height = 160, 45
	sum := bigTrace(1000)
	m.summary, m.spanRows, m.selectedJob = sum, BuildSpanRows(sum), "j"
	for i := range 200 {
		m.jobs = append(m.jobs, jobtailclient.Job{ID: fmt.Sprintf("job-%d", i), Queue: "q", Status: jobtailclient.StatusSucceeded, Started: base})
	}
	m.logActive = true
	for i := range maxLogLines {
		m.entries = append(m.entries, jobtailclient.LogEntry{Timestamp: base, Level: "warn", JobID: "j", Message: fmt.Sprintf("line %d", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}
