package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// dockerContainerID is the container of testdata/docker: the upstream worker capture as Docker's
// json-file driver writes it (see testdata/README.md).
const dockerContainerID = "3f1c2b9a8d7e6f5041322314a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e"

type sourcedRecord struct {
	res pcommon.Map
	rec plog.LogRecord
}

func recordsWith(t *testing.T, c *Collector, keep func(res pcommon.Map, r plog.LogRecord) bool) []sourcedRecord {
	t.Helper()
	var out []sourcedRecord
	for _, ld := range c.FileLogs(t) {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if keep(rl.Resource().Attributes(), lr) {
						out = append(out, sourcedRecord{rl.Resource().Attributes(), lr})
					}
				}
			}
		}
	}
	return out
}

// TestDockerLogsTaggedLikePlainFiles runs examples/docker-logs.yaml over Docker json-file logs
// (zap lines in Docker's envelope, one line split at Docker's 16 KiB limit, a plain-text line) and
// the same lines as a plain worker log through collector.yaml's file_log: every record must come
// out with the same body, time, severity, trace context and tags, plus the container's identity.
func TestDockerLogsTaggedLikePlainFiles(t *testing.T) {
	src := filepath.Join(repoRoot, "testdata", "docker")
	dockerDir := t.TempDir()
	containerDir := filepath.Join(dockerDir, dockerContainerID)
	if err := os.MkdirAll(containerDir, 0o755); err != nil {
		t.Fatal(err)
	}
	jsonLog, err := os.ReadFile(filepath.Join(src, "containers", dockerContainerID, dockerContainerID+"-json.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(containerDir, dockerContainerID+"-json.log"), jsonLog, 0o600); err != nil {
		t.Fatal(err)
	}
	// Two collectors, so that each path builds its own correlation index from the same lines
	// in the same order: one index fed by both would tag the second copy of a job from the first.
	dc := StartCollector(t, WithFileExporter(), WithoutRedis(),
		WithConfigFile("examples/docker-logs.yaml"),
		WithEnv("DOCKER_CONTAINER_LOGS", filepath.Join(dockerDir, "*", "*-json.log")),
		WithEnv("DOCKER_LOGS_START_AT", "beginning"))
	pc := StartCollector(t, WithFileExporter(), WithoutRedis())
	plainSrc, err := os.ReadFile(filepath.Join(src, "worker-plain.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pc.Dir, "worker-logs", "worker.log"), plainSrc, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := readWorkerLines(t, filepath.Join(src, "worker-plain.log"))

	isDocker := func(res pcommon.Map, _ plog.LogRecord) bool { _, ok := res.Get("container.id"); return ok }
	isPlain := func(_ pcommon.Map, r plog.LogRecord) bool { return str(r, "log.file.name") == "worker.log" }
	Eventually(t, 60*time.Second, func() bool {
		return len(recordsWith(t, dc, isDocker)) >= len(lines) && len(recordsWith(t, pc, isPlain)) >= len(lines)
	}, "want %d records from each source", len(lines))
	docker, plain := recordsWith(t, dc, isDocker), recordsWith(t, pc, isPlain)
	if len(docker) != len(lines) || len(plain) != len(lines) {
		t.Fatalf("got %d docker and %d plain records for %d lines (a split line must be joined into one)",
			len(docker), len(plain), len(lines))
	}

	// Attributes only the docker path has: where the line came from.
	dockerOnly := map[string]bool{"log.iostream": true, "log.file.name": true}
	var long, plainText, tagged int
	for i := range lines {
		d, p := docker[i], plain[i]
		if got := str2(d.res, "container.id"); got != dockerContainerID {
			t.Errorf("line %d: container.id %q, want %q", i, got, dockerContainerID)
		}
		if got := str2(d.res, "container.name"); got != "jobqueue-worker-1" {
			t.Errorf("line %d: container.name %q (from --log-opt tag)", i, got)
		}
		if got := str2(d.res, "service.name"); got != "jobqueue-worker" {
			t.Errorf("line %d: service.name %q (from the compose service label)", i, got)
		}
		if got := str(d.rec, "log.iostream"); got != "stderr" && got != "stdout" {
			t.Errorf("line %d: log.iostream %q", i, got)
		}
		if db, pb := d.rec.Body().AsString(), p.rec.Body().AsString(); db != pb {
			t.Fatalf("line %d: docker body %q, plain body %q", i, db, pb)
		}
		if lines[i].json == nil {
			plainText++
		} else if d.rec.Timestamp() != p.rec.Timestamp() {
			// A plain-text line has no ts of its own: Docker's envelope time is its time.
			t.Errorf("line %d: docker time %s, plain time %s", i, d.rec.Timestamp(), p.rec.Timestamp())
		}
		if len(lines[i].raw) > 16*1024 {
			long++
		}
		if d.rec.SeverityNumber() != p.rec.SeverityNumber() || d.rec.TraceID() != p.rec.TraceID() || d.rec.SpanID() != p.rec.SpanID() {
			t.Errorf("line %d: severity/trace differ: docker %s %s %s, plain %s %s %s", i,
				d.rec.SeverityNumber(), d.rec.TraceID(), d.rec.SpanID(), p.rec.SeverityNumber(), p.rec.TraceID(), p.rec.SpanID())
		}
		da, pa := d.rec.Attributes().AsRaw(), p.rec.Attributes().AsRaw()
		for k, v := range pa {
			if k == "log.file.name" {
				continue
			}
			if dv, ok := da[k]; !ok || dv != v {
				t.Errorf("line %d: attribute %s = %v on the plain path, %v on the docker path", i, k, v, dv)
			}
		}
		for k := range da {
			if _, ok := pa[k]; !ok && !dockerOnly[k] {
				t.Errorf("line %d: docker path adds attribute %s = %v", i, k, da[k])
			}
		}
		if _, ok := da["job.id"]; ok {
			tagged++
		}
	}
	if long != 1 || plainText == 0 || tagged == 0 {
		t.Fatalf("the capture should hold one split line, plain-text lines and job lines (split %d, plain %d, tagged %d)",
			long, plainText, tagged)
	}
	if strings.Contains(dc.Output(), "deprecated") {
		t.Errorf("collector logged a deprecation warning with examples/docker-logs.yaml:\n%s", dc.Output())
	}
}
