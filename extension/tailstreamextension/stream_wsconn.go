package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"time"
)

// wsHoldMax is the most a held WebSocket connection gathers before it writes anyway.
const wsHoldMax = 64 << 10

// heldConn is the connection coder/websocket writes its frames to. The library flushes each
// message with its own write syscall; a client without ?batch=true gets one message per
// entry, so a backlog of 1,000 lines (a replay, a client that fell behind, or a client that
// stopped reading, whose socket takes ~1,000 lines before its writer blocks) cost 1,000
// syscalls and as many wake-ups on the loopback. While held, frames are gathered and leave
// together when the sender releases them: the client still reads one message per entry.
//
// It also bounds the sender's writes itself (begin/finish): the library's per-write timeout
// registers a context callback on every message (an allocation each, ~2 % of the collector's
// CPU in scenario c).
type heldConn struct {
	net.Conn
	mu      sync.Mutex // guards holding and buf; a write in progress holds it
	holding bool
	buf     []byte

	dmu     sync.Mutex // guards the deadline state; never held across a write
	watched context.Context
	unwatch func() bool
	closing bool
}

func (c *heldConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		return c.Conn.Write(p)
	}
	if len(c.buf)+len(p) > wsHoldMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > wsHoldMax {
			return c.Conn.Write(p)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// hold starts gathering frames. Control frames the library writes meanwhile from its read
// loop (a pong, a close) are gathered too: every frame reaches Write whole, so they stay
// between messages and keep their order.
func (c *heldConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// appendText gathers p as one unfragmented text message, framed here rather than by the
// library: its per-message locking and bookkeeping cost ~1.5 µs a message, which is what a
// stalled or slow client's backlog of a thousand lines spent (a 100 ms spike at the start of
// scenario d). Only the stream's writer sends data messages, and the library's own frames
// (pongs, a close) reach Write whole, so frames never interleave. Server frames are unmasked
// and, with compression left disabled at Accept, uncompressed: what the library would send.
// It must be called while held.
func (c *heldConn) appendText(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) > 0 && len(c.buf)+len(p)+10 > wsHoldMax {
		if err := c.flushLocked(); err != nil {
			return err
		}
	}
	const finText = 0x80 | 0x1
	switch n := len(p); {
	case n <= 125:
		c.buf = append(c.buf, finText, byte(n))
	case n <= 0xffff:
		c.buf = append(c.buf, finText, 126, byte(n>>8), byte(n))
	default:
		c.buf = binary.BigEndian.AppendUint64(append(c.buf, finText, 127), uint64(n))
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) > wsHoldMax {
		return c.flushLocked()
	}
	return nil
}

// release writes what was gathered and stops gathering.
func (c *heldConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if len(c.buf) == 0 {
		return nil
	}
	return c.flushLocked()
}

// begin bounds the writes until finish: they end at timeout, or at once when ctx ends
// (watched once per context, not per write). It returns ctx's error if ctx has ended.
func (c *heldConn) begin(ctx context.Context, timeout time.Duration) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.watched != ctx {
		if c.unwatch != nil {
			c.unwatch()
		}
		c.watched = ctx
		c.unwatch = context.AfterFunc(ctx, c.interrupt)
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(timeout))
	return ctx.Err()
}

func (c *heldConn) interrupt() {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if !c.closing {
		_ = c.Conn.SetWriteDeadline(time.Unix(1, 0))
	}
}

// finish lifts begin's deadline: between batches the library answers pings with no deadline
// of ours in the way.
func (c *heldConn) finish() {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if !c.closing && (c.watched == nil || c.watched.Err() == nil) {
		_ = c.Conn.SetWriteDeadline(time.Time{})
	}
}

// handBack hands the connection back to the library for its close handshake, which has
// timeouts of its own: a context that ended (the reason the stream is closing) must not cut
// the close frame that tells the client why.
func (c *heldConn) handBack() {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.closing = true
	if c.unwatch != nil {
		c.unwatch()
	}
	_ = c.Conn.SetWriteDeadline(time.Time{})
}

func (c *heldConn) flushLocked() error {
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 4*wsHoldMax {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// holdingWriter hands coder/websocket a heldConn when it hijacks the connection.
type holdingWriter struct {
	http.ResponseWriter
	conn *heldConn
}

func (w *holdingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *holdingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The server's writer may still hold the 101 response: it goes first, on the raw conn.
	if err := brw.Writer.Flush(); err != nil {
		c.Close()
		return nil, nil, err
	}
	w.conn = &heldConn{Conn: c}
	return w.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.conn, 4096)), nil
}
