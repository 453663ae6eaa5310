package ui // import "github.com/jobtrace/jobtrace/cmd/jobtail/ui"

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/termsafe"
)

// Panel identifies a focusable panel.
type Panel int

const (
	PanelJobs Panel = iota
	PanelTrace
	PanelLogs
	panelCount
)

func (p Panel) String() string {
	return [...]string{"jobs", "trace", "logs"}[p]
}

// maxLogLines bounds the scrollback so a long session does not grow without limit.
const maxLogLines = 10000

// Config holds the model's collaborators; zero values get working defaults.
type Config struct {
	// RefreshInterval is the jobs list's live refresh period (default 2 s).
	RefreshInterval time.Duration
	// JobsLimit is how many recent jobs to ask for (default 200).
	JobsLimit int
	// TailLines is how many past lines a new stream replays (default 200).
	TailLines int
	// OpenURL opens a URL in a browser. It returns an error when no opener exists; then the
	// URL is shown and copied with OSC 52. Default: xdg-open or open when on PATH.
	OpenURL func(url string) error
	// Clipboard receives the OSC 52 sequence (default os.Stderr, which is the terminal).
	Clipboard io.Writer
	// Now is the clock (tests).
	Now func() time.Time
	// InitialFilters, when any is set, starts a log stream at startup.
	InitialFilters jobtailclient.StreamFilters
	// FollowOptions tune reconnection (tests use short backoffs).
	FollowOptions jobtailclient.FollowOptions
}

// Model is the root bubbletea model.
type Model struct {
	client *jobtailclient.Client
	cfg    Config

	width, height int
	focus         Panel
	showHelp      bool
	flash         string // one-line message in the footer

	// jobs
	jobs          []jobtailclient.Job
	jobCursor     int
	statusFilter  string
	queueFilter   string
	queues        []string
	jobsErr       error
	jobsRefreshed time.Time
	refreshDelay  time.Duration

	// trace
	selectedJob string
	jobTrace    *jobtailclient.JobTrace
	summary     *jobtailclient.TraceSummary
	spanRows    []SpanRow
	spanCursor  int
	showTags    bool
	traceLoad   bool
	traceErr    error

	// logs
	logActive    bool
	filters      jobtailclient.StreamFilters
	streamGen    int
	cancelStream context.CancelFunc
	events       <-chan jobtailclient.Event
	entries      []jobtailclient.LogEntry
	pending      []jobtailclient.LogEntry
	paused       bool
	offset       int
	conn         jobtailclient.ConnState
	connAttempt  int
	connErr      error
	dropped      map[string]uint64
	gaps         []Gap // drops of unknown size, the latest maxGapsShown
	warning      string
	serverStatus string
	arrivals     []time.Time
	search       string
	searchInput  string
	searching    bool
	matchIndex   int
	matchCount   int

	form *FilterForm

	ext extState // explanation panel and queue strip (explain.go)

	// lastView is the last frame View returned, readable from other goroutines (tests and
	// screen captures) while the program runs.
	lastView atomic.Pointer[string]
}

// LastView is the last frame rendered.
func (m *Model) LastView() string {
	if v := m.lastView.Load(); v != nil {
		return *v
	}
	return ""
}

// New builds the model.
func New(client *jobtailclient.Client, cfg Config) *Model {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 2 * time.Second
	}
	if cfg.JobsLimit <= 0 {
		cfg.JobsLimit = 200
	}
	if cfg.TailLines <= 0 {
		cfg.TailLines = 200
	}
	if cfg.OpenURL == nil {
		cfg.OpenURL = OpenInBrowser
	}
	if cfg.Clipboard == nil {
		cfg.Clipboard = os.Stderr
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Model{client: client, cfg: cfg, width: 100, height: 30, refreshDelay: cfg.RefreshInterval,
		dropped: map[string]uint64{}, matchIndex: -1}
}

