package jobsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	stdhttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

func TestRunMatchesRedisAndLogs(t *testing.T) {
	srv := redistest.Start(t)
	cfg := DefaultConfig()
	cfg.Redis = srv.Addr
	cfg.Jobs = 60
	cfg.Rate = 0
	cfg.Workers = 4
	cfg.FailRatio = 0.3
	cfg.WorkTime = time.Millisecond
	cfg.LogFile = filepath.Join(t.TempDir(), "worker.log")
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, 60, sum.Enqueued)
	require.Equal(t, 60, sum.Final(), "drain must finish every job")
	require.Positive(t, sum.Retried)

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	completed, err := rdb.LRange(ctx, "jobqueue:completed", 0, -1).Result()
	require.NoError(t, err)
	dead, err := rdb.LRange(ctx, "jobqueue:dead_letter", 0, -1).Result()
	require.NoError(t, err)
	require.Len(t, completed, sum.Completed)
	require.Len(t, dead, sum.DeadLettered)
	for _, raw := range dead {
		var p payload
		require.NoError(t, json.Unmarshal([]byte(raw), &p))
		require.Equal(t, 3, p.Retries, "upstream dead-letters with retries == max_retries")
		j := sum.Jobs[p.ID]
		require.Equal(t, DeadLettered, j.Outcome)
		require.Len(t, j.Attempts, 4)
		require.Equal(t, j.TraceID, p.TraceID)
	}
	for _, raw := range completed {
		var p payload
		require.NoError(t, json.Unmarshal([]byte(raw), &p))
		j := sum.Jobs[p.ID]
		require.Equal(t, Succeeded, j.Outcome)
		require.Equal(t, p.Retries+1, len(j.Attempts))
		for i, a := range j.Attempts {
			require.Equal(t, i+1, a.Number)
			require.NotEmpty(t, a.WorkerID)
		}
	}
	keys, err := rdb.Keys(ctx, "jobqueue:*processing*").Result() // test-only: tiny private keyspace
	require.NoError(t, err)
	require.Empty(t, keys, "no job may stay in processing after a drained run")

	logData, err := os.ReadFile(cfg.LogFile)
	require.NoError(t, err)
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(logData)), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		require.IsType(t, float64(0), m["ts"])
		for _, k := range []string{"level", "caller", "msg", "id"} {
			require.Contains(t, m, k)
		}
		counts[m["msg"].(string)]++
		if m["msg"] == "job retried" {
			require.Contains(t, m, "retries")
		}
		if m["msg"] != "enqueued job" {
			require.Regexp(t, `^.+-\d+-\d+-[0-9a-f]{4}-\d+$`, m["worker_id"])
		}
	}
	require.Equal(t, 60, counts["enqueued job"])
	require.Equal(t, sum.Completed, counts["job completed"])
	require.Equal(t, sum.Retried, counts["job retried"])
	require.Equal(t, sum.DeadLettered, counts["job dead-lettered"])
}

func TestCarriersAndAbandon(t *testing.T) {
	srv := redistest.Start(t)
	for _, carrier := range Carriers {
		cfg := DefaultConfig()
		cfg.Redis = srv.Addr
		cfg.Jobs = 5
		cfg.Rate = 0
		cfg.FailRatio = 0
		cfg.Carrier = carrier
		cfg.KeyPrefix = carrier + ":"
		sum, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		raw := srv.Cmd("LINDEX", carrier+":completed", "0")
		var p payload
		require.NoError(t, json.Unmarshal([]byte(raw), &p), raw)
		j := sum.Jobs[p.ID]
		require.NotNil(t, j)
		if carrier == "upstream" {
			require.Equal(t, j.TraceID, p.TraceID)
			require.Empty(t, p.Headers)
		} else {
			require.Empty(t, p.TraceID)
			require.NotEmpty(t, p.Headers)
		}
	}

	cfg := DefaultConfig()
	cfg.Redis = srv.Addr
	cfg.Jobs = 10
	cfg.Rate = 0
	cfg.FailRatio = 0
	cfg.AbandonRatio = 0.5
	cfg.HeartbeatTTL = 100 * time.Millisecond
	cfg.KeyPrefix = "ab:"
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, cfg.Jobs, sum.Completed)
	require.Positive(t, sum.Abandoned)
}

func TestValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Carrier = "smoke"
	cfg.Workers = 0
	cfg.Duration = 0
	err := cfg.Validate()
	require.ErrorContains(t, err, "carrier:")
	require.ErrorContains(t, err, "workers:")
	require.ErrorContains(t, err, "duration:")
}

func TestBatchModeKeepsLayout(t *testing.T) {
	srv := redistest.Start(t)
	cfg := DefaultConfig()
	cfg.Redis = srv.Addr
	cfg.Jobs = 200
	cfg.Rate = 0
	cfg.Batch = 8
	cfg.FailRatio = 0.2
	cfg.WorkTime = 0
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, 200, sum.Final())
	require.Equal(t, fmt.Sprint(sum.Completed), srv.Cmd("LLEN", "jobqueue:completed"))
	require.Equal(t, fmt.Sprint(sum.DeadLettered), srv.Cmd("LLEN", "jobqueue:dead_letter"))
	for _, j := range sum.Jobs {
		for i, a := range j.Attempts {
			require.Equal(t, i+1, a.Number)
		}
	}
	cfg.AbandonRatio = 0.1
	require.ErrorContains(t, cfg.Validate(), "batch:")
}

