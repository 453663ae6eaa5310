package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
)

// defaultTraceURLTemplate points at a local Jaeger UI; collector.yaml overrides it from
// TRACE_URL_TEMPLATE so trace_url is always filled in.
const defaultTraceURLTemplate = tracequery.DefaultTraceURLTemplate

// TraceCacheConfig bounds the cache of spans that flowed through this collector.
type TraceCacheConfig struct {
	// MaxBytes bounds the spans held (estimated); least recently used traces go first.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// MaxAge drops traces that received no span for this long.
	MaxAge time.Duration `mapstructure:"max_age"`
	// RefetchAfter is how long a trace fetched from the backends is answered from the cache
	// before they are asked again, when the cache still lacks part of it.
	RefetchAfter time.Duration `mapstructure:"refetch_after"`
}

// CircuitBreakerConfig protects requests from a dead backend.
type CircuitBreakerConfig struct {
	// FailureThreshold consecutive failures open the breaker.
	FailureThreshold int `mapstructure:"failure_threshold"`
	// OpenDuration is how long it stays open before one probe request is let through.
	OpenDuration time.Duration `mapstructure:"open_duration"`
}

// BackendConfig is one external tracing backend the trace API fetches from.
type BackendConfig struct {
	// Name identifies the backend in health and errors; defaults to "<type>/<index>".
	Name string `mapstructure:"name"`
	// Type is jaeger (api_v3, GET /api/v3/traces/{id}) or zipkin (v2, GET /api/v2/trace/{id}).
	Type string `mapstructure:"type"`
	// ClientConfig is the collector's HTTP client: endpoint (the base URL of the query API,
	// e.g. http://jaeger:16686), timeout (each request; default 5s), headers (never echoed by
	// the API), tls (CA, client certificates), auth (an auth extension) and the rest.
	confighttp.ClientConfig `mapstructure:",squash"`
	// URLTemplate builds trace_url, e.g. http://jaeger:16686/trace/{trace_id}.
	URLTemplate    string               `mapstructure:"url_template"`
	CircuitBreaker CircuitBreakerConfig `mapstructure:"circuit_breaker"`
}

// newBackendConfig is a backend before its YAML or API fields: the HTTP client defaults of
// confighttp (idle connection limits and timeout) apply to every backend.
func newBackendConfig() BackendConfig {
	return BackendConfig{ClientConfig: confighttp.NewDefaultClientConfig()}
}

// Unmarshal starts each backend of the list from newBackendConfig: list elements get no
// defaults from createDefaultConfig.
func (b *BackendConfig) Unmarshal(conf *confmap.Conf) error {
	*b = newBackendConfig()
	return conf.Unmarshal(b)
}

// JobCatalogConfig bounds the catalog of recent jobs behind GET /jobs.
type JobCatalogConfig struct {
	MaxJobs int `mapstructure:"max_jobs"`
	// JobIDAttributes name the job of an instrumentation's CONSUMER span, checked before the
	// instrumentations' own (bullmq.job.id, messaging.message.id, messaging.message_id).
	JobIDAttributes []string `mapstructure:"job_id_attributes"`
	// JobIDSpansAreJobs makes every span carrying job.id a job attempt (for a team whose own
	// spans set job.id per attempt). Off: jobcorrelation sets job.id on whole traces.
	JobIDSpansAreJobs bool `mapstructure:"job_id_spans_are_jobs"`
}

// TracesConfig holds the trace drill-down settings.
type TracesConfig struct {
	TraceCache TraceCacheConfig `mapstructure:"trace_cache"`
	// TraceURLTemplate builds trace_url when no backend has a url_template; empty means
	// http://localhost:16686/trace/{trace_id}.
	TraceURLTemplate string           `mapstructure:"trace_url_template"`
	Backends         []BackendConfig  `mapstructure:"backends"`
	JobCatalog       JobCatalogConfig `mapstructure:"job_catalog"`
}