// Messages.
type (
	jobsMsg struct {
		jobs   []jobtailclient.Job
		err    error
		manual bool
	}
	refreshTickMsg struct{}
	traceMsg       struct {
		jobID    string
		jobTrace *jobtailclient.JobTrace
		summary  *jobtailclient.TraceSummary
		err      error
	}
	streamCreatedMsg struct {
		req  jobtailclient.StreamRequest
		info *jobtailclient.StreamInfo
		err  error
	}
	streamEventsMsg struct {
		gen    int
		events []jobtailclient.Event
		closed bool
	}
	openedMsg struct {
		url string
		err error
	}
)

// Init starts the jobs refresh loop, and a log stream when initial filters were given.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.fetchJobs(false), m.fetchQueues()}
	if m.cfg.InitialFilters.Describe() != "all logs" {
		cmds = append(cmds, m.createStream(m.cfg.InitialFilters))
	}
	if id := m.cfg.InitialFilters.JobID; id != "" {
		// Started for one job (jobtail --job-id X): show its trace too.
		m.selectedJob, m.traceLoad, m.focus = id, true, PanelTrace
		cmds = append(cmds, m.fetchTrace(id, ""))
	}
	return tea.Batch(cmds...)
}

func (m *Model) fetchJobs(manual bool) tea.Cmd {
	q := jobtailclient.JobsQuery{Status: m.statusFilter, Queue: m.queueFilter, Limit: m.cfg.JobsLimit}
	c := m.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		page, err := c.ListJobs(ctx, q)
		if err != nil {
			return jobsMsg{err: err, manual: manual}
		}
		return jobsMsg{jobs: page.Jobs, manual: manual}
	}
}

func (m *Model) fetchTrace(jobID, traceID string) tea.Cmd {
	c := m.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		jt, err := c.JobTrace(ctx, jobID)
		if err != nil {
			if traceID == "" || !jobtailclient.IsNotFound(err) {
				return traceMsg{jobID: jobID, err: err}
			}
			// The job list knew the trace id even if the lookup did not.
			jt = &jobtailclient.JobTrace{JobID: jobID, TraceID: traceID}
		}
		sum, err := c.TraceSummary(ctx, jt.TraceID)
		return traceMsg{jobID: jobID, jobTrace: jt, summary: sum, err: err}
	}
}

func (m *Model) createStream(f jobtailclient.StreamFilters) tea.Cmd {
	req := jobtailclient.StreamRequest{Filters: f, Options: jobtailclient.StreamOptions{Follow: true, TailLines: m.cfg.TailLines}}
	c := m.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		info, err := c.CreateStream(ctx, req)
		return streamCreatedMsg{req: req, info: info, err: err}
	}
}

// waitEvents blocks for one stream event, then takes whatever else is already queued so a
// burst of lines costs one render, not one per line.
func waitEvents(gen int, ch <-chan jobtailclient.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return streamEventsMsg{gen: gen, closed: true}
		}
		evs := []jobtailclient.Event{ev}
		for len(evs) < 1000 {
			select {
			case ev, ok := <-ch:
				if !ok {
					return streamEventsMsg{gen: gen, events: evs, closed: true}
				}
				evs = append(evs, ev)
			default:
				return streamEventsMsg{gen: gen, events: evs}
			}
		}
		return streamEventsMsg{gen: gen, events: evs}
	}
}

// Close stops the log stream and waits for it to be deleted server-side.
func (m *Model) Close() {
	if done := m.stopStream(); done != nil {
		<-done
	}
}

// stopStream cancels the current stream. The follower deletes it server-side and then
// closes its channel; the returned channel closes when that is over. Switching streams does
// not wait for it, so a slow server never freezes the UI.
func (m *Model) stopStream() <-chan struct{} {
	if m.cancelStream == nil {
		return nil
	}
	m.cancelStream()
	m.cancelStream = nil
	ch := m.events
	m.events = nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch { //nolint:revive // drained until the follower is gone
		}
	}()
	return done
}

