// Package jobsim simulates a go-redis-work-queue deployment (producer, workers, reaper) against
// a Redis server, speaking the upstream key layout and payload format exactly, and reports what
// it did so tests can compare an observer's output with the ground truth.
package jobsim // import "github.com/jobtrace/jobtrace/internal/jobsim"

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Carriers are the places jobsim can put a job's trace context in its payload.
var Carriers = []string{"upstream", "w3c", "b3", "jaeger", "xray", "datadog"}

// Config bounds one simulation run.
type Config struct {
	Redis    string // host:port
	DB       int
	Username string
	Password string

	// Jobs is how many jobs the producer enqueues (0: unbounded until Duration).
	Jobs int
	// Duration bounds the whole run, including draining the queue.
	Duration time.Duration
	// Rate is enqueues per second (0: as fast as Redis accepts them).
	Rate float64
	// Workers is the number of concurrent worker slots.
	Workers int
	// FailRatio is the probability that one attempt fails.
	FailRatio float64
	// AbandonRatio is the probability that a worker dies mid-attempt, leaving the job in its
	// processing list for the reaper once the heartbeat expires.
	AbandonRatio float64
	// Carrier picks where the trace context goes in the payload (see Carriers).
	Carrier string
	// LogFile receives zap JSON lines like upstream's stderr; empty disables.
	LogFile string
	Seed    uint64
	// HeartbeatTTL is the TTL of jobqueue:processing:worker:<wid> (upstream: 30s).
	HeartbeatTTL time.Duration
	// WorkTime is how long one attempt takes.
	WorkTime time.Duration
	// MaxRetries matches upstream's worker.max_retries (3).
	MaxRetries int
	// RetryBackoff is slept while the failed job is still held, like upstream's backoff.
	RetryBackoff time.Duration
	// HighRatio is the share of jobs enqueued with priority "high".
	HighRatio float64
	// OTLPEndpoint, when set (http://host:4318), receives queue.enqueue spans as OTLP/HTTP JSON.
	OTLPEndpoint string
	// WorkerSpans adds, with OTLPEndpoint, each attempt's work as nested spans under the
	// receiver's job span, failing ones with an exception event (not in Batch mode). Failing
	// attempts also log an ERROR line naming the span, whatever this says.
	WorkerSpans bool
	// KeyPrefix replaces "jobqueue:" in every key.
	KeyPrefix string
	// Drain makes the run wait, after producing, until every job is final (within Duration).
	Drain bool
	// ReaperInterval is how often the reaper scans (upstream: HeartbeatTTL/4, at most 5s).
	ReaperInterval time.Duration
	// Batch > 1 makes each worker claim up to Batch jobs per round trip (pipelined RPOPLPUSH)
	// and finish them in one MULTI: same keys, same payloads, fewer round trips, so a loaded
	// machine can still reach load-test rates. No abandonment or retry backoff in this mode.
	Batch int
}

// Validate rejects unbounded or nonsensical runs.
func (c *Config) Validate() error {
	var errs []error
	if c.Redis == "" {
		errs = append(errs, errors.New("redis: must not be empty"))
	}
	if c.Duration <= 0 || c.Duration > 24*time.Hour {
		errs = append(errs, errors.New("duration: must be in (0, 24h]"))
	}
	if c.Jobs < 0 || c.Jobs > 100_000_000 {
		errs = append(errs, errors.New("jobs: must be in [0, 1e8]"))
	}
	if c.Rate < 0 || c.Rate > 1_000_000 {
		errs = append(errs, errors.New("rate: must be in [0, 1e6]"))
	}
	if c.Workers < 1 || c.Workers > 10_000 {
		errs = append(errs, errors.New("workers: must be in [1, 10000]"))
	}
	if c.FailRatio < 0 || c.FailRatio > 1 {
		errs = append(errs, errors.New("fail-ratio: must be in [0, 1]"))
	}
	if c.AbandonRatio < 0 || c.AbandonRatio > 1 {
		errs = append(errs, errors.New("abandon-ratio: must be in [0, 1]"))
	}
	if c.HighRatio < 0 || c.HighRatio > 1 {
		errs = append(errs, errors.New("high-ratio: must be in [0, 1]"))
	}
	if c.MaxRetries < 0 || c.MaxRetries > 100 {
		errs = append(errs, errors.New("max-retries: must be in [0, 100]"))
	}
	if c.HeartbeatTTL < 10*time.Millisecond {
		errs = append(errs, errors.New("heartbeat-ttl: must be at least 10ms"))
	}
	if c.Batch < 0 || c.Batch > 1000 {
		errs = append(errs, errors.New("batch: must be in [0, 1000]"))
	}
	if c.Batch > 1 && (c.AbandonRatio > 0 || c.RetryBackoff > 0) {
		errs = append(errs, errors.New("batch: cannot be combined with abandon-ratio or retry-backoff"))
	}
	if c.WorkTime < 0 || c.RetryBackoff < 0 {
		errs = append(errs, errors.New("work-time, retry-backoff: must not be negative"))
	}
	ok := false
	for _, k := range Carriers {
		ok = ok || k == c.Carrier
	}
	if !ok {
		errs = append(errs, fmt.Errorf("carrier: %q is not one of %s", c.Carrier, strings.Join(Carriers, ", ")))
	}
	return errors.Join(errs...)
}

