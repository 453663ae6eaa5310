package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"errors"
	"time"
)

// TraceCacheConfig bounds the cache of spans that flowed through this collector.
type TraceCacheConfig struct {
	MaxBytes int64         `mapstructure:"max_bytes"`
	MaxAge   time.Duration `mapstructure:"max_age"`
}

// TracesConfig holds the trace drill-down settings.
type TracesConfig struct {
	TraceCache TraceCacheConfig `mapstructure:"trace_cache"`
}

func defaultTracesConfig() TracesConfig {
	return TracesConfig{
		TraceCache: TraceCacheConfig{MaxBytes: 100 << 20, MaxAge: time.Hour},
	}
}

func (c *TracesConfig) validate() error {
	var errs error
	if c.TraceCache.MaxBytes <= 0 {
		errs = errors.Join(errs, errors.New("trace_cache.max_bytes: must be positive"))
	}
	if c.TraceCache.MaxAge <= 0 {
		errs = errors.Join(errs, errors.New("trace_cache.max_age: must be positive"))
	}
	return errs
}
