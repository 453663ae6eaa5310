package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/jobtrace/jobtrace/internal/tracecontext"
)

// Presets name the queue layouts the receiver knows.
const (
	PresetGoRedisWorkQueue = "go-redis-work-queue"
	PresetList             = "list"
	PresetSidekiq          = "sidekiq"
	PresetCelery           = "celery"
	PresetRQ               = "rq"
	PresetBullMQ           = "bullmq"
	PresetAsynq            = "asynq"
)

const workerIDPlaceholder = "{worker_id}"

// Config is the queuejob receiver's configuration.
type Config struct {
	// Endpoint is the Redis address, host:port.
	Endpoint string `mapstructure:"endpoint"`
	// Addresses, when it holds more than one entry, is a Redis Cluster seed list (or, with
	// SentinelMaster, the Sentinel addresses). Endpoint is ignored then.
	Addresses []string `mapstructure:"addresses"`
	// SentinelMaster selects Redis Sentinel: the name of the monitored master.
	SentinelMaster string              `mapstructure:"sentinel_master"`
	Username       string              `mapstructure:"username"`
	Password       configopaque.String `mapstructure:"password"`
	DB             int                 `mapstructure:"db"`
	// ClientName is sent with CLIENT SETNAME so operators see the receiver in CLIENT LIST. Empty
	// by default: a read-only ACL user needs +client|setname for it.
	ClientName string `mapstructure:"client_name"`
	// TLS is off unless the section is present.
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`

	DialTimeout  time.Duration `mapstructure:"dial_timeout"`
	ReadTimeout  time.Duration `mapstructure:"read_timeout"`
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// MaxBackoff caps the delay between reconnect attempts while Redis is unreachable.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`

	// Preset fills every key and field left empty: go-redis-work-queue or list, or names a
	// queue library (sidekiq, celery, rq, ...) whose adapter finds its queues by itself.
	Preset string `mapstructure:"preset"`
	// KeyPrefix is a library preset's key prefix or namespace (Sidekiq namespace "myapp",
	// RQ "rq"); empty means the library's default layout.
	KeyPrefix string `mapstructure:"key_prefix"`
	// ResultKeyPrefix is the result-key prefix of libraries that have one (Celery
	// "celery-task-meta-"); empty means the library's default.
	ResultKeyPrefix string `mapstructure:"result_key_prefix"`

	Queues []QueueConfig `mapstructure:"queues"`
	Keys   KeysConfig    `mapstructure:"keys"`
	Fields FieldsConfig  `mapstructure:"fields"`

	Windows WindowsConfig `mapstructure:"windows"`
	Scan    ScanConfig    `mapstructure:"scan"`

	// MaxProcessingLists bounds how many worker processing lists one poll reads.
	MaxProcessingLists int `mapstructure:"max_processing_lists"`
	// MaxPayloadSize is the largest job payload parsed; larger ones are counted and skipped.
	MaxPayloadSize int `mapstructure:"max_payload_size"`
	// MaxTrackedJobs bounds the per-job state (attempt timings, worker ids).
	MaxTrackedJobs int `mapstructure:"max_tracked_jobs"`
	// DedupSize bounds the LRU of emitted events (payload hash + event).
	DedupSize int `mapstructure:"dedup_size"`
	// AbandonGrace is how long a processing job must lack a heartbeat before it is abandoned;
	// it covers the instant between a worker's BRPOPLPUSH and its first heartbeat SET.
	AbandonGrace time.Duration `mapstructure:"abandon_grace"`

	// EmitEnqueued turns on job_enqueued logs from the pending lists' head windows.
	EmitEnqueued bool `mapstructure:"emit_enqueued"`
	// EmitExisting emits events for jobs already finished when the receiver starts.
	EmitExisting bool `mapstructure:"emit_existing"`
	// Propagation is parent (job span is a child of the extracted context) or link.
	Propagation string `mapstructure:"propagation"`
	// ServiceName is the resource service.name of the job spans and lifecycle logs.
	ServiceName string `mapstructure:"service_name"`

	TraceContext TraceContextConfig `mapstructure:"trace_context"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// QueueConfig is one pending list.
type QueueConfig struct {
	// Name is the logical queue name used in span names and queue.name.
	Name string `mapstructure:"name"`
	// Key is the Redis list producers LPUSH to.
	Key string `mapstructure:"key"`
	// Priority is the payload's priority value that routes a job to this queue (upstream:
	// high/low); it names the queue of jobs seen outside pending lists.
	Priority string `mapstructure:"priority"`
}

// KeysConfig holds the key patterns; {worker_id} marks the worker id.
type KeysConfig struct {
	Processing string `mapstructure:"processing"`
	Heartbeat  string `mapstructure:"heartbeat"`
	Completed  string `mapstructure:"completed"`
	DeadLetter string `mapstructure:"dead_letter"`
}

// FieldsConfig maps job attributes to dot-separated JSON paths in the payload.
type FieldsConfig struct {
	ID        string `mapstructure:"id"`
	Type      string `mapstructure:"type"`
	Queue     string `mapstructure:"queue"`
	Attempt   string `mapstructure:"attempt"`
	Priority  string `mapstructure:"priority"`
	CreatedAt string `mapstructure:"created_at"`
	// AttemptOffset is added to the attempt field: 1 when it counts retries (upstream,
	// Sidekiq retry_count, Celery retries), 0 when it already counts attempts.
	AttemptOffset *int `mapstructure:"attempt_offset"`
}

// WindowsConfig bounds how many list entries one poll reads from each list's head.
type WindowsConfig struct {
	Pending    int `mapstructure:"pending"`
	Processing int `mapstructure:"processing"`
	Completed  int `mapstructure:"completed"`
	DeadLetter int `mapstructure:"dead_letter"`
	// Active bounds the in-progress entries (worker hashes, unacked messages, started
	// registries) a library adapter reads per structure and poll.
	Active int `mapstructure:"active"`
	// Retry bounds the entries a library adapter reads from each retry or scheduled set.
	Retry int `mapstructure:"retry"`
	// Page is the LRANGE size; a finished list is read page by page only until a page
	// contains an entry already seen.
	Page int `mapstructure:"page"`
}

// ScanConfig bounds key discovery. The SCAN cursor persists across polls.
type ScanConfig struct {
	Count        int `mapstructure:"count"`
	CallsPerPoll int `mapstructure:"calls_per_poll"`
}

// TraceContextConfig configures internal/tracecontext.
type TraceContextConfig struct {
	// Enabled false turns extraction off (the design's first rollback switch): jobs are still
	// observed and emitted, each on its own trace derived from the job id.
	Enabled bool `mapstructure:"enabled"`
	// Precedence lists formats, first wins: w3c, b3, jaeger, xray, datadog, plain, upstream.
	Precedence []string `mapstructure:"precedence"`
	// ExtraPaths are extra dot-separated payload paths searched as carriers.
	ExtraPaths []string `mapstructure:"extra_paths"`
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{
		Endpoint:           "localhost:6379",
		DialTimeout:        5 * time.Second,
		ReadTimeout:        3 * time.Second,
		PollInterval:       250 * time.Millisecond,
		MaxBackoff:         30 * time.Second,
		Preset:             PresetGoRedisWorkQueue,
		Windows:            WindowsConfig{Pending: 100, Processing: 10, Completed: 20000, DeadLetter: 2000, Active: 1000, Retry: 2000, Page: 1000},
		Scan:               ScanConfig{Count: 1000, CallsPerPoll: 4},
		MaxProcessingLists: 1000,
		MaxPayloadSize:     1 << 20,
		MaxTrackedJobs:     100_000,
		DedupSize:          500_000,
		AbandonGrace:       time.Second,
		Propagation:        "parent",
		TraceContext:       TraceContextConfig{Enabled: true},
		ServiceName:        "jobqueue",
	}
}

// resolved returns a copy with the preset's defaults filled into every empty key and field.
func (cfg *Config) resolved() Config {
	r := *cfg
	switch r.Preset {
	case PresetGoRedisWorkQueue:
		if len(r.Queues) == 0 {
			r.Queues = []QueueConfig{
				{Name: "high_priority", Key: "jobqueue:high_priority", Priority: "high"},
				{Name: "low_priority", Key: "jobqueue:low_priority", Priority: "low"},
			}
		}
		def(&r.Keys.Processing, "jobqueue:worker:{worker_id}:processing")
		def(&r.Keys.Heartbeat, "jobqueue:processing:worker:{worker_id}")
		def(&r.Keys.Completed, "jobqueue:completed")
		def(&r.Keys.DeadLetter, "jobqueue:dead_letter")
		def(&r.Fields.ID, "id")
		def(&r.Fields.Attempt, "retries")
		def(&r.Fields.Priority, "priority")
		def(&r.Fields.CreatedAt, "creation_time")
		if r.Fields.AttemptOffset == nil {
			one := 1
			r.Fields.AttemptOffset = &one
		}
	case PresetList:
		def(&r.Fields.ID, "id")
		if r.Fields.AttemptOffset == nil {
			zero := 0
			r.Fields.AttemptOffset = &zero
		}
	}
	if r.Windows.Page > 0 {
		r.Windows.Page = min(r.Windows.Page, max(r.Windows.Completed, r.Windows.DeadLetter))
	}
	return r
}

func def(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// Validate checks the configuration; every message names its key.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if cfg.Endpoint == "" && len(cfg.Addresses) == 0 {
		add("endpoint: must not be empty")
	}
	for i, a := range cfg.Addresses {
		if a == "" {
			add("addresses[%d]: must not be empty", i)
		}
	}
	if cfg.DB < 0 {
		add("db: must not be negative")
	}
	if cfg.DB != 0 && len(cfg.Addresses) > 1 && cfg.SentinelMaster == "" {
		add("db: Redis Cluster has only database 0")
	}
	if cfg.DialTimeout <= 0 {
		add("dial_timeout: must be positive")
	}
	if cfg.ReadTimeout <= 0 {
		add("read_timeout: must be positive")
	}
	if cfg.PollInterval <= 0 {
		add("poll_interval: must be positive")
	}
	if cfg.MaxBackoff < cfg.PollInterval {
		add("max_backoff: must be at least poll_interval")
	}
	_, isLibrary := libraries[cfg.Preset]
	switch {
	case cfg.Preset == PresetGoRedisWorkQueue, cfg.Preset == PresetList, isLibrary:
	default:
		add("preset: must be one of %s, got %q", strings.Join(presetNames(), ", "), cfg.Preset)
	}
	r := cfg.resolved()
	if isLibrary {
		errs = append(errs, cfg.validateLibrary(&r)...)
	} else if cfg.KeyPrefix != "" || cfg.ResultKeyPrefix != "" {
		add("key_prefix: only for a queue library preset, not %q", cfg.Preset)
	}
	if !isLibrary && len(r.Queues) == 0 {
		add("queues: at least one queue is required with preset %q", cfg.Preset)
	}
	names := map[string]bool{}
	for i, q := range r.Queues {
		if q.Name == "" {
			add("queues[%d].name: must not be empty", i)
		}
		if q.Key == "" && !isLibrary {
			add("queues[%d].key: must not be empty", i)
		}
		if names[q.Name] {
			add("queues[%d].name: duplicate %q", i, q.Name)
		}
		names[q.Name] = true
	}
	for _, p := range []struct{ key, v string }{{"keys.processing", r.Keys.Processing}, {"keys.heartbeat", r.Keys.Heartbeat}} {
		if p.v != "" && strings.Count(p.v, workerIDPlaceholder) != 1 {
			add("%s: must contain %s exactly once", p.key, workerIDPlaceholder)
		}
	}
	if r.Keys.Heartbeat != "" && r.Keys.Processing == "" {
		add("keys.heartbeat: needs keys.processing")
	}
	if r.Fields.ID == "" && !isLibrary {
		add("fields.id: must not be empty")
	}
	if o := r.Fields.AttemptOffset; o != nil && (*o < 0 || *o > 1) {
		add("fields.attempt_offset: must be 0 or 1")
	}
	positive := []struct {
		key string
		v   int
	}{
		{"windows.pending", cfg.Windows.Pending}, {"windows.processing", cfg.Windows.Processing},
		{"windows.completed", cfg.Windows.Completed}, {"windows.dead_letter", cfg.Windows.DeadLetter},
		{"windows.page", cfg.Windows.Page}, {"windows.active", cfg.Windows.Active}, {"windows.retry", cfg.Windows.Retry},
		{"scan.count", cfg.Scan.Count}, {"scan.calls_per_poll", cfg.Scan.CallsPerPoll},
		{"max_processing_lists", cfg.MaxProcessingLists}, {"max_payload_size", cfg.MaxPayloadSize},
		{"max_tracked_jobs", cfg.MaxTrackedJobs}, {"dedup_size", cfg.DedupSize},
	}
	for _, p := range positive {
		if p.v <= 0 {
			add("%s: must be positive", p.key)
		}
	}
	limits := []struct {
		key    string
		v, max int
	}{
		{"windows.pending", cfg.Windows.Pending, 100_000}, {"windows.processing", cfg.Windows.Processing, 10_000},
		{"windows.completed", cfg.Windows.Completed, 1_000_000}, {"windows.dead_letter", cfg.Windows.DeadLetter, 1_000_000},
		{"windows.active", cfg.Windows.Active, 100_000}, {"windows.retry", cfg.Windows.Retry, 1_000_000},
		{"scan.count", cfg.Scan.Count, 100_000}, {"scan.calls_per_poll", cfg.Scan.CallsPerPoll, 1000},
		{"max_payload_size", cfg.MaxPayloadSize, 512 << 20},
	}
	for _, l := range limits {
		if l.v > l.max {
			add("%s: must be at most %d", l.key, l.max)
		}
	}
	if cfg.AbandonGrace < 0 {
		add("abandon_grace: must not be negative")
	}
	if cfg.Propagation != "parent" && cfg.Propagation != "link" {
		add("propagation: must be parent or link, got %q", cfg.Propagation)
	}
	if cfg.ServiceName == "" {
		add("service_name: must not be empty")
	}
	formatsOK := true
	for i, f := range cfg.TraceContext.Precedence {
		if _, err := tracecontext.ParseFormat(f); err != nil {
			add("trace_context.precedence[%d]: %v", i, err)
			formatsOK = false
		}
	}
	// The rest (duplicate formats, path shapes and depth, built-in carrier names) is
	// tracecontext's to judge; report it here so it fails validate, not Start.
	if formatsOK {
		if tc, err := cfg.extractorConfig(); err == nil {
			for _, e := range unjoin(tc.Validate()) {
				add("trace_context.%v", e)
			}
		}
	}
	return errors.Join(errs...)
}

func (cfg *Config) extractorConfig() (tracecontext.Config, error) {
	tc := tracecontext.DefaultConfig()
	if len(cfg.TraceContext.Precedence) > 0 {
		tc.Precedence = tc.Precedence[:0:0]
		for _, f := range cfg.TraceContext.Precedence {
			pf, err := tracecontext.ParseFormat(f)
			if err != nil {
				return tc, err
			}
			tc.Precedence = append(tc.Precedence, pf)
		}
	}
	tc.ExtraPaths = append(tc.ExtraPaths, cfg.TraceContext.ExtraPaths...)
	return tc, nil
}

// unjoin splits an errors.Join result so each part can carry its own key prefix.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
