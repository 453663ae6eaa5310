package ui // import "github.com/jobtrace/jobtrace/cmd/jobtail/ui"

import (
	"strings"

	"github.com/charmbracelet/bubbles/textinput"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
)

// filterField names one input of the filter form by the API's filter key, so a server
// error's "field" (e.g. filters.ottl) finds its input.
type filterField struct {
	key   string
	label string
	input textinput.Model
}

// FilterForm edits a log stream's filters.
type FilterForm struct {
	fields []filterField
	focus  int
	// Err is the server's answer to the last apply; shown under its field.
	Err error
}

var filterKeys = []struct{ key, label, placeholder string }{
	{"job_id", "Job ID", "e.g. 7f3c…"},
	{"worker_id", "Worker ID", ""},
	{"queue_name", "Queue", "high_priority"},
	{"log_level", "Levels", "error,warn"},
	{"trace_id", "Trace ID", "32 hex digits"},
	{"text", "Text", "substring of the message"},
	{"ottl", "OTTL", `attributes["error"] != nil`},
}

// NewFilterForm starts a form filled with f.
func NewFilterForm(f jobtailclient.StreamFilters) *FilterForm {
	form := &FilterForm{}
	values := map[string]string{
		"job_id": f.JobID, "worker_id": f.WorkerID, "queue_name": f.QueueName,
		"log_level": strings.Join(f.LogLevel, ","), "trace_id": f.TraceID, "text": f.Text, "ottl": f.OTTL,
	}
	for _, k := range filterKeys {
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = k.placeholder
		in.CharLimit = 4096
		in.SetValue(values[k.key])
		form.fields = append(form.fields, filterField{key: k.key, label: k.label, input: in})
	}
	form.fields[0].input.Focus()
	return form
}

// Filters reads the form back into stream filters.
func (f *FilterForm) Filters() jobtailclient.StreamFilters {
	v := func(key string) string {
		for _, fl := range f.fields {
			if fl.key == key {
				return strings.TrimSpace(fl.input.Value())
			}
		}
		return ""
	}
	var levels []string
	for _, l := range strings.Split(v("log_level"), ",") {
		if l = strings.ToLower(strings.TrimSpace(l)); l != "" {
			levels = append(levels, l)
		}
	}
	return jobtailclient.StreamFilters{
		JobID: v("job_id"), WorkerID: v("worker_id"), QueueName: v("queue_name"), LogLevel: levels,
		TraceID: v("trace_id"), Text: v("text"), OTTL: v("ottl"),
	}
}

// Move shifts the focus by delta fields, wrapping around.
func (f *FilterForm) Move(delta int) {
	f.fields[f.focus].input.Blur()
	f.focus = (f.focus + delta + len(f.fields)) % len(f.fields)
	f.fields[f.focus].input.Focus()
}

// Focused is the API key of the focused field.
func (f *FilterForm) Focused() string { return f.fields[f.focus].key }

// SetValue replaces a field's value (by API key).
func (f *FilterForm) SetValue(key, val string) {
	for i := range f.fields {
		if f.fields[i].key == key {
			f.fields[i].input.SetValue(val)
		}
	}
}

// errField is the form key a server error belongs to, "" when it names no field of the form.
func (f *FilterForm) errField() string {
	ae, ok := f.Err.(*jobtailclient.APIError)
	if !ok || ae.Field == "" {
		return ""
	}
	key := strings.TrimPrefix(ae.Field, "filters.")
	for _, fl := range f.fields {
		if fl.key == key {
			return key
		}
	}
	return ""
}

// Render draws the form in width×height cells.
func (f *FilterForm) Render(width, height int) []string {
	var lines []string
	add := func(s string) { lines = append(lines, fit(s, width)) }
	add(styleTitle.Render("Log filters") + styleDim.Render("  tab/↑↓ move · enter apply · esc cancel · ctrl+u clear field"))
	add("")
	errKey := f.errField()
	for i, fl := range f.fields {
		cursor := "  "
		if i == f.focus {
			cursor = GlyphCursor + " "
		}
		in := fl.input
		in.Width = max(10, width-16)
		add(cursor + padRight(fl.label, 10) + "│ " + in.View())
		if errKey == fl.key {
			add(styleFieldErr.Render("             " + GlyphError + " " + errText(f.Err)))
		}
	}
	if f.Err != nil && errKey == "" {
		add("")
		add(styleFieldErr.Render(GlyphError + " " + errText(f.Err)))
	}
	return pad(lines, width, height)
}

func padRight(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

// HelpLines is the help overlay's text.
var HelpLines = []string{
	"jobtail — keys",
	"",
	"  global      tab / shift+tab  next / previous panel      ?  help      q / ctrl+c  quit",
	"              f  log filters    o  open trace in browser (or copy its URL)    r  refresh jobs",
	"  jobs        ↑↓ / j k  move    enter  show trace and logs    s  cycle status    u  cycle queue",
	"              e  explain the job (why it failed), in place of the logs panel",
	"  explain     ↑↓  attempt    enter  its span in the trace    r  refresh    esc / e  close",
	"  trace       ↑↓ / j k  move    enter  span tags (redacted by the collector)    esc  back",
	"  logs        ↑↓ / j k  scroll  pgup/pgdn  page    g / G  top / bottom (follow)",
	"              space / p  pause  /  search    n / N  next / previous match    c  clear",
	"  filters     tab / ↑↓  field   enter  apply    esc  cancel",
	"",
	"  " + GlyphCritical + " critical path    " + GlyphError + " error span / failed job    ✓ succeeded  ↻ retried  ◌ running",
	"",
	"  press any key to close",
}
