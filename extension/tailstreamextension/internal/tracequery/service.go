package tracequery // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

// DefaultTraceURLTemplate points at a local Jaeger UI; it fills trace_url when neither a
// backend nor Settings.TraceURLTemplate has a template.
const DefaultTraceURLTemplate = "http://localhost:16686/trace/{trace_id}"

// Scope is what the service needs to know about a caller: whether it sees only some jobs and
// which. The HTTP layer's principal satisfies it; Unscoped sees everything.
type Scope interface {
	// Scoped reports whether the caller sees only some jobs.
	Scoped() bool
	// AllowsJob reports whether a job in queue, with attributes looked up by attr (nil: none
	// known), is in the caller's scope. An unknown value must not widen access.
	AllowsJob(queue string, attr func(key string) (string, bool)) bool
}

type unscoped struct{}

func (unscoped) Scoped() bool                                       { return false }
func (unscoped) AllowsJob(string, func(string) (string, bool)) bool { return true }

// Unscoped is the Scope of a caller who may see every job (admins, internal callers).
var Unscoped Scope = unscoped{}

// Settings are the trace side's runtime settings: what the collector YAML configures and
// PUT /config/tracing replaces until restart.
type Settings struct {
	CacheMaxBytes    int64
	CacheMaxAge      time.Duration
	RefetchAfter     time.Duration
	MaxJobs          int
	TraceURLTemplate string // "" means DefaultTraceURLTemplate
	Backends         []BackendSettings
	// JobIDAttributes are span attributes, checked before the instrumentations' own, that
	// name the job an instrumentation's CONSUMER span processed.
	JobIDAttributes []string
	// JobIDSpansAreJobs makes any span carrying job.id (not only consumer spans with a
	// message id) a job attempt. Off by default: jobcorrelation sets job.id on whole traces.
	JobIDSpansAreJobs bool
}

// BackendSettings configure one tracing backend. Zero Timeout, FailureThreshold and
// OpenDuration take the backends package's defaults.
type BackendSettings struct {
	Name             string // unique, already defaulted by the config ("<type>/<index>")
	Type             string // backends.TypeJaeger or backends.TypeZipkin
	URLTemplate      string // builds trace_url for traces this backend served
	Client           confighttp.ClientConfig
	FailureThreshold int
	OpenDuration     time.Duration
}

// ClientFactory builds the HTTP client of a backend (the extension passes its host's
// extensions, so auth extensions resolve).
type ClientFactory func(ctx context.Context, cfg confighttp.ClientConfig) (*http.Client, error)

// Metrics receives the service's counts; the extension forwards them to its telemetry.
type Metrics interface {
	// BackendRequest counts one backend fetch by outcome (found, not_found, circuit_open, error).
	BackendRequest(backend, outcome string)
	// Lookup counts one trace lookup by answer source (cache, backend, cache+backend, partial,
	// not_found, unavailable).
	Lookup(source string)
	// CatalogConflict counts one observation that disagreed with the receiver's view of a
	// job, by field (queue, status).
	CatalogConflict(field string)
}

type nopMetrics struct{}

func (nopMetrics) BackendRequest(string, string) {}
func (nopMetrics) Lookup(string)                 {}
func (nopMetrics) CatalogConflict(string)        {}

// Options are the service's collaborators. Every field may be left zero.
type Options struct {
	Logger  *zap.Logger
	Now     func() time.Time
	Metrics Metrics
	// NewClient builds backend clients; nil builds them without host extensions (no auth
	// extension resolves), which is enough before the collector starts the extension.
	NewClient ClientFactory
	// Jobs, when set, is asked for jobs the catalog does not hold.
	Jobs JobSource
}

// Service is the trace half of the extension; see the package documentation.
type Service struct {
	logger  *zap.Logger
	now     func() time.Time
	cache   *tracecache.Cache
	catalog *jobcatalog.Catalog
	jobs    JobSource
	// spanJobs are the rules of IsJobSpan's instrumentation half, swapped by Apply.
	spanJobs atomic.Pointer[spanJobRules]
	// jobTraces remembers the trace of every job id seen on any span, for JobTrace of ids
	// the catalog does not hold (spans that only carry job.id).
	jobTraces *jobTraceIndex

	// metrics may be set after New (the telemetry builder exists only from Start).
	metrics   atomic.Pointer[Metrics]
	newClient atomic.Pointer[ClientFactory]

	flightMu sync.Mutex
	flights  map[pcommon.TraceID]*inflight

	// updateMu serialises Update (read-modify-write of the settings).
	updateMu sync.Mutex
	modified atomic.Bool

	mu       sync.RWMutex
	settings Settings
	backends []*backends.Backend
	clients  []*http.Client
}

// New returns a service holding s. The cache and the catalog exist at once: the pipeline may
// publish before the extension starts. An error means a backend could not be built (a TLS
// file that cannot be read, say); the service then runs without backends until an Apply
// succeeds.
func New(s Settings, opts Options) (*Service, error) {
	svc := &Service{
		logger:  opts.Logger,
		now:     opts.Now,
		cache:   tracecache.New(s.CacheMaxBytes, s.CacheMaxAge),
		catalog: jobcatalog.New(s.MaxJobs),
		jobs:    opts.Jobs,
	}
	svc.jobTraces = newJobTraceIndex(max(s.MaxJobs, 1))
	svc.spanJobs.Store(&spanJobRules{})
	svc.catalog.OnConflict(func(field string) { (*svc.metrics.Load()).CatalogConflict(field) })
	if svc.logger == nil {
		svc.logger = zap.NewNop()
	}
	if svc.now == nil {
		svc.now = time.Now
	}
	svc.cache.SetClock(svc.now)
	svc.SetMetrics(opts.Metrics)
	svc.SetClientFactory(opts.NewClient)
	err := svc.apply(s)
	if err != nil {
		// Keep the wanted settings without live backends: the next Apply (the extension's
		// Start) tries again and fails the start with the same error.
		svc.settings = cloneSettings(s)
	}
	return svc, err
}

