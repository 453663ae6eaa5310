package piiredactionprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/jobtrace/jobtrace/processor/piiredactionprocessor/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestLoadConfig(t *testing.T) {
	def := loadConfig(t, "")
	require.NoError(t, confmap.Validate(def))
	assert.Equal(t, createDefaultConfig(), def)

	full := loadConfig(t, "full")
	require.NoError(t, confmap.Validate(full))
	f := false
	assert.Equal(t, ActionMask, full.DefaultAction)
	assert.Equal(t, configopaque.String("0123456789abcdef0123456789abcdef"), full.HMACKey)
	assert.Equal(t, DetectorConfig{Action: ActionPartial}, full.Detectors["credit_card"])
	assert.Equal(t, DetectorConfig{Enabled: &f}, full.Detectors["ipv4"])
	assert.Equal(t, DetectorConfig{Action: ActionFixed, Value: "<phone>"}, full.Detectors["phone"])
	assert.Equal(t, ActionDrop, full.Detectors["key_name"].Action)
	assert.Equal(t, []string{"pin"}, full.ExtraSensitiveKeys)
	assert.Equal(t, []CustomRule{
		{Name: "employee_id", Pattern: "EMP-[0-9]{6}", Label: "employee"},
		{Name: "account", Pattern: "ACCT[0-9]{8}", Validator: "luhn", Action: ActionHash},
	}, full.CustomRules)
	assert.False(t, full.Scope.SpanName)
	assert.True(t, full.Scope.LogBody, "unset scope keys keep their default")
	assert.True(t, full.Scope.MetricDataPointAttributes)
	assert.Len(t, full.Conditions.LogRecord, 1)
	assert.Equal(t, AuditConfig{RecordAttributes: true, AttributePrefix: "pii"}, full.Audit)
	assert.Equal(t, []string{"GB", "es"}, full.Phone.Regions)
	assert.Equal(t, []string{"pin", "pin code"}, full.SecretKeywords)
}

func TestConfigValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"bad_ottl", []string{`conditions.log_record[0]`, "1:"}},
		{"bad_span_ottl", []string{`conditions.span[0]`, "nosuchfunc"}},
		{"short_hmac", []string{"hmac_key: must be at least 32 bytes"}},
		{"unknown_detector", []string{"detectors.passport: unknown detector"}},
		{"bad_regex", []string{"custom_rules[0].pattern", "missing closing )"}},
		{"bad_validator", []string{`custom_rules[0].validator: unknown validator "mod11"`}},
		{"bad_action", []string{`detectors.email.action: unknown action "shred"`}},
		{"builtin_rule_name", []string{`custom_rules[0].name: "email" is a built-in detector name`}},
		{"bad_phone_region", []string{`phone.regions[1]: unknown region "XX"`}},
		{"bad_secret_keyword", []string{"secret_keywords[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, tt.name))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestHMACKeyNotNeededWithoutHash(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.HMACKey = "short"
	require.NoError(t, cfg.Validate())
	cfg.CustomRules = []CustomRule{{Name: "r", Pattern: "x", Action: ActionHash}}
	require.ErrorContains(t, cfg.Validate(), "hmac_key")
}
