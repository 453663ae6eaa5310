// Package ui is jobtail's terminal UI: a bubbletea model whose panels (jobs, trace, logs,
// filters) are rendered by pure functions over plain state, so they can be tested without a
// terminal and reused by other bubbletea programs such as the queue's own TUI.
package ui // import "github.com/jobtrace/jobtrace/cmd/jobtail/ui"

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/termsafe"
)

// Styles. Colours degrade to plain text on terminals (and in tests) without colour; every
// distinction that matters also has a glyph, so nothing is carried by colour alone.
var (
	styleTitle    = lipgloss.NewStyle().Bold(true)
	styleDim      = lipgloss.NewStyle().Foreground(lipgloss.Color("245"))
	styleSelected = lipgloss.NewStyle().Reverse(true)
	styleCritical = lipgloss.NewStyle().Foreground(lipgloss.Color("214")).Bold(true)
	styleError    = lipgloss.NewStyle().Foreground(lipgloss.Color("196")).Bold(true)
	styleBar      = lipgloss.NewStyle().Foreground(lipgloss.Color("39"))
	styleBanner   = lipgloss.NewStyle().Foreground(lipgloss.Color("230")).Background(lipgloss.Color("124")).Bold(true)
	styleMatch    = lipgloss.NewStyle().Foreground(lipgloss.Color("0")).Background(lipgloss.Color("226"))
	styleOK       = lipgloss.NewStyle().Foreground(lipgloss.Color("42"))
	styleWarn     = lipgloss.NewStyle().Foreground(lipgloss.Color("214"))
	styleFieldErr = lipgloss.NewStyle().Foreground(lipgloss.Color("196"))
	borderFocused = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("39"))
	borderBlurred = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("240"))
	statusStyles  = map[string]lipgloss.Style{
		jobtailclient.StatusRunning:      lipgloss.NewStyle().Foreground(lipgloss.Color("39")),
		jobtailclient.StatusSucceeded:    lipgloss.NewStyle().Foreground(lipgloss.Color("42")),
		jobtailclient.StatusRetried:      lipgloss.NewStyle().Foreground(lipgloss.Color("214")),
		jobtailclient.StatusDeadLettered: lipgloss.NewStyle().Foreground(lipgloss.Color("196")).Bold(true),
		jobtailclient.StatusAbandoned:    lipgloss.NewStyle().Foreground(lipgloss.Color("201")),
		jobtailclient.StatusFailed:       lipgloss.NewStyle().Foreground(lipgloss.Color("196")),
	}
	levelStyles = map[string]lipgloss.Style{
		"trace": lipgloss.NewStyle().Foreground(lipgloss.Color("240")),
		"debug": lipgloss.NewStyle().Foreground(lipgloss.Color("245")),
		"info":  lipgloss.NewStyle().Foreground(lipgloss.Color("42")),
		"warn":  lipgloss.NewStyle().Foreground(lipgloss.Color("214")),
		"error": lipgloss.NewStyle().Foreground(lipgloss.Color("196")).Bold(true),
		"fatal": lipgloss.NewStyle().Foreground(lipgloss.Color("231")).Background(lipgloss.Color("160")).Bold(true),
	}
)

// Glyphs that mark what colour also shows.
const (
	GlyphCritical = "◆"
	GlyphError    = "✗"
	GlyphCursor   = "▸"
	barFull       = "█"
	barEmpty      = "·"
)

var statusGlyphs = map[string]string{
	jobtailclient.StatusQueued:       "…",
	jobtailclient.StatusRunning:      "◌",
	jobtailclient.StatusSucceeded:    "✓",
	jobtailclient.StatusRetried:      "↻",
	jobtailclient.StatusDeadLettered: "✗",
	jobtailclient.StatusAbandoned:    "?",
	jobtailclient.StatusFailed:       "!",
}

// fit cuts or pads a (possibly styled) line to exactly width cells.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	s = ansi.Truncate(s, width, "…")
	if w := ansi.StringWidth(s); w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// FormatDuration prints durations compactly: 850µs, 12.5ms, 2.34s, 3m05s.
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 100*time.Millisecond:
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)), "0"), ".") + "ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// shortID cuts id to at most n bytes, at a rune boundary: a cut inside a rune would leave
// stray bytes that an 8-bit terminal reads as C1 controls.
func shortID(id string, n int) string {
	if len(id) <= n {
		return id
	}
	for n > 0 && !utf8.RuneStart(id[n]) {
		n--
	}
	return id[:max(n, 0)] + "…"
}

