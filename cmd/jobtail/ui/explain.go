package ui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/termsafe"
)

// extState is the explanation panel's and the queue strip's part of the model.
type extState struct {
	// explanation panel (e): it takes the logs panel's place while open
	explainOpen    bool
	explainJob     string
	explanation    *jobtailclient.Explanation
	explainErr     error
	explainLoading bool
	attemptCursor  int
	// highlightDone is set once the trace panel's cursor was put on the first error span, so
	// the user's own moves are not undone by a later refresh.
	highlightDone bool

	// queue strip
	queues       []jobtailclient.QueueFigures
	queuesErr    error
	queuesOff    bool // the server has no /queues: stop asking
	queuesWindow string
}

type (
	explainMsg struct {
		jobID string
		exp   *jobtailclient.Explanation
		err   error
	}
	queuesMsg struct {
		ans *jobtailclient.QueuesAnswer
		err error
	}
	queuesTickMsg struct{}
)

func (m *Model) fetchExplain(jobID string) tea.Cmd {
	c := m.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e, _, err := c.Explain(ctx, jobID, -1)
		return explainMsg{jobID: jobID, exp: e, err: err}
	}
}

func (m *Model) fetchQueues() tea.Cmd {
	c := m.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, _, err := c.Queues(ctx, 0)
		return queuesMsg{ans: a, err: err}
	}
}

// updateExt handles the explanation's and the strip's messages; ok is false for any other.
func (m *Model) updateExt(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case explainMsg:
		if msg.jobID != m.ext.explainJob {
			return nil, true
		}
		m.ext.explainLoading = false
		m.ext.explanation, m.ext.explainErr = msg.exp, msg.err
		if msg.exp != nil {
			m.ext.attemptCursor = max(0, len(msg.exp.Attempts)-1)
		}
		m.highlightFirstError()
		return nil, true
	case queuesMsg:
		if msg.err != nil {
			m.ext.queuesErr = msg.err
			if jobtailclient.IsNotFound(msg.err) {
				m.ext.queuesOff, m.ext.queues = true, nil
				return nil, true
			}
		} else {
			m.ext.queuesErr = nil
			m.ext.queues, m.ext.queuesWindow = msg.ans.Queues, msg.ans.Window
		}
		return tea.Tick(m.refreshDelay, func(time.Time) tea.Msg { return queuesTickMsg{} }), true
	case queuesTickMsg:
		if m.ext.queuesOff {
			return nil, true
		}
		return m.fetchQueues(), true
	}
	return nil, false
}

// openExplain explains the selected job (from the trace or logs panel) or the one under the
// jobs cursor, selecting it too so the trace panel shows the spans the explanation names.
func (m *Model) openExplain() tea.Cmd {
	jobID := m.selectedJob
	var cmds []tea.Cmd
	if m.focus == PanelJobs || jobID == "" {
		if m.jobCursor >= len(m.jobs) {
			m.flash = "no job to explain"
			return nil
		}
		j := m.jobs[m.jobCursor]
		jobID = j.ID
		if j.ID != m.selectedJob {
			cmds = append(cmds, m.SelectJob(j))
		}
	}
	m.ext.explainOpen, m.ext.explainJob, m.ext.explainLoading = true, jobID, true
	m.ext.explanation, m.ext.explainErr, m.ext.highlightDone = nil, nil, false
	m.focus = PanelLogs
	return tea.Batch(append(cmds, m.fetchExplain(jobID))...)
}

// explainKey handles keys while the explanation panel has the focus; ok is false for keys it
// leaves to the rest of the model.
func (m *Model) explainKey(key string) (tea.Cmd, bool) {
	e := m.ext.explanation
	switch key {
	case "up", "k":
		m.ext.attemptCursor = max(0, m.ext.attemptCursor-1)
	case "down", "j":
		if e != nil {
			m.ext.attemptCursor = max(0, min(m.ext.attemptCursor+1, len(e.Attempts)-1))
		}
	case "esc", "e":
		m.ext.explainOpen = false
	case "enter":
		if e == nil || m.ext.attemptCursor >= len(e.Attempts) {
			return nil, true
		}
		a := e.Attempts[m.ext.attemptCursor]
		id := a.SpanID
		if a.FirstErrorSpan != nil && m.spanIndex(a.FirstErrorSpan.SpanID) >= 0 && m.spanIndex(id) < 0 {
			id = a.FirstErrorSpan.SpanID
		}
		if i := m.spanIndex(id); i >= 0 {
			m.spanCursor, m.showTags = i, false
			m.focus = PanelTrace
			m.ext.highlightDone = true
		} else {
			m.flash = "attempt " + fmt.Sprint(a.Attempt) + "'s span is not in the trace shown"
		}
	case "r":
		m.ext.explainLoading = true
		return m.fetchExplain(m.ext.explainJob), true
	default:
		return nil, false
	}
	return nil, true
}

