package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"errors"
	"fmt"
	"net"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/confignet"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
)

const defaultEndpoint = "localhost:8088"

// Config is the tailstream extension's configuration. The log-stream settings live in
// config_logs.go and the trace settings in config_traces.go so each part validates itself.
type Config struct {
	confighttp.ServerConfig `mapstructure:",squash"`

	LogsConfig   `mapstructure:",squash"`
	TracesConfig `mapstructure:",squash"`

	// Store is the durable tier read when memory cannot answer (config_store.go).
	Store StoreConfig `mapstructure:"store"`

	// Users of the built-in RBAC. Empty means no authentication, which Start only allows on a
	// loopback endpoint (or behind a collector auth extension).
	Users []UserConfig `mapstructure:"users"`

	// PublicURL is the base URL clients reach the API at, e.g. https://jobtrace.example.com
	// behind a proxy; the stream endpoints of POST /logs/streams are built from it. Empty: from
	// the listen address when it names a host, else paths relative to the API. The request's
	// Host and X-Forwarded-* headers are never used: a client chooses them.
	PublicURL string `mapstructure:"public_url"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	srv := confighttp.NewDefaultServerConfig()
	srv.NetAddr = confignet.AddrConfig{Endpoint: defaultEndpoint, Transport: confignet.TransportTypeTCP}
	// Live streams are long-lived responses: a write timeout would cut them (see clearDeadlines
	// in stream_conn.go).
	srv.WriteTimeout = 0
	return &Config{
		ServerConfig: srv,
		LogsConfig:   defaultLogsConfig(),
		TracesConfig: defaultTracesConfig(),
	}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.NetAddr.Endpoint == "" {
		errs = errors.Join(errs, errors.New("endpoint: must not be empty"))
	} else if _, _, err := net.SplitHostPort(cfg.NetAddr.Endpoint); err != nil {
		errs = errors.Join(errs, fmt.Errorf("endpoint: %w", err))
	}
	if cfg.PublicURL != "" {
		if err := backends.ValidateEndpoint(cfg.PublicURL); err != nil {
			errs = errors.Join(errs, fmt.Errorf("public_url: %w", err))
		}
	}
	errs = errors.Join(errs, cfg.LogsConfig.validate(), cfg.TracesConfig.validate(), cfg.Store.validate(), validateUsers(cfg.Users))
	return errs
}
