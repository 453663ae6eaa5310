package tracecontext

import (
	"fmt"
	"strings"
)

// Format names the propagation format a Context was extracted from.
type Format uint8

// Formats, in their default precedence order (FormatNone aside).
const (
	FormatNone     Format = iota
	FormatW3C             // traceparent / tracestate / baggage
	FormatB3              // b3 single header, or X-B3-* multi headers
	FormatJaeger          // uber-trace-id
	FormatXRay            // X-Amzn-Trace-Id
	FormatDatadog         // x-datadog-trace-id / x-datadog-parent-id / x-datadog-tags
	FormatPlain           // X-Trace-Id / X-Span-Id
	FormatUpstream        // bare trace_id / span_id fields (go-redis-work-queue)
	numFormats
)

var formatNames = [numFormats]string{"none", "w3c", "b3", "jaeger", "xray", "datadog", "plain", "upstream"}

// String returns the lowercase name used in config and in the job.trace.format attribute.
func (f Format) String() string {
	if f < numFormats {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// formatAliases are the OTEL_PROPAGATORS names, so a value copied from an SDK config works.
var formatAliases = map[string]Format{"tracecontext": FormatW3C, "b3multi": FormatB3}

// ParseFormat parses a format name, case-insensitively; the OTEL_PROPAGATORS names
// "tracecontext" and "b3multi" are accepted too. "none" is not: it cannot be extracted.
func ParseFormat(s string) (Format, error) {
	for f := FormatW3C; f < numFormats; f++ {
		if strings.EqualFold(s, formatNames[f]) {
			return f, nil
		}
	}
	if f, ok := formatAliases[strings.ToLower(s)]; ok {
		return f, nil
	}
	return FormatNone, fmt.Errorf("unknown trace context format %q (want one of w3c, b3, jaeger, xray, datadog, plain, upstream)", s)
}

// MarshalText lets a Format appear as its name in YAML/JSON.
func (f Format) MarshalText() ([]byte, error) {
	if f >= numFormats {
		return nil, fmt.Errorf("invalid format %d", uint8(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText lets confmap decode `precedence: [w3c, b3]` straight into []Format.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Source says which part of a job carried the trace context (job.trace.extracted_from).
type Source uint8

// Sources.
const (
	SourceHeaders  Source = iota // the job's `headers` map (or an extra path ending in `headers`)
	SourcePayload                // the job's own top-level fields
	SourceMetadata               // metadata, trace_context, custom, opts, properties, extra paths
	numSources
)

var sourceNames = [numSources]string{"headers", "payload", "metadata"}

// String returns "headers", "payload" or "metadata".
func (s Source) String() string {
	if s < numSources {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}
