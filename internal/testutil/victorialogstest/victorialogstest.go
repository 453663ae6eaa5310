// Package victorialogstest runs a private VictoriaLogs (bin/victoria-logs, built by
// `make victorialogs`) on a free loopback port for tests, with its data in the test's temp dir.
package victorialogstest // import "github.com/jobtrace/jobtrace/internal/testutil/victorialogstest"

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// StreamFields are the stream fields jobtrace asks VictoriaLogs to keep (examples/durable.yaml
// sends the same header): few distinct values each, so few streams. Never job.id.
const StreamFields = "service.name,queue.name"

// Server is a running VictoriaLogs owned by one test.
type Server struct {
	t    testing.TB
	URL  string // base URL, e.g. http://127.0.0.1:34567
	Addr string
	Dir  string // -storageDataPath
	bin  string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Binary returns the VictoriaLogs binary: $VICTORIALOGS_BINARY, else bin/victoria-logs in the
// repository root. It fails the test when neither exists.
func Binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("VICTORIALOGS_BINARY"); b != "" {
		return b
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "builder-config.yaml")); err == nil {
				break
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root not found from the working directory")
		}
		dir = parent
	}
	b := filepath.Join(dir, "bin", "victoria-logs")
	if _, err := os.Stat(b); err != nil {
		t.Fatalf("%s is missing: build it with `make victorialogs`", b)
	}
	return b
}

// Start launches VictoriaLogs on a free port; t.Cleanup stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), Dir: filepath.Join(t.TempDir(), "vldata")}
	s.Addr = freeAddr(t)
	s.URL = "http://" + s.Addr
	s.log = filepath.Join(filepath.Dir(s.Dir), "victoria-logs.log")
	s.Up()
	t.Cleanup(func() {
		s.Down()
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("victoria-logs log (tail):\n%s", b)
		}
	})
	return s
}

// Up (re)starts the server on the same port and data directory and waits until it answers.
func (s *Server) Up() {
	s.t.Helper()
	f, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = exec.Command(s.bin,
		"-httpListenAddr="+s.Addr,
		"-storageDataPath="+s.Dir,
		"-retentionPeriod=7d",
		"-loggerLevel=WARN",
		// Tests read back what they just wrote: make it searchable quickly.
		"-inmemoryDataFlushInterval=1s",
	)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start victoria-logs: %v", err)
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); _ = f.Close(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			b, _ := os.ReadFile(s.log)
			s.t.Fatalf("victoria-logs exited at start:\n%s", b)
		default:
		}
		resp, err := http.Get(s.URL + "/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("victoria-logs on %s did not become healthy within 30s", s.Addr)
}

// Down stops the server (SIGINT, so it flushes) and waits for it. Safe to call twice.
func (s *Server) Down() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Push sends logs over OTLP/HTTP protobuf, as the otlphttp exporter does, with jobtrace's
// stream fields.
func (s *Server) Push(ld plog.Logs) {
	s.t.Helper()
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		s.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/insert/opentelemetry/v1/logs", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("VL-Stream-Fields", StreamFields)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("push: %s: %s", resp.Status, b)
	}
}

// Flush makes everything pushed so far searchable (VictoriaLogs' /internal/force_flush).
func (s *Server) Flush() {
	s.t.Helper()
	resp, err := http.Get(s.URL + "/internal/force_flush")
	if err != nil {
		s.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("force_flush: %s", resp.Status)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr())
}
