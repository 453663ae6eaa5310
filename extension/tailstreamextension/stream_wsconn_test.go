package tailstreamextension

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingConn records the writes that reach the socket.
type recordingConn struct {
	net.Conn
	writes   [][]byte
	deadline time.Time
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *recordingConn) SetWriteDeadline(t time.Time) error { c.deadline = t; return nil }

func TestHeldConnGathersFrames(t *testing.T) {
	frame := func(i int) []byte { return []byte(strings.Repeat(string(rune('a'+i%26)), 300)) }
	for _, tc := range []struct {
		name       string
		hold       bool
		frames     int
		big        bool // one frame larger than the hold bound among them
		wantWrites int
	}{
		{name: "not held: a write per frame", frames: 5, wantWrites: 5},
		{name: "held: one write", hold: true, frames: 100, wantWrites: 1},
		{name: "held past the bound: a write per 64 KiB", hold: true, frames: 500, wantWrites: 3},
		{name: "a frame above the bound goes straight out after what was held", hold: true, frames: 3, big: true, wantWrites: 3},
		{name: "held, nothing written: no write", hold: true, wantWrites: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recordingConn{}
			c := &heldConn{Conn: rc}
			if tc.hold {
				c.hold()
			}
			var want []byte
			for i := range tc.frames {
				f := frame(i)
				if tc.big && i == 1 {
					f = bytes.Repeat([]byte{'B'}, wsHoldMax+1)
				}
				want = append(want, f...)
				n, err := c.Write(f)
				require.NoError(t, err)
				require.Equal(t, len(f), n)
			}
			if tc.hold {
				require.NoError(t, c.release())
			}
			assert.Len(t, rc.writes, tc.wantWrites)
			assert.Equal(t, string(want), string(bytes.Join(rc.writes, nil)), "bytes and order unchanged")
			// After release, writes pass straight through again.
			_, err := c.Write([]byte("x"))
			require.NoError(t, err)
			assert.Equal(t, []byte("x"), rc.writes[len(rc.writes)-1])
		})
	}
}

// A sender's batch to a client that reads nothing ends when its context ends, or at its
// timeout, instead of blocking the stream's writer for good; between batches no deadline of
// the sender's is left on the connection, and the close handshake gets a clean one.
func TestHeldConnWritesEndWithContextOrTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cancel  bool
		timeout time.Duration
	}{
		{name: "context ends", cancel: true, timeout: time.Minute},
		{name: "timeout", timeout: 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := net.Pipe() // nobody reads cli: a write on srv blocks
			defer cli.Close()
			defer srv.Close()
			c := &heldConn{Conn: srv}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			require.NoError(t, c.begin(ctx, tc.timeout))
			c.hold()
			_, err := c.Write([]byte("frame"))
			require.NoError(t, err)
			if tc.cancel {
				go func() { time.Sleep(50 * time.Millisecond); cancel() }()
			}
			start := time.Now()
			require.Error(t, c.release())
			assert.Less(t, time.Since(start), 10*time.Second)
			c.finish()
			if tc.cancel {
				require.ErrorIs(t, c.begin(ctx, tc.timeout), context.Canceled, "an ended context refuses the next batch")
			}
		})
	}
}

func TestHeldConnDeadlines(t *testing.T) {
	rc := &recordingConn{}
	c := &heldConn{Conn: rc}
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, c.begin(ctx, time.Minute))
	assert.WithinDuration(t, time.Now().Add(time.Minute), rc.deadline, 5*time.Second, "a batch is bounded")
	c.finish()
	assert.True(t, rc.deadline.IsZero(), "no deadline between batches")

	require.NoError(t, c.begin(ctx, time.Minute))
	cancel()
	require.Eventually(t, func() bool {
		c.dmu.Lock()
		defer c.dmu.Unlock()
		return rc.deadline.Before(time.Now()) && !rc.deadline.IsZero()
	}, 5*time.Second, time.Millisecond, "the context's end cuts the batch's writes")
	c.finish()
	c.handBack()
	assert.True(t, rc.deadline.IsZero(), "the close handshake is not cut by the ended context")
	c.interrupt()
	assert.True(t, rc.deadline.IsZero(), "nor by a late watch")
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) { f.n++; return 0, net.ErrClosed }

func TestBatchWriterOneWritePerBatch(t *testing.T) {
	line := strings.Repeat("y", 300)
	for _, tc := range []struct {
		name       string
		lines      int
		wantWrites int
	}{
		{name: "one line", lines: 1, wantWrites: 1},
		{name: "a small backlog", lines: 50, wantWrites: 1},
		{name: "a large backlog in 32 KiB chunks", lines: 500, wantWrites: 5}, // 150 KB
		{name: "nothing", lines: 0, wantWrites: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recordingConn{}
			b := &batchWriter{w: rc}
			var want strings.Builder
			for range tc.lines {
				_, _ = b.WriteString("data: ")
				_, _ = b.Write([]byte(line))
				_ = b.WriteByte('\n')
				want.WriteString("data: " + line + "\n")
			}
			require.NoError(t, b.Flush())
			assert.Len(t, rc.writes, tc.wantWrites)
			assert.Equal(t, want.String(), string(bytes.Join(rc.writes, nil)))
			assert.LessOrEqual(t, cap(b.buf), batchWriterKeep, "what an idle stream keeps")
		})
	}
	t.Run("the first error sticks", func(t *testing.T) {
		fw := &failingWriter{}
		b := &batchWriter{w: fw}
		_, _ = b.WriteString("a")
		require.ErrorIs(t, b.Flush(), net.ErrClosed)
		_, _ = b.WriteString("b")
		require.ErrorIs(t, b.Flush(), net.ErrClosed)
		assert.Equal(t, 1, fw.n, "no write after a failed one")
	})
}
