package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
)

// Config is the queuejob receiver's configuration.
type Config struct {
	// Endpoint is the Redis address, host:port.
	Endpoint string              `mapstructure:"endpoint"`
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`
	DB       int                 `mapstructure:"db"`

	// PollInterval is how often the queue is observed.
	PollInterval time.Duration `mapstructure:"poll_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{
		Endpoint:     "localhost:6379",
		PollInterval: 250 * time.Millisecond,
	}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.Endpoint == "" {
		errs = errors.Join(errs, errors.New("endpoint: must not be empty"))
	}
	if cfg.DB < 0 {
		errs = errors.Join(errs, errors.New("db: must not be negative"))
	}
	if cfg.PollInterval <= 0 {
		errs = errors.Join(errs, errors.New("poll_interval: must be positive"))
	}
	return errs
}
