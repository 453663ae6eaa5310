package tailstreamextension

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeSyscalls is this process's count of write syscalls so far (/proc/self/io's syscw).
func writeSyscalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/io")
	return 0
}

// A WebSocket client without ?batch=true still gets one message per entry, but a backlog
// leaves in a few writes, not one per line: 1,000 replayed lines were 1,000 syscalls.
func TestWebSocketBacklogLeavesInFewWrites(t *testing.T) {
	srv := startServer(t, nil)
	const n = 1000
	recs := make([]rec, n)
	for i := range recs {
		recs[i] = rec{msg: "line " + strconv.Itoa(i), service: "svc", job: "j1"}
	}
	srv.publish(t, recs...)
	st := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}, "options": map[string]any{"tail_lines": n, "follow": true}})

	before := writeSyscalls(t)
	c := dialWS(t, st.Endpoint, "", nil)
	got := entries(readWS(t, c, nEntries(n)))
	writes := writeSyscalls(t) - before

	require.Len(t, got, n)
	for i, m := range got {
		require.Equal(t, "line "+strconv.Itoa(i), m.Message, "one entry per message, in order")
	}
	t.Logf("%d lines replayed in %d write syscalls (the whole process, client included)", n, writes)
	assert.Less(t, writes, n/10)
}