func (m *Model) spanIndex(spanID string) int {
	if spanID == "" {
		return -1
	}
	for i, r := range m.spanRows {
		if r.Span.SpanID == spanID {
			return i
		}
	}
	return -1
}

// highlightFirstError puts the trace panel's cursor on the latest failed attempt's first
// error span, once both the explanation and the job's trace are there.
func (m *Model) highlightFirstError() {
	e := m.ext.explanation
	if e == nil || m.ext.highlightDone || m.selectedJob != e.JobID || len(m.spanRows) == 0 {
		return
	}
	for i := len(e.Attempts) - 1; i >= 0; i-- {
		if fe := e.Attempts[i].FirstErrorSpan; fe != nil {
			if idx := m.spanIndex(fe.SpanID); idx >= 0 {
				m.spanCursor, m.showTags = idx, false
				m.ext.highlightDone = true
			}
			return
		}
	}
}

// ExplainView is the state the explanation panel renders.
type ExplainView struct {
	JobID       string
	Explanation *jobtailclient.Explanation
	Err         error
	Loading     bool
	Cursor      int // attempt index
}

func msText(v *float64) string {
	if v == nil {
		return "-"
	}
	return FormatDuration(jobtailclient.MSToDuration(*v))
}

// ErrorText is an attempt's error as one line: [source] type: message.
func ErrorText(a jobtailclient.AttemptExplain) string {
	if a.Error == nil {
		return "-"
	}
	s := "[" + a.Error.Source + "] "
	if a.Error.Type != "" && !strings.Contains(a.Error.Message, a.Error.Type) {
		s += a.Error.Type + ": "
	}
	return termsafe.String(s + a.Error.Message)
}

// ErrorSpanText names a first error span: service › name, and whether it is on the path.
func ErrorSpanText(fe *jobtailclient.ErrorSpan) string {
	if fe == nil {
		return ""
	}
	s := fe.Name
	if fe.Service != "" {
		s = fe.Service + " › " + s
	}
	s = termsafe.String(s)
	if fe.OnCriticalPath {
		s += " " + GlyphCritical + " critical path"
	} else {
		s += " (off the critical path)"
	}
	if ex := fe.Exception; ex != nil {
		s += " · exception " + termsafe.String(strings.TrimSpace(ex.Type+" "+ex.Message))
	}
	return s
}

// ComparisonText is the compared_with object as one line.
func ComparisonText(c *jobtailclient.Comparison) string {
	if c == nil {
		return ""
	}
	parts := []string{fmt.Sprintf("compared with %s attempt %d (%s)", termsafe.String(c.JobID), c.Attempt, termsafe.String(c.Status))}
	if len(c.SpansMissing) > 0 {
		parts = append(parts, "missing "+strings.Join(termsafe.Strings(append([]string(nil), c.SpansMissing...)), ", "))
	}
	if len(c.SpansExtra) > 0 {
		parts = append(parts, "extra "+strings.Join(termsafe.Strings(append([]string(nil), c.SpansExtra...)), ", "))
	}
	var slow []string
	for _, s := range c.Slower {
		slow = append(slow, fmt.Sprintf("%s %s (was %s)", termsafe.String(s.Name),
			FormatDuration(jobtailclient.MSToDuration(s.MS)), FormatDuration(jobtailclient.MSToDuration(s.BaselineMS))))
	}
	if len(slow) > 0 {
		parts = append(parts, "slower "+strings.Join(slow, ", "))
	}
	if len(parts) == 1 {
		parts = append(parts, "same spans, none over 2× slower")
	}
	return strings.Join(parts, " · ")
}

