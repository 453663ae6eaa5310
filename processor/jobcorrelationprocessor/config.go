package jobcorrelationprocessor // import "github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor/internal/metadata"
)

// SpanTagging says which spans get job attributes.
type SpanTagging string

const (
	// SpanTaggingWholeTrace tags every span of a job's trace (SQL, HTTP calls made by the job).
	SpanTaggingWholeTrace SpanTagging = "whole_trace"
	// SpanTaggingJobSpansOnly only completes spans that already name a job.
	SpanTaggingJobSpansOnly SpanTagging = "job_spans_only"
)

// Config is the jobcorrelation processor's configuration.
type Config struct {
	// MaxJobs bounds the shared job index (LRU).
	MaxJobs int `mapstructure:"max_jobs"`
	// TTL expires index entries that were not used for this long.
	TTL time.Duration `mapstructure:"ttl"`

	// SpanTagging is whole_trace or job_spans_only.
	SpanTagging SpanTagging `mapstructure:"span_tagging"`

	// JobIDAttributes are the attribute keys, besides job.id, that name a job on spans and
	// logs, checked in order.
	JobIDAttributes []string `mapstructure:"job_id_attributes"`
	// JobMessages are the log bodies (zap "msg") on which the upstream attribute `id` is a
	// job id. Elsewhere `id` is too generic to trust.
	JobMessages []string `mapstructure:"job_messages"`

	// Hold configures holding logs whose job is not known yet.
	Hold HoldConfig `mapstructure:"hold"`

	// SharedIndex names another jobcorrelation component ID whose job index this instance
	// uses instead of its own (its max_jobs and ttl then apply). It lets a second instance
	// with other hold settings, e.g. one without a hold on the live tail path, tag with what
	// the first one's pipelines learned. Empty means this component ID's own index.
	SharedIndex string `mapstructure:"shared_index"`

	// Lookup asks an extension about held records whose job the index does not know.
	Lookup LookupConfig `mapstructure:"lookup"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// LookupConfig names the extension that answers for jobs the index has not met (the
// tailstream extension: its catalog, else its log store) and bounds what asking may cost.
type LookupConfig struct {
	// Extension is the component ID of an extension implementing joblookup.Lookup; nil
	// disables lookups.
	Extension *component.ID `mapstructure:"extension"`
	// Timeout bounds one lookup.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxInFlight bounds concurrent lookups; a record whose job cannot be asked about now
	// just waits in the hold as before.
	MaxInFlight int `mapstructure:"max_in_flight"`
	// MissTTL is how long a job the extension did not know (or could not answer for) is not
	// asked about again; MissCacheSize bounds how many such jobs are remembered.
	MissTTL       time.Duration `mapstructure:"miss_ttl"`
	MissCacheSize int           `mapstructure:"miss_cache_size"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// HoldConfig bounds the buffer for late arrivals.
type HoldConfig struct {
	// MaxWait is how long a log may wait for its job; 0 disables holding.
	MaxWait time.Duration `mapstructure:"max_wait"`
	// MaxRecords and MaxBytes bound the buffer; when full, new logs pass through untagged.
	MaxRecords int `mapstructure:"max_records"`
	MaxBytes   int `mapstructure:"max_bytes"`
	// TracedLogs also holds logs that carry only a trace context (no job id) whose trace is
	// not known yet: logs written inside a job by instrumented code usually arrive before the
	// job's span. Turn it off when most traced logs do not belong to jobs and the delay hurts.
	TracedLogs bool `mapstructure:"traced_logs"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// DefaultJobIDAttributes are the job-id keys of common queue instrumentations (Sidekiq's jid,
// Celery's task_id, BullMQ's jobId, OTel messaging semantic conventions).
var DefaultJobIDAttributes = []string{"job_id", "jobId", "jid", "task_id", "messaging.message.id"}

// DefaultJobMessages are go-redis-work-queue's worker messages that carry the job id as `id`.
var DefaultJobMessages = []string{"job completed", "job retried", "job dead-lettered", "requeued abandoned job"}

func createDefaultConfig() component.Config {
	return &Config{
		MaxJobs:         100_000,
		TTL:             time.Hour,
		SpanTagging:     SpanTaggingWholeTrace,
		JobIDAttributes: append([]string(nil), DefaultJobIDAttributes...),
		JobMessages:     append([]string(nil), DefaultJobMessages...),
		Hold: HoldConfig{
			MaxWait:    2 * time.Second,
			MaxRecords: 10_000,
			MaxBytes:   16 << 20,
			TracedLogs: true,
		},
		Lookup: LookupConfig{
			Timeout:       time.Second,
			MaxInFlight:   8,
			MissTTL:       time.Second,
			MissCacheSize: 10_000,
		},
	}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.MaxJobs <= 0 {
		errs = errors.Join(errs, errors.New("max_jobs: must be positive"))
	}
	if cfg.TTL <= 0 {
		errs = errors.Join(errs, errors.New("ttl: must be positive"))
	}
	switch cfg.SpanTagging {
	case SpanTaggingWholeTrace, SpanTaggingJobSpansOnly:
	default:
		errs = errors.Join(errs, fmt.Errorf("span_tagging: must be %q or %q, got %q",
			SpanTaggingWholeTrace, SpanTaggingJobSpansOnly, cfg.SpanTagging))
	}
	for i, k := range cfg.JobIDAttributes {
		if k == "" {
			errs = errors.Join(errs, fmt.Errorf("job_id_attributes[%d]: must not be empty", i))
		}
	}
	for i, m := range cfg.JobMessages {
		if m == "" {
			errs = errors.Join(errs, fmt.Errorf("job_messages[%d]: must not be empty", i))
		}
	}
	if cfg.SharedIndex != "" {
		if _, err := cfg.sharedIndexID(); err != nil {
			errs = errors.Join(errs, fmt.Errorf("shared_index: %w", err))
		}
	}
	if cfg.Hold.MaxWait < 0 {
		errs = errors.Join(errs, errors.New("hold.max_wait: must not be negative"))
	}
	if cfg.Hold.MaxWait > 0 {
		if cfg.Hold.MaxRecords <= 0 {
			errs = errors.Join(errs, errors.New("hold.max_records: must be positive"))
		}
		if cfg.Hold.MaxBytes <= 0 {
			errs = errors.Join(errs, errors.New("hold.max_bytes: must be positive"))
		}
	}
	if cfg.Lookup.Extension != nil {
		l := &cfg.Lookup
		if cfg.Hold.MaxWait <= 0 {
			errs = errors.Join(errs, errors.New("lookup.extension: needs hold.max_wait: a lookup answers while a record waits in the hold"))
		}
		if l.Timeout <= 0 {
			errs = errors.Join(errs, errors.New("lookup.timeout: must be positive"))
		}
		if l.MaxInFlight <= 0 {
			errs = errors.Join(errs, errors.New("lookup.max_in_flight: must be positive"))
		}
		if l.MissTTL < 0 {
			errs = errors.Join(errs, errors.New("lookup.miss_ttl: must not be negative"))
		}
		if l.MissCacheSize <= 0 {
			errs = errors.Join(errs, errors.New("lookup.miss_cache_size: must be positive"))
		}
	}
	return errs
}

// sharedIndexID parses SharedIndex, which must name a jobcorrelation component.
func (cfg *Config) sharedIndexID() (component.ID, error) {
	var id component.ID
	if err := id.UnmarshalText([]byte(cfg.SharedIndex)); err != nil {
		return id, err
	}
	if id.Type() != metadata.Type {
		return id, fmt.Errorf("must name a %s component, got %q", metadata.Type, cfg.SharedIndex)
	}
	return id, nil
}
