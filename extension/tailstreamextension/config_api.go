package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jobcatalog"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
)

// registerConfigRoutes adds the health and runtime-config endpoints of both halves.
func (t *tailstream) registerConfigRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/health/tracing", t.withRole(roleTraceViewer, t.handleHealthTracing))
	mux.HandleFunc("GET /api/v1/health/logging", t.withRole(roleLogViewer, t.handleHealthLogging))
	mux.HandleFunc("GET /api/v1/config/tracing", t.withRole(roleTraceViewer, t.handleGetTracingConfig))
	mux.HandleFunc("PUT /api/v1/config/tracing", t.withRole(roleAdmin, t.handlePutTracingConfig))
	mux.HandleFunc("GET /api/v1/config/logging", t.withRole(roleLogViewer, t.handleGetLoggingConfig))
	mux.HandleFunc("PUT /api/v1/config/logging", t.withRole(roleAdmin, t.handlePutLoggingConfig))
}

// runtimeNote is said in every config answer and in the README: PUT changes live in memory.
const runtimeNote = "changes made with PUT are effective until the collector restarts; the collector YAML stays the source of truth"

// durationJSON is a time.Duration written as Go duration text ("30s").
type durationJSON time.Duration

func (d durationJSON) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *durationJSON) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`durations are strings such as "30s" or "1h"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationJSON(v)
	return nil
}

type circuitBreakerJSON struct {
	FailureThreshold *int          `json:"failure_threshold,omitempty"`
	OpenDuration     *durationJSON `json:"open_duration,omitempty"`
}

// backendJSON is a backend in the config API. Header values are write-only: GET shows their
// names, and a PUT that names an existing backend without headers keeps its headers.
type backendJSON struct {
	Name           string             `json:"name,omitempty"`
	Type           string             `json:"type"`
	Endpoint       string             `json:"endpoint,omitempty"`
	URLTemplate    string             `json:"url_template,omitempty"`
	Timeout        *durationJSON      `json:"timeout,omitempty"`
	Headers        map[string]string  `json:"headers,omitempty"`
	HeaderNames    []string           `json:"header_names,omitempty"`
	CircuitBreaker circuitBreakerJSON `json:"circuit_breaker"`
}

type traceCacheJSON struct {
	MaxBytes     *int64        `json:"max_bytes,omitempty"`
	MaxAge       *durationJSON `json:"max_age,omitempty"`
	RefetchAfter *durationJSON `json:"refetch_after,omitempty"`
}

type jobCatalogJSON struct {
	MaxJobs *int `json:"max_jobs,omitempty"`
}

// tracingConfigJSON is the body of GET and PUT /config/tracing. In a PUT, absent fields keep
// their value and backends, when present, replaces the whole list.
type tracingConfigJSON struct {
	TraceURLTemplate *string         `json:"trace_url_template,omitempty"`
	TraceCache       *traceCacheJSON `json:"trace_cache,omitempty"`
	JobCatalog       *jobCatalogJSON `json:"job_catalog,omitempty"`
	Backends         *[]backendJSON  `json:"backends,omitempty"`
}

type configAnswer struct {
	Config                any    `json:"config"`
	EffectiveUntilRestart bool   `json:"effective_until_restart"`
	Modified              bool   `json:"modified_at_runtime"`
	Note                  string `json:"note"`
}

func ptr[T any](v T) *T { return &v }

func tracingConfigView(s tracequery.Settings) tracingConfigJSON {
	c := tracesConfigOf(s)
	out := tracingConfigJSON{
		TraceURLTemplate: ptr(c.TraceURLTemplate),
		TraceCache: &traceCacheJSON{
			MaxBytes: ptr(c.TraceCache.MaxBytes), MaxAge: ptr(durationJSON(c.TraceCache.MaxAge)),
			RefetchAfter: ptr(durationJSON(c.TraceCache.RefetchAfter)),
		},
		JobCatalog: &jobCatalogJSON{MaxJobs: ptr(c.JobCatalog.MaxJobs)},
	}
	bs := make([]backendJSON, len(c.Backends))
	for i, b := range c.Backends {
		bs[i] = backendJSON{
			// Redacted here, so every answer and the audit log built from this view are.
			Name: b.name(i), Type: b.Type, Endpoint: backends.RedactURL(b.Endpoint), URLTemplate: backends.RedactURL(b.URLTemplate),
			Timeout: ptr(durationJSON(b.Timeout)),
			CircuitBreaker: circuitBreakerJSON{
				FailureThreshold: ptr(b.CircuitBreaker.FailureThreshold),
				OpenDuration:     ptr(durationJSON(b.CircuitBreaker.OpenDuration)),
			},
		}
		for k := range b.Headers.Iter {
			bs[i].HeaderNames = append(bs[i].HeaderNames, k)
		}
		slices.Sort(bs[i].HeaderNames)
	}
	out.Backends = &bs
	return out
}

func (t *tailstream) handleGetTracingConfig(w http.ResponseWriter, _ *http.Request, p *principal) {
	modified := t.traces.Modified()
	view := tracingConfigView(t.traces.Settings())
	if !p.can(roleAdmin) {
		// Where the backends are is for admins (header values are never shown to anyone).
		for i := range *view.Backends {
			(*view.Backends)[i].Endpoint = ""
		}
	}
	writeJSON(w, http.StatusOK, configAnswer{Config: view, EffectiveUntilRestart: modified, Modified: modified, Note: runtimeNote})
}

func (t *tailstream) handlePutTracingConfig(w http.ResponseWriter, r *http.Request, p *principal) {
	var in tracingConfigJSON
	if !decodeBody(w, r, &in) {
		return
	}
	applied, err := t.traces.Update(func(cur tracequery.Settings) (tracequery.Settings, error) {
		next := mergeTracingConfig(tracesConfigOf(cur), in)
		if err := next.validate(); err != nil {
			return cur, err
		}
		return next.settings(), nil
	})
	if err != nil {
		validationError(w, err)
		return
	}
	view := tracingConfigView(applied)
	t.audit(p, "config.tracing.update", zap.Any("config", view))
	t.settings.Logger.Info("tracing settings changed through the API until restart", zap.String("user", p.Name))
	writeJSON(w, http.StatusOK, configAnswer{Config: view, EffectiveUntilRestart: true, Modified: true, Note: runtimeNote})
}

// mergeTracingConfig applies a PUT body to cur: absent fields keep their value; backends,
// when present, replaces the list. A backend named like a current one keeps that one's client
// settings (TLS, auth, and its headers unless the body sends headers), which the API cannot
// express.
func mergeTracingConfig(cur TracesConfig, in tracingConfigJSON) TracesConfig {
	next := cur
	if in.TraceURLTemplate != nil {
		next.TraceURLTemplate = *in.TraceURLTemplate
	}
	if c := in.TraceCache; c != nil {
		if c.MaxBytes != nil {
			next.TraceCache.MaxBytes = *c.MaxBytes
		}
		if c.MaxAge != nil {
			next.TraceCache.MaxAge = time.Duration(*c.MaxAge)
		}
		if c.RefetchAfter != nil {
			next.TraceCache.RefetchAfter = time.Duration(*c.RefetchAfter)
		}
	}
	if in.JobCatalog != nil && in.JobCatalog.MaxJobs != nil {
		next.JobCatalog.MaxJobs = *in.JobCatalog.MaxJobs
	}
	if in.Backends == nil {
		return next
	}
	next.Backends = make([]BackendConfig, len(*in.Backends))
	for i, b := range *in.Backends {
		bc := newBackendConfig()
		if b.Name != "" {
			for j := range cur.Backends {
				if cur.Backends[j].name(j) == b.Name {
					bc.ClientConfig = cur.Backends[j].ClientConfig
				}
			}
		}
		bc.Name, bc.Type, bc.Endpoint, bc.URLTemplate, bc.Timeout = b.Name, b.Type, b.Endpoint, b.URLTemplate, 0
		if b.Timeout != nil {
			bc.Timeout = time.Duration(*b.Timeout)
		}
		if b.CircuitBreaker.FailureThreshold != nil {
			bc.CircuitBreaker.FailureThreshold = *b.CircuitBreaker.FailureThreshold
		}
		if b.CircuitBreaker.OpenDuration != nil {
			bc.CircuitBreaker.OpenDuration = time.Duration(*b.CircuitBreaker.OpenDuration)
		}
		if b.Headers != nil {
			bc.Headers = make(configopaque.MapList, 0, len(b.Headers))
			for k, v := range b.Headers {
				bc.Headers.Set(k, configopaque.String(v))
			}
		}
		next.Backends[i] = bc
	}
	return next
}

// healthTracingView is /health/tracing as one caller may see it: backend endpoints for admins
// only (redacted even then), global cache and catalog counts for unscoped callers only.
type healthTracingView struct {
	Status     string            `json:"status"`
	Backends   []backends.Status `json:"backends"`
	TraceCache *tracecache.Stats `json:"trace_cache,omitempty"`
	JobCatalog *jobcatalog.Stats `json:"job_catalog,omitempty"`
}

func (t *tailstream) handleHealthTracing(w http.ResponseWriter, r *http.Request, p *principal) {
	// Probes are rate-limited in the service (one per backend per 15 s whoever asks).
	h := t.traces.Health(r.Context(), r.URL.Query().Get("probe") != "false")
	v := healthTracingView{Status: h.Status, Backends: h.Backends}
	if !p.Scoped() {
		v.TraceCache, v.JobCatalog = &h.TraceCache, &h.JobCatalog
	}
	if !p.can(roleAdmin) {
		for i := range v.Backends {
			v.Backends[i].Endpoint = ""
		}
	}
	writeJSON(w, http.StatusOK, v)
}

func (t *tailstream) handleHealthLogging(w http.ResponseWriter, _ *http.Request, p *principal) {
	out := t.logsHealth()
	if p.Scoped() {
		// How many lines and streams the whole collector holds is not a scoped viewer's to know.
		delete(out, "buffer_head_seq")
		delete(out, "buffer_bytes")
		delete(out, "active_streams")
	}
	out["status"] = "ok"
	out["streams_settings_modified_at_runtime"] = t.streams.modified()
	if sh := t.store.health(); sh != nil {
		out["store"] = sh
	}
	writeJSON(w, http.StatusOK, out)
}

// loggingConfigJSON is the body of GET and PUT /config/logging. Only the per-request stream
// settings are tunable at runtime; the rest is shown read-only (the ring and the hub are sized
// at start).
type loggingConfigJSON struct {
	Streams   *streamsTunableJSON `json:"streams,omitempty"`
	Retention *retentionJSON      `json:"retention,omitempty"`
	ReadOnly  *loggingReadOnly    `json:"read_only,omitempty"`
}

type streamsTunableJSON struct {
	DefaultRateLimit  *int `json:"default_rate_limit,omitempty"`
	MaxRateLimit      *int `json:"max_rate_limit,omitempty"`
	DefaultBufferSize *int `json:"default_buffer_size,omitempty"`
	MaxBufferSize     *int `json:"max_buffer_size,omitempty"`
	MaxHistoryLimit   *int `json:"max_history_limit,omitempty"`
}

type retentionJSON struct {
	BufferSize *int          `json:"buffer_size,omitempty"`
	MaxAge     *durationJSON `json:"max_age,omitempty"`
}

type loggingReadOnly struct {
	Retention         retentionJSON `json:"retention"`
	MaxStreams        int           `json:"max_streams"`
	MaxStreamsPerUser int           `json:"max_streams_per_user"`
	Expiry            durationJSON  `json:"expiry"`
	IdleTimeout       durationJSON  `json:"idle_timeout"`
}

func (t *tailstream) loggingConfigView() loggingConfigJSON {
	sc := t.streamsConfig()
	return loggingConfigJSON{
		Streams: &streamsTunableJSON{
			DefaultRateLimit: ptr(sc.DefaultRateLimit), MaxRateLimit: ptr(sc.MaxRateLimit),
			DefaultBufferSize: ptr(sc.DefaultBufferSize), MaxBufferSize: ptr(sc.MaxBufferSize),
			MaxHistoryLimit: ptr(sc.MaxHistoryLimit),
		},
		ReadOnly: &loggingReadOnly{
			Retention:         retentionJSON{BufferSize: ptr(t.cfg.Retention.BufferSize), MaxAge: ptr(durationJSON(t.cfg.Retention.MaxAge))},
			MaxStreams:        sc.MaxStreams,
			MaxStreamsPerUser: sc.MaxStreamsPerUser,
			Expiry:            durationJSON(sc.Expiry),
			IdleTimeout:       durationJSON(sc.IdleTimeout),
		},
	}
}

// streamsConfig is the effective stream settings: the YAML's, or a runtime PUT's.
func (t *tailstream) streamsConfig() StreamsConfig { return t.streams.get() }

func (t *tailstream) handleGetLoggingConfig(w http.ResponseWriter, _ *http.Request, _ *principal) {
	modified := t.streams.modified()
	writeJSON(w, http.StatusOK, configAnswer{Config: t.loggingConfigView(), EffectiveUntilRestart: modified, Modified: modified, Note: runtimeNote})
}

func (t *tailstream) handlePutLoggingConfig(w http.ResponseWriter, r *http.Request, p *principal) {
	var in loggingConfigJSON
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Retention != nil || in.ReadOnly != nil {
		field := "retention"
		if in.ReadOnly != nil {
			field = "read_only"
		}
		writeError(w, http.StatusBadRequest, "not_tunable", field+" is sized at start and cannot change at runtime; change the collector YAML and restart", field)
		return
	}
	err := t.streams.update(func(next StreamsConfig) (StreamsConfig, error) {
		if s := in.Streams; s != nil {
			set := func(dst *int, v *int) {
				if v != nil {
					*dst = *v
				}
			}
			set(&next.DefaultRateLimit, s.DefaultRateLimit)
			set(&next.MaxRateLimit, s.MaxRateLimit)
			set(&next.DefaultBufferSize, s.DefaultBufferSize)
			set(&next.MaxBufferSize, s.MaxBufferSize)
			set(&next.MaxHistoryLimit, s.MaxHistoryLimit)
		}
		check := LogsConfig{Retention: t.cfg.Retention, Streams: next}
		return next, check.validate()
	})
	if err != nil {
		validationError(w, err)
		return
	}
	view := t.loggingConfigView()
	t.audit(p, "config.logging.update", zap.Any("streams", view.Streams))
	writeJSON(w, http.StatusOK, configAnswer{Config: view, EffectiveUntilRestart: true, Modified: true, Note: runtimeNote})
}

// streamSettings holds the log side's runtime settings: the YAML's stream settings, replaced
// by a PUT /config/logging until restart.
type streamSettings struct {
	yaml     StreamsConfig
	mu       sync.Mutex // serialises updates (read-modify-write)
	override atomic.Pointer[StreamsConfig]
}

func newStreamSettings(yaml StreamsConfig) *streamSettings { return &streamSettings{yaml: yaml} }

func (s *streamSettings) get() StreamsConfig {
	if sc := s.override.Load(); sc != nil {
		return *sc
	}
	return s.yaml
}

func (s *streamSettings) modified() bool { return s.override.Load() != nil }

// update installs change's answer to the current settings unless it fails.
func (s *streamSettings) update(change func(StreamsConfig) (StreamsConfig, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := change(s.get())
	if err != nil {
		return err
	}
	s.override.Store(&next)
	return nil
}
