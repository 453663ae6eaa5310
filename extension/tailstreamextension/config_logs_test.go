package tailstreamextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/jobtrace/jobtrace/internal/testutil/configtest"
)

// loadConfig reads component tailstream/<name> ("": plain tailstream) of testdata/<file>.
func loadConfig(t *testing.T, file, name string) (*Config, error) {
	t.Helper()
	id := component.NewID(typ)
	if name != "" {
		id = component.MustNewIDWithName(typ.String(), name)
	}
	return configtest.Load[*Config](t, filepath.Join("testdata", file), id, NewFactory())
}

func TestLoadLogsConfig(t *testing.T) {
	def, err := loadConfig(t, "config.yaml", "")
	require.NoError(t, err)
	assert.Equal(t, defaultLogsConfig(), def.LogsConfig)
	assert.Equal(t, "localhost:8088", def.NetAddr.Endpoint)
	assert.Zero(t, def.WriteTimeout, "streams must not be cut by a write timeout by default")

	cfg, err := loadConfig(t, "config.yaml", "logs")
	require.NoError(t, err)
	assert.Equal(t, RetentionConfig{BufferSize: 5000, MaxAge: 10 * time.Minute, MaxBytes: 8 << 20}, cfg.Retention)
	assert.EqualValues(t, 32<<20, def.Retention.MaxBytes, "the ring is bounded by bytes by default")

	off, err := loadConfig(t, "config.yaml", "count_only")
	require.NoError(t, err)
	assert.Zero(t, off.Retention.MaxBytes, "0 turns the byte bound off")
	assert.Equal(t, 1000, off.Retention.BufferSize)
	assert.Equal(t, StreamsConfig{
		Enabled: true, MaxStreams: 50, MaxStreamsPerUser: 5, Expiry: 30 * time.Minute, IdleTimeout: time.Minute,
		MaxFilterBytes: 2048, DefaultRateLimit: 200, MaxRateLimit: 5000, DefaultBufferSize: 500,
		MaxBufferSize: 10000, PingInterval: 5 * time.Second, MaxHistoryLimit: 200,
		LateWindow: 10 * time.Second, FilterBudget: 50 * time.Millisecond, ReplayOrderLines: 100_000,
	}, cfg.Streams)
	require.Len(t, cfg.Users, 2)
	assert.Equal(t, "s3cret-admin", string(cfg.Users[0].Token))
	assert.Equal(t, []string{"high_priority"}, cfg.Users[1].Scope.Queues)
	assert.Equal(t, &AttributeRule{Key: "job.owner", Values: []string{"alice"}}, cfg.Users[1].Scope.Attribute)
}

func TestLogsConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"bad_retention", []string{"retention.buffer_size: must be positive", "retention.max_age: must be positive", "retention.max_bytes: must not be negative"}},
		{"bad_streams", []string{"streams.max_streams_per_user: 20 exceeds streams.max_streams (10)", "streams.default_rate_limit: must be positive", "streams.replay_order_lines: must be positive"}},
		{"bad_users", []string{
			"users[0].name: must not be empty", `users[0].roles: unknown role "root"`,
			"users[1].token_sha256: set either token or token_sha256, not both",
			"users[2].token_sha256: must be 64 hex digits", "users[2].roles: must list at least one", "users[2].scope.attribute.key: must not be empty",
			"users[2].scope.attribute.values: must not be empty",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(t, "config.yaml", tt.name)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
