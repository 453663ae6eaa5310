package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	libasynq "github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/asynqtest"
	"github.com/jobtrace/jobtrace/internal/testutil/bullmqtest"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

// Jobs from OpenTelemetry instrumentation (issue 12, section 2), and the asynq and BullMQ
// presets, through the built collector.

// TestSingleConsumerSpanIsAJob is the reproduction: one CONSUMER span with job.id,
// queue.name and worker.id over OTLP answers /jobs/{id}/trace and appears in `jobtail jobs`.
func TestSingleConsumerSpanIsAJob(t *testing.T) {
	c := StartCollector(t)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(conventions.AttrServiceName, "billing-worker")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetKind(ptrace.SpanKindConsumer)
	s.SetName("process invoices")
	tid := pcommon.TraceID{0x5e, 0x11, 15: 0x42}
	s.SetTraceID(tid)
	s.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	now := time.Now()
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	s.Attributes().PutStr(conventions.AttrJobID, "inv-7")
	s.Attributes().PutStr(conventions.AttrQueueName, "invoices")
	s.Attributes().PutStr(conventions.AttrWorkerID, "billing-1")
	c.SendTraces(t, td)

	var jt struct {
		JobID   string `json:"job_id"`
		TraceID string `json:"trace_id"`
	}
	Eventually(t, 10*time.Second, func() bool { return getJSON(t, c, "/jobs/inv-7/trace", &jt) == http.StatusOK },
		"/jobs/inv-7/trace never answered 200")
	require.Equal(t, tid.String(), jt.TraceID)
	jobs := listJobs(t, c)
	require.Len(t, jobs, 1)
	require.Equal(t, apiJob{ID: "inv-7", Queue: "invoices", Status: conventions.StatusSucceeded, Attempts: 1, TraceID: tid.String()}, jobs[0])
	out, err := runJobtail(t, c, "trace", "inv-7")
	require.NoError(t, err)
	require.Contains(t, out, tid.String())
}

