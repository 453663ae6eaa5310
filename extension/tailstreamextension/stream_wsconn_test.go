package tailstreamextension

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
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

// Messages framed by heldConn reach a real client whole, whatever their length: the three
// WebSocket length encodings (up to 125 bytes, up to 65,535, above), with and without
// ?batch=true.
func TestHeldFramesReadByARealClient(t *testing.T) {
	var lengths []int
	for n := 0; n <= 200; n++ {
		lengths = append(lengths, n) // entry JSON crosses 125/126 bytes in here
	}
	for n := 65_200; n <= 65_700; n += 7 {
		lengths = append(lengths, n) // and 65,535/65,536 here
	}
	lengths = append(lengths, 200_000)
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			srv := startServer(t, nil)
			recs := make([]rec, len(lengths))
			for i, n := range lengths {
				recs[i] = rec{msg: strings.Repeat("m", n), service: "svc", job: "j1"}
			}
			srv.publish(t, recs...)
			st := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}, "options": map[string]any{"tail_lines": len(lengths), "follow": true}})
			u := st.Endpoint
			if batch {
				u += "?batch=true"
			}
			c := dialWS(t, u, "", nil)
			c.SetReadLimit(64 << 20) // a batch of these is one ~5 MB message
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var got []string
			for len(got) < len(lengths) {
				typ, b, err := c.Read(ctx)
				require.NoError(t, err, "after %d entries", len(got))
				require.Equal(t, websocket.MessageText, typ)
				var one struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				}
				if batch && b[0] == '[' {
					var many []struct {
						Message string `json:"message"`
					}
					require.NoError(t, json.Unmarshal(b, &many))
					for _, m := range many {
						got = append(got, m.Message)
					}
					continue
				}
				require.NoError(t, json.Unmarshal(b, &one), "one entry per message")
				if one.Type == "" {
					got = append(got, one.Message)
				}
			}
			for i, n := range lengths {
				require.Len(t, got[i], n, "entry %d", i)
			}
		})
	}
}
