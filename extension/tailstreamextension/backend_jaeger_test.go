package tailstreamextension

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
)

// repoRoot finds the root module's directory from the package directory.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "jaeger", "config-test.yaml")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "repository root not found")
		dir = parent
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startJaeger runs ./bin/jaeger with in-memory storage on free loopback ports and returns
// its OTLP/HTTP and query base URLs.
func startJaeger(t *testing.T) (otlpURL, queryURL string) {
	root := repoRoot(t)
	bin := filepath.Join(root, "bin", "jaeger")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: build it with `make jaeger` "+
			"(go build -C tools/jaeger -o ../../bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger)", bin)
	}
	otlpAddr, queryAddr, grpcAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "jaeger.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config", filepath.Join(root, "tools", "jaeger", "config-test.yaml"))
	cmd.Env = append(os.Environ(), "JAEGER_OTLP_HTTP="+otlpAddr, "JAEGER_QUERY_HTTP="+queryAddr, "JAEGER_QUERY_GRPC="+grpcAddr, "JAEGER_LOG_LEVEL=info")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("jaeger log:\n%s", b)
		}
	})

	queryURL = "http://" + queryAddr
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("jaeger exited early: %v\n%s", err, b)
		default:
		}
		// Jaeger starts its OTLP receiver and its query API separately: wait for both.
		resp, err := http.Get(queryURL + "/api/v3/services")
		if err == nil {
			resp.Body.Close()
			if c, derr := net.DialTimeout("tcp", otlpAddr, time.Second); derr == nil {
				c.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		require.True(t, time.Now().Before(deadline), "jaeger query API did not come up on %s", queryAddr)
		time.Sleep(200 * time.Millisecond)
	}
	return "http://" + otlpAddr, queryURL
}

// TestJaegerBackendIntegration needs ./bin/jaeger (make jaeger). It exports job spans to a
// real Jaeger through the collector's otlphttp exporter, then asks the extension for the
// trace, which the extension has never seen, and checks the summary against what was sent.
func TestJaegerBackendIntegration(t *testing.T) {
	otlpURL, queryURL := startJaeger(t)

	const traceID = "7d3c1a9e5b2f4c6d8e0a1b2c3d4e5f60"
	td := buildTraces(traceID,
		spanSpec{Service: "order-api", Name: "POST /orders", ID: sA, Kind: ptrace.SpanKindServer, Start: 0, End: 50},
		spanSpec{Service: "order-api", Name: "enqueue high_priority", ID: sB, Parent: sA, Kind: ptrace.SpanKindProducer, Start: 10, End: 12},
		spanSpec{Service: "jobqueue", Name: "process high_priority", ID: sC2, Parent: sB, Kind: ptrace.SpanKindConsumer, Start: 400, End: 900,
			Attrs: jobAttrs("jj1", "high_priority", "w2", "succeeded", 1, nil)},
		spanSpec{Service: "worker", Name: "SELECT orders", ID: sD, Parent: sC2, Kind: ptrace.SpanKindClient, Start: 420, End: 600,
			Attrs: map[string]any{"job.id": "jj1"}},
		spanSpec{Service: "worker", Name: "POST /charge", ID: sG, Parent: sC2, Kind: ptrace.SpanKindClient, Start: 620, End: 880,
			ErrMsg: "timeout", Attrs: map[string]any{"job.id": "jj1"}},
	)

	f := otlphttpexporter.NewFactory()
	ecfg := f.CreateDefaultConfig().(*otlphttpexporter.Config)
	ecfg.ClientConfig.Endpoint = otlpURL
	ecfg.RetryConfig.Enabled = false
	// Synchronous export: ConsumeTraces returns after Jaeger accepted the spans.
	ecfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	exp, err := f.CreateTraces(context.Background(), exportertest.NewNopSettings(f.Type()), ecfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, exp.ConsumeTraces(context.Background(), td))
	require.NoError(t, exp.Shutdown(context.Background()))

	// Jaeger stores asynchronously: wait until its own API has all five spans, so that the
	// extension's first (and only) fetch sees the whole trace.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(queryURL + "/api/v3/traces/" + traceID)
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if spans, derr := backends.DecodeJaeger(raw); resp.StatusCode == http.StatusOK && derr == nil && len(spans) == 5 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "jaeger never stored the 5 spans")
		time.Sleep(200 * time.Millisecond)
	}

	srv := startTraceServer(t, func(c *Config) {
		c.Backends = []BackendConfig{backendConfig("jaeger", "jaeger", queryURL, func(b *BackendConfig) { b.URLTemplate = queryURL + "/trace/{trace_id}" })}
	})
	require.Zero(t, srv.ext.traces.Health(context.Background(), false).TraceCache.Spans, "the trace must come from Jaeger, not the pipeline")
	code, body := srv.get(t, "/traces/"+traceID+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.EqualValues(t, 5, body["spans_count"])
	assert.Equal(t, "backend", body["source"])
	assert.Equal(t, false, body["partial"])
	assert.Equal(t, queryURL+"/trace/"+traceID, body["trace_url"])
	root := body["root_span"].(map[string]any)
	assert.Equal(t, sA, root["span_id"])
	assert.Equal(t, "order-api", root["service_name"])
	assert.EqualValues(t, 50, root["duration_ms"])
	// By hand: A → LFC B → B, back to A; C2 hangs off the PRODUCER B (non-blocking), walked as
	// its own root: LFC G → G, back at 620 → D.
	assert.Equal(t, []any{sA, sB, sC2, sG, sD}, body["critical_path"])
	var errIDs []any
	for _, e := range body["error_spans"].([]any) {
		errIDs = append(errIDs, e.(map[string]any)["span_id"])
	}
	assert.Equal(t, []any{sG}, errIDs)
	services := map[string]float64{}
	for _, s := range body["services"].([]any) {
		m := s.(map[string]any)
		services[m["name"].(string)] = m["span_count"].(float64)
	}
	assert.Equal(t, map[string]float64{"order-api": 2, "jobqueue": 1, "worker": 2}, services)
	spans := map[string]map[string]any{}
	for _, s := range body["spans"].([]any) {
		m := s.(map[string]any)
		spans[m["span_id"].(string)] = m
	}
	require.Len(t, spans, 5)
	c2 := spans[sC2]
	assert.Equal(t, sB, c2["parent_span_id"])
	assert.Equal(t, "consumer", c2["kind"])
	assert.Equal(t, "process high_priority", c2["operation_name"])
	assert.EqualValues(t, 500, c2["duration_ms"])
	assert.Equal(t, "jj1", c2["tags"].(map[string]any)["job.id"])
	assert.Equal(t, fmt.Sprint(base.Add(400*time.Millisecond).Format(time.RFC3339Nano)), c2["start_time"])

	// The fetched trace is now cached: with Jaeger gone it is still answered.
	code, again := srv.get(t, "/traces/"+traceID+"/summary", tokViewer)
	assert.Equal(t, "cache", again["source"])
	require.Equal(t, http.StatusOK, code)
	assert.EqualValues(t, 5, again["spans_count"])
}
