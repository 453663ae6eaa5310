package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestComponentsListsJobtraceTypes(t *testing.T) {
	out, err := RunBinary(t, "components")
	if err != nil {
		t.Fatalf("components: %v\n%s", err, out)
	}
	for _, want := range []string{"queuejob", "jobcorrelation", "piiredaction", "tailstream"} {
		if !strings.Contains(out, "name: "+want) {
			t.Errorf("components output lacks %q", want)
		}
	}
	// tailstream is both an exporter and an extension: it must be listed twice.
	if n := strings.Count(out, "name: tailstream"); n != 2 {
		t.Errorf("tailstream listed %d times, want 2 (exporter and extension)", n)
	}
}

func TestValidateDefaultConfig(t *testing.T) {
	out, err := RunBinary(t, "validate", "--config", filepath.Join(repoRoot, "collector.yaml"))
	if err != nil {
		t.Fatalf("validate collector.yaml: %v\n%s", err, out)
	}
}

func TestValidateJaegerOverlay(t *testing.T) {
	out, err := RunBinary(t, "validate",
		"--config", filepath.Join(repoRoot, "collector.yaml"),
		"--config", filepath.Join(repoRoot, "examples", "jaeger.yaml"))
	if err != nil {
		t.Fatalf("validate with examples/jaeger.yaml: %v\n%s", err, out)
	}
}

func TestValidateExistingCollectorExample(t *testing.T) {
	out, err := RunBinary(t, "validate", "--config", filepath.Join(repoRoot, "examples", "existing-collector.yaml"))
	if err != nil {
		t.Fatalf("validate examples/existing-collector.yaml: %v\n%s", err, out)
	}
}

func TestValidateUnknownQueuejobKeyNamesIt(t *testing.T) {
	overlay := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(overlay, []byte("receivers:\n  queuejob:\n    pollinterval_typo: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := RunBinary(t, "validate", "--config", filepath.Join(repoRoot, "collector.yaml"), "--config", overlay)
	if err == nil {
		t.Fatalf("validate accepted an unknown queuejob key:\n%s", out)
	}
	if !strings.Contains(out, "pollinterval_typo") || !strings.Contains(out, "queuejob") {
		t.Fatalf("validate error does not name the key and component:\n%s", out)
	}
}

func TestHealthyAndCleanShutdown(t *testing.T) {
	c := StartCollector(t)
	start := time.Now()
	c.Stop(t)
	if d := time.Since(start); d > 5*time.Second {
		// Not a performance assertion: the issue requires SIGTERM to stop it "within a few seconds".
		t.Errorf("SIGTERM took %s to stop the collector", d)
	}
	if strings.Contains(c.Output(), "panic") {
		t.Errorf("collector output mentions a panic:\n%s", c.Output())
	}
}

func TestRunsWhenRedisIsUnreachable(t *testing.T) {
	c := StartCollector(t, WithoutRedis())
	Eventually(t, 10*time.Second, func() bool {
		out := c.Output()
		return strings.Contains(out, c.Env["REDIS_ENDPOINT"]) && strings.Contains(strings.ToLower(out), "redis")
	}, "the collector never said which Redis it cannot reach")
	resp, err := http.Get(c.HealthURL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health answered %s while Redis is down", resp.Status)
	}
}

func TestOTLPFlowsThroughPipelines(t *testing.T) {
	c := StartCollector(t, WithFileExporter())

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e-worker")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("e2e marker log 7f3a")
	lr.SetSeverityText("INFO")
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	c.SendLogs(t, ld)

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "e2e-worker")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("e2e marker span 7f3a")
	sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	now := time.Now()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	c.SendTraces(t, td)

	Eventually(t, 15*time.Second, func() bool {
		for _, r := range c.AllLogRecords(t) {
			if r.Body().AsString() == "e2e marker log 7f3a" {
				return true
			}
		}
		return false
	}, "the OTLP log never reached the exporters")
	Eventually(t, 15*time.Second, func() bool {
		for _, s := range c.AllSpans(t) {
			if s.Name() == "e2e marker span 7f3a" && s.TraceID() == sp.TraceID() {
				return true
			}
		}
		return false
	}, "the OTLP span never reached the exporters")
}
