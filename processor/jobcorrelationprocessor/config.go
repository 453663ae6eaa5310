package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config is the jobcorrelation processor's configuration.
type Config struct {
	// MaxJobs bounds the shared job index (LRU).
	MaxJobs int `mapstructure:"max_jobs"`
	// TTL expires index entries that were not refreshed.
	TTL time.Duration `mapstructure:"ttl"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{MaxJobs: 100_000, TTL: time.Hour}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.MaxJobs <= 0 {
		errs = errors.Join(errs, errors.New("max_jobs: must be positive"))
	}
	if cfg.TTL <= 0 {
		errs = errors.Join(errs, errors.New("ttl: must be positive"))
	}
	return errs
}
