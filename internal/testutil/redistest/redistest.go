// Package redistest starts a private redis-server on a free loopback port for tests, so no test
// ever touches a developer's or CI's shared Redis.
package redistest // import "github.com/jobtrace/jobtrace/internal/testutil/redistest"

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server owned by one test.
type Server struct {
	t    testing.TB
	Addr string // host:port
	Port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// Start launches redis-server on a free port with persistence off. extraConfig lines are
// appended to its config file (for example "user reader on >pw ~* +@read"). The server is
// stopped by t.Cleanup. The test fails when redis-server is not installed: .ci/run installs it.
func Start(t testing.TB, extraConfig ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH (apt-get install redis-server): %v", err)
	}
	s := &Server{t: t, dir: t.TempDir()}
	s.Port = freePort(t)
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.Port)
	conf := []string{
		"bind 127.0.0.1",
		fmt.Sprintf("port %d", s.Port),
		`save ""`,
		"appendonly no",
		"dir " + s.dir,
		"logfile " + filepath.Join(s.dir, "redis.log"),
	}
	conf = append(conf, extraConfig...)
	confPath := filepath.Join(s.dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = []string{bin, confPath}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.Addr) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	s.t.Fatalf("redis-server on %s did not answer PING within 10s; log:\n%s", s.Addr, log)
}

// Stop kills the server and waits for it. Safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server and starts it again on the same port, empty (persistence is off),
// to exercise reconnects. Use Down and Up for a gap in between.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Down kills the server; Up starts it again on the same port.
func (s *Server) Down() { s.Stop() }

// Up starts a server stopped by Down.
func (s *Server) Up() { s.t.Helper(); s.start() }

// Cmd runs one command through redis-cli against this server and returns its raw output.
// Handy for setting up fixtures without a client library.
func (s *Server) Cmd(args ...string) string {
	s.t.Helper()
	full := append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(s.Port)}, args...)
	out, err := exec.Command("redis-cli", full...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("redis-cli %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
