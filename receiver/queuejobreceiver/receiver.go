package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/jobtrace/jobtrace/internal/sharedcomponent"
	"github.com/jobtrace/jobtrace/internal/tracecontext"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapter"
	"github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/metadata"
)

// receivers lets the traces and the logs instance of one component ID share one poller: the
// collector creates one receiver per signal, but Redis must be polled once.
var receivers sharedcomponent.Map[component.ID, *queueJobReceiver]

// queueJobReceiver is the state shared by the per-signal instances.
type queueJobReceiver struct {
	cfg      *Config
	settings receiver.Settings

	mu       sync.Mutex
	traces   consumer.Traces
	logs     consumer.Logs
	started  bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	rdb      redis.UniversalClient
	tb       *metadata.TelemetryBuilder
	startErr error
}

func newQueueJobReceiver(cfg *Config, set receiver.Settings) *queueJobReceiver {
	return &queueJobReceiver{cfg: cfg, settings: set}
}

// handle is what the collector sees for one signal.
type handle struct {
	r       *queueJobReceiver
	release func() bool
}

func (h *handle) Start(ctx context.Context, host component.Host) error { return h.r.start(ctx, host) }

func (h *handle) Shutdown(ctx context.Context) error {
	if h.release() {
		return h.r.shutdown(ctx)
	}
	return nil
}

func (r *queueJobReceiver) redisOptions() (*redis.UniversalOptions, error) {
	addrs := r.cfg.Addresses
	if len(addrs) == 0 {
		addrs = []string{r.cfg.Endpoint}
	}
	opts := &redis.UniversalOptions{
		Addrs:       addrs,
		MasterName:  r.cfg.SentinelMaster,
		Username:    r.cfg.Username,
		Password:    string(r.cfg.Password),
		DB:          r.cfg.DB,
		DialTimeout: r.cfg.DialTimeout,
		ReadTimeout: r.cfg.ReadTimeout,
		// CLIENT SETINFO is skipped: a read-only ACL user may not run it.
		ClientName:      r.cfg.ClientName,
		DisableIdentity: true,
		PoolSize:        4,
		// The poll loop does its own backoff and status reporting, so a lost connection
		// fails the poll at once instead of hiding inside client-side retries.
		MaxRetries:    -1,
		DialerRetries: 1,
	}
	if r.cfg.TLS.HasValue() {
		tlsCfg, err := r.cfg.TLS.Get().LoadTLSConfig(context.Background())
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		opts.TLSConfig = tlsCfg
	}
	return opts, nil
}

func (r *queueJobReceiver) start(_ context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return r.startErr
	}
	r.started = true
	res := r.cfg.resolved()
	opts, err := r.redisOptions()
	if err != nil {
		r.startErr = err
		return err
	}
	tcCfg, err := r.cfg.extractorConfig()
	if err != nil {
		r.startErr = fmt.Errorf("trace_context: %w", err)
		return r.startErr
	}
	var ex *tracecontext.Extractor
	if r.cfg.TraceContext.Enabled {
		if ex, err = tracecontext.NewExtractor(tcCfg); err != nil {
			r.startErr = fmt.Errorf("trace_context: %w", err)
			return r.startErr
		}
	}
	tb, err := metadata.NewTelemetryBuilder(r.settings.TelemetrySettings)
	if err != nil {
		r.startErr = err
		return err
	}
	r.tb = tb
	// go-redis prints pool errors to stderr on its own; the receiver already reports an outage
	// once, with the endpoint, so route those lines to debug. go-redis has one process-wide
	// logger, and this receiver is the distribution's only go-redis user.
	redisLoggerOnce.Do(func() { redis.SetLogger(zapRedisLogger{r.settings.Logger.Named("go-redis")}) })
	r.rdb = redis.NewUniversalClient(opts)
	tel := newTelemetry(tb)
	em := &emitter{serviceName: res.ServiceName, link: res.Propagation == "link", version: r.settings.BuildInfo.Version}
	var src source
	if f, ok := libraries[res.Preset]; ok {
		lp, err := newLibraryPoller(f, &res, r.rdb, r.settings.Logger, tel, ex, time.Now())
		if err != nil {
			r.startErr = err
			return err
		}
		src, em.system = lp, res.Preset
	} else {
		src = newPoller(&res, r.rdb, r.settings.Logger, tel, ex, time.Now())
	}

	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.run(ctx, host, src, em, tel)
	}()
	return nil
}