func (m *Model) startStream(req jobtailclient.StreamRequest, info *jobtailclient.StreamInfo) tea.Cmd {
	m.stopStream()
	m.streamGen++
	ctx, cancel := context.WithCancel(context.Background())
	m.cancelStream = cancel
	opts := m.cfg.FollowOptions
	opts.Stream = info
	m.events = m.client.Follow(ctx, req, opts)
	m.filters = req.Filters
	m.logActive = true
	m.entries, m.pending, m.arrivals = nil, nil, nil
	m.offset, m.matchIndex, m.matchCount = 0, -1, 0
	m.dropped, m.gaps = map[string]uint64{}, nil
	m.warning, m.serverStatus, m.connErr = "", "", nil
	m.conn = jobtailclient.StateConnecting
	return waitEvents(m.streamGen, m.events)
}

// Update handles messages.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tea.KeyMsg:
		if keys := splitRunes(msg); keys != nil && m.form == nil && !m.searching {
			return m, m.handleKeys(keys)
		}
		return m, m.handleKey(msg)
	case refreshTickMsg:
		return m, m.fetchJobs(false)
	case jobsMsg:
		return m, m.onJobs(msg)
	case traceMsg:
		if msg.jobID != m.selectedJob {
			return m, nil
		}
		m.traceLoad = false
		m.jobTrace, m.summary, m.traceErr = msg.jobTrace, msg.summary, msg.err
		m.spanRows = BuildSpanRows(msg.summary)
		m.spanCursor, m.showTags = 0, false
		m.highlightFirstError()
		return m, nil
	case streamCreatedMsg:
		if msg.err != nil {
			if m.form != nil {
				m.form.Err = msg.err
			} else {
				m.logActive = true
				m.filters = msg.req.Filters
				m.conn, m.connErr = jobtailclient.StateClosed, msg.err
			}
			return m, nil
		}
		m.form = nil
		return m, m.startStream(msg.req, msg.info)
	case streamEventsMsg:
		if msg.gen != m.streamGen {
			return m, nil
		}
		for _, ev := range msg.events {
			m.onEvent(ev)
		}
		if msg.closed {
			m.conn = jobtailclient.StateClosed
			return m, nil
		}
		return m, waitEvents(m.streamGen, m.events)
	case openedMsg:
		if errors.Is(msg.err, errNotWebURL) {
			// Not copied either: a pasted string with a newline runs in the user's shell.
			m.flash = "the server's trace URL is not an http(s) URL: " + msg.url
			return m, nil
		}
		if msg.err != nil {
			m.flash = "trace URL (copied to clipboard): " + msg.url
			_, _ = io.WriteString(m.cfg.Clipboard, OSC52(msg.url))
		} else {
			m.flash = "opened " + msg.url
		}
		return m, nil
	}
	if cmd, ok := m.updateExt(msg); ok {
		return m, cmd
	}
	return m, nil
}

func (m *Model) onJobs(msg jobsMsg) tea.Cmd {
	if msg.err != nil {
		m.jobsErr = msg.err
		// Back off while the API is unreachable, up to 30 s.
		m.refreshDelay = min(m.refreshDelay*2, 30*time.Second)
	} else {
		m.jobsErr = nil
		m.refreshDelay = m.cfg.RefreshInterval
		var cur string
		if m.jobCursor < len(m.jobs) {
			cur = m.jobs[m.jobCursor].ID
		}
		m.jobs = msg.jobs
		m.jobsRefreshed = m.cfg.Now()
		// Keep the cursor on the same job as rows shift with new arrivals.
		m.jobCursor = max(0, min(m.jobCursor, len(m.jobs)-1))
		for i, j := range m.jobs {
			if j.ID == cur {
				m.jobCursor = i
			}
			if j.Queue != "" && !slices.Contains(m.queues, j.Queue) {
				m.queues = append(m.queues, j.Queue)
				slices.Sort(m.queues)
			}
		}
	}
	if msg.manual {
		return nil
	}
	return tea.Tick(m.refreshDelay, func(time.Time) tea.Msg { return refreshTickMsg{} })
}