// DefaultConfig mirrors upstream's defaults where upstream has one.
func DefaultConfig() Config {
	return Config{
		Redis:        "localhost:6379",
		Jobs:         100,
		Duration:     30 * time.Second,
		Rate:         100,
		Workers:      4,
		FailRatio:    0.1,
		Carrier:      "upstream",
		Seed:         1,
		HeartbeatTTL: 30 * time.Second,
		WorkTime:     10 * time.Millisecond,
		MaxRetries:   3,
		HighRatio:    0.3,
		KeyPrefix:    "jobqueue:",
		Drain:        true,
		WorkerSpans:  true,
	}
}

// Outcome is the final state of a job or the end of one attempt.
type Outcome string

// Outcomes; attempt outcomes use the receiver's job.status words.
const (
	Succeeded    Outcome = "succeeded"
	Retried      Outcome = "retried"
	DeadLettered Outcome = "dead_lettered"
	Abandoned    Outcome = "abandoned"
	Pending      Outcome = "pending" // not final when the run ended
)

// Attempt is one worker's go at a job. Number is 1-based (= retries+1 in the payload).
type Attempt struct {
	Number   int
	WorkerID string
	Outcome  Outcome
	Start    time.Time
	End      time.Time
}

// Job is jobsim's ground truth about one job.
type Job struct {
	ID       string
	Queue    string // logical queue name, e.g. high_priority
	Priority string
	TraceID  string // 32 hex
	SpanID   string // 16 hex, the enqueue span
	Outcome  Outcome
	Attempts []Attempt
}

// Summary is what a run did.
type Summary struct {
	Jobs         map[string]*Job
	Enqueued     int
	Completed    int
	DeadLettered int
	Retried      int
	Abandoned    int
	Elapsed      time.Duration
}

// Final reports jobs in a final state (succeeded or dead-lettered).
func (s *Summary) Final() int { return s.Completed + s.DeadLettered }