var redisLoggerOnce sync.Once

type zapRedisLogger struct{ l *zap.Logger }

func (z zapRedisLogger) Printf(_ context.Context, format string, v ...any) {
	z.l.Debug(fmt.Sprintf(format, v...))
}

// maxQueueAttrs bounds the queue names events_emitted is broken down by; further queues are
// counted under "other", so a layout with unbounded queue names cannot grow the metric forever.
const maxQueueAttrs = 256

// eventAttrs holds the attribute options of events_emitted, by queue and event: built once per
// queue, since per-event options would allocate on the hot path. Only the run loop uses it.
type eventAttrs map[string]*[numEventKinds]metric.AddOption

func (ea eventAttrs) get(queue string, k eventKind) metric.AddOption {
	opts, ok := ea[queue]
	if !ok {
		if len(ea) >= maxQueueAttrs {
			queue = "other"
			if opts, ok = ea[queue]; ok {
				return opts[k]
			}
		}
		opts = new([numEventKinds]metric.AddOption)
		for i := range opts {
			opts[i] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("event", eventKind(i).String()), attribute.String("queue", queue)))
		}
		ea[queue] = opts
	}
	return opts[k]
}

func newTelemetry(tb *metadata.TelemetryBuilder) *telemetry {
	return &telemetry{
		b: tb, jobsObserved: tb.ReceiverQueuejobJobsObserved, extractions: tb.ReceiverQueuejobTraceContextExtractions,
		rejections: tb.ReceiverQueuejobTraceContextRejections,
		bad:        tb.ReceiverQueuejobPayloadsBad, emitted: tb.ReceiverQueuejobEventsEmitted, pollsFailed: tb.ReceiverQueuejobPollsFailed,
		overflows: tb.ReceiverQueuejobWindowOverflows, pollDuration: tb.ReceiverQueuejobPollDuration,
		eventAttrs: eventAttrs{},
	}
}

// newPoller wires a poller for a resolved config.
func newPoller(res *Config, rdb redis.UniversalClient, logger *zap.Logger, tel *telemetry, ex *tracecontext.Extractor, now time.Time) *poller {
	workers, _ := simplelru.NewLRU[string, time.Time](res.MaxProcessingLists, nil)
	p := &poller{
		cfg: *res, rdb: rdb, fp: newFieldPaths(res.Fields), logger: logger, tel: tel,
		sampled: logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, 10*time.Second, 5, 0)
		})),
		proc: newKeyPattern(res.Keys.Processing), hb: newKeyPattern(res.Keys.Heartbeat), workers: workers,
	}
	p.procScan.match = p.proc.glob()
	p.hbScan.match = p.hb.glob()
	p.tr = newObservedTracker(res, ex, tel, now)
	return p
}

// newObservedTracker is a tracker whose new jobs feed the receiver's telemetry.
func newObservedTracker(res *Config, ex *tracecontext.Extractor, tel *telemetry, now time.Time) *tracker {
	tr := newTracker(res, ex, now)
	tr.onNewJob = func(st *jobState) {
		ctx := context.Background()
		tel.jobsObserved.Add(ctx, 1)
		format := "none"
		if st.tcFound {
			format = st.tc.Format.String()
		}
		tel.extractions.Add(ctx, 1, metric.WithAttributes(attribute.String("format", format)))
		st.tcRejected.Each(func(f tracecontext.Format) {
			tel.rejections.Add(ctx, 1, metric.WithAttributes(attribute.String("format", f.String())))
		})
	}
	return tr
}