func (m *Model) onEvent(ev jobtailclient.Event) {
	switch {
	case ev.Entry != nil:
		m.arrivals = append(m.arrivals, m.cfg.Now())
		if m.paused {
			m.pending = append(m.pending, *ev.Entry)
			return
		}
		m.appendEntries(*ev.Entry)
	case ev.Control != nil:
		c := ev.Control
		switch c.Type {
		case "dropped":
			reason := c.Reason
			if reason == "" {
				reason = "dropped"
			}
			if c.CountKnown {
				m.dropped[reason] += c.Dropped
			} else {
				// Counting it as one line would understate it: say when, not how many.
				m.gaps = append(m.gaps[max(0, len(m.gaps)-maxGapsShown+1):], Gap{Reason: reason, From: c.From, Until: c.Until})
			}
		case "warning":
			m.warning = c.Message
			if m.warning == "" && c.BufferUsage > 0 {
				m.warning = fmt.Sprintf("server buffer %.0f%% full", bufferPercent(c.BufferUsage))
			}
		case "status":
			m.serverStatus = c.Status
		}
	case ev.StateChanged:
		m.conn, m.connAttempt = ev.State, ev.Attempt
		if ev.Err != nil || ev.State == jobtailclient.StateConnected {
			m.connErr = ev.Err
		}
	}
}

// bufferPercent accepts usage as a fraction or as a percentage.
func bufferPercent(u float64) float64 {
	if u <= 1 {
		return u * 100
	}
	return u
}

func (m *Model) appendEntries(es ...jobtailclient.LogEntry) {
	for _, e := range es {
		// Live lines come in arrival order; one that arrives late (a worker line attributed
		// once its job became known) goes where its timestamp puts it.
		i := len(m.entries)
		for i > 0 && !e.Timestamp.IsZero() && m.entries[i-1].Timestamp.After(e.Timestamp) {
			i--
		}
		m.entries = slices.Insert(m.entries, i, e)
	}
	if m.search != "" {
		m.matchCount += CountMatches(es, m.search)
	}
	if m.offset > 0 {
		m.offset += len(es) // stay on the lines being read
	}
	if over := len(m.entries) - maxLogLines; over > 0 {
		if m.search != "" {
			m.matchCount -= CountMatches(m.entries[:over], m.search)
		}
		m.entries = slices.Delete(m.entries, 0, over)
		if m.matchIndex >= 0 {
			m.matchIndex = max(-1, m.matchIndex-over)
		}
	}
}

// Rate is lines per second received over the last five seconds. It is measured here rather
// than taken from the server's status messages, which only arrive on status changes.
func (m *Model) Rate() float64 {
	cut := m.cfg.Now().Add(-5 * time.Second)
	i, _ := slices.BinarySearchFunc(m.arrivals, cut, func(a, b time.Time) int { return a.Compare(b) })
	m.arrivals = m.arrivals[i:]
	return float64(len(m.arrivals)) / 5
}

func (m *Model) handleKey(k tea.KeyMsg) tea.Cmd {
	key := k.String()
	if key == "ctrl+c" {
		return tea.Quit
	}
	if m.showHelp {
		m.showHelp = false
		return nil
	}
	if m.form != nil {
		return m.formKey(k)
	}
	if m.searching {
		return m.searchKey(k)
	}
	m.flash = ""
	if m.ext.explainOpen && m.focus == PanelLogs {
		if cmd, ok := m.explainKey(key); ok {
			return cmd
		}
	}
	switch key {
	case "e":
		return m.openExplain()
	case "q":
		return tea.Quit
	case "?":
		m.showHelp = true
		return nil
	case "tab":
		m.focus = (m.focus + 1) % panelCount
		return nil
	case "shift+tab":
		m.focus = (m.focus + panelCount - 1) % panelCount
		return nil
	case "f":
		m.form = NewFilterForm(m.filters)
		return nil
	case "o":
		return m.openTrace()
	case "r":
		return m.fetchJobs(true)
	}
	switch m.focus {
	case PanelJobs:
		return m.jobsKey(key)
	case PanelTrace:
		m.traceKey(key)
	case PanelLogs:
		m.logsKey(key)
	}
	return nil
}

