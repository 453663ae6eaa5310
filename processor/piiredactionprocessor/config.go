package piiredactionprocessor // import "github.com/jobtrace/jobtrace/processor/piiredactionprocessor"

import (
	"go.opentelemetry.io/collector/component"
)

// Config is the piiredaction processor's configuration.
type Config struct {
	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	return nil
}
