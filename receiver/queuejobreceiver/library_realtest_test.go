package queuejobreceiver

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

// Helpers shared by the real-library receiver tests (asynq, BullMQ): what the receiver emitted,
// per job and attempt, and proofs that it only read.

// attemptSpan is one job-attempt span as the receiver emitted it.
type attemptSpan struct {
	traceID, status, queue, system, worker, errMsg, statusMsg string
	attempt                                                   int64
	isError                                                   bool
}

// attemptSpans groups the receiver's spans by job id, ordered by attempt.
func attemptSpans(sink *consumertest.TracesSink) map[string][]attemptSpan {
	out := map[string][]attemptSpan{}
	for _, td := range sink.AllTraces() {
		for i := range td.ResourceSpans().Len() {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := range ss.Len() {
				sp := ss.At(j).Spans()
				for k := range sp.Len() {
					s := sp.At(k)
					a := s.Attributes()
					rec := attemptSpan{
						traceID: s.TraceID().String(), status: str(a, conventions.AttrJobStatus), queue: str(a, conventions.AttrQueueName),
						system: str(a, conventions.AttrMessagingSystem), worker: str(a, conventions.AttrWorkerID),
						errMsg: str(a, conventions.AttrJobErrorMessage), statusMsg: s.Status().Message(),
						isError: s.Status().Code() == ptrace.StatusCodeError,
					}
					if v, ok := a.Get(conventions.AttrJobAttempt); ok {
						rec.attempt = v.Int()
					}
					id := str(a, conventions.AttrJobID)
					out[id] = append(out[id], rec)
				}
			}
		}
	}
	for id := range out {
		sort.SliceStable(out[id], func(i, j int) bool { return out[id][i].attempt < out[id][j].attempt })
	}
	return out
}

func countSpans(sink *consumertest.TracesSink) int {
	n := 0
	for _, s := range attemptSpans(sink) {
		n += len(s)
	}
	return n
}

// libraryConfig is testConfig for a library preset.
func libraryConfig(addr, preset string) *Config {
	cfg := testConfig(addr)
	cfg.Preset = preset
	cfg.Queues = nil
	return cfg
}

// readerACL is the README's read-only ACL line for library presets.
const readerACL = "user reader on >readerpw ~* &* -@all +@read +ping"

func asReader(cfg *Config) *Config {
	cfg.Username, cfg.Password = "reader", "readerpw"
	return cfg
}

// requireNoWrites checks every command the receiver's connections sent (MONITOR) against
// Redis's own COMMAND flags: none may be a write, and want must all have been used.
func requireNoWrites(t *testing.T, srv *redistest.Server, mon *redistest.Monitor, clientName string, want ...string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer rdb.Close()
	ctx := context.Background()
	list, err := rdb.ClientList(ctx).Result()
	require.NoError(t, err)
	ours := map[string]bool{}
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+clientName+" ") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "addr=") {
					ours[strings.TrimPrefix(f, "addr=")] = true
				}
			}
		}
	}
	require.NotEmpty(t, ours, "receiver connections not found in CLIENT LIST:\n%s", list)
	info, err := rdb.Command(ctx).Result()
	require.NoError(t, err)
	seen := map[string]int{}
	for _, c := range mon.Commands(ours) {
		seen[c.Name]++
		ci := info[c.Name]
		require.NotNil(t, ci, "unknown command %s", c.Line)
		if c.Name == "client" {
			require.Contains(t, []string{"setname", "setinfo"}, strings.ToLower(c.Args[0]), c.Line)
			continue
		}
		require.True(t, ci.ReadOnly || !hasFlag(ci.Flags, "write"), "receiver issued a write: %s", c.Line)
		require.False(t, hasFlag(ci.Flags, "write"), "receiver issued a write: %s", c.Line)
	}
	for _, w := range want {
		require.Positive(t, seen[w], "MONITOR saw no %s from the receiver: %v", w, seen)
	}
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

func waitSpans(t *testing.T, r *running, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return countSpans(r.traces) >= n }, 20*time.Second, 20*time.Millisecond,
		"want %d attempt spans", n)
	time.Sleep(100 * time.Millisecond) // nothing more may come: a duplicate would fail below
}
