package tailstreamexporter // import "github.com/jobtrace/jobtrace/exporter/tailstreamexporter"

import (
	"errors"

	"go.opentelemetry.io/collector/component"
)

// Config is the tailstream exporter's configuration.
type Config struct {
	// Extension is the ID of the tailstream extension to publish to. It must also be
	// listed in service.extensions.
	Extension component.ID `mapstructure:"extension"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	if cfg.Extension.Type().String() == "" {
		return errors.New("extension: must name a tailstream extension, e.g. `tailstream`")
	}
	return nil
}
