package piiredactionprocessor // import "github.com/jobtrace/jobtrace/processor/piiredactionprocessor"

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/processor/piiredactionprocessor/internal/scan"
)

// Action says what replaces a detected value.
type Action string

const (
	// ActionMask replaces the value with a labelled placeholder, "[REDACTED:<label>]".
	ActionMask Action = "mask"
	// ActionFixed replaces the value with a fixed string.
	ActionFixed Action = "fixed"
	// ActionHash replaces the value with a keyed HMAC-SHA256, so equal values still correlate.
	ActionHash Action = "hash"
	// ActionPartial keeps the last four letters or digits (for a card, its last 4 digits).
	ActionPartial Action = "partial"
	// ActionDrop removes the attribute that holds the value (fields that cannot be removed,
	// such as a span name or a string body, are masked instead).
	ActionDrop Action = "drop"
)

func (a Action) valid() bool {
	switch a {
	case ActionMask, ActionFixed, ActionHash, ActionPartial, ActionDrop:
		return true
	}
	return false
}

// keyNameDetector is the detector name of the key-name rule, configurable like a built-in.
const keyNameDetector = "key_name"

const minHMACKeyLen = 32

// Config is the piiredaction processor's configuration.
type Config struct {
	// DefaultAction applies to every detector that does not set its own action.
	DefaultAction Action `mapstructure:"default_action"`
	// Detectors switches built-in detectors (and "key_name") on or off and sets their action.
	Detectors map[string]DetectorConfig `mapstructure:"detectors"`
	// HMACKey keys the "hash" action; required (>= 32 bytes) when any action is "hash".
	HMACKey configopaque.String `mapstructure:"hmac_key"`
	// SensitiveKeys are the words that make an attribute or map key sensitive (whole value
	// masked). Matching is by word of the key: "user_password", "http.request.header.authorization"
	// and "apiKey" match, "max_tokens" and "discard" do not. Empty means the defaults.
	SensitiveKeys []string `mapstructure:"sensitive_keys"`
	// ExtraSensitiveKeys are added to SensitiveKeys (or to the defaults).
	ExtraSensitiveKeys []string `mapstructure:"extra_sensitive_keys"`
	// SecretParams are the parameter names whose value is a secret in URLs, key=value text and
	// embedded JSON. Empty means the defaults.
	SecretParams []string `mapstructure:"secret_params"`
	// AllowedKeys are attribute or map keys whose values are never scanned or masked.
	AllowedKeys []string `mapstructure:"allowed_keys"`
	// AllowedValues are exact values that are kept even when a detector matches them.
	AllowedValues []string `mapstructure:"allowed_values"`
	// CustomRules are user-defined regex detectors.
	CustomRules []CustomRule `mapstructure:"custom_rules"`
	// Scope selects the fields that are scanned.
	Scope ScopeConfig `mapstructure:"scope"`
	// Conditions, when set, select the records to redact (OTTL, any condition true = redact).
	Conditions ConditionsConfig `mapstructure:"conditions"`
	// Audit controls per-record audit attributes.
	Audit AuditConfig `mapstructure:"audit"`
	// Phone configures the phone detector.
	Phone PhoneConfig `mapstructure:"phone"`
	// SecretKeywords are words added to the built-in free-text secret keywords (password,
	// secret, token, api key, …): "<keyword> is|:|= <value>" masks the value.
	SecretKeywords []string `mapstructure:"secret_keywords"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// DetectorConfig configures one detector.
type DetectorConfig struct {
	// Enabled defaults to true.
	Enabled *bool `mapstructure:"enabled"`
	// Action defaults to the processor's default_action.
	Action Action `mapstructure:"action"`
	// Label replaces the detector name in the mask placeholder "[REDACTED:<label>]".
	Label string `mapstructure:"label"`
	// Value is the replacement for the "fixed" action (default "****").
	Value string `mapstructure:"value"`
}

// CustomRule is a user-defined detector.
type CustomRule struct {
	// Name labels matches in placeholders, telemetry and audit attributes.
	Name string `mapstructure:"name"`
	// Pattern is a Go (RE2) regular expression.
	Pattern string `mapstructure:"pattern"`
	// Validator optionally checks each match: luhn, credit_card, iban, ssn, ipv4 or ipv6.
	Validator string `mapstructure:"validator"`
	// Action, Label and Value as for detectors.
	Action Action `mapstructure:"action"`
	Label  string `mapstructure:"label"`
	Value  string `mapstructure:"value"`
}

// ScopeConfig selects fields. All default to true except MetricDataPointAttributes.
type ScopeConfig struct {
	LogBody                   bool `mapstructure:"log_body"`
	LogAttributes             bool `mapstructure:"log_attributes"`
	SpanName                  bool `mapstructure:"span_name"`
	SpanAttributes            bool `mapstructure:"span_attributes"`
	SpanEvents                bool `mapstructure:"span_events"`
	SpanLinks                 bool `mapstructure:"span_links"`
	SpanStatusMessage         bool `mapstructure:"span_status_message"`
	ResourceAttributes        bool `mapstructure:"resource_attributes"`
	ScopeAttributes           bool `mapstructure:"scope_attributes"`
	MetricDataPointAttributes bool `mapstructure:"metric_datapoint_attributes"`
}

// ConditionsConfig holds OTTL conditions per record type. A record is redacted when any of its
// conditions is true; with no conditions every record is redacted.
type ConditionsConfig struct {
	LogRecord []string `mapstructure:"log_record"`
	Span      []string `mapstructure:"span"`
	DataPoint []string `mapstructure:"datapoint"`
}

// PhoneConfig configures the phone detector.
type PhoneConfig struct {
	// Regions are ISO 3166-1 alpha-2 codes whose national formats are tried for numbers written
	// without a country code (+44 … and 0044 … are recognised whatever the list). Empty means
	// international numbers only.
	Regions []string `mapstructure:"regions"`
}

// AuditConfig controls per-record audit attributes.
type AuditConfig struct {
	// RecordAttributes adds "<prefix>.total" and "<prefix>.<detector>" counts (never values) to
	// each log record, span or data point that had redactions.
	RecordAttributes bool `mapstructure:"record_attributes"`
	// AttributePrefix defaults to "redaction".
	AttributePrefix string `mapstructure:"attribute_prefix"`
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{
		DefaultAction: ActionMask,
		Scope: ScopeConfig{
			LogBody: true, LogAttributes: true, SpanName: true, SpanAttributes: true, SpanEvents: true,
			SpanLinks: true, SpanStatusMessage: true, ResourceAttributes: true, ScopeAttributes: true,
		},
		Audit: AuditConfig{AttributePrefix: "redaction"},
		Phone: PhoneConfig{Regions: append([]string(nil), scan.DefaultPhoneRegions...)},
	}
}

// Validate checks the configuration; each error names its key.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.DefaultAction != "" && !cfg.DefaultAction.valid() {
		errs = append(errs, fmt.Errorf("default_action: unknown action %q (mask, fixed, hash, partial, drop)", cfg.DefaultAction))
	}
	usesHash := cfg.DefaultAction == ActionHash
	names := make([]string, 0, len(cfg.Detectors))
	for name := range cfg.Detectors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d := cfg.Detectors[name]
		if _, ok := scan.ParseKind(name); !ok && name != keyNameDetector {
			errs = append(errs, fmt.Errorf("detectors.%s: unknown detector (known: %s, %s)", name, strings.Join(scan.KindNames(), ", "), keyNameDetector))
			continue
		}
		if d.Action != "" && !d.Action.valid() {
			errs = append(errs, fmt.Errorf("detectors.%s.action: unknown action %q (mask, fixed, hash, partial, drop)", name, d.Action))
		}
		if d.Action == ActionHash && (d.Enabled == nil || *d.Enabled) {
			usesHash = true
		}
	}
	seen := map[string]bool{}
	for i, r := range cfg.CustomRules {
		key := fmt.Sprintf("custom_rules[%d]", i)
		switch {
		case r.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: must not be empty", key))
		case seen[r.Name]:
			errs = append(errs, fmt.Errorf("%s.name: duplicate rule name %q", key, r.Name))
		default:
			if _, builtin := scan.ParseKind(r.Name); builtin || r.Name == keyNameDetector {
				errs = append(errs, fmt.Errorf("%s.name: %q is a built-in detector name", key, r.Name))
			}
		}
		seen[r.Name] = true
		if r.Pattern == "" {
			errs = append(errs, fmt.Errorf("%s.pattern: must not be empty", key))
		} else if _, err := scan.NewRule(r.Pattern, ""); err != nil {
			errs = append(errs, fmt.Errorf("%s.pattern: %w", key, err))
		}
		if r.Validator != "" {
			if _, ok := scan.Validator(r.Validator); !ok {
				errs = append(errs, fmt.Errorf("%s.validator: unknown validator %q (known: %s)", key, r.Validator, strings.Join(scan.ValidatorNames(), ", ")))
			}
		}
		if r.Action != "" && !r.Action.valid() {
			errs = append(errs, fmt.Errorf("%s.action: unknown action %q (mask, fixed, hash, partial, drop)", key, r.Action))
		}
		if r.Action == ActionHash {
			usesHash = true
		}
	}
	if usesHash && len(cfg.HMACKey) < minHMACKeyLen {
		errs = append(errs, fmt.Errorf("hmac_key: must be at least %d bytes when an action is %q (got %d)", minHMACKeyLen, ActionHash, len(cfg.HMACKey)))
	}
	for i, k := range cfg.SensitiveKeys {
		if normWord(k) == "" {
			errs = append(errs, fmt.Errorf("sensitive_keys[%d]: must contain a letter or digit", i))
		}
	}
	for i, k := range cfg.ExtraSensitiveKeys {
		if normWord(k) == "" {
			errs = append(errs, fmt.Errorf("extra_sensitive_keys[%d]: must contain a letter or digit", i))
		}
	}
	for i, p := range cfg.SecretParams {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, fmt.Errorf("secret_params[%d]: must not be empty", i))
		}
	}
	for i, r := range cfg.Phone.Regions {
		if !scan.KnownPhoneRegion(r) {
			errs = append(errs, fmt.Errorf("phone.regions[%d]: unknown region %q (an ISO 3166-1 alpha-2 code such as US, GB, DE)", i, r))
		}
	}
	for i, k := range cfg.SecretKeywords {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, "=:\t\n") {
			errs = append(errs, fmt.Errorf("secret_keywords[%d]: must be one or two words without ':' or '='", i))
		}
	}
	if _, err := newConditions(cfg.Conditions, component.TelemetrySettings{Logger: zap.NewNop()}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
