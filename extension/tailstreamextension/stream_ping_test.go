package tailstreamextension

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeepAliveAndEstimate: SSE sends ": ping" comments and WebSocket pings (answered by the
// client library) at streams.ping_interval; estimated_rate reflects the last minute.
func TestKeepAliveAndEstimate(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.Streams.PingInterval = 20 * time.Millisecond })
	srv.publish(t, lines("j1", 1, 120)...)
	v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}})
	require.NotNil(t, v.EstimatedRate)
	assert.InDelta(t, 2.0, *v.EstimatedRate, 0.001, "120 matching lines in the last minute")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.SSEEndpoint, nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	pings := 0
	for pings < 3 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), ": ping") {
			pings++
		}
	}
	assert.Equal(t, 3, pings)

	// A WebSocket client that reads keeps answering pings; the server keeps the stream.
	c := dialWS(t, srv.create(t, "", map[string]any{}).Endpoint, "", nil)
	go func() { _, _, _ = c.Read(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	srv.publish(t, rec{msg: "after pings"})
	require.Eventually(t, func() bool {
		for _, s := range srv.ext.hub.List("") {
			if s.Stats(time.Now()).LinesStreamed == 1 && s.Filter().JobID() == "" {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}
