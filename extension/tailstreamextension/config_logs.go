package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"errors"
	"time"
)

// RetentionConfig bounds the ring buffer of recent logs that serves tail_lines, since and resume.
type RetentionConfig struct {
	BufferSize int           `mapstructure:"buffer_size"`
	MaxAge     time.Duration `mapstructure:"max_age"`
}

// LogsConfig holds the live log stream settings.
type LogsConfig struct {
	Retention RetentionConfig `mapstructure:"retention"`
}

func defaultLogsConfig() LogsConfig {
	return LogsConfig{
		Retention: RetentionConfig{BufferSize: 100_000, MaxAge: 60 * time.Minute},
	}
}

func (c *LogsConfig) validate() error {
	var errs error
	if c.Retention.BufferSize <= 0 {
		errs = errors.Join(errs, errors.New("retention.buffer_size: must be positive"))
	}
	if c.Retention.MaxAge <= 0 {
		errs = errors.Join(errs, errors.New("retention.max_age: must be positive"))
	}
	return errs
}
