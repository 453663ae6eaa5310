package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/backends"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/metadata"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracequery"
)

type tailstream struct {
	cfg      *Config
	settings extension.Settings

	server *http.Server
	wg     sync.WaitGroup
	addr   net.Addr
	// publicBase is the base URL of stream endpoints ("" = relative), see streamBase.
	publicBase string

	auth        *authenticator
	auditLogger *zap.Logger
	telemetry   *metadata.TelemetryBuilder
	compiler    *logfilter.Compiler
	ring        *ring.Buffer
	hub         *hub.Hub
	// traces is the trace half (trace cache, job catalog, backends, trace settings).
	traces *tracequery.Service
	// streams holds the log side's runtime stream settings.
	streams *streamSettings
	// store is the durable tier read when memory cannot answer, see store.go.
	store *storeState
	// queues feeds and answers GET /queues (queues_api.go).
	queues *queueObserver

	// handlers tracks the streaming handlers: WebSocket connections are hijacked, so
	// http.Server.Shutdown does not wait for them.
	handlers sync.WaitGroup
	stop     chan struct{}
	now      func() time.Time
}

var _ Sink = (*tailstream)(nil)

func newTailstream(cfg *Config, set extension.Settings) *tailstream {
	t := &tailstream{
		cfg: cfg, settings: set, now: time.Now,
		auditLogger: set.Logger.Named("audit").With(zap.Bool("audit", true)),
		// The ring exists from creation so PublishLogs can never see a half-started extension.
		ring:    ring.New(cfg.Retention.BufferSize, cfg.Retention.MaxAge),
		streams: newStreamSettings(cfg.Streams),
		store:   newStoreState(cfg.Store, cfg.JobCatalog.MaxJobs, set.Logger),
		queues:  newQueueObserver(),
	}
	t.ring.SetMaxBytes(cfg.Retention.MaxBytes)
	// Like the ring, the query service exists from creation: PublishTraces may come first.
	// Its backends are rebuilt in Start, with the host's extensions for auth.
	var err error
	t.traces, err = tracequery.New(cfg.TracesConfig.settings(), tracequery.Options{
		Logger: set.Logger, Now: func() time.Time { return t.now() },
	})
	if err != nil {
		set.Logger.Warn("trace backends not configured until start", zap.Error(err))
	}
	return t
}