func (m *Model) jobsKey(key string) tea.Cmd {
	switch key {
	case "up", "k":
		m.jobCursor = max(0, m.jobCursor-1)
	case "down", "j":
		m.jobCursor = max(0, min(m.jobCursor+1, len(m.jobs)-1))
	case "home", "g":
		m.jobCursor = 0
	case "end", "G":
		m.jobCursor = max(0, len(m.jobs)-1)
	case "s":
		m.statusFilter = cycle(append([]string{""}, jobtailclient.JobStatuses...), m.statusFilter)
		m.jobCursor = 0
		return m.fetchJobs(true)
	case "u":
		m.queueFilter = cycle(append([]string{""}, m.queues...), m.queueFilter)
		m.jobCursor = 0
		return m.fetchJobs(true)
	case "enter":
		if m.jobCursor >= len(m.jobs) {
			return nil
		}
		return m.SelectJob(m.jobs[m.jobCursor])
	}
	return nil
}

// SelectJob shows a job's trace and follows its logs.
func (m *Model) SelectJob(j jobtailclient.Job) tea.Cmd {
	m.selectedJob = j.ID
	m.traceLoad, m.traceErr, m.summary, m.jobTrace, m.spanRows = true, nil, nil, nil, nil
	m.focus = PanelTrace
	return tea.Batch(m.fetchTrace(j.ID, j.TraceID), m.createStream(jobtailclient.StreamFilters{JobID: j.ID}))
}

func cycle(values []string, cur string) string {
	i := slices.Index(values, cur)
	return values[(i+1)%len(values)]
}

func (m *Model) traceKey(key string) {
	switch key {
	case "up", "k":
		m.spanCursor = max(0, m.spanCursor-1)
	case "down", "j":
		m.spanCursor = max(0, min(m.spanCursor+1, len(m.spanRows)-1))
	case "enter":
		m.showTags = !m.showTags && len(m.spanRows) > 0
	case "esc":
		m.showTags = false
	}
}

func (m *Model) logRows() int {
	_, _, logsH := m.layoutHeights()
	return max(1, logsH-4)
}

func (m *Model) logsKey(key string) {
	page := m.logRows()
	maxOff := max(0, len(m.entries)-page)
	switch key {
	case "up", "k":
		m.offset = min(m.offset+1, maxOff)
	case "down", "j":
		m.offset = max(0, m.offset-1)
	case "pgup", "ctrl+b":
		m.offset = min(m.offset+page, maxOff)
	case "pgdown", "ctrl+f":
		m.offset = max(0, m.offset-page)
	case "home", "g":
		m.offset = maxOff
	case "end", "G":
		m.offset = 0
	case " ", "p":
		m.paused = !m.paused
		if !m.paused {
			m.appendEntries(m.pending...)
			m.pending = nil
		}
	case "/":
		m.searching, m.searchInput = true, ""
	case "n":
		m.jumpMatch(-1)
	case "N":
		m.jumpMatch(+1)
	case "c":
		m.entries, m.pending, m.offset, m.matchIndex, m.matchCount = nil, nil, 0, -1, 0
		m.dropped, m.gaps = map[string]uint64{}, nil
		m.warning = ""
	}
}

func (m *Model) searchKey(k tea.KeyMsg) tea.Cmd {
	switch k.Type {
	case tea.KeyEnter:
		m.searching = false
		m.search = m.searchInput
		m.matchCount = CountMatches(m.entries, m.search)
		m.matchIndex = len(m.entries)
		m.jumpMatch(-1)
	case tea.KeyEsc:
		m.searching = false
	case tea.KeyBackspace:
		if r := []rune(m.searchInput); len(r) > 0 {
			m.searchInput = string(r[:len(r)-1])
		}
	case tea.KeyRunes, tea.KeySpace:
		m.searchInput += string(k.Runes)
	}
	return nil
}

