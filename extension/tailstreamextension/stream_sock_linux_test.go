package tailstreamextension

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A client that never reads must not make the server write more than a bounded amount into
// the kernel for it: what a stalled socket absorbs is written and copied at full speed, at
// the expense of every other stream (issue 13, scenario d).
func TestStalledClientSocketAbsorbsLittle(t *testing.T) {
	for _, transport := range []string{"sse", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			srv := startServer(t, nil)
			st := srv.create(t, "", map[string]any{"options": map[string]any{"buffer_size": 10000}})
			u, err := url.Parse(st.SSEEndpoint)
			require.NoError(t, err)
			path := u.Path
			hdr := "Accept: text/event-stream\r\n"
			if transport == "websocket" {
				wu, err := url.Parse(st.Endpoint)
				require.NoError(t, err)
				path = wu.Path
				hdr = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			}
			c, err := net.Dial("tcp", u.Host)
			require.NoError(t, err)
			defer c.Close()
			// A small, fixed receive window: the client's own buffer is not what is measured.
			require.NoError(t, c.(*net.TCPConn).SetReadBuffer(16<<10))
			_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, u.Host, hdr)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			require.Contains(t, []int{http.StatusOK, http.StatusSwitchingProtocols}, resp.StatusCode)
			// From here on the client reads nothing.

			// From here on the client reads nothing: offer it ~32 MB.
			msg := strings.Repeat("x", 200)
			for range 40 {
				recs := make([]rec, 2000)
				for i := range recs {
					recs[i] = rec{msg: msg, service: "svc"}
				}
				srv.publish(t, recs...)
				time.Sleep(20 * time.Millisecond)
			}
			// Let the writer get as far as the socket allows, then count what the kernel holds
			// for this connection on both ends.
			time.Sleep(500 * time.Millisecond)
			held := socketQueues(t, c)
			t.Logf("%s: %d KiB held in the kernel for a client that reads nothing", transport, held>>10)
			// 128 KiB unsent + the client's 16 KiB window (doubled by the kernel) + in flight.
			require.Less(t, held, 512<<10, "a stalled client's connection holds %d KiB", held>>10)
		})
	}
}

// socketQueues sums, from /proc/net/tcp, the server socket's send queue and the client
// socket's receive queue of the IPv4 connection c.
func socketQueues(t *testing.T, c net.Conn) int {
	t.Helper()
	hexAddr := func(a net.Addr) string {
		ta := a.(*net.TCPAddr)
		ip := ta.IP.To4()
		require.NotNil(t, ip, "an IPv4 connection")
		// /proc/net/tcp prints the address as the host-order (little-endian) uint32.
		return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], ta.Port)
	}
	cli, srv := hexAddr(c.LocalAddr()), hexAddr(c.RemoteAddr())
	b, err := os.ReadFile("/proc/net/tcp")
	require.NoError(t, err)
	n, found := 0, 0
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		tx, rx, _ := strings.Cut(f[4], ":")
		q := ""
		switch {
		case f[1] == srv && f[2] == cli:
			q = tx // the server's send queue
		case f[1] == cli && f[2] == srv:
			q = rx // what the client has not read
		default:
			continue
		}
		v, err := strconv.ParseInt(q, 16, 64)
		require.NoError(t, err)
		n += int(v)
		found++
	}
	require.Equal(t, 2, found, "both ends of the connection in /proc/net/tcp")
	return n
}