func (t *tailstream) Start(ctx context.Context, host component.Host) error {
	auth, disabled, err := newAuthenticator(t.cfg.Users)
	if err != nil {
		return err
	}
	if len(disabled) > 0 {
		t.settings.Logger.Warn("tailstream: users without a token are disabled (is the token's environment variable, e.g. JOBTRACE_TOKEN, unset?)",
			zap.Strings("users", disabled))
	}
	t.auth = auth
	if auth.open {
		switch {
		case t.cfg.Auth.HasValue():
			t.settings.Logger.Warn("tailstream: no users configured; every caller the collector auth extension admits is an unscoped admin")
		case isLoopback(t.cfg.NetAddr.Endpoint):
			t.settings.Logger.Warn("tailstream: no users configured; the API is unauthenticated and only listens on loopback",
				zap.String("endpoint", t.cfg.NetAddr.Endpoint))
		default:
			return fmt.Errorf("tailstream: no users configured and endpoint %q is not a loopback address; "+
				"add users: (e.g. an admin whose token is ${env:JOBTRACE_TOKEN}), an auth extension, or listen on localhost", t.cfg.NetAddr.Endpoint)
		}
	}
	if t.compiler, err = logfilter.NewCompiler(t.settings.TelemetrySettings); err != nil {
		return err
	}
	if t.telemetry, err = metadata.NewTelemetryBuilder(t.settings.TelemetrySettings); err != nil {
		return err
	}
	t.traces.SetMetrics(traceMetrics{t.telemetry})
	if err = t.telemetry.RegisterTailstreamBackendCircuitOpenCallback(t.observeBreakers); err != nil {
		return err
	}
	t.traces.SetClientFactory(func(ctx context.Context, cc confighttp.ClientConfig) (*http.Client, error) {
		return cc.ToClient(ctx, host.GetExtensions(), t.settings.TelemetrySettings)
	})
	if err = t.traces.Apply(t.traces.Settings()); err != nil {
		return fmt.Errorf("tailstream: trace %w", err)
	}
	sc := t.cfg.Streams
	t.hub = hub.New(t.ring, hub.Limits{
		MaxStreams: sc.MaxStreams, MaxStreamsPerUser: sc.MaxStreamsPerUser,
		Expiry: sc.Expiry, IdleTimeout: sc.IdleTimeout,
		LateWindow: sc.LateWindow, FilterBudget: sc.FilterBudget, ReplayOrder: sc.ReplayOrderLines,
	}, hubMetrics{t.telemetry})
	t.hub.SetResolver(catalogResolver{t})

	ln, err := t.cfg.ToListener(ctx)
	if err != nil {
		return err
	}
	t.addr = ln.Addr()
	t.publicBase = streamBase(t.cfg, t.addr)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	t.registerLogRoutes(mux)
	t.registerTraceRoutes(mux)
	t.registerConfigRoutes(mux)
	t.registerExplainRoutes(mux)
	t.server, err = t.cfg.ToServer(ctx, host.GetExtensions(), t.settings.TelemetrySettings, t.countRequests(mux))
	if err != nil {
		_ = ln.Close()
		return err
	}
	prevConnContext := t.server.ConnContext
	t.server.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevConnContext != nil {
			ctx = prevConnContext(ctx, c)
		}
		return rememberConn(ctx, c)
	}
	// Streams are long-lived: whatever write_timeout says, the streaming handlers clear their
	// deadline and set their own per-write one (see stream_conn.go).
	t.settings.Logger.Info("tailstream API listening", zap.String("endpoint", ln.Addr().String()))
	t.stop = make(chan struct{})
	t.wg.Add(2)
	go func() {
		defer t.wg.Done()
		if serr := t.server.Serve(ln); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			t.settings.Logger.Error("tailstream API server stopped", zap.Error(serr))
		}
	}()
	go func() {
		defer t.wg.Done()
		t.sweepLoop()
	}()
	t.startStore()
	return nil
}

// sweepLoop ends expired and idle streams.
func (t *tailstream) sweepLoop() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.sweep(t.now())
		}
	}
}

func (t *tailstream) sweep(now time.Time) {
	for s, reason := range t.hub.Sweep(now) {
		t.audit(&principal{Name: s.Owner}, "stream.delete", zap.String("stream_id", s.ID), zap.String("reason", reason))
	}
}

func (t *tailstream) Shutdown(ctx context.Context) error {
	if t.server == nil {
		return nil
	}
	close(t.stop)
	t.shutdownStore()
	t.hub.CloseAll(hub.EndShutdown)
	err := t.server.Shutdown(ctx)
	t.handlers.Wait()
	t.wg.Wait()
	t.telemetry.Shutdown()
	t.traces.Shutdown()
	return err
}

// PublishLogs stores the lines in the ring buffer and offers them to every live stream.
// It never waits on a client: each stream has its own bounded queue.
func (t *tailstream) PublishLogs(_ context.Context, ld plog.Logs) error {
	t.traces.IngestLogs(ld)
	n := ld.LogRecordCount()
	if n == 0 {
		return nil
	}
	now := t.now()
	entries := make([]*ring.Entry, 0, n)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			if lrs.Len() == 0 {
				continue
			}
			sh := ring.NewShared(rl.Resource(), sl.Scope())
			for k := 0; k < lrs.Len(); k++ {
				entries = append(entries, ring.FromShared(sh, lrs.At(k), now))
			}
		}
	}
	if t.hub == nil {
		// Before Start (or without it, in tests of the exporter): keep the lines for replay.
		t.ring.Append(entries)
		return nil
	}
	t.hub.Ingest(entries, now)
	// Lifecycle logs may have taught the catalog a job; the hub rate-limits this.
	t.hub.Reattribute(now, false)
	return nil
}