// bullmqWorkload runs the real BullMQ workload with bullmq-otel exporting to the collector's
// OTLP/HTTP receiver, and returns BullMQ's own view of its jobs.
func bullmqWorkload(t *testing.T, c *Collector, redis *redistest.Server) map[string]bullmqtest.Job {
	t.Helper()
	w := bullmqtest.New(t, redis.Port, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="+c.OTLPHTTPURL+"/v1/traces", "OTEL_BSP_SCHEDULE_DELAY=100")
	w.Run("run", "2")
	view := w.View()
	require.Len(t, view, 12)
	return view
}

func jobsByID(t *testing.T, c *Collector) map[string][]e2eJob {
	t.Helper()
	var page struct {
		Jobs []e2eJob `json:"jobs"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, c, "/jobs?limit=1000", &page))
	out := map[string][]e2eJob{}
	for _, j := range page.Jobs {
		out[j.ID] = append(out[j.ID], j)
	}
	return out
}

// TestBullMQOtelSpansMakeJobs: with no queue adapter, real bullmq-otel consumer spans alone
// make jobs with BullMQ's attempt counts and statuses (the last failure of an always-failing
// job is "failed": a span cannot tell whether BullMQ will retry).
func TestBullMQOtelSpansMakeJobs(t *testing.T) {
	c := StartCollector(t)
	redis := redistest.Start(t) // BullMQ's own Redis; the receiver watches another
	view := bullmqWorkload(t, c, redis)
	want := map[string]string{"completed": conventions.StatusSucceeded, "failed": conventions.StatusFailed}
	check := func() string {
		got := jobsByID(t, c)
		for id, j := range view {
			g := got[id]
			if len(g) != 1 {
				return id + ": not listed once"
			}
			if g[0].Attempts != j.AttemptsMade || g[0].Status != want[j.State] || g[0].TraceID != j.TraceID || g[0].Queue != j.Queue {
				return id + ": got " + g[0].Status + "/" + g[0].Queue + "/" + g[0].TraceID + ", BullMQ says " + j.State + "/" + j.Queue + "/" + j.TraceID
			}
		}
		return ""
	}
	untilAgrees(t, 20*time.Second, "jobs from bullmq-otel spans", check)
}

// TestBullMQReceiverAndOtelMerge: the same BullMQ jobs seen by the queuejob receiver in Redis
// and through bullmq-otel's OTLP spans are one job each, whose attempts and status are
// BullMQ's (the receiver's view, authoritative), with no conflict between the two sources.
func TestBullMQReceiverAndOtelMerge(t *testing.T) {
	c := StartCollector(t, WithOverlay("receivers:\n  queuejob:\n    preset: bullmq\n    poll_interval: 50ms\n"))
	view := bullmqWorkload(t, c, c.Redis)
	want := map[string]string{"completed": conventions.StatusSucceeded, "failed": conventions.StatusDeadLettered}
	check := func() string {
		got := jobsByID(t, c)
		for id, j := range view {
			g := got[id]
			if len(g) != 1 {
				return id + ": not listed once"
			}
			if g[0].Attempts != j.AttemptsMade || g[0].Status != want[j.State] || g[0].TraceID != j.TraceID {
				return id + ": got " + g[0].Status + "/" + g[0].TraceID + ", BullMQ says " + j.State + "/" + j.TraceID
			}
		}
		return ""
	}
	untilAgrees(t, 20*time.Second, "merged jobs", check)
	// Both sources were there: the correlation of a retried job shows the instrumentation's
	// consumer spans in its trace next to the receiver's attempt spans.
	for id, j := range view {
		if j.Name != "flaky" {
			continue
		}
		require.Equal(t, http.StatusOK, getJSON(t, c, "/correlation/"+url.PathEscape(id), nil))
		var page struct {
			Spans []struct {
				Name string `json:"operation_name"`
				Kind string `json:"kind"`
			} `json:"spans"`
		}
		require.Equal(t, http.StatusOK, getJSON(t, c, "/traces/"+j.TraceID+"/spans?limit=1000", &page))
		n := 0
		for _, s := range page.Spans {
			if s.Name == "process "+j.Queue {
				n++
			}
		}
		require.GreaterOrEqual(t, n, 4, "2 receiver attempt spans + 2 bullmq-otel consumer spans in %s's trace: %+v", id, page.Spans)
		break
	}
	require.NotContains(t, scrapeMetrics(t, c), "otelcol_tailstream_catalog_conflicts", "the two sources agreed")
}

// untilAgrees re-runs check until it reports no disagreement, failing with the last one.
func untilAgrees(t *testing.T, timeout time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		diff := check()
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s: %s", what, timeout, diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrapeMetrics(t *testing.T, c *Collector) string {
	t.Helper()
	resp, err := http.Get("http://" + c.Env["METRICS_HOST"] + ":" + c.Env["METRICS_PORT"] + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(b), "otelcol_", "not the collector's metrics")
	return string(b)
}

// TestAsynqJobsInAPI: asynq's real client and server against the collector's Redis with
// `preset: asynq`; every task asynq finished is in /api/v1/jobs with asynq's attempts, status,
// queue and the trace id of its headers.
func TestAsynqJobsInAPI(t *testing.T) {
	c := StartCollector(t, WithOverlay("receivers:\n  queuejob:\n    preset: asynq\n    poll_interval: 50ms\n"))
	tasks := asynqtest.Enqueue(t, c.Redis.Addr, 2)
	stop := asynqtest.RunServer(t, c.Redis.Addr, nil)
	asynqtest.WaitFinished(t, c.Redis.Addr, tasks)
	stop()
	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: c.Redis.Addr})
	defer insp.Close()
	want := map[libasynq.TaskState]string{libasynq.TaskStateCompleted: conventions.StatusSucceeded, libasynq.TaskStateArchived: conventions.StatusDeadLettered}
	untilAgrees(t, 20*time.Second, "asynq jobs", func() string {
		got := jobsByID(t, c)
		for _, w := range tasks {
			info, err := insp.GetTaskInfo(w.Queue, w.ID)
			require.NoError(t, err)
			g := got[w.ID]
			if len(g) != 1 {
				return w.ID + ": not listed once"
			}
			if g[0].Attempts != info.Retried+1 || g[0].Status != want[info.State] || g[0].Queue != info.Queue || g[0].TraceID != w.TraceID.String() {
				return fmt.Sprintf("%s: got %+v, asynq says %s after %d retries in %s", w.ID, g[0], info.State, info.Retried, info.Queue)
			}
		}
		return ""
	})
}