// payload is the upstream job JSON; field order matches upstream's struct.
type payload struct {
	ID           string            `json:"id"`
	FilePath     string            `json:"filepath"`
	FileSize     int64             `json:"filesize"`
	Priority     string            `json:"priority"`
	Retries      int               `json:"retries"`
	CreationTime string            `json:"creation_time"`
	TraceID      string            `json:"trace_id,omitempty"`
	SpanID       string            `json:"span_id,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
}

type sim struct {
	cfg    Config
	rdb    *redis.Client
	log    *zap.Logger
	keys   keys
	otlp   *otlpSender
	mu     sync.Mutex
	sum    Summary
	active atomic.Int64 // jobs enqueued but not final
	prodOK atomic.Bool  // producer finished
	doneCh chan struct{}
	once   sync.Once
	host   string
}

// newBase is upstream's worker id prefix: <host>-<pid>-<unixnano>-<4hex>.
func (s *sim) newBase(rng *rand.Rand) string {
	return fmt.Sprintf("%s-%d-%d-%04x", s.host, os.Getpid(), time.Now().UnixNano(), rng.IntN(0x10000))
}

type keys struct{ prefix, high, low, completed, dead string }

func (k keys) processing(wid string) string { return k.prefix + "worker:" + wid + ":processing" }
func (k keys) heartbeat(wid string) string  { return k.prefix + "processing:worker:" + wid }
func (k keys) queue(priority string) string {
	if priority == "high" {
		return k.high
	}
	return k.low
}

// Run executes one bounded simulation and returns its summary. It stops at ctx's end, after
// cfg.Duration, or (with Drain) once every enqueued job is final.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "jobqueue:"
	}
	s := &sim{cfg: cfg, doneCh: make(chan struct{})}
	p := cfg.KeyPrefix
	s.keys = keys{prefix: p, high: p + "high_priority", low: p + "low_priority", completed: p + "completed", dead: p + "dead_letter"}
	s.sum.Jobs = make(map[string]*Job)
	s.rdb = redis.NewClient(&redis.Options{
		Addr: cfg.Redis, DB: cfg.DB, Username: cfg.Username, Password: cfg.Password,
		PoolSize: cfg.Workers + 8, ClientName: "jobsim", DisableIdentity: true,
		// No silent client-side retries: a MULTI whose reply was lost could run twice and queue
		// a retried job twice. execRetryUnless retries transitions safely instead.
		MaxRetries: -1,
	})
	defer s.rdb.Close()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", cfg.Redis, err)
	}
	log, closeLog, err := newLogger(cfg.LogFile)
	if err != nil {
		return nil, err
	}
	defer closeLog()
	s.log = log
	if cfg.OTLPEndpoint != "" {
		s.otlp = newOTLPSender(cfg.OTLPEndpoint)
	}

	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	host, _ := os.Hostname()
	if host == "" {
		host = "jobsim"
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6a6f6273696d))
	s.host = host
	base := s.newBase(rng)
	for slot := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cfg.Batch > 1 {
				s.batchWorker(runCtx, base, slot)
			} else {
				s.worker(runCtx, base, slot)
			}
		}()
	}
	if cfg.AbandonRatio > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.reaper(runCtx)
		}()
	}
	prodErr := s.produce(runCtx, rng)
	s.prodOK.Store(true)
	s.checkDone()
	if cfg.Drain {
		select {
		case <-s.doneCh:
		case <-runCtx.Done():
		}
	}
	cancel()
	wg.Wait()
	if s.otlp != nil {
		s.otlp.close()
	}
	_ = log.Sync()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sum.Elapsed = time.Since(start)
	if prodErr != nil && ctx.Err() == nil && !errors.Is(prodErr, context.DeadlineExceeded) && !errors.Is(prodErr, context.Canceled) {
		return &s.sum, prodErr
	}
	return &s.sum, nil
}

func (s *sim) checkDone() {
	if s.prodOK.Load() && s.active.Load() == 0 {
		s.once.Do(func() { close(s.doneCh) })
	}
}

func newLogger(path string) (*zap.Logger, func(), error) {
	if path == "" {
		return zap.NewNop(), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("log-file: %w", err)
	}
	enc := zap.NewProductionEncoderConfig() // level, ts (float epoch s), caller, msg: upstream's shape
	ws := &zapcore.BufferedWriteSyncer{WS: f, Size: 256 << 10, FlushInterval: 200 * time.Millisecond}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), ws, zap.InfoLevel)
	return zap.New(core, zap.AddCaller()), func() { _ = ws.Stop(); _ = f.Close() }, nil
}

func hexID(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		for _, c := range b {
			if c != 0 {
				return hex.EncodeToString(b)
			}
		}
	}
}

// carrier places the trace context where cfg.Carrier says.
func (s *sim) carrier(p *payload, traceID, spanID string) {
	switch s.cfg.Carrier {
	case "upstream":
		p.TraceID, p.SpanID = traceID, spanID
	case "w3c":
		p.Headers = map[string]string{"traceparent": "00-" + traceID + "-" + spanID + "-01"}
	case "b3":
		p.Headers = map[string]string{"b3": traceID + "-" + spanID + "-1"}
	case "jaeger":
		p.Headers = map[string]string{"uber-trace-id": traceID + ":" + spanID + ":0:1"}
	case "xray":
		p.Headers = map[string]string{"X-Amzn-Trace-Id": "Root=1-" + traceID[:8] + "-" + traceID[8:] + ";Parent=" + spanID + ";Sampled=1"}
	case "datadog":
		hi, _ := strconv.ParseUint(traceID[:16], 16, 64)
		lo, _ := strconv.ParseUint(traceID[16:], 16, 64)
		sid, _ := strconv.ParseUint(spanID, 16, 64)
		p.Headers = map[string]string{
			"x-datadog-trace-id":  strconv.FormatUint(lo, 10),
			"x-datadog-parent-id": strconv.FormatUint(sid, 10),
			"x-datadog-tags":      fmt.Sprintf("_dd.p.tid=%016x", hi),
		}
	}
}

var extensions = []string{"log", "csv", "png", "pdf", "json"}

func (s *sim) produce(ctx context.Context, rng *rand.Rand) error {
	const tick = 10 * time.Millisecond
	var interval time.Duration
	if s.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / s.cfg.Rate)
	}
	start := time.Now()
	n := 0
	for s.cfg.Jobs == 0 || n < s.cfg.Jobs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Enqueue what is due now as one pipeline, so high rates do not cost a round trip each.
		due := 256
		if interval > 0 {
			due = int(time.Since(start)/interval) + 1 - n
			if due <= 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(min(tick, interval)):
				}
				continue
			}
			due = min(due, 1024)
		}
		if s.cfg.Jobs > 0 {
			due = min(due, s.cfg.Jobs-n)
		}
		pipe := s.rdb.Pipeline()
		batch := make([]*Job, 0, due)
		for range due {
			priority := "low"
			if rng.Float64() < s.cfg.HighRatio {
				priority = "high"
			}
			j := &Job{ID: hexID(rng, 16), Priority: priority, TraceID: hexID(rng, 16), SpanID: hexID(rng, 8), Outcome: Pending}
			j.Queue = strings.TrimPrefix(s.keys.queue(priority), s.keys.prefix)
			p := payload{
				ID: j.ID, FilePath: fmt.Sprintf("/srv/data/batch-%03d/file-%04d.%s", n/10, n, extensions[rng.IntN(len(extensions))]),
				FileSize: int64(rng.IntN(1 << 18)), Priority: priority,
				CreationTime: time.Now().UTC().Format(time.RFC3339Nano),
			}
			s.carrier(&p, j.TraceID, j.SpanID)
			raw, err := jsonMarshal(&p)
			if err != nil {
				return err
			}
			pipe.LPush(ctx, s.keys.queue(priority), raw)
			batch = append(batch, j)
			n++
		}
		enqStart := time.Now()
		// Recorded before EXEC: a worker may finish a job before this goroutine resumes.
		s.mu.Lock()
		for _, j := range batch {
			s.sum.Jobs[j.ID] = j
			s.sum.Enqueued++
		}
		s.mu.Unlock()
		s.active.Add(int64(len(batch)))
		if _, err := pipe.Exec(ctx); err != nil {
			// Redis is away (a restart test, say). Some of the batch may have landed; the
			// ones no worker has touched yet lose their ground truth (empty TraceID) and stop
			// counting as active.
			s.mu.Lock()
			for _, j := range batch {
				if len(j.Attempts) == 0 {
					j.TraceID = ""
					s.sum.Enqueued--
					s.active.Add(-1)
				}
			}
			s.mu.Unlock()
			s.checkDone()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for _, j := range batch {
			s.log.Info("enqueued job", zap.String("id", j.ID), zap.String("queue", s.keys.queue(j.Priority)),
				zap.String("trace_id", j.TraceID), zap.String("span_id", j.SpanID))
			if s.otlp != nil {
				s.otlp.add(j, enqStart, time.Now(), s.keys.queue(j.Priority))
			}
		}
	}
	return nil
}

// pop claims the next job like upstream: high before low, moving it atomically into the
// worker's processing list.
func (s *sim) pop(ctx context.Context, proc string) (string, error) {
	for _, q := range []string{s.keys.high, s.keys.low} {
		v, err := s.rdb.RPopLPush(ctx, q, proc).Result()
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, redis.Nil) {
			return "", err
		}
	}
	// Idle: block briefly on the low queue; go-redis rounds sub-second BRPOPLPUSH timeouts
	// up to 1s, so pass Redis 6's fractional form directly.
	v, err := s.rdb.Do(ctx, "BRPOPLPUSH", s.keys.low, proc, "0.05").Text()
	if err != nil {
		return "", err
	}
	return v, nil
}

func (s *sim) worker(ctx context.Context, base string, slot int) {
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(slot)+1))
	wid := fmt.Sprintf("%s-%d", base, slot)
	for ctx.Err() == nil {
		proc, hb := s.keys.processing(wid), s.keys.heartbeat(wid)
		raw, err := s.pop(ctx, proc)
		if err != nil {
			if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
			}
			continue
		}
		start := time.Now()
		var p payload
		if err := jsonUnmarshal([]byte(raw), &p); err != nil {
			s.log.Error("invalid job payload", zap.Error(err))
			_ = s.rdb.LRem(ctx, proc, 1, raw).Err()
			continue
		}
		if !s.execRetry(ctx, func(p redis.Pipeliner) { p.Set(ctx, hb, raw, s.cfg.HeartbeatTTL) }) {
			return
		}
		attempt := p.Retries + 1
		if s.cfg.AbandonRatio > 0 && rng.Float64() < s.cfg.AbandonRatio {
			// The worker dies: its heartbeat expires and the reaper requeues the job. A new
			// process takes the slot under a fresh worker id, as a restarted upstream would.
			s.record(p.ID, Attempt{Number: attempt, WorkerID: wid, Outcome: Abandoned, Start: start, End: time.Now()}, "")
			wid = fmt.Sprintf("%s-%d", s.newBase(rng), slot)
			continue
		}
		if !s.work(ctx, hb, raw) {
			return
		}
		fail := rng.Float64() < s.cfg.FailRatio
		run := attemptRun{jobID: p.ID, traceID: s.traceOf(p.ID), workerID: wid, queue: strings.TrimPrefix(s.keys.queue(p.Priority), s.keys.prefix), attempt: attempt,
			rerun: s.rerunOf(p.ID, attempt), start: start, end: time.Now(), failed: fail}
		if fail {
			s.logFailure(run)
		}
		if s.otlp != nil && s.cfg.WorkerSpans {
			s.otlp.addWorkerSpans(run)
		}
		var outcome Outcome
		var dest, body string
		switch {
		case !fail:
			outcome, dest, body = Succeeded, s.keys.completed, raw
		case p.Retries+1 <= s.cfg.MaxRetries:
			outcome = Retried
			if s.cfg.RetryBackoff > 0 && !s.sleepHB(ctx, hb, raw, s.cfg.RetryBackoff) {
				return
			}
			p.Retries++
			next, _ := jsonMarshal(&p)
			dest, body = s.keys.queue(p.Priority), next
		default:
			outcome, dest, body = DeadLettered, s.keys.dead, raw
		}
		// Upstream's transition: push to the destination, LREM from processing, DEL heartbeat.
		// MULTI/EXEC so a transition retried after a lost connection is all-or-nothing.
		transition := func(pipe redis.Pipeliner) {
			pipe.LPush(ctx, dest, body)
			pipe.LRem(ctx, proc, 1, raw)
			pipe.Del(ctx, hb)
		}
		if !s.execRetryUnless(ctx, transition, proc, raw) {
			return
		}
		final := ""
		switch outcome {
		case Succeeded:
			final = "job completed"
			s.log.Info(final, zap.String("id", p.ID), zap.String("trace_id", s.traceOf(p.ID)), zap.String("span_id", s.spanOf(p.ID)), zap.String("worker_id", wid))
		case Retried:
			s.log.Warn("job retried", zap.String("id", p.ID), zap.Int("retries", p.Retries), zap.String("trace_id", s.traceOf(p.ID)), zap.String("span_id", s.spanOf(p.ID)), zap.String("worker_id", wid))
		case DeadLettered:
			final = "job dead-lettered"
			s.log.Error(final, zap.String("id", p.ID), zap.String("trace_id", s.traceOf(p.ID)), zap.String("span_id", s.spanOf(p.ID)), zap.String("worker_id", wid))
		}
		s.record(p.ID, Attempt{Number: attempt, WorkerID: wid, Outcome: outcome, Start: start, End: time.Now()}, outcome)
	}
}

// execRetry runs a worker's transition until Redis takes it: the job must not stay stuck in
// the processing list because Redis restarted under the worker.
func (s *sim) execRetry(ctx context.Context, build func(redis.Pipeliner)) bool {
	return s.execRetryUnless(ctx, build, "", "")
}

// execRetryUnless is execRetry for a transition that removes marker from list: when a failed
// EXEC was in fact applied (the reply was lost), marker is gone and the transition must not run
// twice, or a retried job would be queued twice.
func (s *sim) execRetryUnless(ctx context.Context, build func(redis.Pipeliner), list, marker string) bool {
	failed := false
	for {
		if failed && list != "" {
			_, err := s.rdb.LPos(ctx, list, marker, redis.LPosArgs{}).Result()
			if errors.Is(err, redis.Nil) {
				return true
			}
			if err != nil {
				if ctx.Err() != nil {
					return false
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
		}
		_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error { build(p); return nil })
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		failed = true
		time.Sleep(50 * time.Millisecond)
	}
}

// work simulates the handler while keeping the heartbeat fresh, as upstream does every ttl/3.
func (s *sim) work(ctx context.Context, hb, raw string) bool {
	if s.cfg.WorkTime <= 0 {
		return ctx.Err() == nil
	}
	return s.sleepHB(ctx, hb, raw, s.cfg.WorkTime)
}

func (s *sim) sleepHB(ctx context.Context, hb, raw string, d time.Duration) bool {
	refresh := s.cfg.HeartbeatTTL / 3
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(min(left, refresh)):
		}
		if time.Until(deadline) > 0 {
			_ = s.rdb.Set(ctx, hb, raw, s.cfg.HeartbeatTTL).Err()
		}
	}
}

func (s *sim) traceOf(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.sum.Jobs[id]; j != nil {
		return j.TraceID
	}
	return ""
}

// rerunOf counts the runs of this attempt the reaper requeued after abandonment: the receiver
// numbers the span of each re-run (docs/CONVENTIONS.md).
func (s *sim) rerunOf(id string, attempt int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if j := s.sum.Jobs[id]; j != nil {
		for _, a := range j.Attempts {
			if a.Number == attempt && a.Outcome == Abandoned {
				n++
			}
		}
	}
	return n
}

func (s *sim) spanOf(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.sum.Jobs[id]; j != nil {
		return j.SpanID
	}
	return ""
}

func (s *sim) record(id string, a Attempt, outcome Outcome) {
	s.mu.Lock()
	j := s.sum.Jobs[id]
	known := j != nil && j.TraceID != ""
	if j == nil {
		// Enqueued by someone else, or by a batch whose reply was lost: keep what we know,
		// but it never counted as active.
		j = &Job{ID: id, Outcome: Pending}
		s.sum.Jobs[id] = j
	}
	if j.Outcome == Succeeded || j.Outcome == DeadLettered {
		known = false // already final: never count it twice
	}
	// A retried job's next attempt can finish on another worker before this goroutine records
	// the previous one: keep Attempts ordered by number.
	i := len(j.Attempts)
	for i > 0 && j.Attempts[i-1].Number > a.Number {
		i--
	}
	j.Attempts = slices.Insert(j.Attempts, i, a)
	final := false
	switch a.Outcome {
	case Succeeded:
		s.sum.Completed++
		j.Outcome, final = Succeeded, true
	case DeadLettered:
		s.sum.DeadLettered++
		j.Outcome, final = DeadLettered, true
	case Retried:
		s.sum.Retried++
	case Abandoned:
		s.sum.Abandoned++
	}
	s.mu.Unlock()
	if final && known {
		s.active.Add(-1)
		s.checkDone()
	}
}

// reaper requeues jobs whose worker's heartbeat expired, like upstream's reaper: same payload,
// back to the queue of its priority.
func (s *sim) reaper(ctx context.Context) {
	interval := max(min(s.cfg.HeartbeatTTL/4, 5*time.Second), 10*time.Millisecond)
	if s.cfg.ReaperInterval > 0 {
		interval = s.cfg.ReaperInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	pattern := s.keys.prefix + "worker:*:processing"
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var cursor uint64
		for {
			ks, next, err := s.rdb.Scan(ctx, cursor, pattern, 100).Result()
			if err != nil {
				break
			}
			for _, proc := range ks {
				wid := strings.TrimSuffix(strings.TrimPrefix(proc, s.keys.prefix+"worker:"), ":processing")
				if n, err := s.rdb.Exists(ctx, s.keys.heartbeat(wid)).Result(); err != nil || n == 1 {
					continue
				}
				for {
					raw, err := s.rdb.LIndex(ctx, proc, -1).Result()
					if err != nil {
						break
					}
					var p payload
					if jsonUnmarshal([]byte(raw), &p) != nil {
						_ = s.rdb.RPop(ctx, proc).Err()
						continue
					}
					dest := s.keys.queue(p.Priority)
					if err := s.rdb.RPopLPush(ctx, proc, dest).Err(); err != nil {
						break
					}
					s.log.Warn("requeued abandoned job", zap.String("id", p.ID), zap.String("to", dest),
						zap.String("trace_id", s.traceOf(p.ID)), zap.String("span_id", s.spanOf(p.ID)))
				}
			}
			cursor = next
			if cursor == 0 {
				break
			}
		}
	}
}

// batchWorker is worker with pipelined claims and one MULTI per batch of transitions.
func (s *sim) batchWorker(ctx context.Context, base string, slot int) {
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(slot)+1))
	wid := fmt.Sprintf("%s-%d", base, slot)
	proc, hb := s.keys.processing(wid), s.keys.heartbeat(wid)
	for ctx.Err() == nil {
		var raws []string
		for _, q := range []string{s.keys.high, s.keys.low} {
			want := s.cfg.Batch - len(raws)
			if want <= 0 {
				break
			}
			cmds, _ := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for range want {
					p.RPopLPush(ctx, q, proc)
				}
				return nil
			})
			for _, c := range cmds {
				if v, err := c.(*redis.StringCmd).Result(); err == nil {
					raws = append(raws, v)
				}
			}
		}
		if len(raws) == 0 {
			raw, err := s.pop(ctx, proc)
			if err != nil {
				if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
					time.Sleep(20 * time.Millisecond)
				}
				continue
			}
			raws = append(raws, raw)
		}
		start := time.Now()
		if !s.execRetry(ctx, func(p redis.Pipeliner) { p.Set(ctx, hb, raws[len(raws)-1], s.cfg.HeartbeatTTL) }) {
			return
		}
		if !s.work(ctx, hb, raws[len(raws)-1]) {
			return
		}
		type done struct {
			p       payload
			raw     string
			outcome Outcome
			dest    string
			body    string
		}
		batch := make([]done, 0, len(raws))
		for _, raw := range raws {
			var p payload
			if err := jsonUnmarshal([]byte(raw), &p); err != nil {
				_ = s.rdb.LRem(ctx, proc, 1, raw).Err()
				continue
			}
			d := done{p: p, raw: raw}
			switch {
			case rng.Float64() >= s.cfg.FailRatio:
				d.outcome, d.dest, d.body = Succeeded, s.keys.completed, raw
			case p.Retries+1 <= s.cfg.MaxRetries:
				d.outcome = Retried
				next := p
				next.Retries++
				body, _ := jsonMarshal(&next)
				d.dest, d.body = s.keys.queue(p.Priority), body
			default:
				d.outcome, d.dest, d.body = DeadLettered, s.keys.dead, raw
			}
			batch = append(batch, d)
		}
		if len(batch) == 0 {
			continue
		}
		if !s.execRetryUnless(ctx, func(pipe redis.Pipeliner) {
			for _, d := range batch {
				pipe.LPush(ctx, d.dest, d.body)
				pipe.LRem(ctx, proc, 1, d.raw)
			}
			pipe.Del(ctx, hb)
		}, proc, batch[0].raw) {
			return
		}
		end := time.Now()
		for _, d := range batch {
			id := d.p.ID
			switch d.outcome {
			case Succeeded:
				s.log.Info("job completed", zap.String("id", id), zap.String("trace_id", s.traceOf(id)), zap.String("span_id", s.spanOf(id)), zap.String("worker_id", wid))
			case Retried:
				s.log.Warn("job retried", zap.String("id", id), zap.Int("retries", d.p.Retries+1), zap.String("trace_id", s.traceOf(id)), zap.String("span_id", s.spanOf(id)), zap.String("worker_id", wid))
			case DeadLettered:
				s.log.Error("job dead-lettered", zap.String("id", id), zap.String("trace_id", s.traceOf(id)), zap.String("span_id", s.spanOf(id)), zap.String("worker_id", wid))
			}
			s.record(id, Attempt{Number: d.p.Retries + 1, WorkerID: wid, Outcome: d.outcome, Start: start, End: end}, d.outcome)
		}
	}
}
