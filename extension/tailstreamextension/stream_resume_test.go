package tailstreamextension

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// Issue 13 leftover 4: the last id a client saw is a seq, but a tail_lines replay comes in
// timestamp order and a late line keeps its old seq, so "after that seq" is not "after that
// line". Resuming from any line, mid-replay, after the replay, after a late line or before
// one, delivers every remaining line exactly once, in the order a connected client gets
// them, over SSE (Last-Event-ID) and WebSocket (last_event_id).
func TestResumeIsExactAfterSortedReplayAndLateLines(t *testing.T) {
	for _, transport := range []string{"sse", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			srv := startServer(t, nil)
			// History whose arrival order is the reverse of its time order.
			base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
			for i := 1; i <= 5; i++ {
				srv.publish(t, rec{job: "j1", level: "info", msg: fmt.Sprintf("h%d", i), ts: base.Add(time.Duration(10-i) * time.Minute)})
			}
			v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}, "options": map[string]any{"tail_lines": 5}})

			marker := 0
			// attach connects (resuming from the line whose seq is last, when set), reads
			// want, then a fresh marker line, so that a repeated or extra line shows up.
			attach := func(last *msg, want ...string) []msg {
				t.Helper()
				var got []msg
				marker++
				m := fmt.Sprintf("marker %d", marker)
				want = append(want, m)
				switch transport {
				case "sse":
					hdr := http.Header{}
					if last != nil {
						hdr.Set("Last-Event-ID", last.ID)
						require.Equal(t, strconv.FormatUint(last.Seq, 10), last.ID, "the SSE id is the seq")
					}
					c := openSSE(t, v.SSEEndpoint, "", hdr)
					got = entries(c.read(t, nEntries(len(want)-1)))
					srv.publish(t, rec{job: "j1", msg: m})
					got = append(got, entries(c.read(t, nEntries(1)))...)
					c.close()
				default:
					url := v.Endpoint
					if last != nil {
						url += "?last_event_id=" + strconv.FormatUint(last.Seq, 10)
					}
					c := dialWS(t, url, "", nil)
					got = entries(readWS(t, c, nEntries(len(want)-1)))
					srv.publish(t, rec{job: "j1", msg: m})
					got = append(got, entries(readWS(t, c, nEntries(1)))...)
					c.Close(websocket.StatusNormalClosure, "")
				}
				require.Equal(t, want, messages(got))
				return got
			}
			byMsg := map[string]msg{}
			keep := func(ms []msg) {
				for _, m := range ms {
					byMsg[m.Message] = m
				}
			}
			keep(attach(nil, "h5", "h4", "h3", "h2", "h1"))
			last := byMsg["h4"]
			keep(attach(&last, "h3", "h2", "h1", "marker 1")) // cut mid-replay
			last = byMsg["h1"]
			keep(attach(&last, "marker 1", "marker 2")) // cut at the replay's end

			// Live lines, one of them late: logged before its job was known.
			srv.publish(t, rec{job: "j1", msg: "live 1"}, rec{msg: "early", trace: traceB}, rec{job: "j1", msg: "live 2"})
			require.NoError(t, srv.ext.PublishTraces(context.Background(), jobSpanTraces(traceB, "00f067aa0ba902b9", "j1", "high", "w1")))
			last = byMsg["marker 3"]
			got := attach(&last, "live 1", "live 2", "early")
			keep(got)
			require.True(t, got[2].Late)
			require.Less(t, got[2].Seq, got[1].Seq, "the late line's seq is older than the line before it")

			last = byMsg["early"]
			keep(attach(&last, "marker 4")) // after the late line: live 2 is not sent again
			last = byMsg["live 1"]
			attach(&last, "live 2", "early", "marker 4", "marker 5") // before it: it comes again, once
		})
	}
}

// A client that resumes mid-replay after its last line left the ring (retention.buffer_size)
// is told, in band, how many replay lines it missed that left the ring too, and the stream
// goes on. Before, it went on with the live lines, with no word of them. When the replay was
// too long for streams.replay_order_lines, the drop comes without a count.
func TestResumeAfterTheLastLineLeftTheRingReportsTheLostReplay(t *testing.T) {
	for _, tc := range []struct {
		transport string
		orders    int // streams.replay_order_lines
	}{{"sse", 1000}, {"websocket", 1000}, {"sse", 4}, {"websocket", 4}} {
		t.Run(tc.transport+"/replay_order_lines="+strconv.Itoa(tc.orders), func(t *testing.T) {
			transport := tc.transport
			srv := startServer(t, func(c *Config) {
				c.Retention.BufferSize = 10
				c.Streams.ReplayOrderLines = tc.orders
			})
			base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
			// Arrival order the reverse of time order: the replay is h5 (seq 5) … h1 (seq 1).
			for i := 1; i <= 5; i++ {
				srv.publish(t, rec{job: "j1", level: "info", msg: fmt.Sprintf("h%d", i), ts: base.Add(time.Duration(10-i) * time.Minute)})
			}
			v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}, "options": map[string]any{"tail_lines": 5}})
			read := func(last uint64, stop func([]msg) bool) []msg {
				switch transport {
				case "sse":
					hdr := http.Header{}
					if last > 0 {
						hdr.Set("Last-Event-ID", strconv.FormatUint(last, 10))
					}
					c := openSSE(t, v.SSEEndpoint, "", hdr)
					defer c.close()
					return c.read(t, stop)
				default:
					url := v.Endpoint
					if last > 0 {
						url += "?last_event_id=" + strconv.FormatUint(last, 10)
					}
					c := dialWS(t, url, "", nil)
					defer c.Close(websocket.StatusNormalClosure, "")
					return readWS(t, c, stop)
				}
			}
			got := entries(read(0, nEntries(5)))
			require.Equal(t, []string{"h5", "h4", "h3", "h2", "h1"}, messages(got))
			last := got[1] // the client had h5 and h4 when its connection broke

			// Nine lines of another job push seqs 1–4 out of the 10-line ring.
			for i := range 9 {
				srv.publish(t, rec{job: "j2", msg: fmt.Sprintf("other %d", i)})
			}
			srv.publish(t, rec{job: "j1", msg: "live"})
			ms := read(last.Seq, nEntries(1))
			var drops []msg
			for _, m := range ms {
				if m.Type == "dropped" {
					drops = append(drops, m)
				}
			}
			require.Len(t, drops, 1, "%+v", ms)
			require.Equal(t, "retention", drops[0].Reason)
			if tc.orders >= 5 {
				require.EqualValues(t, 3, drops[0].Count, "h3, h2 and h1 left the ring before the client had them")
			} else {
				// A counted drop is never 0: count is absent.
				require.Zero(t, drops[0].Count, "the 5-line replay did not fit: no count")
				require.Contains(t, drops[0].Message, "may have left the retained buffer")
			}
			require.Equal(t, []string{"live"}, messages(ms))
		})
	}
}