// jumpMatch moves to the previous (dir -1, older) or next (dir +1, newer) matching entry
// and scrolls it into view.
func (m *Model) jumpMatch(dir int) {
	if m.search == "" {
		return
	}
	for i := m.matchIndex + dir; i >= 0 && i < len(m.entries); i += dir {
		if EntryMatches(m.entries[i], m.search) {
			m.matchIndex = i
			rows := m.logRows()
			fromBottom := len(m.entries) - 1 - i
			if fromBottom < m.offset || fromBottom >= m.offset+rows {
				m.offset = max(0, fromBottom-rows/2)
			}
			return
		}
	}
	m.flash = "no more matches for " + m.search
}

func (m *Model) formKey(k tea.KeyMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.form = nil
		return nil
	case "tab", "down":
		m.form.Move(1)
		return nil
	case "shift+tab", "up":
		m.form.Move(-1)
		return nil
	case "enter":
		return m.createStream(m.form.Filters())
	case "ctrl+u":
		m.form.SetValue(m.form.Focused(), "")
		return nil
	}
	var cmd tea.Cmd
	f := &m.form.fields[m.form.focus]
	f.input, cmd = f.input.Update(k)
	return cmd
}

func (m *Model) openTrace() tea.Cmd {
	url := ""
	if m.jobTrace != nil {
		url = m.jobTrace.TraceURL
	}
	if url == "" {
		if m.selectedJob == "" {
			m.flash = "select a job first (enter)"
		} else {
			m.flash = "the server has no trace URL for " + m.selectedJob
		}
		return nil
	}
	open := m.cfg.OpenURL
	if !isWebURL(url) {
		// The URL comes from the server's data: never hand a browser opener a file:, a
		// javascript: or an argument-looking string. It is still shown and copied.
		return func() tea.Msg { return openedMsg{url: url, err: errNotWebURL} }
	}
	return func() tea.Msg { return openedMsg{url: url, err: open(url)} }
}

var errNotWebURL = errors.New("not an http(s) URL")

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// ErrNoOpener means neither xdg-open nor open is installed.
var ErrNoOpener = errors.New("no xdg-open or open on PATH")

// OpenInBrowser starts xdg-open (or open on macOS) on url without waiting for it.
func OpenInBrowser(url string) error {
	names := []string{"xdg-open", "open"}
	if runtime.GOOS == "darwin" {
		names = []string{"open", "xdg-open"}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			cmd := exec.Command(p, url)
			if err := cmd.Start(); err != nil {
				return err
			}
			go func() { _ = cmd.Wait() }()
			return nil
		}
	}
	return ErrNoOpener
}

// OSC52 is the terminal sequence that puts s on the system clipboard; inside tmux it is
// wrapped in a passthrough so tmux forwards it to the outer terminal.
func OSC52(s string) string {
	seq := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(s)) + "\x07"
	if os.Getenv("TMUX") != "" {
		return "\x1bPtmux;\x1b" + seq + "\x1b\\"
	}
	return seq
}

// layoutHeights splits the screen: status bar and footer take a line each; the rest goes
// to the top row (jobs and trace) and the logs.
func (m *Model) layoutHeights() (top, trace, logs int) {
	body := max(6, m.height-2-m.stripHeight())
	if m.stacked() {
		third := body / 3
		return third, third, body - 2*third
	}
	top = body / 2
	return top, top, body - top
}

func (m *Model) stacked() bool { return m.width < 100 }

// View renders the whole screen.
func (m *Model) View() string {
	v := m.view()
	m.lastView.Store(&v)
	return v
}