// wrap cuts s into lines of at most width cells at spaces (words longer than width are cut by fit).
func wrap(s string, width int) []string {
	if width <= 0 {
		return nil
	}
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) <= width:
			line += " " + w
		default:
			out = append(out, line)
			line = w
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// RenderExplain renders the explanation panel: the summary, one row per attempt, the
// selected attempt's first error span, the comparison, and the selected attempt's lines.
func RenderExplain(v ExplainView, width, height int) []string {
	var lines []string
	add := func(s string) { lines = append(lines, fit(s, width)) }
	title := styleTitle.Render("Explanation")
	switch {
	case v.Loading && v.Explanation == nil:
		add(title + styleDim.Render(" · explaining "+termsafe.String(v.JobID)+"…"))
		return pad(lines, width, height)
	case v.Err != nil:
		add(title + " " + styleDim.Render(termsafe.String(v.JobID)))
		add(styleError.Render(GlyphError + " " + termsafe.String(v.Err.Error())))
		return pad(lines, width, height)
	case v.Explanation == nil:
		add(title)
		add(styleDim.Render("  press e on a job to explain it"))
		return pad(lines, width, height)
	}
	e := v.Explanation
	head := fmt.Sprintf("%s %s · %s %s · queue %s", title, termsafe.String(e.JobID), statusGlyphOf(e.Status),
		statusStyles[e.Status].Render(termsafe.String(e.Status)), termsafe.String(e.Queue))
	if e.JobType != "" {
		head += " · type " + termsafe.String(e.JobType)
	}
	if e.Partial {
		head += " · " + styleWarn.Render("partial")
	}
	head += styleDim.Render("  (↑↓ attempt · enter: its span in the trace · esc close)")
	add(head)
	st := styleTitle
	if e.Failed() {
		st = styleError
	}
	for _, l := range wrap(termsafe.String(e.Summary), width-2) {
		add("  " + st.Render(l))
	}
	add(styleDim.Render(fmt.Sprintf("  %-4s %-15s %-24s %8s %8s  %s", "ATT", "STATUS", "WORKER", "WAIT", "RUN", "ERROR")))
	for i, a := range e.Attempts {
		row := fmt.Sprintf("%-4d %s %-13s %-24s %8s %8s  %s", a.Attempt, statusGlyphOf(a.Status), termsafe.String(a.Status),
			shortID(termsafe.String(a.WorkerID), 23), msText(a.WaitMS), msText(a.RunMS), ErrorText(a))
		if i == v.Cursor {
			add(styleSelected.Render(GlyphCursor + " " + row))
		} else {
			add("  " + row)
		}
	}
	if v.Cursor >= 0 && v.Cursor < len(e.Attempts) {
		a := e.Attempts[v.Cursor]
		if fe := a.FirstErrorSpan; fe != nil {
			add(styleError.Render(fmt.Sprintf("  first error span (attempt %d): ", a.Attempt)) + ErrorSpanText(fe))
		}
		if c := ComparisonText(e.ComparedWith); c != "" {
			add("  " + styleDim.Render(c))
		}
		label := fmt.Sprintf("  lines of attempt %d (%d)", a.Attempt, len(a.Logs))
		if a.LogsTruncated {
			label += " · truncated"
		}
		add(styleDim.Render(label))
		if len(a.Logs) == 0 {
			add(styleDim.Render("    no warning or error lines"))
		}
		rows := height - len(lines)
		start := max(0, len(a.Logs)-rows) // the lines nearest the failure matter most
		for _, l := range a.Logs[start:] {
			add("    " + FormatLogLine(sanitizeEntry(l), "", false))
		}
	}
	return pad(lines, width, height)
}

// sanitizeEntry makes an entry's data strings safe before the shared log formatter sees them.
func sanitizeEntry(e jobtailclient.LogEntry) jobtailclient.LogEntry {
	e.Message, e.JobID, e.Service, e.Level = termsafe.String(e.Message), termsafe.String(e.JobID), termsafe.String(e.Service), termsafe.String(e.Level)
	if len(e.Attributes) > 0 {
		attrs := make(map[string]any, len(e.Attributes))
		for k, v := range e.Attributes {
			attrs[termsafe.String(k)] = termsafe.String(fmt.Sprint(v))
		}
		e.Attributes = attrs
	}
	return e
}

// QueueStripText is one line over the jobs view: per queue, attempts by status and the wait and
// run p95 of the window.
func QueueStripText(queues []jobtailclient.QueueFigures, window string) string {
	parts := make([]string, 0, len(queues))
	for _, q := range queues {
		statuses := make([]string, 0, len(q.Counts))
		for s := range q.Counts {
			statuses = append(statuses, s)
		}
		sort.Slice(statuses, func(i, j int) bool { return statusOrder(statuses[i]) < statusOrder(statuses[j]) })
		var counts []string
		for _, s := range statuses {
			counts = append(counts, fmt.Sprintf("%s%d", statusGlyphOf(s), q.Counts[s]))
		}
		parts = append(parts, fmt.Sprintf("%s %s wait p95 %s run p95 %s", termsafe.String(q.Queue), strings.Join(counts, " "),
			msText(q.Wait.P95), msText(q.Run.P95)))
	}
	w := termsafe.String(window)
	if w == "" {
		w = "15m"
	}
	return "queues (" + w + "): " + strings.Join(parts, " │ ")
}

func statusOrder(s string) int {
	for i, v := range jobtailclient.JobStatuses {
		if v == s {
			return i
		}
	}
	return len(jobtailclient.JobStatuses)
}

// stripHeight is the rows the queue strip takes (none until a queue has figures).
func (m *Model) stripHeight() int {
	if len(m.ext.queues) == 0 {
		return 0
	}
	return 1
}

func (m *Model) queueStrip(w int) string {
	return fit(styleDim.Render(QueueStripText(m.ext.queues, m.ext.queuesWindow)), w)
}

func (m *Model) explainView() ExplainView {
	return ExplainView{JobID: m.ext.explainJob, Explanation: m.ext.explanation, Err: m.ext.explainErr,
		Loading: m.ext.explainLoading, Cursor: m.ext.attemptCursor}
}
