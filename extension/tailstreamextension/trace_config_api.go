package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
)

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
	Endpoint       string             `json:"endpoint"`
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

func tracingConfigView(c TracesConfig) tracingConfigJSON {
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
			Name: b.name(i), Type: b.Type, Endpoint: b.Endpoint, URLTemplate: b.URLTemplate,
			Timeout: ptr(durationJSON(b.Timeout)),
			CircuitBreaker: circuitBreakerJSON{
				FailureThreshold: ptr(b.CircuitBreaker.FailureThreshold),
				OpenDuration:     ptr(durationJSON(b.CircuitBreaker.OpenDuration)),
			},
		}
		for k := range b.Headers {
			bs[i].HeaderNames = append(bs[i].HeaderNames, k)
		}
		slices.Sort(bs[i].HeaderNames)
	}
	out.Backends = &bs
	return out
}

// decodeStrict decodes a JSON body, rejecting unknown fields, and writes the 400 itself.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field := ""
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field = te.Field
		} else if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
			field = m[1]
		}
		writeError(w, http.StatusBadRequest, "invalid_body", "request body: "+err.Error(), field)
		return false
	}
	return true
}

var (
	unknownFieldRE = regexp.MustCompile(`unknown field "([^"]+)"`)
	// keyRE takes the config key from a Validate() message ("backends[0].endpoint: ...").
	keyRE = regexp.MustCompile(`^([a-z_]+(\[\d+\])?(\.[a-z_]+)*):`)
)

func validationError(w http.ResponseWriter, err error) {
	msg := err.Error()
	field := ""
	if m := keyRE.FindStringSubmatch(msg); m != nil {
		field = m[1]
	}
	writeError(w, http.StatusBadRequest, "invalid_config", strings.ReplaceAll(msg, "\n", "; "), field)
}

func (t *tailstream) handleGetTracingConfig(w http.ResponseWriter, _ *http.Request, _ *principal) {
	ts := t.traceState()
	cfg, _ := ts.snapshot()
	writeJSON(w, http.StatusOK, configAnswer{
		Config: tracingConfigView(cfg), EffectiveUntilRestart: ts.modified(), Modified: ts.modified(), Note: runtimeNote,
	})
}

func (t *tailstream) handlePutTracingConfig(w http.ResponseWriter, r *http.Request, p *principal) {
	var in tracingConfigJSON
	if !decodeStrict(w, r, &in) {
		return
	}
	ts := t.traceState()
	ts.putMu.Lock()
	defer ts.putMu.Unlock()
	cur, _ := ts.snapshot()
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
	if in.Backends != nil {
		next.Backends = make([]BackendConfig, len(*in.Backends))
		for i, b := range *in.Backends {
			bc := BackendConfig{Name: b.Name, Type: b.Type, Endpoint: b.Endpoint, URLTemplate: b.URLTemplate}
			if b.Timeout != nil {
				bc.Timeout = time.Duration(*b.Timeout)
			}
			if b.CircuitBreaker.FailureThreshold != nil {
				bc.CircuitBreaker.FailureThreshold = *b.CircuitBreaker.FailureThreshold
			}
			if b.CircuitBreaker.OpenDuration != nil {
				bc.CircuitBreaker.OpenDuration = time.Duration(*b.CircuitBreaker.OpenDuration)
			}
			switch {
			case b.Headers != nil:
				bc.Headers = make(map[string]configopaque.String, len(b.Headers))
				for k, v := range b.Headers {
					bc.Headers[k] = configopaque.String(v)
				}
			case b.Name != "":
				for j := range cur.Backends {
					if cur.Backends[j].name(j) == b.Name {
						bc.Headers = cur.Backends[j].Headers
					}
				}
			}
			next.Backends[i] = bc
		}
	}
	if err := next.validate(); err != nil {
		validationError(w, err)
		return
	}
	if err := ts.apply(next); err != nil {
		validationError(w, err)
		return
	}
	ts.markModified()
	view := tracingConfigView(next)
	t.audit(p, "config.tracing.update", zap.Any("config", view))
	t.settings.Logger.Info("tracing settings changed through the API until restart", zap.String("user", p.Name))
	writeJSON(w, http.StatusOK, configAnswer{Config: view, EffectiveUntilRestart: true, Modified: true, Note: runtimeNote})
}

// probeTimeout bounds each reachability probe of /health/tracing.
const probeTimeout = 2 * time.Second

func (t *tailstream) handleHealthTracing(w http.ResponseWriter, r *http.Request, _ *principal) {
	ts := t.traceState()
	_, bs := ts.snapshot()
	probe := r.URL.Query().Get("probe") != "false"
	statuses := make([]backends.Status, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if probe {
				ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
				err := b.Probe(ctx)
				cancel()
				statuses[i] = b.Status()
				statuses[i].Reachable = ptr(err == nil)
				if err != nil && statuses[i].LastError == "" {
					statuses[i].LastError = err.Error()
				}
				return
			}
			statuses[i] = b.Status()
		}()
	}
	wg.Wait()
	status := "ok"
	for _, s := range statuses {
		if (s.Reachable != nil && !*s.Reachable) || s.Breaker == backends.StateOpen {
			status = "degraded"
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":      status,
		"backends":    statuses,
		"trace_cache": ts.cache.Stats(),
		"job_catalog": ts.catalog.Stats(),
	})
}

func (t *tailstream) handleHealthLogging(w http.ResponseWriter, _ *http.Request, _ *principal) {
	out := t.logsHealth()
	out["status"] = "ok"
	out["streams_settings_modified_at_runtime"] = t.traceState().streamsOverride.Load() != nil
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
func (t *tailstream) streamsConfig() StreamsConfig {
	if sc := t.traceState().streamsOverride.Load(); sc != nil {
		return *sc
	}
	return t.cfg.Streams
}

func (t *tailstream) handleGetLoggingConfig(w http.ResponseWriter, _ *http.Request, _ *principal) {
	modified := t.traceState().streamsOverride.Load() != nil
	writeJSON(w, http.StatusOK, configAnswer{Config: t.loggingConfigView(), EffectiveUntilRestart: modified, Modified: modified, Note: runtimeNote})
}

func (t *tailstream) handlePutLoggingConfig(w http.ResponseWriter, r *http.Request, p *principal) {
	var in loggingConfigJSON
	if !decodeStrict(w, r, &in) {
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
	ts := t.traceState()
	ts.putMu.Lock()
	defer ts.putMu.Unlock()
	next := t.streamsConfig()
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
	if err := check.validate(); err != nil {
		validationError(w, err)
		return
	}
	ts.streamsOverride.Store(&next)
	view := t.loggingConfigView()
	t.audit(p, "config.logging.update", zap.Any("streams", view.Streams))
	writeJSON(w, http.StatusOK, configAnswer{Config: view, EffectiveUntilRestart: true, Modified: true, Note: runtimeNote})
}
