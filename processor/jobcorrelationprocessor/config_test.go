package jobcorrelationprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	def := createDefaultConfig().(*Config)
	custom := createDefaultConfig().(*Config)
	custom.MaxJobs = 5000
	custom.TTL = 10 * time.Minute
	custom.SpanTagging = SpanTaggingJobSpansOnly
	custom.JobIDAttributes = []string{"job_id", "celery.task_id"}
	custom.JobMessages = []string{"job completed", "job finished"}
	custom.Hold = HoldConfig{MaxWait: 500 * time.Millisecond, MaxRecords: 100, MaxBytes: 65536, TracedLogs: false}
	nohold := createDefaultConfig().(*Config)
	nohold.Hold.MaxWait, nohold.Hold.MaxRecords, nohold.Hold.MaxBytes = 0, 0, 0
	live := createDefaultConfig().(*Config)
	live.SharedIndex = "jobcorrelation"
	live.Hold.MaxWait = 0
	lookup := createDefaultConfig().(*Config)
	tailstreamID := component.MustNewID("tailstream")
	lookup.Lookup = LookupConfig{Extension: &tailstreamID, Timeout: 250 * time.Millisecond, MaxInFlight: 4, MissTTL: 3 * time.Second, MissCacheSize: 100}

	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: def},
		{name: "custom", want: custom},
		{name: "nohold", want: nohold},
		{name: "live", want: live},
		{name: "lookup", want: lookup},
		{name: "bad_lookup", wantErr: "lookup.timeout: must be positive\nlookup.max_in_flight: must be positive\nlookup.miss_ttl: must not be negative\nlookup.miss_cache_size: must be positive"},
		{name: "bad_lookup_nohold", wantErr: "lookup.extension: needs hold.max_wait"},
		{name: "bad_shared_index", wantErr: `shared_index: must name a jobcorrelation component, got "batch/x"`},
		{name: "bad_max_jobs", wantErr: "max_jobs: must be positive"},
		{name: "bad_ttl", wantErr: "ttl: must be positive"},
		{name: "bad_span_tagging", wantErr: `span_tagging: must be "whole_trace" or "job_spans_only", got "everything"`},
		{name: "bad_job_id_attributes", wantErr: "job_id_attributes[1]: must not be empty"},
		{name: "bad_job_messages", wantErr: "job_messages[0]: must not be empty"},
		{name: "bad_max_wait", wantErr: "hold.max_wait: must not be negative"},
		{name: "bad_hold_bounds", wantErr: "hold.max_records: must be positive\nhold.max_bytes: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaultConfigDoesNotShareSlices(t *testing.T) {
	a := createDefaultConfig().(*Config)
	a.JobIDAttributes[0] = "changed"
	a.JobMessages[0] = "changed"
	b := createDefaultConfig().(*Config)
	assert.Equal(t, DefaultJobIDAttributes, b.JobIDAttributes)
	assert.Equal(t, DefaultJobMessages, b.JobMessages)
}
