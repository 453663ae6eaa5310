package timeparam

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                            {},
		"15m":                         now.Add(-15 * time.Minute),
		"1h30m":                       now.Add(-90 * time.Minute),
		"0s":                          now,
		"2025-09-14T18:00:00Z":        time.Date(2025, 9, 14, 18, 0, 0, 0, time.UTC),
		"2025-09-14T18:00:00.5+02:00": time.Date(2025, 9, 14, 16, 0, 0, 5e8, time.UTC),
	} {
		got, err := Parse(in, now)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%q: got %v want %v", in, got, want)
	}
}

func TestParseRejects(t *testing.T) {
	now := time.Now()
	for in, msg := range map[string]string{
		"-15m":       "must not be negative",
		"yesterday":  "neither an RFC 3339 time",
		"2025-09-14": "neither an RFC 3339 time",
		"15":         "neither an RFC 3339 time",
	} {
		_, err := Parse(in, now)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg, in)
		assert.Contains(t, err.Error(), in, "the message quotes the value")
	}
}
