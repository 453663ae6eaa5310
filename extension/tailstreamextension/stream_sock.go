package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
)

// streamUnsentLimit bounds the bytes of a stream that may wait unsent in the kernel for a
// client that does not read. Without it a stalled client's socket absorbs what the kernel's
// send-buffer autotuning allows (up to net.ipv4.tcp_wmem's maximum, 4 MiB by default) before
// its writer blocks and the hub starts dropping cheaply: 50 stalled clients made the server
// write and the kernel copy ~200 MiB at full speed, which is what the other streams' writers
// then waited for. Only unsent bytes are bounded, not bytes in flight, so a distant client's
// throughput is unchanged.
const streamUnsentLimit = 128 << 10

type connCtxKey struct{}

// rememberConn is the server's ConnContext: streaming handlers find their connection's socket.
func rememberConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connCtxKey{}, c)
}

// limitUnsent applies streamUnsentLimit to r's connection, when it is TCP (plain or TLS) on a
// platform that has TCP_NOTSENT_LOWAT.
func limitUnsent(r *http.Request) {
	c, _ := r.Context().Value(connCtxKey{}).(net.Conn)
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = setNotSentLowat(tcp, streamUnsentLimit)
	}
}
