package queuejobreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(component.NewIDWithName(typ, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config), confmap.Validate(cfg)
}

func TestLoadConfigValid(t *testing.T) {
	def, err := loadConfig(t, "")
	require.NoError(t, err)
	require.Equal(t, createDefaultConfig(), def)
	r := def.resolved()
	require.Len(t, r.Queues, 2)
	require.Equal(t, "jobqueue:worker:{worker_id}:processing", r.Keys.Processing)
	require.Equal(t, "jobqueue:completed", r.Keys.Completed)
	require.Equal(t, 1, *r.Fields.AttemptOffset)
	require.False(t, def.TLS.HasValue())

	c, err := loadConfig(t, "custom")
	require.NoError(t, err)
	require.Equal(t, "redis.internal:6380", c.Endpoint)
	require.Equal(t, "s3cret", string(c.Password))
	require.True(t, c.TLS.HasValue())
	require.Equal(t, "/etc/ssl/redis-ca.pem", c.TLS.Get().CAFile)
	require.Equal(t, 100*time.Millisecond, c.PollInterval)
	require.Equal(t, "link", c.Propagation)
	require.Equal(t, []string{"b3", "w3c", "upstream"}, c.TraceContext.Precedence)
	r = c.resolved()
	require.Equal(t, []QueueConfig{{Name: "urgent", Key: "q:urgent", Priority: "high"}}, r.Queues)
	require.Equal(t, "q:hb:{worker_id}", r.Keys.Heartbeat)
	require.Equal(t, "retries", r.Fields.Attempt, "preset fills fields left empty")
	require.Equal(t, 1000, r.Windows.Page)

	sk, err := loadConfig(t, "sidekiq")
	require.NoError(t, err)
	r = sk.resolved()
	require.Empty(t, r.Keys.Processing, "the list preset has no processing lists unless configured")
	require.Equal(t, "jid", r.Fields.ID)
	require.Equal(t, 1, *r.Fields.AttemptOffset)

	for _, name := range []string{"lib_sidekiq", "lib_celery", "lib_rq"} {
		c, err := loadConfig(t, name)
		require.NoError(t, err, name)
		require.Contains(t, libraries, c.Preset)
	}
	cel, _ := loadConfig(t, "lib_celery")
	set := cel.adapterSettings(nil, nil)
	require.Equal(t, []string{"emails", "reports"}, set.Queues)
	require.Equal(t, "myapp-meta-", set.ResultPrefix)
	require.Equal(t, 500, set.Windows.Active)
	require.Equal(t, 2000, set.Windows.Retry)

	for _, name := range []string{"cluster", "sentinel"} {
		_, err := loadConfig(t, name)
		require.NoError(t, err, name)
	}
}

func TestLoadConfigInvalid(t *testing.T) {
	cases := map[string][]string{
		"bad_preset":                {`preset: must be one of go-redis-work-queue, list, `, `got "resque"`},
		"list_without_queues":       {"queues: at least one queue is required"},
		"bad_pattern":               {"keys.processing: must contain {worker_id} exactly once"},
		"bad_windows":               {"windows.completed: must be positive", "windows.pending: must be at most 100000"},
		"bad_propagation":           {`propagation: must be parent or link, got "child"`},
		"bad_format":                {"trace_context.precedence[1]:"},
		"dup_format":                {`trace_context.precedence[2]: format "w3c" is listed twice`},
		"bad_extra_path":            {"trace_context.extra_paths[0]:", `trace_context.extra_paths[1]: "headers" is already a built-in carrier`},
		"bad_poll":                  {"poll_interval: must be positive"},
		"empty_endpoint":            {"endpoint: must not be empty"},
		"cluster_db":                {"db: Redis Cluster has only database 0"},
		"bad_offset":                {"fields.attempt_offset: must be 0 or 1"},
		"dup_queue":                 {`queues[1].name: duplicate "a"`},
		"lib_with_key":              {`queues[0].key: preset "sidekiq" derives keys from queue names`},
		"lib_with_keys_and_fields":  {`keys: not used by preset "celery"`, `fields: not used by preset "celery"`},
		"lib_glob_prefix":           {`key_prefix: must not contain glob characters`},
		"prefix_without_library":    {`key_prefix: only for a queue library preset`},
		"sidekiq_result_prefix":     {"result_key_prefix: Sidekiq keeps no results"},
		"sidekiq_queue_key_as_name": {`queues[0].name: give the queue name ("default"), not its key`},
		"lib_bad_windows":           {"windows.active: must be positive", "windows.retry: must be at most 1000000"},
	}
	for name, msgs := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			require.Error(t, err)
			for _, m := range msgs {
				require.ErrorContains(t, err, m)
			}
		})
	}
}
