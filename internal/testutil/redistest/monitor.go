package redistest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"time"
)

// Monitor records every command the server executes (Redis MONITOR), so a test can prove a
// component sent no write.
type Monitor struct {
	conn  net.Conn
	mu    sync.Mutex
	lines []string
}

// Command is one MONITOR line: the client's address and the command with its arguments.
type Command struct {
	Addr string
	Name string // lower case
	Args []string
	Line string
}

// Monitor starts recording. Stop it with Close (also done by t.Cleanup).
func (s *Server) Monitor() *Monitor {
	s.t.Helper()
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		s.t.Fatal(err)
	}
	m := &Monitor{conn: conn}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		first := true
		for sc.Scan() {
			if first { // +OK
				first = false
				close(ready)
				continue
			}
			m.mu.Lock()
			m.lines = append(m.lines, sc.Text())
			m.mu.Unlock()
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		s.t.Fatal("MONITOR did not start")
	}
	s.t.Cleanup(m.Close)
	return m
}

// Close stops recording.
func (m *Monitor) Close() { _ = m.conn.Close() }

// Commands are the commands recorded so far, from the clients whose address is in addrs (all
// clients when addrs is nil). Commands inside MULTI/EXEC and scripts are included; scripts'
// inner commands are attributed to "lua".
func (m *Monitor) Commands(addrs map[string]bool) []Command {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Command
	for _, l := range m.lines {
		// 1700000000.123456 [0 127.0.0.1:54321] "LRANGE" "jobqueue:completed" "0" "499"
		open, end := strings.IndexByte(l, '['), strings.IndexByte(l, ']')
		if open < 0 || end < open {
			continue
		}
		parts := strings.Fields(l[open+1 : end])
		if len(parts) != 2 || addrs != nil && !addrs[parts[1]] {
			continue
		}
		f := strings.Fields(l[end+1:])
		if len(f) == 0 {
			continue
		}
		c := Command{Addr: parts[1], Name: strings.ToLower(strings.Trim(f[0], `"`)), Line: l}
		for _, a := range f[1:] {
			c.Args = append(c.Args, strings.Trim(a, `"`))
		}
		out = append(out, c)
	}
	return out
}
