package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"errors"
	"fmt"
	"time"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"
)

// RetentionConfig bounds the ring buffer of recent logs that serves tail_lines, since, resume
// and /logs/history. Whichever bound is reached first drops the oldest lines.
type RetentionConfig struct {
	// BufferSize is the number of log lines kept (oldest are overwritten).
	BufferSize int `mapstructure:"buffer_size"`
	// MaxAge hides lines older than this even when the buffer is not full.
	MaxAge time.Duration `mapstructure:"max_age"`
	// MaxBytes bounds the lines kept by their estimated heap bytes (ring.Entry.Size; 0: no
	// byte bound). It is the bound that means memory: a count alone lets 100,000 lines of
	// 10 KB take 1 GB.
	MaxBytes int64 `mapstructure:"max_bytes"`
}

// defaultRingBytes holds ~84,000 app lines with a trace id (~400 B each) or ~31,000 zap
// worker lines (~1 KB) in 32 MiB of heap; what it costs and saves in a burst is in
// docs/BENCHMARKS.md ("Burst").
const defaultRingBytes = 32 << 20

// StreamsConfig holds the limits of live log streams.
type StreamsConfig struct {
	// Enabled false turns live streams off (the rollback switch for streaming): history and
	// the trace API stay up.
	Enabled bool `mapstructure:"enabled"`
	// MaxStreams bounds the streams that exist at once, over all users.
	MaxStreams int `mapstructure:"max_streams"`
	// MaxStreamsPerUser bounds the streams one user may hold.
	MaxStreamsPerUser int `mapstructure:"max_streams_per_user"`
	// Expiry is how long a stream lives after creation or its last PATCH.
	Expiry time.Duration `mapstructure:"expiry"`
	// IdleTimeout deletes a stream that has had no client attached for this long.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxFilterBytes bounds the size of a stream's filters (JSON) including the OTTL condition.
	MaxFilterBytes int `mapstructure:"max_filter_bytes"`
	// DefaultRateLimit (lines/s) applies when a stream does not ask for one.
	DefaultRateLimit int `mapstructure:"default_rate_limit"`
	// MaxRateLimit caps what a stream may ask for.
	MaxRateLimit int `mapstructure:"max_rate_limit"`
	// DefaultBufferSize is a stream's queue length (lines) when it does not ask for one.
	DefaultBufferSize int `mapstructure:"default_buffer_size"`
	// MaxBufferSize caps what a stream may ask for.
	MaxBufferSize int `mapstructure:"max_buffer_size"`
	// PingInterval is how often WebSocket pings and SSE comments keep connections alive.
	PingInterval time.Duration `mapstructure:"ping_interval"`
	// MaxHistoryLimit caps the page size of /logs/history.
	MaxHistoryLimit int `mapstructure:"max_history_limit"`
	// LateWindow is how long a line without a job but with a trace or span id may still be
	// attributed (and delivered to the job's streams) once its job becomes known. Keep it at
	// jobcorrelation's hold.max_wait: the live tail then attributes within the export path's bound.
	LateWindow time.Duration `mapstructure:"late_window"`
	// ReplayOrderLines bounds the replay orders all streams keep, in lines (4 bytes each): they
	// place a client that resumes mid-replay after its last line left the ring. A replay that
	// does not fit is not kept, and such a resume is told of a retention drop it cannot count.
	ReplayOrderLines int `mapstructure:"replay_order_lines"`
	// FilterBudget is the CPU time one line's text/OTTL evaluation may take on one stream (wall
	// time where the platform has no thread clock); a stream that exceeds it 5 times within
	// 10 s is closed (filter_too_slow).
	FilterBudget time.Duration `mapstructure:"filter_budget"`
}

// LogsConfig holds the live log stream settings.
type LogsConfig struct {
	Retention RetentionConfig `mapstructure:"retention"`
	Streams   StreamsConfig   `mapstructure:"streams"`
}

func defaultLogsConfig() LogsConfig {
	return LogsConfig{
		Retention: RetentionConfig{BufferSize: 100_000, MaxAge: 60 * time.Minute, MaxBytes: defaultRingBytes},
		Streams: StreamsConfig{
			Enabled:           true,
			MaxStreams:        500,
			MaxStreamsPerUser: 20,
			Expiry:            time.Hour,
			IdleTimeout:       5 * time.Minute,
			MaxFilterBytes:    4096,
			DefaultRateLimit:  1000,
			MaxRateLimit:      100_000,
			DefaultBufferSize: 1000,
			MaxBufferSize:     100_000,
			PingInterval:      20 * time.Second,
			MaxHistoryLimit:   1000,
			LateWindow:        5 * time.Second,
			FilterBudget:      20 * time.Millisecond,
			ReplayOrderLines:  hub.DefaultLimits().ReplayOrder,
		},
	}
}

func (c *LogsConfig) validate() error {
	var errs error
	positive := func(key string, v int) {
		if v <= 0 {
			errs = errors.Join(errs, fmt.Errorf("%s: must be positive", key))
		}
	}
	positiveDur := func(key string, v time.Duration) {
		if v <= 0 {
			errs = errors.Join(errs, fmt.Errorf("%s: must be positive", key))
		}
	}
	positive("retention.buffer_size", c.Retention.BufferSize)
	positiveDur("retention.max_age", c.Retention.MaxAge)
	if c.Retention.MaxBytes < 0 {
		errs = errors.Join(errs, errors.New("retention.max_bytes: must not be negative (0: no byte bound)"))
	}
	s := c.Streams
	positive("streams.max_streams", s.MaxStreams)
	positive("streams.max_streams_per_user", s.MaxStreamsPerUser)
	positiveDur("streams.expiry", s.Expiry)
	positiveDur("streams.idle_timeout", s.IdleTimeout)
	positive("streams.max_filter_bytes", s.MaxFilterBytes)
	positive("streams.default_rate_limit", s.DefaultRateLimit)
	positive("streams.max_rate_limit", s.MaxRateLimit)
	positive("streams.default_buffer_size", s.DefaultBufferSize)
	positive("streams.max_buffer_size", s.MaxBufferSize)
	positiveDur("streams.ping_interval", s.PingInterval)
	positiveDur("streams.late_window", s.LateWindow)
	positiveDur("streams.filter_budget", s.FilterBudget)
	positive("streams.max_history_limit", s.MaxHistoryLimit)
	positive("streams.replay_order_lines", s.ReplayOrderLines)
	if s.MaxStreamsPerUser > s.MaxStreams && s.MaxStreams > 0 {
		errs = errors.Join(errs, fmt.Errorf("streams.max_streams_per_user: %d exceeds streams.max_streams (%d)", s.MaxStreamsPerUser, s.MaxStreams))
	}
	if s.DefaultRateLimit > s.MaxRateLimit && s.MaxRateLimit > 0 {
		errs = errors.Join(errs, fmt.Errorf("streams.default_rate_limit: %d exceeds streams.max_rate_limit (%d)", s.DefaultRateLimit, s.MaxRateLimit))
	}
	if s.DefaultBufferSize > s.MaxBufferSize && s.MaxBufferSize > 0 {
		errs = errors.Join(errs, fmt.Errorf("streams.default_buffer_size: %d exceeds streams.max_buffer_size (%d)", s.DefaultBufferSize, s.MaxBufferSize))
	}
	return errs
}