// errText is an error as one safe line: errors carry server messages and echoed input.
func errText(err error) string { return termsafe.String(err.Error()) }

// JobsView is the state the jobs panel renders.
type JobsView struct {
	Jobs         []jobtailclient.Job
	Cursor       int
	StatusFilter string
	QueueFilter  string
	SelectedJob  string // the job whose trace/logs are shown
	Err          error
	Refreshed    time.Time
	Now          time.Time
}

// RenderJobs renders the jobs panel's content as width×height cells. Every string from the
// server (ids, queues, workers, statuses, errors) passes termsafe before it is laid out.
func RenderJobs(v JobsView, width, height int) []string {
	lines := make([]string, 0, height)
	filter := fmt.Sprintf("status:%s queue:%s", orAll(termsafe.String(v.StatusFilter)), orAll(termsafe.String(v.QueueFilter)))
	head := styleTitle.Render("Jobs") + " " + styleDim.Render(fmt.Sprintf("%s · %d shown", filter, len(v.Jobs)))
	if !v.Refreshed.IsZero() {
		head += styleDim.Render(" · " + v.Refreshed.Local().Format("15:04:05"))
	}
	lines = append(lines, fit(head, width))
	if v.Err != nil {
		lines = append(lines, fit(styleError.Render(GlyphError+" "+errText(v.Err)), width))
	}
	// The job id column takes the room left by the fixed columns; the queue column goes
	// when the panel is narrow (the header still names the queue filter), the worker last.
	fixed := 2 + 15 + 1 + 1 + 3 + 1 + 8 + 2
	showQueue := width-fixed-14 >= 16
	if showQueue {
		fixed += 14
	}
	jw := max(10, min(36, width-fixed))
	queueCol := func(q string) string {
		if !showQueue {
			return ""
		}
		return fmt.Sprintf("%-13s ", shortID(q, 12))
	}
	lines = append(lines, fit(styleDim.Render(fmt.Sprintf("  %-15s %-*s %s%3s %8s  %s", "STATUS", jw, "JOB", queueCol("QUEUE"), "ATT", "DURATION", "WORKER")), width))
	rows := height - len(lines)
	if len(v.Jobs) == 0 && rows > 0 {
		lines = append(lines, fit(styleDim.Render("  no jobs yet"), width))
	}
	start := scrollStart(v.Cursor, len(v.Jobs), rows)
	for i := start; i < len(v.Jobs) && len(lines) < height; i++ {
		j := v.Jobs[i]
		st := statusStyles[j.Status]
		status := st.Render(fmt.Sprintf("%s %-13s", statusGlyphOf(j.Status), termsafe.String(j.Status)))
		marker := "  "
		if j.ID == v.SelectedJob {
			marker = "• "
		}
		row := fmt.Sprintf("%s %-*s %s%3d %8s  %s", status, jw, shortID(termsafe.String(j.ID), jw-1), queueCol(termsafe.String(j.Queue)), j.Attempts,
			FormatDuration(j.Duration(v.Now)), termsafe.String(j.WorkerID))
		line := marker + row
		if i == v.Cursor {
			line = styleSelected.Render(GlyphCursor + " " + ansi.Strip(row))
		}
		lines = append(lines, fit(line, width))
	}
	return pad(lines, width, height)
}

