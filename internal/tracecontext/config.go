package tracecontext

import (
	"errors"
	"fmt"
	"strings"
)

// Config selects which formats are extracted, in which order, and where else to look.
// It is meant to be embedded in a component config (e.g. under `trace_context:`).
type Config struct {
	// Precedence lists the formats to extract, highest priority first. A format that is not
	// listed is never extracted. When a carrier of a higher-priority format is present but
	// invalid, extraction falls through to the next format.
	Precedence []Format `mapstructure:"precedence"`
	// ExtraPaths are dotted paths from the job's top level to additional carrier maps (or
	// JSON object strings), e.g. "meta.tracing". Path segments match keys case-insensitively.
	ExtraPaths []string `mapstructure:"extra_paths"`
}

const (
	maxExtraPaths = 16
	maxPathDepth  = 8
)

// DefaultConfig returns the default order: traceparent, b3, uber-trace-id, X-Ray,
// Datadog, plain X-Trace-Id, then the upstream queue's bare trace_id/span_id.
func DefaultConfig() Config {
	return Config{
		Precedence: []Format{FormatW3C, FormatB3, FormatJaeger, FormatXRay, FormatDatadog, FormatPlain, FormatUpstream},
	}
}

// Validate reports every problem, each prefixed with the offending key.
func (c Config) Validate() error {
	var errs []error
	if len(c.Precedence) == 0 {
		errs = append(errs, errors.New("precedence: must list at least one format"))
	}
	var seen [numFormats]bool
	for i, f := range c.Precedence {
		switch {
		case f == FormatNone || f >= numFormats:
			errs = append(errs, fmt.Errorf("precedence[%d]: invalid format %d (want one of w3c, b3, jaeger, xray, datadog, plain, upstream)", i, uint8(f)))
		case seen[f]:
			errs = append(errs, fmt.Errorf("precedence[%d]: format %q is listed twice", i, f))
		default:
			seen[f] = true
		}
	}
	if len(c.ExtraPaths) > maxExtraPaths {
		errs = append(errs, fmt.Errorf("extra_paths: at most %d paths, got %d", maxExtraPaths, len(c.ExtraPaths)))
	}
	for i, p := range c.ExtraPaths {
		segs := strings.Split(p, ".")
		switch {
		case p == "":
			errs = append(errs, fmt.Errorf("extra_paths[%d]: must not be empty", i))
		case len(segs) > maxPathDepth:
			errs = append(errs, fmt.Errorf("extra_paths[%d]: %q is deeper than %d segments", i, p, maxPathDepth))
		case len(segs) == 1 && classify(p) >= firstCarrier && classify(p) != slotNone:
			errs = append(errs, fmt.Errorf("extra_paths[%d]: %q is already a built-in carrier", i, p))
		default:
			for _, s := range segs {
				if s == "" {
					errs = append(errs, fmt.Errorf("extra_paths[%d]: %q has an empty segment", i, p))
					break
				}
			}
		}
		for j := range i {
			if strings.EqualFold(c.ExtraPaths[j], p) {
				errs = append(errs, fmt.Errorf("extra_paths[%d]: %q duplicates extra_paths[%d]", i, p, j))
				break
			}
		}
	}
	return errors.Join(errs...)
}