// newLibraryPoller wires a queue library's adapter for a resolved config.
func newLibraryPoller(f adapter.Factory, res *Config, rdb redis.UniversalClient, logger *zap.Logger, tel *telemetry,
	ex *tracecontext.Extractor, now time.Time) (*libraryPoller, error) {
	sampled := logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, 10*time.Second, 5, 0)
	}))
	bad := func(reason string) {
		tel.badPayload(context.Background(), reason)
		sampled.Warn("skipping unusable job payload", zap.String("preset", res.Preset), zap.String("reason", reason))
	}
	set := res.adapterSettings(logger, bad)
	set.Overflow = func(what string) { tel.overflowOf(context.Background(), what) }
	ad, err := f(set)
	if err != nil {
		return nil, err
	}
	return &libraryPoller{ad: ad, rd: adapter.ReadOnly(rdb), tr: newObservedTracker(res, ex, tel, now), tel: tel}, nil
}

// run polls until shutdown. Redis being down, at start or later, is reported through
// component status and retried with exponential backoff; it never stops the collector.
// source is one poll of the queue: the reference layout's poller or a library adapter's.
type source interface {
	poll(ctx context.Context, now time.Time) ([]event, error)
}

func (r *queueJobReceiver) run(ctx context.Context, host component.Host, p source, em *emitter, tel *telemetry) {
	logger := r.settings.Logger
	endpoint := r.cfg.Endpoint
	if len(r.cfg.Addresses) > 0 {
		endpoint = fmt.Sprint(r.cfg.Addresses)
	}
	up, everUp := false, false
	backoff := r.cfg.PollInterval
	failedSince := time.Time{}
	lastLoud := time.Time{}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		events, err := p.poll(ctx, start)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			tel.pollsFailed.Add(ctx, 1)
			if up || !everUp && failedSince.IsZero() {
				componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(
					fmt.Errorf("cannot read the job queue from Redis at %s: %w", endpoint, err)))
			}
			if failedSince.IsZero() {
				failedSince = start
			}
			if up || time.Since(lastLoud) > time.Minute {
				logger.Warn("cannot read the job queue from Redis; retrying with backoff",
					zap.String("endpoint", endpoint), zap.Duration("down_for", time.Since(failedSince)),
					zap.Duration("next_try_in", backoff), zap.Error(err))
				lastLoud = time.Now()
			}
			up = false
			timer.Reset(backoff)
			backoff = min(backoff*2, r.cfg.MaxBackoff)
			continue
		}
		if !up {
			if everUp {
				logger.Info("Redis reachable again; observing the job queue", zap.String("endpoint", endpoint),
					zap.Duration("down_for", time.Since(failedSince)))
			} else {
				logger.Info("observing the job queue", zap.String("endpoint", endpoint), zap.String("preset", r.cfg.Preset))
			}
			componentstatus.ReportStatus(host, componentstatus.NewEvent(componentstatus.StatusOK))
			up, everUp, failedSince = true, true, time.Time{}
			backoff = r.cfg.PollInterval
		}
		r.deliver(ctx, em, tel, events)
		tel.pollDuration.Record(ctx, time.Since(start).Seconds())
		timer.Reset(max(r.cfg.PollInterval-time.Since(start), 0))
	}
}

func (r *queueJobReceiver) deliver(ctx context.Context, em *emitter, tel *telemetry, events []event) {
	if len(events) == 0 {
		return
	}
	type queueKind struct {
		queue string
		kind  eventKind
	}
	counts := map[queueKind]int64{}
	for i := range events {
		counts[queueKind{events[i].job.queue, events[i].kind}]++
	}
	for qk, n := range counts {
		tel.emitted.Add(ctx, n, tel.eventAttrs.get(qk.queue, qk.kind))
	}
	td, ld, nspans := em.build(events)
	r.mu.Lock()
	traces, logs := r.traces, r.logs
	r.mu.Unlock()
	if traces != nil && nspans > 0 {
		if err := traces.ConsumeTraces(ctx, td); err != nil {
			r.settings.Logger.Warn("job spans were refused downstream", zap.Int("spans", nspans), zap.Error(err))
		}
	}
	if logs != nil {
		if err := logs.ConsumeLogs(ctx, ld); err != nil {
			r.settings.Logger.Warn("lifecycle logs were refused downstream", zap.Int("records", ld.LogRecordCount()), zap.Error(err))
		}
	}
}

func (r *queueJobReceiver) shutdown(context.Context) error {
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	r.wg.Wait()
	var err error
	if r.rdb != nil {
		err = r.rdb.Close()
	}
	if r.tb != nil {
		r.tb.Shutdown()
	}
	return err
}
