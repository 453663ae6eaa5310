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
