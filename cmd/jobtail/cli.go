package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jobtrace/jobtrace/cmd/jobtail/ui"
	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/termsafe"
	"github.com/jobtrace/jobtrace/internal/timeparam"
)

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSince reads --since with the server's rule (internal/timeparam): an RFC 3339 time or
// a non-negative duration back from now (15m).
func parseSince(s string, now time.Time) (*time.Time, error) {
	t, err := timeparam.Parse(s, now)
	if err != nil {
		return nil, usageError{fmt.Errorf("--since %w", err)}
	}
	if t.IsZero() {
		return nil, nil
	}
	t = t.UTC()
	return &t, nil
}

func cmdJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlagSet("jobs", stderr)
	var q jobtailclient.JobsQuery
	var asJSON bool
	var since string
	fs.StringVar(&q.Status, "status", "", "queued|running|succeeded|retried|dead_lettered|abandoned")
	fs.StringVar(&q.Queue, "queue", "", "queue name")
	fs.StringVar(&q.WorkerID, "worker-id", "", "worker id")
	fs.StringVar(&since, "since", "", "only jobs started after this time (RFC 3339 or a duration like 15m)")
	fs.IntVar(&q.Limit, "limit", 50, "maximum number of jobs")
	fs.BoolVar(&asJSON, "json", false, "print the jobs as a JSON array")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("jobs takes no arguments, got %q", pos[0])}
	}
	s, err := parseSince(since, time.Now())
	if err != nil {
		return err
	}
	if s != nil {
		q.Since = *s
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	page, err := c.ListJobs(ctx, q)
	if err != nil {
		return err
	}
	if asJSON {
		if page.Jobs == nil {
			page.Jobs = []jobtailclient.Job{}
		}
		return writeJSON(stdout, page.Jobs)
	}
	return printJobs(stdout, page.Jobs, time.Now())
}

// printJobs is the jobs table. Every cell from data passes termsafe, which also turns tabs
// into spaces so a job id cannot shift the tabwriter's columns.
func printJobs(w io.Writer, jobs []jobtailclient.Job, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tQUEUE\tSTATUS\tATTEMPTS\tSTARTED\tDURATION\tWORKER\tTRACE")
	safe := termsafe.String
	for _, j := range jobs {
		started := "-"
		if !j.Started.IsZero() {
			started = j.Started.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", safe(j.ID), safe(j.Queue), safe(j.Status), j.Attempts, started,
			ui.FormatDuration(j.Duration(now)), orDash(safe(j.WorkerID)), orDash(safe(j.TraceID)))
	}
	return tw.Flush()
}

// writeJSON prints v indented, with the C1 controls encoding/json leaves raw escaped.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(termsafe.JSON(b), '\n'))
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var traceIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

func cmdTrace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlagSet("trace", stderr)
	var asJSON bool
	fs.BoolVar(&asJSON, "json", false, "print the trace summary as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("trace takes one job id or trace id")}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	id := pos[0]
	var jt *jobtailclient.JobTrace
	traceID := id
	// A 32-hex id is a trace id, unless the server knows a job by that name.
	if !traceIDRe.MatchString(id) {
		if jt, err = c.JobTrace(ctx, id); err != nil {
			return err
		}
		traceID = jt.TraceID
	} else if got, jerr := c.JobTrace(ctx, id); jerr == nil {
		jt, traceID = got, got.TraceID
	}
	if asJSON {
		raw, err := c.TraceSummaryRaw(ctx, traceID)
		if err != nil {
			return err
		}
		out := map[string]json.RawMessage{"summary": raw}
		if jt != nil {
			b, _ := json.Marshal(jt)
			out["job"] = b
		}
		return writeJSON(stdout, out)
	}
	sum, err := c.TraceSummary(ctx, traceID)
	if err != nil {
		return err
	}
	return printTrace(stdout, jt, sum)
}