func TestOTLPEnqueueSpans(t *testing.T) {
	srv := redistest.Start(t)
	var mu sync.Mutex
	got := map[string]string{} // span id -> trace id
	http := httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		require.Equal(t, "/v1/traces", r.URL.Path)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		rs := td.ResourceSpans()
		for i := range rs.Len() {
			ss := rs.At(i).ScopeSpans()
			for j := range ss.Len() {
				sp := ss.At(j).Spans()
				for k := range sp.Len() {
					if sp.At(k).Name() != "queue.enqueue" {
						continue // worker spans: TestWorkerSpansAndFailureLines
					}
					require.Equal(t, ptrace.SpanKindProducer, sp.At(k).Kind())
					got[sp.At(k).SpanID().String()] = sp.At(k).TraceID().String()
				}
			}
		}
	}))
	defer http.Close()
	cfg := DefaultConfig()
	cfg.Redis = srv.Addr
	cfg.Jobs = 20
	cfg.Rate = 0
	cfg.Carrier = "b3"
	cfg.OTLPEndpoint = http.URL
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 20)
	for _, j := range sum.Jobs {
		require.Equal(t, j.TraceID, got[j.SpanID], "enqueue span of %s", j.ID)
	}
}

// Failing attempts come with nested worker spans under the receiver's job span, the failing one
// carrying a semconv exception event, and an ERROR line that points at that span.
func TestWorkerSpansAndFailureLines(t *testing.T) {
	srv := redistest.Start(t)
	var mu sync.Mutex
	type spanInfo struct {
		name, parent, trace, status, queue string
		exception                          map[string]any
		service                            string
	}
	spans := map[string]spanInfo{}
	http := httptest.NewServer(stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		for i := range td.ResourceSpans().Len() {
			rs := td.ResourceSpans().At(i)
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for j := range rs.ScopeSpans().Len() {
				ss := rs.ScopeSpans().At(j).Spans()
				for k := range ss.Len() {
					sp := ss.At(k)
					queue := ""
					if q, ok := sp.Attributes().Get("messaging.destination.name"); ok {
						queue = q.AsString()
					}
					si := spanInfo{name: sp.Name(), parent: sp.ParentSpanID().String(), trace: sp.TraceID().String(),
						status: sp.Status().Code().String(), service: svc.AsString(), queue: queue}
					for e := range sp.Events().Len() {
						if ev := sp.Events().At(e); ev.Name() == "exception" {
							si.exception = ev.Attributes().AsRaw()
						}
					}
					spans[sp.SpanID().String()] = si
				}
			}
		}
	}))
	defer http.Close()
	cfg := DefaultConfig()
	cfg.Redis = srv.Addr
	cfg.Jobs = 30
	cfg.Rate = 0
	cfg.FailRatio = 0.4
	cfg.WorkTime = 5 * time.Millisecond
	cfg.OTLPEndpoint = http.URL
	cfg.LogFile = filepath.Join(t.TempDir(), "worker.log")
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Positive(t, sum.Retried+sum.DeadLettered)

	lines := map[string]map[string]any{} // span_id of error lines -> line
	logData, err := os.ReadFile(cfg.LogFile)
	require.NoError(t, err)
	for _, l := range strings.Split(strings.TrimSpace(string(logData)), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		if m["level"] == "error" && m["msg"] != "job dead-lettered" {
			lines[m["span_id"].(string)] = m
		}
	}
	mu.Lock()
	defer mu.Unlock()
	failed := 0
	for _, j := range sum.Jobs {
		for _, a := range j.Attempts {
			if a.Outcome == Abandoned {
				continue
			}
			handle := workerSpanID(j.ID, a.Number, 0, "handle job").String()
			h, ok := spans[handle]
			require.True(t, ok, "handle job span of %s/%d", j.ID, a.Number)
			require.Equal(t, JobSpanID(j.ID, a.Number, 0), h.parent, "under the receiver's job span")
			require.Equal(t, j.TraceID, h.trace)
			require.Equal(t, j.Queue, h.queue, "the logical queue name, as the receiver names it")
			f := failureOf(j.ID)
			errID := workerSpanID(j.ID, a.Number, 0, f.span).String()
			es, ok := spans[errID]
			require.True(t, ok)
			require.Equal(t, f.service, es.service)
			if a.Outcome == Succeeded {
				require.Equal(t, "Ok", es.status)
				require.Nil(t, es.exception)
				continue
			}
			failed++
			require.Equal(t, "Error", es.status)
			require.Equal(t, "Error", h.status)
			require.Equal(t, f.excType, es.exception["exception.type"])
			require.Equal(t, f.excMsg, es.exception["exception.message"])
			line, ok := lines[errID]
			require.True(t, ok, "error line for %s/%d", j.ID, a.Number)
			require.Equal(t, f.logMessage, line["msg"])
			require.Equal(t, j.ID, line["job_id"])
			require.Equal(t, j.TraceID, line["trace_id"])
		}
	}
	require.Equal(t, sum.Retried+sum.DeadLettered, failed)
	require.Len(t, lines, failed)
}
