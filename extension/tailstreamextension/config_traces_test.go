package tailstreamextension

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
)

func TestTracesConfigDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, TracesConfig{
		TraceCache:       TraceCacheConfig{MaxBytes: 100 << 20, MaxAge: time.Hour, RefetchAfter: 30 * time.Second},
		TraceURLTemplate: "http://localhost:16686/trace/{trace_id}",
		JobCatalog:       JobCatalogConfig{MaxJobs: 10000},
	}, cfg.TracesConfig)
}

func TestLoadTracesConfig(t *testing.T) {
	cfg, err := loadConfig(t, "config_traces.yaml", "traces")
	require.NoError(t, err)
	assert.Equal(t, TracesConfig{
		TraceCache:       TraceCacheConfig{MaxBytes: 50 << 20, MaxAge: 30 * time.Minute, RefetchAfter: time.Minute},
		TraceURLTemplate: "https://jaeger.example.com/trace/{trace_id}",
		JobCatalog:       JobCatalogConfig{MaxJobs: 2000, JobIDAttributes: []string{"app.job_id"}, JobIDSpansAreJobs: true},
		Backends: []BackendConfig{
			backendConfig("jaeger-prod", "jaeger", "http://jaeger-query:16686", func(b *BackendConfig) {
				b.URLTemplate, b.Timeout = "http://jaeger:16686/trace/{trace_id}", 3*time.Second
				b.Headers = configopaque.MapList{{Name: "Authorization", Value: "Bearer s3cret-jaeger"}}
				b.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 3, OpenDuration: time.Minute}
			}),
			backendConfig("", "zipkin", "https://zipkin.example.com:9411", nil),
		},
	}, cfg.TracesConfig)

	cfg, err = loadConfig(t, "config_traces.yaml", "many_backends")
	require.NoError(t, err)
	assert.Len(t, cfg.Backends, 12)
}

func TestTracesConfigInvalid(t *testing.T) {
	_, err := loadConfig(t, "config_traces.yaml", "bad_traces")
	require.Error(t, err)
	for _, want := range []string{
		"trace_cache.max_bytes: must be positive",
		"trace_cache.max_age: must be positive",
		"trace_cache.refetch_after: must not be negative",
		"job_catalog.max_jobs: must be positive",
		"job_catalog.job_id_attributes[0]: must not be empty",
		"trace_url_template: must contain {trace_id}",
		`backends[0].type: "tempo" is not supported`,
		"backends[0].endpoint: scheme must be http or https",
		"backends[1].endpoint: scheme must be http or https",
		"backends[1].url_template: must contain {trace_id}",
		"backends[1].timeout: must not be negative",
		"backends[1].circuit_breaker.failure_threshold: must not be negative",
		"backends[1].circuit_breaker.open_duration: must not be negative",
		"backends[2].type: must be set",
		"backends[2].endpoint: must be set",
		`backends[2].name: "dup" already used by backends[1]`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestJobCatalogSettingsRoundTrip(t *testing.T) {
	c := defaultTracesConfig()
	c.JobCatalog.JobIDAttributes = []string{"app.job_id"}
	c.JobCatalog.JobIDSpansAreJobs = true
	back := tracesConfigOf(c.settings())
	assert.Equal(t, c.JobCatalog, back.JobCatalog, "PUT /config/tracing keeps the span-job settings")
}

func TestEmptyTraceURLTemplateMeansDefault(t *testing.T) {
	// collector.yaml writes ${env:TRACE_URL_TEMPLATE:-}: unset must still give a trace_url.
	cfg := createDefaultConfig().(*Config)
	cfg.TraceURLTemplate = ""
	require.NoError(t, cfg.Validate())
	svc, err := tracequery.New(cfg.TracesConfig.settings(), tracequery.Options{})
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:16686/trace/"+t1, svc.TraceURL(t1, ""))
}