// printTrace is the trace as text: the TUI's trace panel (which sanitises what it shows),
// then the critical path and error spans, whose names and ids pass termsafe here.
func printTrace(w io.Writer, jt *jobtailclient.JobTrace, sum *jobtailclient.TraceSummary) error {
	if jt != nil {
		fmt.Fprintf(w, "job %s", termsafe.String(jt.JobID))
		if jt.TraceURL != "" {
			fmt.Fprintf(w, " · %s", termsafe.String(jt.TraceURL))
		}
		fmt.Fprintln(w)
	}
	rows := ui.BuildSpanRows(sum)
	const width = 120
	for _, l := range ui.RenderTrace(ui.TraceView{Summary: sum, Rows: rows, Cursor: -1}, width, len(rows)+2) {
		fmt.Fprintln(w, strings.TrimRight(l, " "))
	}
	names := map[string]string{}
	for _, r := range rows {
		names[r.Span.SpanID] = r.Span.OperationName
	}
	var path []string
	for _, id := range sum.CriticalPath {
		n := names[id]
		if n == "" {
			n = id
		}
		path = append(path, termsafe.String(n))
	}
	fmt.Fprintf(w, "critical path: %s\n", strings.Join(path, " → "))
	if len(sum.ErrorSpans) > 0 {
		var errs []string
		for _, id := range sum.ErrorSpans {
			errs = append(errs, termsafe.String(fmt.Sprintf("%s (%s)", names[id], id)))
		}
		fmt.Fprintf(w, "error spans: %s\n", strings.Join(errs, ", "))
	}
	return nil
}

func cmdLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlagSet("logs", stderr)
	var f jobtailclient.StreamFilters
	var levels, since string
	var opts jobtailclient.StreamOptions
	var asJSON bool
	fs.StringVar(&f.JobID, "job-id", "", "job id")
	fs.StringVar(&f.WorkerID, "worker-id", "", "worker id")
	fs.StringVar(&f.QueueName, "queue", "", "queue name")
	fs.StringVar(&levels, "level", "", "comma-separated levels, e.g. error,warn")
	fs.StringVar(&f.TraceID, "trace-id", "", "trace id")
	fs.StringVar(&f.Service, "service", "", "service name")
	fs.StringVar(&f.Text, "text", "", "substring of the message")
	fs.StringVar(&f.OTTL, "ottl", "", "OTTL condition on the log record")
	fs.StringVar(&since, "since", "", "start at this time (RFC 3339 or a duration like 15m)")
	fs.IntVar(&opts.TailLines, "tail", 100, "number of past lines to print first")
	fs.IntVar(&opts.RateLimit, "rate-limit", 0, "lines per second the server may send (0: server default)")
	fs.BoolVar(&opts.Follow, "follow", false, "keep streaming new lines until interrupted")
	fs.BoolVar(&opts.Follow, "f", false, "shorthand for --follow")
	fs.BoolVar(&asJSON, "json", false, "print each line as the server's LogEntry JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("logs takes no arguments, got %q", pos[0])}
	}
	f.LogLevel = splitList(levels)
	if f.Since, err = parseSince(since, time.Now()); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	// Create first so a bad filter fails here with the server's message.
	req := jobtailclient.StreamRequest{Filters: f, Options: opts}
	info, err := c.CreateStream(ctx, req)
	if err != nil {
		return err
	}
	for ev := range c.Follow(ctx, req, jobtailclient.FollowOptions{Stream: info}) {
		if ev.StateChanged && ev.State == jobtailclient.StateClosed {
			if ctx.Err() == nil && ev.Err != nil {
				return ev.Err
			}
			continue
		}
		if err := printEvent(stdout, stderr, ev, asJSON); err != nil {
			return err // stdout closed (e.g. | head): stop quietly
		}
	}
	return nil
}

// printEvent prints one stream event: entries on stdout (a plain line, or the server's JSON
// with C1 controls escaped), control messages and reconnects on stderr.
func printEvent(stdout, stderr io.Writer, ev jobtailclient.Event, asJSON bool) error {
	switch {
	case ev.Entry != nil:
		var err error
		if asJSON {
			_, err = fmt.Fprintf(stdout, "%s\n", compact(ev.Entry.Raw))
		} else {
			_, err = fmt.Fprintln(stdout, ui.PlainLogLine(*ev.Entry))
		}
		return err
	case ev.Control != nil:
		fmt.Fprintf(stderr, "jobtail: server %s: %s\n", termsafe.String(ev.Control.Type), compact(ev.Control.Raw))
	case ev.StateChanged && ev.State == jobtailclient.StateReconnecting:
		fmt.Fprintf(stderr, "jobtail: connection lost (%s), reconnecting (attempt %d)\n", termsafe.String(fmt.Sprint(ev.Err)), ev.Attempt)
	}
	return nil
}

// compact is a raw server message on one line, terminal-safe: JSON stays JSON (C1 controls
// escaped), and anything that is not JSON is shown escaped.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return termsafe.String(string(raw))
	}
	return string(termsafe.JSON(b.Bytes()))
}
