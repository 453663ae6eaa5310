package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"
)

// StoreConfig points the extension at the durable tier it reads when memory cannot answer.
// Traces come from the configured backends (Jaeger); logs from store.logs.
type StoreConfig struct {
	Logs LogStoreConfig `mapstructure:"logs"`
	// WarmWindow is how far back the job catalog is rebuilt from stored lifecycle logs at
	// start-up (default 1h; 0 keeps the default, negative disables the warm-up).
	WarmWindow time.Duration `mapstructure:"warm_window"`
	// WarmMaxJobs bounds the jobs the warm-up loads (default: job_catalog.max_jobs).
	WarmMaxJobs int `mapstructure:"warm_max_jobs"`
	// SyncInterval re-reads the lifecycle logs stored since the last read, so that a gateway's
	// job list also holds the jobs other gateways saw (0 disables; default 0).
	SyncInterval time.Duration `mapstructure:"sync_interval"`
	// Tail follows the lines the other gateways store, so this gateway's live streams and
	// job list also get them (store_tail.go).
	Tail StoreTailConfig `mapstructure:"tail"`
}

// StoreTailConfig is the cross-gateway live tail.
type StoreTailConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Gateway is this gateway's name, the value its exporter stamps in the jobtrace.gateway
	// field (VL-Extra-Fields); its own lines are left out of the tail. Required when enabled.
	Gateway string `mapstructure:"gateway"`
	// Delay reads the store this far behind now, so lines that reach it late are not skipped
	// (default 7s: jobcorrelation's 5s hold, a batch and the store's flush). Lines of other
	// gateways arrive on this gateway's streams about that late.
	Delay time.Duration `mapstructure:"delay"`
	// BackfillMaxLines bounds the lines read back from the store into live streams after a
	// reconnect (default 10000); the rest of such a gap is reported in band as dropped
	// (store_gap).
	BackfillMaxLines int `mapstructure:"backfill_max_lines"`
}

// LogStoreConfig is the log store (type victorialogs).
type LogStoreConfig struct {
	// Type is victorialogs. Empty means no log store.
	Type string `mapstructure:"type"`
	// Endpoint is the store's base URL, e.g. http://localhost:9428.
	Endpoint string `mapstructure:"endpoint"`
	// Timeout bounds each query (default 5s).
	Timeout time.Duration `mapstructure:"timeout"`
	// Headers are sent with each query (e.g. Authorization, AccountID); never echoed.
	Headers        map[string]configopaque.String `mapstructure:"headers"`
	CircuitBreaker CircuitBreakerConfig           `mapstructure:"circuit_breaker"`
}

const (
	defaultStoreTimeout = 5 * time.Second
	defaultWarmWindow   = time.Hour
)

func (c *StoreConfig) enabled() bool { return c.Logs.Type != "" }

func (c *StoreConfig) validate() error {
	var errs error
	l := &c.Logs
	switch l.Type {
	case "":
		if l.Endpoint != "" {
			errs = errors.Join(errs, errors.New("store.logs.type: must be set (victorialogs) when store.logs.endpoint is"))
		}
		return errs
	case logstore.TypeVictoriaLogs:
	default:
		errs = errors.Join(errs, fmt.Errorf("store.logs.type: %q is not supported (victorialogs)", l.Type))
	}
	if err := validateBaseURL(l.Endpoint); err != nil {
		errs = errors.Join(errs, fmt.Errorf("store.logs.endpoint: %w", err))
	}
	if l.Timeout < 0 {
		errs = errors.Join(errs, errors.New("store.logs.timeout: must not be negative"))
	}
	if l.CircuitBreaker.FailureThreshold < 0 {
		errs = errors.Join(errs, errors.New("store.logs.circuit_breaker.failure_threshold: must not be negative"))
	}
	if l.CircuitBreaker.OpenDuration < 0 {
		errs = errors.Join(errs, errors.New("store.logs.circuit_breaker.open_duration: must not be negative"))
	}
	if c.WarmMaxJobs < 0 {
		errs = errors.Join(errs, errors.New("store.warm_max_jobs: must not be negative"))
	}
	if c.Tail.Enabled && c.Tail.Gateway == "" {
		errs = errors.Join(errs, errors.New("store.tail.gateway: must be set when store.tail.enabled is (this gateway's jobtrace.gateway value)"))
	}
	if c.Tail.BackfillMaxLines < 0 {
		errs = errors.Join(errs, errors.New("store.tail.backfill_max_lines: must not be negative"))
	}
	if c.Tail.Delay < 0 {
		errs = errors.Join(errs, errors.New("store.tail.delay: must not be negative"))
	}
	if c.SyncInterval < 0 {
		errs = errors.Join(errs, errors.New("store.sync_interval: must not be negative"))
	}
	return errs
}

// newLogStore builds the configured store (nil when none).
func (c *StoreConfig) newLogStore() (logstore.Store, error) {
	if !c.enabled() {
		return nil, nil
	}
	l := &c.Logs
	opts := logstore.VictoriaLogsOptions{
		Name: l.Type, Endpoint: l.Endpoint, Timeout: l.Timeout,
		FailureThreshold: l.CircuitBreaker.FailureThreshold, OpenDuration: l.CircuitBreaker.OpenDuration,
	}
	if opts.Timeout == 0 {
		opts.Timeout = defaultStoreTimeout
	}
	// Zero breaker settings take the same defaults as the trace backends (5 failures, 30s).
	if len(l.Headers) > 0 {
		opts.Headers = make(map[string]string, len(l.Headers))
		for k, v := range l.Headers {
			opts.Headers[k] = string(v)
		}
	}
	return logstore.NewVictoriaLogs(opts, nil)
}

func (c *StoreConfig) warmWindow() time.Duration {
	if c.WarmWindow == 0 {
		return defaultWarmWindow
	}
	return c.WarmWindow
}
