// Package configtest loads one component's configuration from a testdata YAML file the way
// the collector does (the factory's defaults, then the file's keys), for config tests.
package configtest // import "github.com/jobtrace/jobtrace/internal/testutil/configtest"

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// Load reads the section named id (e.g. "tailstream/traces") of the YAML file at path into
// a copy of f's default config and returns it with the result of its Validate. A missing
// file or section fails the test.
func Load[C interface {
	component.Config
	Validate() error
}](t testing.TB, path string, id component.ID, f component.Factory) (C, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(path)
	require.NoError(t, err)
	cfg := f.CreateDefaultConfig().(C)
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	require.True(t, cm.IsSet(id.String()), "%s has no section %s", path, id)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, cfg.Validate()
}
