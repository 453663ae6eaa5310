package tailstreamextension

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retention.max_bytes binds before buffer_size: the oldest lines go, the newest stay, and
// /health/logging shows what the ring holds against its bound.
func TestRetentionMaxBytesDropsOldestLines(t *testing.T) {
	const maxBytes = 64 << 10
	srv := startServer(t, func(c *Config) {
		c.Retention.BufferSize = 10_000
		c.Retention.MaxBytes = maxBytes
	})
	var recs []rec
	for i := 0; i < 1000; i++ {
		recs = append(recs, rec{job: "j1", msg: "line " + strconv.Itoa(i) + " " + strings.Repeat("x", 200)})
	}
	srv.publish(t, recs...)

	code, b := srv.do(t, http.MethodGet, "/api/v1/health/logging", "", nil)
	require.Equal(t, http.StatusOK, code)
	var h map[string]any
	require.NoError(t, json.Unmarshal(b, &h))
	assert.EqualValues(t, maxBytes, h["max_bytes"])
	held := h["buffer_bytes"].(float64)
	assert.LessOrEqual(t, held, float64(maxBytes))
	assert.Greater(t, held, float64(maxBytes)/2, "the ring fills up to its bound")
	assert.EqualValues(t, 1000, h["buffer_head_seq"], "seqs go on: only storage is bounded")

	code, b = srv.do(t, http.MethodGet, "/api/v1/logs/history?job_id=j1&limit=1000", "", nil)
	require.Equal(t, http.StatusOK, code)
	var page struct {
		Entries []struct {
			Seq     uint64 `json:"seq"`
			Message string `json:"message"`
		} `json:"entries"`
		Total int `json:"total"`
	}
	require.NoError(t, json.Unmarshal(b, &page))
	require.NotEmpty(t, page.Entries)
	assert.Less(t, len(page.Entries), 1000, "the byte bound, not buffer_size, decided")
	assert.Greater(t, len(page.Entries), 100)
	assert.EqualValues(t, 1000, page.Entries[0].Seq, "newest first, and the newest stayed")
	oldest := page.Entries[len(page.Entries)-1].Seq
	assert.EqualValues(t, 1000-len(page.Entries)+1, oldest, "what went is the oldest, contiguously")
}