func statusGlyphOf(s string) string {
	if g, ok := statusGlyphs[s]; ok {
		return g
	}
	return " "
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

// scrollStart keeps the cursor visible in a window of rows.
func scrollStart(cursor, n, rows int) int {
	if rows <= 0 || n <= rows {
		return 0
	}
	start := cursor - rows/2
	return max(0, min(start, n-rows))
}

func pad(lines []string, width, height int) []string {
	for len(lines) < height {
		lines = append(lines, strings.Repeat(" ", max(width, 0)))
	}
	return lines[:max(height, 0)]
}

// SpanRow is one line of the span tree.
type SpanRow struct {
	Span     jobtailclient.Span
	Depth    int
	Critical bool
	Error    bool
}

// BuildSpanRows flattens a summary's spans into tree order: roots (spans without a parent
// or whose parent is not in the trace) by start time, each followed by its children by start
// time, depth-first.
func BuildSpanRows(sum *jobtailclient.TraceSummary) []SpanRow {
	if sum == nil {
		return nil
	}
	spans := sum.AllSpans()
	byID := make(map[string]bool, len(spans))
	for _, s := range spans {
		byID[s.SpanID] = true
	}
	children := map[string][]jobtailclient.Span{}
	var roots []jobtailclient.Span
	for _, s := range spans {
		if s.ParentSpanID == "" || !byID[s.ParentSpanID] || s.ParentSpanID == s.SpanID {
			roots = append(roots, s)
		} else {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		}
	}
	byStart := func(a, b jobtailclient.Span) int { return a.StartTime.Compare(b.StartTime) }
	slices.SortStableFunc(roots, byStart)
	critical := make(map[string]bool, len(sum.CriticalPath))
	for _, id := range sum.CriticalPath {
		critical[id] = true
	}
	errs := make(map[string]bool, len(sum.ErrorSpans))
	for _, id := range sum.ErrorSpans {
		errs[id] = true
	}
	rows := make([]SpanRow, 0, len(spans))
	visited := make(map[string]bool, len(spans))
	var walk func(s jobtailclient.Span, depth int)
	walk = func(s jobtailclient.Span, depth int) {
		if visited[s.SpanID] { // a cycle in bad data must not loop forever
			return
		}
		visited[s.SpanID] = true
		rows = append(rows, SpanRow{Span: s, Depth: depth, Critical: critical[s.SpanID], Error: errs[s.SpanID] || s.IsError()})
		kids := children[s.SpanID]
		slices.SortStableFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	// Spans only reachable through a cycle are still listed.
	for _, s := range spans {
		if !visited[s.SpanID] {
			walk(s, 0)
		}
	}
	return rows
}

// TraceView is the state the trace panel renders.
type TraceView struct {
	JobID    string
	JobTrace *jobtailclient.JobTrace
	Summary  *jobtailclient.TraceSummary
	Rows     []SpanRow
	Cursor   int
	ShowTags bool
	Loading  bool
	Err      error
}

// RenderTrace renders the trace panel: a header with totals, the services, then the span
// tree with each span's bar placed and sized in proportion to the whole trace; or, with
// ShowTags, the selected span's details and tags. Ids, names, services, tags and errors pass
// termsafe before they are laid out.
func RenderTrace(v TraceView, width, height int) []string {
	var lines []string
	add := func(s string) { lines = append(lines, fit(s, width)) }
	title := styleTitle.Render("Trace")
	switch {
	case v.JobID == "" && v.Summary == nil:
		add(title)
		add(styleDim.Render("  select a job and press enter"))
		return pad(lines, width, height)
	case v.Loading:
		add(title + styleDim.Render(" · loading "+termsafe.String(v.JobID)+"…"))
		return pad(lines, width, height)
	case v.Err != nil:
		add(title + " " + styleDim.Render(termsafe.String(v.JobID)))
		add(styleError.Render(GlyphError + " " + errText(v.Err)))
		return pad(lines, width, height)
	case v.Summary == nil:
		add(title)
		return pad(lines, width, height)
	}
	sum := v.Summary
	start, end := sum.Bounds()
	total := end.Sub(start)
	head := fmt.Sprintf("%s · %d spans · %s · critical path %d · errors %d", title, len(v.Rows), FormatDuration(total), len(sum.CriticalPath), countErrors(v.Rows))
	if sum.Partial {
		head += " · " + styleWarn.Render("partial")
	}
	head += " · " + styleDim.Render(termsafe.String(sum.TraceID))
	add(head)
	var svcs []string
	for _, s := range sum.Services {
		txt := fmt.Sprintf("%s(%d", termsafe.String(s.Name), s.SpanCount)
		if s.ErrorCount > 0 {
			txt += fmt.Sprintf(", %d err)", s.ErrorCount)
			svcs = append(svcs, styleError.Render(txt))
		} else {
			svcs = append(svcs, txt+")")
		}
	}
	add(styleDim.Render("services: ") + strings.Join(svcs, " "))

	if v.ShowTags && v.Cursor >= 0 && v.Cursor < len(v.Rows) {
		return pad(append(lines, renderSpanDetail(v.Rows[v.Cursor], width)...), width, height)
	}

	rows := height - len(lines)
	durW := 8
	barW := max(10, width/3)
	nameW := width - barW - durW - 6
	if nameW < 12 {
		barW = max(4, width-durW-16)
		nameW = width - barW - durW - 6
	}
	from := scrollStart(v.Cursor, len(v.Rows), rows)
	for i := from; i < len(v.Rows) && len(lines) < height; i++ {
		add(renderSpanRow(v.Rows[i], i == v.Cursor, start, total, nameW, barW, durW))
	}
	return pad(lines, width, height)
}

func countErrors(rows []SpanRow) int {
	n := 0
	for _, r := range rows {
		if r.Error {
			n++
		}
	}
	return n
}

func renderSpanRow(r SpanRow, selected bool, t0 time.Time, total time.Duration, nameW, barW, durW int) string {
	// Two columns so a failed span on the critical path shows both.
	mark := " "
	if r.Critical {
		mark = GlyphCritical
	}
	if r.Error {
		mark += GlyphError
	} else {
		mark += " "
	}
	name := strings.Repeat("  ", r.Depth) + termsafe.String(r.Span.OperationName)
	if r.Span.ServiceName != "" {
		name += " (" + termsafe.String(r.Span.ServiceName) + ")"
	}
	name = fit(name, nameW)
	dur := jobtailclient.MSToDuration(r.Span.DurationMS)
	bar := SpanBar(r.Span.StartTime.Sub(t0), dur, total, barW)
	durS := fmt.Sprintf("%*s", durW, FormatDuration(dur))
	cursor := " "
	if selected {
		cursor = GlyphCursor
	}
	if selected {
		return styleSelected.Render(cursor + mark + " " + name + " " + bar + " " + durS)
	}
	st := lipgloss.NewStyle()
	switch {
	case r.Error:
		st = styleError
	case r.Critical:
		st = styleCritical
	}
	return cursor + st.Render(mark+" "+name) + " " + styleBar.Inherit(st).Render(bar) + " " + st.Render(durS)
}

// SpanBar draws a span on a timeline of width cells spanning total: blank up to its start,
// filled for its length (at least one cell, so instant spans stay visible).
func SpanBar(offset, dur, total time.Duration, width int) string {
	if width <= 0 {
		return ""
	}
	if total <= 0 {
		return strings.Repeat(barFull, width)
	}
	from := int(math.Floor(float64(offset) / float64(total) * float64(width)))
	n := int(math.Round(float64(dur) / float64(total) * float64(width)))
	from = max(0, min(from, width-1))
	n = max(1, min(n, width-from))
	return strings.Repeat(barEmpty, from) + strings.Repeat(barFull, n) + strings.Repeat(barEmpty, width-from-n)
}

func renderSpanDetail(r SpanRow, width int) []string {
	s := r.Span
	var lines []string
	add := func(str string) { lines = append(lines, fit(str, width)) }
	flags := ""
	if r.Critical {
		flags += " " + styleCritical.Render(GlyphCritical+" critical path")
	}
	if r.Error {
		flags += " " + styleError.Render(GlyphError+" error")
	}
	safe := termsafe.String
	add(styleTitle.Render("span "+safe(s.OperationName)) + flags + styleDim.Render("  (enter/esc: back to tree)"))
	add(fmt.Sprintf("  service %s · kind %s · status %s · %s", safe(s.ServiceName), safe(s.Kind), safe(s.Status), FormatDuration(jobtailclient.MSToDuration(s.DurationMS))))
	add(fmt.Sprintf("  span_id %s · parent %s · start %s", safe(s.SpanID), orDash(safe(s.ParentSpanID)), s.StartTime.UTC().Format("15:04:05.000")))
	keys := make([]string, 0, len(s.Tags))
	for k := range s.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		add(styleDim.Render("  no tags"))
	}
	for _, k := range keys {
		add("  " + styleDim.Render(safe(k)+" = ") + safe(s.Tags[k]))
	}
	return lines
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// LogsView is the state the log panel renders.
type LogsView struct {
	Filters      jobtailclient.StreamFilters
	Entries      []jobtailclient.LogEntry
	Offset       int // lines scrolled up from the bottom; 0 follows the tail
	Paused       bool
	Pending      int // entries held back while paused
	Conn         jobtailclient.ConnState
	ConnAttempt  int
	ConnErr      error
	Rate         float64
	Dropped      map[string]uint64
	Gaps         []Gap // drops the server could not count, newest last
	Warning      string
	ServerStatus string
	Search       string
	SearchInput  string // non-empty while typing, shown at the bottom
	Searching    bool
	MatchIndex   int // index into Entries of the current match, -1 for none
	Matches      int // entries matching Search, kept by the model (counting per frame is slow)
	Active       bool
}

// RenderLogs renders the log panel: a header with filters, connection, rate and mode; a
// banner when the server reported drops or throttling; then the visible window of entries.
// Filters, search terms, server warnings and errors pass termsafe; entries do in PlainLogLine.
func RenderLogs(v LogsView, width, height int) []string {
	var lines []string
	add := func(s string) { lines = append(lines, fit(s, width)) }
	if !v.Active {
		add(styleTitle.Render("Logs"))
		add(styleDim.Render("  select a job, or press f to set filters"))
		return pad(lines, width, height)
	}
	mode := styleOK.Render("FOLLOW")
	switch {
	case v.Paused:
		mode = styleWarn.Render(fmt.Sprintf("PAUSED +%d", v.Pending))
	case v.Offset > 0:
		mode = styleWarn.Render(fmt.Sprintf("SCROLL -%d", v.Offset))
	}
	head := fmt.Sprintf("%s %s · %s · %.1f lines/s · %s · %d lines", styleTitle.Render("Logs"), termsafe.String(v.Filters.Describe()), connLabel(v.Conn, v.ConnAttempt), v.Rate, mode, len(v.Entries))
	if v.Search != "" {
		head += fmt.Sprintf(" · /%s: %d matches", termsafe.String(v.Search), v.Matches)
	}
	add(head)
	if b := dropBanner(v); b != "" {
		add(styleBanner.Render(b))
	}
	if v.ConnErr != nil && v.Conn != jobtailclient.StateConnected {
		add(styleError.Render(GlyphError + " " + errText(v.ConnErr)))
	}
	footer := ""
	if v.Searching {
		footer = "/" + termsafe.String(v.SearchInput) + "█"
	}
	rows := height - len(lines)
	if footer != "" {
		rows--
	}
	end := len(v.Entries) - min(v.Offset, max(0, len(v.Entries)-rows))
	start := max(0, end-rows)
	if len(v.Entries) == 0 && rows > 0 {
		add(styleDim.Render("  waiting for log lines…"))
	}
	for i := start; i < end; i++ {
		add(FormatLogLine(v.Entries[i], v.Search, i == v.MatchIndex))
	}
	lines = pad(lines, width, height-boolInt(footer != ""))
	if footer != "" {
		lines = append(lines, fit(footer, width))
	}
	return lines
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func connLabel(s jobtailclient.ConnState, attempt int) string {
	switch s {
	case jobtailclient.StateConnected:
		return styleOK.Render("● connected")
	case jobtailclient.StateReconnecting:
		return styleWarn.Render(fmt.Sprintf("○ reconnecting #%d", attempt))
	case jobtailclient.StateClosed:
		return styleDim.Render("○ closed")
	}
	return styleWarn.Render("○ connecting")
}

// Gap is an in-band drop the server could not count, with the time range it covers.
type Gap struct {
	Reason      string
	From, Until time.Time
}

// maxGapsShown bounds the gaps the model keeps: the banner shows the latest and how many.
const maxGapsShown = 16

func dropBanner(v LogsView) string {
	var total uint64
	reasons := make([]string, 0, len(v.Dropped))
	for r := range v.Dropped {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	var parts []string
	for _, r := range reasons {
		total += v.Dropped[r]
		parts = append(parts, fmt.Sprintf("%s %d", termsafe.String(r), v.Dropped[r]))
	}
	var b []string
	if total > 0 {
		b = append(b, fmt.Sprintf("⚠ %d lines dropped by the server (%s)", total, strings.Join(parts, ", ")))
	}
	if n := len(v.Gaps); n > 0 {
		g := v.Gaps[n-1]
		when := ""
		if !g.From.IsZero() && !g.Until.IsZero() {
			when = " from " + g.From.Local().Format("15:04:05") + " to " + g.Until.Local().Format("15:04:05")
		}
		more := ""
		if n > 1 {
			more = fmt.Sprintf(" (%d gaps)", n)
		}
		b = append(b, fmt.Sprintf("⚠ lines missed the live tail%s (%s)%s: they are in history", when, termsafe.String(g.Reason), more))
	}
	if v.ServerStatus == "rate_limited" {
		b = append(b, "⚠ stream is rate limited")
	}
	if v.Warning != "" {
		b = append(b, "⚠ "+termsafe.String(v.Warning))
	}
	return strings.Join(b, " · ")
}

// CountMatches counts the entries matching a search term.
func CountMatches(entries []jobtailclient.LogEntry, term string) int {
	n := 0
	for _, e := range entries {
		if EntryMatches(e, term) {
			n++
		}
	}
	return n
}

// EntryMatches reports whether a search term (case-insensitive) occurs in the entry's
// rendered text.
func EntryMatches(e jobtailclient.LogEntry, term string) bool {
	return term != "" && strings.Contains(strings.ToLower(PlainLogLine(e)), strings.ToLower(term))
}

// PlainLogLine is an entry as one line of text without colour: time, level, job, service,
// message, then the attributes sorted by key. It is what every mode prints, so it is where an
// entry's data passes termsafe: a message may carry any bytes its writer chose.
func PlainLogLine(e jobtailclient.LogEntry) string {
	ts, lvl, rest := logLineParts(e)
	return ts + lvl + rest
}

// logLineParts splits a plain line into its timestamp (with the space after it), its padded
// level, and the rest, so FormatLogLine can colour the level without slicing bytes of data.
func logLineParts(e jobtailclient.LogEntry) (ts, lvl, rest string) {
	ts = e.Timestamp.UTC().Format("15:04:05.000") + " "
	lvl = fmt.Sprintf("%-5s", termsafe.String(strings.ToUpper(levelOrInfo(e.Level))))
	var b strings.Builder
	if e.JobID != "" {
		b.WriteString(" " + termsafe.String(e.JobID))
	}
	if e.Service != "" {
		b.WriteString(" [" + termsafe.String(e.Service) + "]")
	}
	b.WriteString(" " + termsafe.String(e.Message))
	keys := make([]string, 0, len(e.Attributes))
	for k := range e.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := fmt.Sprint(e.Attributes[k])
		// Attributes repeating the ids already on the line (job.id, trace_id…) add nothing.
		if v != "" && (v == e.JobID || v == e.TraceID || v == e.SpanID) {
			continue
		}
		fmt.Fprintf(&b, " %s=%s", termsafe.String(k), termsafe.String(v))
	}
	return ts, lvl, b.String()
}

func levelOrInfo(l string) string {
	if l == "" {
		return "info"
	}
	return strings.ToLower(l)
}

// FormatLogLine is PlainLogLine with the level coloured and search matches highlighted.
func FormatLogLine(e jobtailclient.LogEntry, search string, current bool) string {
	ts, lvl, rest := logLineParts(e)
	if search != "" && EntryMatches(e, search) {
		return highlight(ts+lvl+rest, search, current)
	}
	st, ok := levelStyles[levelOrInfo(e.Level)]
	if !ok {
		st = lipgloss.NewStyle()
	}
	return styleDim.Render(ts) + st.Render(lvl) + rest
}

// highlight marks every case-insensitive occurrence of term in s. It compares with
// strings.EqualFold at rune boundaries instead of indexing a lowered copy, whose byte offsets
// differ from s's when lowering changes a rune's length.
func highlight(s, term string, current bool) string {
	var b strings.Builder
	if current {
		b.WriteString(GlyphCursor)
	}
	if term == "" {
		return b.String() + s
	}
	from := 0
	for i := 0; i < len(s); {
		if j, ok := foldPrefix(s[i:], term); ok {
			b.WriteString(s[from:i])
			b.WriteString(styleMatch.Render(s[i : i+j]))
			i += j
			from = i
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	b.WriteString(s[from:])
	return b.String()
}

// foldPrefix reports whether s starts with term under Unicode case folding, and how many
// bytes of s that prefix takes.
func foldPrefix(s, term string) (int, bool) {
	i := 0
	for _, tr := range term {
		if i >= len(s) {
			return 0, false
		}
		sr, size := utf8.DecodeRuneInString(s[i:])
		if sr != tr && !strings.EqualFold(string(sr), string(tr)) {
			return 0, false
		}
		i += size
	}
	return i, i > 0
}
