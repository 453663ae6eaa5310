package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/jobtrace/jobtrace/cmd/jobtail/ui"
	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/termsafe"
)

// exitCode ends the command with that code and no message: the output already said it all.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// Exit codes of jobtail explain, for scripts.
const (
	exitSucceeded   = 0
	exitFailed      = 1
	exitNotFinished = 3 // queued or running
)

func explainExit(e *jobtailclient.Explanation) error {
	switch {
	case e.Failed():
		return exitCode(exitFailed)
	case e.Status == jobtailclient.StatusSucceeded:
		return nil
	}
	return exitCode(exitNotFinished)
}

func cmdExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlagSet("explain", stderr)
	var asJSON bool
	var contextLines int
	fs.BoolVar(&asJSON, "json", false, "print the explanation as the server's JSON")
	fs.IntVar(&contextLines, "context", -1, "lines before each attempt's first error to include, 0-200 (default: the server's, 20)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("explain takes one job id")}
	}
	if contextLines < -1 {
		return usageError{fmt.Errorf("--context must not be negative")}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	e, raw, err := c.Explain(ctx, pos[0], contextLines)
	if err != nil {
		return err
	}
	if asJSON {
		if _, err := fmt.Fprintf(stdout, "%s\n", indent(raw)); err != nil {
			return err
		}
		return explainExit(e)
	}
	if err := printExplanation(stdout, e); err != nil {
		return err
	}
	return explainExit(e)
}

// indent pretty-prints the server's JSON with C1 controls escaped too (encoding/json leaves
// them raw, and a terminal may act on them).
func indent(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(termsafe.JSON(raw))
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(termsafe.JSON(b))
}

func msOrDash(v *float64) string {
	if v == nil {
		return "-"
	}
	return ui.FormatDuration(jobtailclient.MSToDuration(*v))
}

// printExplanation writes the summary, then one row per attempt with its error, its first
// error span and its lines, then the comparison. Every data string is made terminal-safe.
func printExplanation(w io.Writer, e *jobtailclient.Explanation) error {
	fmt.Fprintf(w, "job %s · queue %s", termsafe.String(e.JobID), termsafe.String(e.Queue))
	if e.JobType != "" {
		fmt.Fprintf(w, " · type %s", termsafe.String(e.JobType))
	}
	fmt.Fprintf(w, " · %s\n", termsafe.String(e.Status))
	fmt.Fprintln(w, termsafe.String(e.Summary))
	if e.Partial {
		fmt.Fprintf(w, "partial: %s\n", strings.Join(termsafe.Strings(append([]string(nil), e.Missing...)), "; "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTEMPT\tSTATUS\tWORKER\tWAIT\tRUN\tERROR")
	for _, a := range e.Attempts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", a.Attempt, termsafe.String(a.Status), orDash(termsafe.String(a.WorkerID)),
			msOrDash(a.WaitMS), msOrDash(a.RunMS), ui.ErrorText(a))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range e.Attempts {
		if a.FirstErrorSpan == nil && len(a.Logs) == 0 {
			continue
		}
		fmt.Fprintf(w, "attempt %d:\n", a.Attempt)
		if fe := a.FirstErrorSpan; fe != nil {
			fmt.Fprintf(w, "  first error span: %s (span %s)\n", ansi.Strip(ui.ErrorSpanText(fe)), termsafe.String(fe.SpanID))
		}
		for _, l := range a.Logs {
			fmt.Fprintf(w, "  %s\n", termsafe.String(ui.PlainLogLine(l)))
		}
		if a.LogsTruncated {
			fmt.Fprintln(w, "  (more lines were left out)")
		}
	}
	if c := ui.ComparisonText(e.ComparedWith); c != "" {
		fmt.Fprintln(w, c)
	}
	return nil
}

func cmdQueues(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlagSet("queues", stderr)
	var asJSON bool
	var window time.Duration
	fs.BoolVar(&asJSON, "json", false, "print the server's JSON")
	fs.DurationVar(&window, "window", 0, "window the figures cover (server default 15m)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("queues takes no arguments, got %q", pos[0])}
	}
	if window < 0 {
		return usageError{fmt.Errorf("--window must be positive")}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	a, raw, err := c.Queues(ctx, window)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := fmt.Fprintf(stdout, "%s\n", indent(raw))
		return err
	}
	fmt.Fprintf(stdout, "window %s\n", termsafe.String(a.Window))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tJOB TYPE\tATTEMPTS\tSUCCEEDED\tRETRIED\tDEAD\tABANDONED\tRETRY RATE\tWAIT p50/p95/p99\tRUN p50/p95/p99\tTOP ERRORS")
	row := func(queue, jobType string, f jobtailclient.QueueFigures) {
		var errs []string
		for _, e := range f.TopErrors {
			errs = append(errs, fmt.Sprintf("%s (%d)", termsafe.String(e.Message), e.Count))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%s\t%s\t%s\n", termsafe.String(queue), orDash(termsafe.String(jobType)), f.Attempts,
			f.Counts[jobtailclient.StatusSucceeded], f.Counts[jobtailclient.StatusRetried], f.Counts[jobtailclient.StatusDeadLettered],
			f.Counts[jobtailclient.StatusAbandoned], f.RetryRate*100, triple(f.Wait), triple(f.Run), orDash(strings.Join(errs, "; ")))
	}
	for _, q := range a.Queues {
		row(q.Queue, "(all)", q)
		if len(q.JobTypes) > 1 || (len(q.JobTypes) == 1 && q.JobTypes[0].JobType != "") {
			for _, t := range q.JobTypes {
				row(q.Queue, t.JobType, t)
			}
		}
	}
	return tw.Flush()
}

func triple(q jobtailclient.Quantiles) string {
	return msOrDash(q.P50) + "/" + msOrDash(q.P95) + "/" + msOrDash(q.P99)
}
