package queuejobreceiver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

func TestBadPayloadsSkipped(t *testing.T) {
	srv := redistest.Start(t)
	good := func(id string) string { return payloadFor(id, 0, time.Now()) }
	// LPUSH order: the list's head is the last one pushed.
	entries := []string{
		good("good-1"),
		"not json at all",
		"\xff\x00\x01binary",
		good("truncated")[:40],
		good("big") + strings.Repeat(" ", 400),
		`{"retries":0}`,
		`["an","array"]`,
		good("good-2"),
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	defer rdb.Close()
	for _, e := range entries {
		require.NoError(t, rdb.LPush(context.Background(), "jobqueue:completed", e).Err())
	}
	cfg := testConfig(srv.Addr)
	cfg.EmitExisting = true
	cfg.MaxPayloadSize = 300
	r := startReceiver(t, cfg)
	require.Eventually(t, func() bool { return r.traces.SpanCount() == 2 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // more polls over the same bad entries
	require.Equal(t, 2, r.traces.SpanCount())
	bad := r.metric(t, "otelcol_receiver_queuejob_payloads_bad")
	require.Equal(t, map[string]int64{
		reasonNotJSON: 1, reasonBinary: 1, reasonTruncated: 1, reasonOversized: 1, reasonMissingID: 1, reasonNotObject: 1,
	}, bad, "each bad entry counted once across polls")
	ids := map[string]bool{}
	for _, s := range spans(r.traces) {
		ids[s.jobID] = true
	}
	require.Equal(t, map[string]bool{"good-1": true, "good-2": true}, ids)
}

func TestPropagationLink(t *testing.T) {
	srv := redistest.Start(t)
	srv.Cmd("LPUSH", "jobqueue:completed", payloadFor("linked", 0, time.Now()))
	cfg := testConfig(srv.Addr)
	cfg.EmitExisting = true
	cfg.Propagation = "link"
	cfg.ServiceName = "billing"
	r := startReceiver(t, cfg)
	require.Eventually(t, func() bool { return r.traces.SpanCount() == 1 }, 10*time.Second, 10*time.Millisecond)
	td := r.traces.AllTraces()[0]
	rs := td.ResourceSpans().At(0)
	sn, _ := rs.Resource().Attributes().Get("service.name")
	require.Equal(t, "billing", sn.Str())
	sp := rs.ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, scopeName, rs.ScopeSpans().At(0).Scope().Name())
	require.True(t, sp.ParentSpanID().IsEmpty())
	require.Equal(t, 1, sp.Links().Len())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sp.Links().At(0).TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", sp.Links().At(0).SpanID().String())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sp.TraceID().String())
	require.Equal(t, ptrace.SpanKindConsumer, sp.Kind())
	require.Equal(t, "process high_priority", sp.Name())
	attrs := sp.Attributes().AsRaw()
	require.Equal(t, "redis", attrs["messaging.system"])
	require.Equal(t, "process", attrs["messaging.operation.type"])
	require.Equal(t, "high_priority", attrs["messaging.destination.name"])
	require.Equal(t, "linked", attrs["messaging.message.id"])
	require.Equal(t, "upstream", attrs["job.trace.format"])
	require.Equal(t, "payload", attrs["job.trace.extracted_from"])
	require.Equal(t, "high", attrs["job.priority"])
	require.Equal(t, ptrace.StatusCodeOk, sp.Status().Code())
}

func TestNoTraceContextGetsStableTrace(t *testing.T) {
	srv := redistest.Start(t)
	srv.Cmd("LPUSH", "jobqueue:dead_letter", `{"id":"bare","priority":"low","retries":0}`)
	cfg := testConfig(srv.Addr)
	cfg.EmitExisting = true
	r := startReceiver(t, cfg)
	require.Eventually(t, func() bool { return r.traces.SpanCount() == 1 }, 10*time.Second, 10*time.Millisecond)
	s := spans(r.traces)[0]
	require.Equal(t, "dead_lettered", s.status)
	require.Equal(t, "low_priority", s.queue)
	require.Empty(t, s.parent)
	require.NotEqual(t, "00000000000000000000000000000000", s.traceID)
	logs := logRecords(r.logs)
	require.Len(t, logs, 1)
	require.Equal(t, "job_dead_lettered", logs[0].event)
	require.Equal(t, s.traceID, logs[0].traceID)
	require.Equal(t, "ERROR", severityText(logs[0].severity))
}

// TestListPresetSidekiqStyle maps Sidekiq-shaped payloads with configuration alone: pending
// queue, a reliable-fetch style processing list per worker, and a finished list.
func TestListPresetSidekiqStyle(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig(srv.Addr)
	cfg.Preset = PresetList
	cfg.EmitEnqueued = true
	cfg.Queues = []QueueConfig{{Name: "default", Key: "queue:default"}}
	cfg.Keys = KeysConfig{Processing: "queue:default:processing:{worker_id}", Completed: "jobtrace:sidekiq:done"}
	one := 1
	cfg.Fields = FieldsConfig{ID: "jid", Type: "class", Queue: "queue", Attempt: "retry_count", AttemptOffset: &one, CreatedAt: "created_at"}
	r := startReceiver(t, cfg)
	r.waitOK(t)
	first := `{"class":"HardWorker","args":[1,2],"retry":true,"queue":"default","jid":"b4a577edbccf1d805744efa9","trace_context":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}`
	second := `{"class":"HardWorker","args":[1,2],"retry":true,"queue":"default","jid":"b4a577edbccf1d805744efa9","retry_count":1,"trace_context":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}`
	srv.Cmd("LPUSH", "queue:default", first)
	require.Eventually(t, func() bool { return r.logs.LogRecordCount() == 1 }, 10*time.Second, 5*time.Millisecond)
	srv.Cmd("RPOPLPUSH", "queue:default", "queue:default:processing:host-1")
	require.Eventually(t, func() bool { return r.logs.LogRecordCount() == 2 }, 10*time.Second, 5*time.Millisecond)
	// It fails and comes back with retry_count 1, then succeeds on another worker.
	srv.Cmd("LREM", "queue:default:processing:host-1", "1", first)
	srv.Cmd("LPUSH", "queue:default", second)
	require.Eventually(t, func() bool { return r.traces.SpanCount() == 1 }, 10*time.Second, 5*time.Millisecond)
	srv.Cmd("RPOPLPUSH", "queue:default", "queue:default:processing:host-2")
	require.Eventually(t, func() bool { return r.logs.LogRecordCount() == 5 }, 10*time.Second, 5*time.Millisecond)
	srv.Cmd("LPUSH", "jobtrace:sidekiq:done", second)
	srv.Cmd("LREM", "queue:default:processing:host-2", "1", second)
	require.Eventually(t, func() bool { return r.traces.SpanCount() == 2 }, 10*time.Second, 5*time.Millisecond)

	var evs []string
	for _, l := range logRecords(r.logs) {
		evs = append(evs, l.event+"/"+l.worker)
		require.Equal(t, "0af7651916cd43dd8448eb211c80319c", l.traceID)
	}
	require.Equal(t, []string{"job_enqueued/", "job_started/host-1", "job_retried/host-1", "job_enqueued/", "job_started/host-2", "job_succeeded/host-2"}, evs)
	ss := spans(r.traces)
	require.Equal(t, "retried", ss[0].status)
	require.Equal(t, int64(1), ss[0].attempt)
	require.Equal(t, "succeeded", ss[1].status)
	require.Equal(t, int64(2), ss[1].attempt)
	require.Equal(t, "b7ad6b7169203331", ss[1].parent)
	for _, td := range r.traces.AllTraces() {
		a := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().AsRaw()
		require.Equal(t, "HardWorker", a["job.type"])
		require.Equal(t, "default", a["queue.name"])
		require.Equal(t, "w3c", a["job.trace.format"])
	}
}

// Extraction telemetry counts what each new job's context came from and, separately, which
// formats had a carrier that was present but invalid (the extraction then fell through).
func TestExtractionTelemetryByFormat(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Now().Format(time.RFC3339Nano)
	entries := []string{
		// valid W3C
		`{"id":"w3c-ok","retries":0,"creation_time":"` + now + `","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`,
		// version ff is invalid: falls through to the upstream fields
		`{"id":"w3c-bad","retries":0,"creation_time":"` + now + `","traceparent":"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}`,
		// nothing at all
		`{"id":"bare","retries":0,"creation_time":"` + now + `"}`,
	}
	for _, e := range entries {
		srv.Cmd("LPUSH", "jobqueue:completed", e)
	}
	cfg := testConfig(srv.Addr)
	cfg.EmitExisting = true
	r := startReceiver(t, cfg)
	require.Eventually(t, func() bool { return r.traces.SpanCount() == 3 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, map[string]int64{"w3c": 1, "upstream": 1, "none": 1},
		r.metric(t, "otelcol_receiver_queuejob_trace_context_extractions"))
	require.Equal(t, map[string]int64{"w3c": 1},
		r.metric(t, "otelcol_receiver_queuejob_trace_context_rejections"))
}