func (m *Model) view() string {
	w := max(20, m.width)
	status := m.statusBar(w)
	footer := m.footer(w)
	if m.showHelp {
		return lipgloss.JoinVertical(lipgloss.Left, status, box(HelpLines, w, max(3, m.height-2), true), footer)
	}
	if m.form != nil {
		return lipgloss.JoinVertical(lipgloss.Left, status, box(m.form.Render(w-2, max(1, m.height-4)), w, max(3, m.height-2), true), footer)
	}
	topH, traceH, logsH := m.layoutHeights()
	var body string
	if m.stacked() {
		body = lipgloss.JoinVertical(lipgloss.Left,
			m.panel(PanelJobs, w, topH), m.panel(PanelTrace, w, traceH), m.panel(PanelLogs, w, logsH))
	} else {
		jobsW := w * 9 / 20
		body = lipgloss.JoinVertical(lipgloss.Left,
			lipgloss.JoinHorizontal(lipgloss.Top, m.panel(PanelJobs, jobsW, topH), m.panel(PanelTrace, w-jobsW, topH)),
			m.panel(PanelLogs, w, logsH))
	}
	if m.stripHeight() > 0 {
		return lipgloss.JoinVertical(lipgloss.Left, status, m.queueStrip(w), body, footer)
	}
	return lipgloss.JoinVertical(lipgloss.Left, status, body, footer)
}

func (m *Model) panel(p Panel, w, h int) string {
	iw, ih := max(1, w-2), max(1, h-2)
	var lines []string
	switch p {
	case PanelJobs:
		lines = RenderJobs(JobsView{Jobs: m.jobs, Cursor: m.jobCursor, StatusFilter: m.statusFilter, QueueFilter: m.queueFilter,
			SelectedJob: m.selectedJob, Err: m.jobsErr, Refreshed: m.jobsRefreshed, Now: m.cfg.Now()}, iw, ih)
	case PanelTrace:
		lines = RenderTrace(TraceView{JobID: m.selectedJob, JobTrace: m.jobTrace, Summary: m.summary, Rows: m.spanRows,
			Cursor: m.spanCursor, ShowTags: m.showTags, Loading: m.traceLoad, Err: m.traceErr}, iw, ih)
	case PanelLogs:
		if m.ext.explainOpen {
			lines = RenderExplain(m.explainView(), iw, ih)
		} else {
			lines = RenderLogs(m.LogsView(), iw, ih)
		}
	}
	return box(lines, w, h, m.focus == p)
}

// LogsView snapshots the log panel's state.
func (m *Model) LogsView() LogsView {
	return LogsView{Filters: m.filters, Entries: m.entries, Offset: m.offset, Paused: m.paused, Pending: len(m.pending),
		Conn: m.conn, ConnAttempt: m.connAttempt, ConnErr: m.connErr, Rate: m.Rate(), Dropped: m.dropped, Gaps: m.gaps, Warning: m.warning,
		ServerStatus: m.serverStatus, Search: m.search, SearchInput: m.searchInput, Searching: m.searching,
		MatchIndex: m.matchIndex, Matches: m.matchCount, Active: m.logActive}
}

func box(lines []string, w, h int, focused bool) string {
	st := borderBlurred
	if focused {
		st = borderFocused
	}
	return st.Render(strings.Join(pad(lines, max(1, w-2), max(1, h-2)), "\n"))
}

func (m *Model) statusBar(w int) string {
	api := styleOK.Render("● API ok")
	if m.jobsErr != nil {
		api = styleError.Render(fmt.Sprintf("%s API unreachable (retry in %s)", GlyphError, m.refreshDelay))
	} else if m.jobsRefreshed.IsZero() {
		api = styleWarn.Render("○ API connecting")
	}
	logs := "logs off"
	if m.logActive {
		logs = "logs " + connLabel(m.conn, m.connAttempt)
	}
	s := fmt.Sprintf("%s %s · %s · %s · focus: %s", styleTitle.Render("jobtail"), termsafe.String(m.client.Endpoint()), api, logs, m.focus)
	return fit(s, w)
}

func (m *Model) footer(w int) string {
	if m.flash != "" {
		// Flash messages quote URLs, job ids and search terms.
		return fit(styleWarn.Render(termsafe.String(m.flash)), w)
	}
	return fit(styleDim.Render("tab panels · enter select · e explain · f filters · o open trace · / search · space pause · ? help · q quit"), w)
}