// SetMetrics replaces where counts go (nil: nowhere).
func (s *Service) SetMetrics(m Metrics) {
	if m == nil {
		m = nopMetrics{}
	}
	s.metrics.Store(&m)
}

// SetClientFactory replaces how backend clients are built, for the next Apply.
func (s *Service) SetClientFactory(f ClientFactory) {
	if f == nil {
		f = defaultClient
	}
	s.newClient.Store(&f)
}

func defaultClient(ctx context.Context, cfg confighttp.ClientConfig) (*http.Client, error) {
	return cfg.ToClient(ctx, nil, component.TelemetrySettings{
		Logger: zap.NewNop(), TracerProvider: nooptrace.NewTracerProvider(), MeterProvider: noop.NewMeterProvider(),
	})
}

func (s *Service) countBackend(name, outcome string) {
	(*s.metrics.Load()).BackendRequest(name, outcome)
}
func (s *Service) countLookup(source string) { (*s.metrics.Load()).Lookup(source) }

// Apply installs settings: cache and catalog bounds change in place, backends are rebuilt
// (their breakers start closed). On error nothing changes.
func (s *Service) Apply(st Settings) error { return s.apply(st) }

func (s *Service) apply(st Settings) error {
	newClient := *s.newClient.Load()
	bs := make([]*backends.Backend, 0, len(st.Backends))
	clients := make([]*http.Client, 0, len(st.Backends))
	closeAll := func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}
	for i := range st.Backends {
		bc := &st.Backends[i]
		client, err := newClient(context.Background(), bc.Client)
		if err != nil {
			closeAll()
			return errors.New("backends[" + strconv.Itoa(i) + "]: " + err.Error())
		}
		clients = append(clients, client)
		b, err := backends.New(backends.Options{
			Name: bc.Name, Type: bc.Type, Endpoint: bc.Client.Endpoint, Timeout: bc.Client.Timeout,
			FailureThreshold: bc.FailureThreshold, OpenDuration: bc.OpenDuration,
		}, client)
		if err != nil {
			closeAll()
			return errors.New("backends[" + strconv.Itoa(i) + "].type: " + err.Error())
		}
		bs = append(bs, b)
	}
	s.cache.SetLimits(st.CacheMaxBytes, st.CacheMaxAge)
	s.catalog.SetMax(st.MaxJobs)
	s.jobTraces.setMax(max(st.MaxJobs, 1))
	s.spanJobs.Store(&spanJobRules{idAttrs: append([]string(nil), st.JobIDAttributes...), jobIDSpans: st.JobIDSpansAreJobs})
	s.mu.Lock()
	old := s.clients
	s.settings, s.backends, s.clients = cloneSettings(st), bs, clients
	s.mu.Unlock()
	for _, c := range old {
		c.CloseIdleConnections()
	}
	return nil
}

func cloneSettings(st Settings) Settings {
	st.Backends = append([]BackendSettings(nil), st.Backends...)
	st.JobIDAttributes = append([]string(nil), st.JobIDAttributes...)
	return st
}

// Settings returns the settings in effect (a copy).
func (s *Service) Settings() Settings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return cloneSettings(s.settings)
}

// Update changes the settings at runtime: change gets the current ones and returns the next
// (or an error, which Update returns untouched). Updates are serialised, so concurrent PUTs
// cannot lose each other's changes.
func (s *Service) Update(change func(cur Settings) (Settings, error)) (Settings, error) {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	next, err := change(s.Settings())
	if err != nil {
		return Settings{}, err
	}
	if err := s.apply(next); err != nil {
		return Settings{}, err
	}
	s.modified.Store(true)
	return s.Settings(), nil
}

// Modified reports whether Update changed the settings since start.
func (s *Service) Modified() bool { return s.modified.Load() }

func (s *Service) snapshot() (Settings, []*backends.Backend) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.settings, s.backends
}

// TraceURL is the link to a trace in a UI: the template of the backend that served it, else
// the first backend with one, else Settings.TraceURLTemplate, else DefaultTraceURLTemplate.
func (s *Service) TraceURL(traceID, servedBy string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	first := ""
	for i, b := range s.backends {
		tpl := s.settings.Backends[i].URLTemplate
		if tpl == "" {
			continue
		}
		if b.Name() == servedBy {
			return fillTemplate(tpl, traceID)
		}
		if first == "" {
			first = tpl
		}
	}
	if first == "" {
		first = s.settings.TraceURLTemplate
	}
	if first == "" {
		first = DefaultTraceURLTemplate
	}
	return fillTemplate(first, traceID)
}

func fillTemplate(template, traceID string) string {
	return strings.ReplaceAll(template, "{trace_id}", traceID)
}

// Shutdown drops the keep-alive connections to the backends: their reader goroutines would
// otherwise outlive the extension. In-flight fetches end with their request's context.
func (s *Service) Shutdown() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
}