func defaultTracesConfig() TracesConfig {
	return TracesConfig{
		TraceCache:       TraceCacheConfig{MaxBytes: 100 << 20, MaxAge: time.Hour, RefetchAfter: 30 * time.Second},
		TraceURLTemplate: defaultTraceURLTemplate,
		JobCatalog:       JobCatalogConfig{MaxJobs: 10_000},
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
	if c.TraceCache.RefetchAfter < 0 {
		errs = errors.Join(errs, errors.New("trace_cache.refetch_after: must not be negative"))
	}
	if c.JobCatalog.MaxJobs <= 0 {
		errs = errors.Join(errs, errors.New("job_catalog.max_jobs: must be positive"))
	}
	for i, k := range c.JobCatalog.JobIDAttributes {
		if strings.TrimSpace(k) == "" {
			errs = errors.Join(errs, fmt.Errorf("job_catalog.job_id_attributes[%d]: must not be empty", i))
		}
	}
	// Empty means the default: collector.yaml writes ${env:TRACE_URL_TEMPLATE:-}, because a
	// default inside ${...} cannot hold the braces of {trace_id}.
	if c.TraceURLTemplate != "" {
		if err := validateURLTemplate(c.TraceURLTemplate); err != nil {
			errs = errors.Join(errs, fmt.Errorf("trace_url_template: %w", err))
		}
	}
	names := map[string]int{}
	for i := range c.Backends {
		b := &c.Backends[i]
		key := fmt.Sprintf("backends[%d]", i)
		switch b.Type {
		case backends.TypeJaeger, backends.TypeZipkin:
		case "":
			errs = errors.Join(errs, fmt.Errorf("%s.type: must be set (jaeger or zipkin)", key))
		default:
			errs = errors.Join(errs, fmt.Errorf("%s.type: %q is not supported (jaeger or zipkin)", key, b.Type))
		}
		if err := backends.ValidateEndpoint(b.Endpoint); err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s.endpoint: %w", key, err))
		}
		if b.ProxyURL != "" {
			if err := validateBaseURL(b.ProxyURL); err != nil {
				errs = errors.Join(errs, fmt.Errorf("%s.proxy_url: %w", key, err))
			}
		}
		if err := b.ClientConfig.Validate(); err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s: %w", key, err))
		}
		if err := b.TLS.Validate(); err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s.tls: %w", key, err))
		}
		if b.URLTemplate != "" {
			if err := validateURLTemplate(b.URLTemplate); err != nil {
				errs = errors.Join(errs, fmt.Errorf("%s.url_template: %w", key, err))
			}
		}
		if b.Timeout < 0 {
			errs = errors.Join(errs, fmt.Errorf("%s.timeout: must not be negative", key))
		}
		if b.CircuitBreaker.FailureThreshold < 0 {
			errs = errors.Join(errs, fmt.Errorf("%s.circuit_breaker.failure_threshold: must not be negative", key))
		}
		if b.CircuitBreaker.OpenDuration < 0 {
			errs = errors.Join(errs, fmt.Errorf("%s.circuit_breaker.open_duration: must not be negative", key))
		}
		name := b.name(i)
		if j, dup := names[name]; dup {
			errs = errors.Join(errs, fmt.Errorf("%s.name: %q already used by backends[%d]", key, name, j))
		}
		names[name] = i
	}
	return errs
}

func (b *BackendConfig) name(i int) string {
	if b.Name != "" {
		return b.Name
	}
	return fmt.Sprintf("%s/%d", b.Type, i)
}

func validateBaseURL(s string) error {
	if s == "" {
		return errors.New("must be set, e.g. http://jaeger:16686")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", s)
	}
	if u.Host == "" {
		return fmt.Errorf("missing host in %q", s)
	}
	return nil
}

// validateURLTemplate checks a trace_url template. Every viewer of a trace sees the URL it
// makes, so it must not hold credentials; a query is fine (UI options such as uiEmbed).
func validateURLTemplate(s string) error {
	if !strings.Contains(s, "{trace_id}") {
		return fmt.Errorf("must contain {trace_id}, got %q", s)
	}
	u := strings.ReplaceAll(s, "{trace_id}", "0")
	if err := validateBaseURL(u); err != nil {
		return err
	}
	if backends.HasCredentials(u) {
		return errors.New("must not hold credentials (user:password@, a token or key parameter): every viewer sees trace_url")
	}
	return nil
}

// settings is what the query service runs with: names defaulted, nothing else (the
// backends package applies backend defaults, once).
func (c *TracesConfig) settings() tracequery.Settings {
	s := tracequery.Settings{
		CacheMaxBytes: c.TraceCache.MaxBytes, CacheMaxAge: c.TraceCache.MaxAge, RefetchAfter: c.TraceCache.RefetchAfter,
		MaxJobs: c.JobCatalog.MaxJobs, TraceURLTemplate: c.TraceURLTemplate,
		JobIDAttributes: append([]string(nil), c.JobCatalog.JobIDAttributes...), JobIDSpansAreJobs: c.JobCatalog.JobIDSpansAreJobs,
	}
	for i := range c.Backends {
		b := &c.Backends[i]
		s.Backends = append(s.Backends, tracequery.BackendSettings{
			Name: b.name(i), Type: b.Type, URLTemplate: b.URLTemplate, Client: b.ClientConfig,
			FailureThreshold: b.CircuitBreaker.FailureThreshold, OpenDuration: b.CircuitBreaker.OpenDuration,
		})
	}
	return s
}

// tracesConfigOf is the inverse of settings, for the runtime API's read-modify-write.
func tracesConfigOf(s tracequery.Settings) TracesConfig {
	c := TracesConfig{
		TraceCache:       TraceCacheConfig{MaxBytes: s.CacheMaxBytes, MaxAge: s.CacheMaxAge, RefetchAfter: s.RefetchAfter},
		TraceURLTemplate: s.TraceURLTemplate,
		JobCatalog: JobCatalogConfig{MaxJobs: s.MaxJobs, JobIDAttributes: append([]string(nil), s.JobIDAttributes...),
			JobIDSpansAreJobs: s.JobIDSpansAreJobs},
	}
	for _, b := range s.Backends {
		c.Backends = append(c.Backends, BackendConfig{
			Name: b.Name, Type: b.Type, URLTemplate: b.URLTemplate, ClientConfig: b.Client,
			CircuitBreaker: CircuitBreakerConfig{FailureThreshold: b.FailureThreshold, OpenDuration: b.OpenDuration},
		})
	}
	return c
}