func (t *tailstream) PublishTraces(_ context.Context, td ptrace.Traces) error {
	t.traces.IngestTraces(td)
	t.queues.observe(td, t.traces)
	if t.hub != nil {
		// Job spans teach the catalog: lines that came before their job was known get it now.
		t.hub.Reattribute(t.now(), true)
	}
	return nil
}

// hubMetrics forwards the hub's counts to the component's telemetry.
type hubMetrics struct{ tb *metadata.TelemetryBuilder }

var (
	reasonRateLimited = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", hub.ReasonRateLimited)))
	reasonBufferFull  = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", hub.ReasonBufferFull)))
	reasonBehind      = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", hub.ReasonFilterBehind)))
	reasonStoreGap    = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", hub.ReasonStoreGap)))
)

func (m hubMetrics) Filtered(n int64) {
	m.tb.TailstreamLinesFiltered.Add(context.Background(), n)
}

func (m hubMetrics) Evaluated(n int64) {
	m.tb.TailstreamFilterEvaluations.Add(context.Background(), n)
}

func (m hubMetrics) Dropped(reason string, n int64) {
	opt := reasonBufferFull
	switch reason {
	case hub.ReasonRateLimited:
		opt = reasonRateLimited
	case hub.ReasonFilterBehind:
		opt = reasonBehind
	case hub.ReasonStoreGap:
		opt = reasonStoreGap
	}
	m.tb.TailstreamLinesDropped.Add(context.Background(), n, opt)
}

func (m hubMetrics) Streamed(n int64) {
	m.tb.TailstreamLinesStreamed.Add(context.Background(), n)
}

func (m hubMetrics) StreamsActive(d int64) {
	m.tb.TailstreamStreamsActive.Add(context.Background(), d)
}

// traceMetrics forwards the query service's counts to the component's telemetry.
type traceMetrics struct{ tb *metadata.TelemetryBuilder }

func (m traceMetrics) BackendRequest(name, outcome string) {
	m.tb.TailstreamTraceBackendRequests.Add(context.Background(), 1,
		metric.WithAttributes(attribute.String("backend", name), attribute.String("outcome", outcome)))
}

func (m traceMetrics) Lookup(source string) {
	m.tb.TailstreamTraceLookups.Add(context.Background(), 1, metric.WithAttributes(attribute.String("source", source)))
}

func (m traceMetrics) CatalogConflict(field string) {
	m.tb.TailstreamCatalogConflicts.Add(context.Background(), 1, metric.WithAttributes(attribute.String("field", field)))
}

// observeBreakers reports each backend's circuit breaker for the alert on a backend that stays
// unreachable.
func (t *tailstream) observeBreakers(_ context.Context, o metric.Int64Observer) error {
	for _, st := range t.traces.BackendStatuses() {
		var open int64
		if st.Breaker == backends.StateOpen {
			open = 1
		}
		o.Observe(open, metric.WithAttributes(attribute.String("backend", st.Name)))
	}
	if t.store != nil && t.store.logs != nil {
		h := t.store.logs.Health()
		var open int64
		if h.Breaker == string(backends.StateOpen) {
			open = 1
		}
		o.Observe(open, metric.WithAttributes(attribute.String("backend", h.Name)))
	}
	return nil
}

// countRequests counts API answers by status code, and times them.
func (t *tailstream) countRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(rec, r)
		// A WebSocket or SSE answer lasts as long as its client stays: timing it would say
		// nothing about how fast the API answers.
		if r.Header.Get("Upgrade") == "" && !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			t.telemetry.TailstreamAPIRequestDuration.Record(r.Context(), time.Since(start).Seconds())
		}
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		t.telemetry.TailstreamAPIRequests.Add(r.Context(), 1,
			metric.WithAttributeSet(attribute.NewSet(attribute.Int("status_code", code))))
	})
}

// statusRecorder remembers the status code. Unwrap lets http.ResponseController and the
// WebSocket library reach Flush and Hijack on the real writer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Addr returns the address the API listens on (useful with port 0 in tests).
func (t *tailstream) Addr() string {
	if t.addr == nil {
		return ""
	}
	return t.addr.String()
}
