// Command jobtail is the terminal UI and scriptable client of jobtrace's tailstream API:
// recent jobs, a job's trace with its critical path, and live filtered logs.
//
//	jobtail [connection flags]                      interactive UI
//	jobtail jobs  [--status S] [--queue Q] [--json]
//	jobtail trace <job-id|trace-id> [--json]
//	jobtail logs  [--job-id X] [--level error,warn] [--follow] [--json]
//	jobtail explain <job-id> [--json]                exit 0 succeeded, 1 failed
//	jobtail queues [--window 15m] [--json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobtrace/jobtrace/cmd/jobtail/ui"
	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/termsafe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// connFlags are accepted by every subcommand, before or after it.
type connFlags struct {
	endpoint, token, caFile string
	insecure                bool
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.endpoint, "endpoint", envOr("JOBTAIL_ENDPOINT", jobtailclient.DefaultEndpoint), "tailstream API endpoint, host:port or URL (env JOBTAIL_ENDPOINT)")
	// JOBTRACE_TOKEN is what collector.yaml gives its admin user, so a local collector and
	// jobtail started from the same shell agree without more setup.
	fs.StringVar(&c.token, "token", envOr("JOBTAIL_TOKEN", os.Getenv("JOBTRACE_TOKEN")), "bearer token (env JOBTAIL_TOKEN, else JOBTRACE_TOKEN)")
	fs.StringVar(&c.caFile, "ca-file", os.Getenv("JOBTAIL_CA_FILE"), "PEM CA bundle to verify the server (implies https; env JOBTAIL_CA_FILE)")
	fs.BoolVar(&c.insecure, "insecure-skip-verify", false, "use https without verifying the server certificate (testing only)")
}

func (c *connFlags) client() (*jobtailclient.Client, error) {
	return jobtailclient.New(jobtailclient.Options{Endpoint: c.endpoint, Token: c.token, CAFile: c.caFile, InsecureSkipVerify: c.insecure})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

const usage = `usage:
  jobtail [flags]                                   interactive terminal UI
  jobtail jobs  [--status S] [--queue Q] [--worker-id W] [--limit N] [--json]
  jobtail trace <job-id|trace-id> [--json]
  jobtail logs  [--job-id X] [--worker-id W] [--queue Q] [--level error,warn] [--trace-id T]
                [--text S] [--ottl COND] [--since RFC3339|DURATION] [--tail N] [--follow] [--json]
  jobtail explain <job-id> [--context N] [--json]   why it failed; exit 0 succeeded, 1 failed, 3 not finished
  jobtail queues [--window 15m] [--json]            per queue: attempts by status, retry rate, wait/run p50/p95/p99

connection flags (every command): --endpoint, --token, --ca-file, --insecure-skip-verify
`

// run is main without the process: it returns the exit code (0 ok, 1 failure, 2 usage).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 && (args[0] == "jobs" || args[0] == "trace" || args[0] == "logs" || args[0] == "explain" || args[0] == "queues" || args[0] == "tui" || args[0] == "help") {
		sub, args = args[0], args[1:]
	}
	var err error
	switch sub {
	case "help":
		_, _ = io.WriteString(stdout, usage)
		return 0
	case "jobs":
		err = cmdJobs(ctx, args, stdout, stderr)
	case "trace":
		err = cmdTrace(ctx, args, stdout, stderr)
	case "logs":
		err = cmdLogs(ctx, args, stdout, stderr)
	case "explain":
		err = cmdExplain(ctx, args, stdout, stderr)
	case "queues":
		err = cmdQueues(ctx, args, stdout, stderr)
	default:
		err = cmdTUI(ctx, args, stderr)
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	return printError(stderr, err)
}

// printError reports err and returns the exit code. Errors quote server messages and echoed
// input, so the message is one safe line.
func printError(stderr io.Writer, err error) int {
	msg := termsafe.String(err.Error())
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "jobtail: %s\n\n%s", msg, usage)
		return 2
	}
	fmt.Fprintf(stderr, "jobtail: %s\n", msg)
	return 1
}

type usageError struct{ error }

func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *connFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package prints its own errors, which quote the argument as given.
	fs.SetOutput(safeWriter{stderr})
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	cf := &connFlags{}
	cf.register(fs)
	return fs, cf
}

// parse parses flags allowing positional arguments anywhere (jobtail trace ID --json).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdTUI(ctx context.Context, args []string, stderr io.Writer) error {
	fs, cf := newFlagSet("jobtail", stderr)
	var jobID, levels string
	fs.StringVar(&jobID, "job-id", "", "start following this job's logs")
	fs.StringVar(&levels, "level", "", "start with this level filter, e.g. error,warn")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("unknown command %q", pos[0])}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	m := ui.New(c, ui.Config{InitialFilters: jobtailclient.StreamFilters{JobID: jobID, LogLevel: splitList(levels)}})
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx))
	_, err = p.Run()
	m.Close()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// safeWriter passes each line written through termsafe, keeping the newlines between them.
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	_, err := io.WriteString(s.w, strings.Join(termsafe.Lines(string(p)), "\n"))
	return len(p), err
}
