package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/metadata"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// traceState is the trace half of the extension: the cache of spans, the job catalog, the
// backends, and the runtime copy of the trace settings that PUT /config/tracing changes until
// restart (YAML stays the source of truth).
type traceState struct {
	logger  *zap.Logger
	cache   *tracecache.Cache
	catalog *jobcatalog.Catalog
	client  *http.Client

	// tel is set at Start (the telemetry builder does not exist before); nil records nothing.
	tel atomic.Pointer[metadata.TelemetryBuilder]

	flightMu sync.Mutex
	flights  map[pcommon.TraceID]*inflight

	// putMu serialises PUTs of /config/tracing and /config/logging (read-modify-write).
	putMu sync.Mutex
	// streamsOverride holds the stream settings a PUT /config/logging set (nil: the YAML's).
	streamsOverride atomic.Pointer[StreamsConfig]
	runtimeModified atomic.Bool

	mu       sync.RWMutex
	cfg      TracesConfig
	backends []*backends.Backend
	// Templates of the backends, by index, for trace_url.
	templates []string
}

func newTraceState(cfg TracesConfig, logger *zap.Logger) *traceState {
	ts := &traceState{
		logger:  logger,
		cache:   tracecache.New(cfg.TraceCache.MaxBytes, cfg.TraceCache.MaxAge),
		catalog: jobcatalog.New(cfg.JobCatalog.MaxJobs),
		client:  &http.Client{},
	}
	if err := ts.apply(cfg); err != nil {
		// Validate() accepted cfg, so only an impossible backend type gets here.
		logger.Error("trace backends not configured", zap.Error(err))
	}
	return ts
}

// apply installs cfg: cache and catalog bounds change in place, backends are rebuilt (their
// breakers start closed).
func (ts *traceState) apply(cfg TracesConfig) error {
	bs := make([]*backends.Backend, 0, len(cfg.Backends))
	tpls := make([]string, 0, len(cfg.Backends))
	for i := range cfg.Backends {
		bc := &cfg.Backends[i]
		opts := backends.Options{
			Name:             bc.name(i),
			Type:             bc.Type,
			Endpoint:         bc.Endpoint,
			Timeout:          bc.Timeout,
			FailureThreshold: bc.CircuitBreaker.FailureThreshold,
			OpenDuration:     bc.CircuitBreaker.OpenDuration,
		}
		if opts.Timeout == 0 {
			opts.Timeout = defaultBackendTimeout
		}
		if opts.FailureThreshold == 0 {
			opts.FailureThreshold = defaultFailureThreshold
		}
		if opts.OpenDuration == 0 {
			opts.OpenDuration = defaultOpenDuration
		}
		if len(bc.Headers) > 0 {
			opts.Headers = make(map[string]string, len(bc.Headers))
			for k, v := range bc.Headers {
				opts.Headers[k] = string(v)
			}
		}
		b, err := backends.New(opts, ts.client)
		if err != nil {
			return err
		}
		bs = append(bs, b)
		tpls = append(tpls, bc.URLTemplate)
	}
	ts.cache.SetLimits(cfg.TraceCache.MaxBytes, cfg.TraceCache.MaxAge)
	ts.catalog.SetMax(cfg.JobCatalog.MaxJobs)
	ts.mu.Lock()
	ts.cfg, ts.backends, ts.templates = cfg, bs, tpls
	ts.mu.Unlock()
	return nil
}

func (ts *traceState) snapshot() (TracesConfig, []*backends.Backend) {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	return ts.cfg, ts.backends
}

// traceURL uses the template of the backend that served the trace, else the first backend
// with one, else trace_url_template.
func (ts *traceState) traceURL(traceID string, servedBy string) string {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	first := ""
	for i, b := range ts.backends {
		tpl := ts.templates[i]
		if tpl == "" {
			continue
		}
		if b.Name() == servedBy {
			return traceURL(tpl, traceID)
		}
		if first == "" {
			first = tpl
		}
	}
	if first == "" {
		first = ts.cfg.TraceURLTemplate
	}
	if first == "" {
		first = defaultTraceURLTemplate
	}
	return traceURL(first, traceID)
}

func (t *tailstream) traceState() *traceState { return t.traces }

func (ts *traceState) markModified()  { ts.runtimeModified.Store(true) }
func (ts *traceState) modified() bool { return ts.runtimeModified.Load() }

// shutdown drops the keep-alive connections to the backends: their reader goroutines would
// otherwise outlive the extension. In-flight fetches end with their request's context.
func (ts *traceState) shutdown() { ts.client.CloseIdleConnections() }

func (ts *traceState) setTelemetry(tb *metadata.TelemetryBuilder) { ts.tel.Store(tb) }

func (ts *traceState) countBackend(name, outcome string) {
	if tb := ts.tel.Load(); tb != nil {
		tb.TailstreamTraceBackendRequests.Add(context.Background(), 1,
			metric.WithAttributes(attribute.String("backend", name), attribute.String("outcome", outcome)))
	}
}

func (ts *traceState) countLookup(source string) {
	if tb := ts.tel.Load(); tb != nil {
		tb.TailstreamTraceLookups.Add(context.Background(), 1, metric.WithAttributes(attribute.String("source", source)))
	}
}
