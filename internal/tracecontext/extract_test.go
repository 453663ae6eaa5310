package tracecontext

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

const (
	tpA      = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tpATrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	tpASpan  = "00f067aa0ba902b7"
	tpB      = "00-11111111111111111111111111111111-2222222222222222-00"
	tpBTrace = "11111111111111111111111111111111"
	tpBSpan  = "2222222222222222"
	// the first line of the upstream fixture
	upTrace = "39c479705e393343e92d4a770f474a9a"
	upSpan  = "71bdc768280d4db9"
	b3Trace = "80f198ee56343ba864fe8b2a57d3eff7"
	b3Span  = "e457b5a2e4d86bd1"
)

type extractCase struct {
	name    string
	cfg     *Config // nil = DefaultConfig
	job     string  // JSON, decoded with encoding/json (json.Number when useNumber)
	num     bool
	ok      bool
	traceID string
	spanID  string
	flags   byte
	format  Format
	source  Source
	state   string
	baggage string
}

func upstreamJob(extra string) string {
	return `{"id":"f0877e0be6c8bb11e23f860ecf071d12","filepath":"/srv/data/batch-004/file-0047.log","filesize":204890,"priority":"low","retries":0,"creation_time":"2026-11-27T10:27:26.204438078Z","trace_id":"` + upTrace + `","span_id":"` + upSpan + `"` + extra + `}`
}

func TestExtract(t *testing.T) {
	only := func(f ...Format) *Config { return &Config{Precedence: f} }
	withPaths := func(p ...string) *Config { c := DefaultConfig(); c.ExtraPaths = p; return &c }
	cases := []extractCase{
		// sources
		{name: "upstream job fields", job: upstreamJob(""), ok: true, traceID: upTrace, spanID: upSpan, format: FormatUpstream, source: SourcePayload},
		{name: "top-level traceparent beats upstream fields", job: upstreamJob(`,"traceparent":"` + tpA + `"`), ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourcePayload},
		{name: "headers carrier", job: `{"id":"1","headers":{"traceparent":"` + tpA + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceHeaders},
		{name: "trace_context carrier", job: `{"trace_context":{"trace_id":"` + upTrace + `","span_id":"` + upSpan + `"}}`, ok: true, traceID: upTrace, spanID: upSpan, format: FormatUpstream, source: SourceMetadata},
		{name: "metadata carrier", job: `{"metadata":{"traceparent":"` + tpA + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "custom carrier", job: `{"custom":{"traceparent":"` + tpA + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "opts carrier", job: `{"opts":{"traceparent":"` + tpA + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "properties carrier", job: `{"properties":{"traceparent":"` + tpA + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "map nested in a carrier", job: `{"metadata":{"otel":{"traceparent":"` + tpA + `"}}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "two levels deep is not a carrier", job: `{"metadata":{"a":{"b":{"traceparent":"` + tpA + `"}}}}`, ok: false},
		{name: "unknown nested map is not a carrier", job: `{"data":{"traceparent":"` + tpA + `"}}`, ok: false},

		// nested JSON strings
		{name: "BullMQ opts.tm JSON string", job: `{"name":"email","data":{"to":"x"},"opts":{"attempts":3,"tm":"{\"traceparent\":\"` + tpA + `\",\"tracestate\":\"rojo=1\"}"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata, state: "rojo=1"},
		{name: "headers as a JSON string", job: `{"headers":" {\"X-B3-TraceId\":\"` + b3Trace + `\",\"X-B3-SpanId\":\"` + b3Span + `\"} "}`, ok: true, traceID: b3Trace, spanID: b3Span, format: FormatB3, source: SourceHeaders},
		{name: "JSON string inside a JSON-string carrier", job: `{"metadata":"{\"inner\":\"{\\\"traceparent\\\":\\\"` + tpA + `\\\"}\"}"}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "nested JSON string beats lower format elsewhere", job: upstreamJob(`,"opts":{"tm":"{\"traceparent\":\"` + tpA + `\"}"}`), ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "broken nested JSON falls through", job: upstreamJob(`,"opts":{"tm":"{\"traceparent\":\"` + tpA + `\""}`), ok: true, traceID: upTrace, spanID: upSpan, format: FormatUpstream, source: SourcePayload},
		{name: "top-level JSON string that is not a carrier is ignored", job: `{"payload":"{\"traceparent\":\"` + tpA + `\"}"}`, ok: false},

		// extra paths
		{name: "extra path", cfg: withPaths("meta.tracing"), job: `{"meta":{"tracing":{"traceparent":"` + tpA + `"}}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "extra path case-insensitive", cfg: withPaths("META.Tracing"), job: `{"meta":{"tracing":{"traceparent":"` + tpA + `"}}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "extra path ending in headers", cfg: withPaths("message.headers"), job: `{"message":{"headers":{"uber-trace-id":"abc:def:0:1"}}}`, ok: true, traceID: "00000000000000000000000000000abc", spanID: "0000000000000def", flags: 1, format: FormatJaeger, source: SourceHeaders},
		{name: "extra path to JSON string", cfg: withPaths("meta.tracing"), job: `{"meta":{"tracing":"{\"traceparent\":\"` + tpA + `\"}"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "extra path not configured", job: `{"meta":{"tracing":{"traceparent":"` + tpA + `"}}}`, ok: false},
		{name: "extra path through a non-map", cfg: withPaths("meta.tracing"), job: `{"meta":"x"}`, ok: false},

		// key case
		{name: "Traceparent", job: `{"Traceparent":"` + tpA + `"}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourcePayload},
		{name: "TRACEPARENT in Headers", job: `{"Headers":{"TRACEPARENT":"` + tpA + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceHeaders},
		{name: "X-B3 mixed case", job: `{"headers":{"X-B3-TraceId":"` + b3Trace + `","X-B3-SpanId":"` + b3Span + `","X-B3-Sampled":"1"}}`, ok: true, traceID: b3Trace, spanID: b3Span, flags: 1, format: FormatB3, source: SourceHeaders},
		{name: "x-b3 lower case", job: `{"headers":{"x-b3-traceid":"` + b3Trace + `","x-b3-spanid":"` + b3Span + `"}}`, ok: true, traceID: b3Trace, spanID: b3Span, format: FormatB3, source: SourceHeaders},
		{name: "UBER-TRACE-ID", job: `{"metadata":{"UBER-TRACE-ID":"` + tpATrace + `%3A` + tpASpan + `%3A0%3A1"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatJaeger, source: SourceMetadata},
		{name: "canonical spelling wins over another case", job: `{"traceparent":"` + tpA + `","Traceparent":"` + tpB + `","TRACEPARENT":"` + tpB + `"}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourcePayload},
		{name: "smallest spelling wins without canonical", job: `{"TraceParent":"` + tpA + `","Traceparent":"` + tpB + `"}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourcePayload},

		// formats via Extract
		{name: "b3 single", job: `{"headers":{"b3":"` + b3Trace + `-` + b3Span + `-d"}}`, ok: true, traceID: b3Trace, spanID: b3Span, flags: 1, format: FormatB3, source: SourceHeaders},
		{name: "b3 sampling-only single falls to multi", job: `{"headers":{"b3":"1","X-B3-TraceId":"` + b3Trace + `","X-B3-SpanId":"` + b3Span + `"}}`, ok: true, traceID: b3Trace, spanID: b3Span, format: FormatB3, source: SourceHeaders},
		{name: "b3 sampling-only alone is no context", job: `{"headers":{"b3":"0"}}`, ok: false},
		{name: "b3 64-bit padded", job: `{"b3":"a2fb4a1d1a96d312-` + b3Span + `"}`, ok: true, traceID: "0000000000000000a2fb4a1d1a96d312", spanID: b3Span, format: FormatB3, source: SourcePayload},
		{name: "x-ray", job: `{"properties":{"X-Amzn-Trace-Id":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}`, ok: true, traceID: "5759e988bd862e3fe1be46a994272793", spanID: "53995c3f42cd8ad8", flags: 1, format: FormatXRay, source: SourceMetadata},
		{name: "x-ray root only", job: `{"x-amzn-trace-id":"Root=1-5759e988-bd862e3fe1be46a994272793"}`, ok: true, traceID: "5759e988bd862e3fe1be46a994272793", format: FormatXRay, source: SourcePayload},
		{name: "datadog with tid and priority", job: `{"custom":{"x-datadog-trace-id":"1311768467463790320","x-datadog-parent-id":"1311768467463790321","x-datadog-tags":"_dd.p.tid=640cfd8d00000000","x-datadog-sampling-priority":"1"}}`, ok: true, traceID: "640cfd8d00000000123456789abcdef0", spanID: "123456789abcdef1", flags: 1, format: FormatDatadog, source: SourceMetadata},
		{name: "datadog ids as JSON numbers (UseNumber)", num: true, job: `{"headers":{"x-datadog-trace-id":18446744073709551615,"x-datadog-parent-id":1}}`, ok: true, traceID: "0000000000000000ffffffffffffffff", spanID: "0000000000000001", format: FormatDatadog, source: SourceHeaders},
		{name: "datadog ids as float64 are not trusted", job: `{"headers":{"x-datadog-trace-id":1311768467463790320,"x-datadog-parent-id":1}}`, ok: false},
		{name: "plain X-Trace-Id", job: `{"headers":{"X-Trace-Id":"` + strings.ToUpper(tpATrace) + `","X-Span-Id":"` + tpASpan + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, format: FormatPlain, source: SourceHeaders},
		{name: "plain X-Trace-Id alone", job: `{"X-Trace-Id":"` + tpATrace + `"}`, ok: true, traceID: tpATrace, format: FormatPlain, source: SourcePayload},

		// precedence and fall-through
		{name: "b3 beats jaeger", job: `{"headers":{"uber-trace-id":"1:2:0:1","b3":"` + b3Trace + `-` + b3Span + `"}}`, ok: true, traceID: b3Trace, spanID: b3Span, format: FormatB3, source: SourceHeaders},
		{name: "traceparent in payload beats b3 in headers", job: `{"traceparent":"` + tpA + `","headers":{"b3":"` + b3Trace + `-` + b3Span + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourcePayload},
		{name: "invalid traceparent falls through to b3", job: `{"headers":{"traceparent":"` + strings.ToUpper(tpA) + `","b3":"` + b3Trace + `-` + b3Span + `-1"}}`, ok: true, traceID: b3Trace, spanID: b3Span, flags: 1, format: FormatB3, source: SourceHeaders},
		{name: "all invalid down to upstream", job: upstreamJob(`,"traceparent":"ff-` + tpATrace + `-` + tpASpan + `-01","b3":"0","uber-trace-id":"0:1:0:1","x-amzn-trace-id":"Root=2-x","x-datadog-trace-id":"0","x-trace-id":"not-hex"`), ok: true, traceID: upTrace, spanID: upSpan, format: FormatUpstream, source: SourcePayload},
		{name: "plain beats upstream", job: upstreamJob(`,"x-trace-id":"` + tpATrace + `"`), ok: true, traceID: tpATrace, format: FormatPlain, source: SourcePayload},
		{name: "jaeger beats xray beats datadog", job: `{"x-datadog-trace-id":"1","x-datadog-parent-id":"2","x-amzn-trace-id":"Root=1-5759e988-bd862e3fe1be46a994272793","uber-trace-id":"abc:def:0:0"}`, ok: true, traceID: "00000000000000000000000000000abc", spanID: "0000000000000def", format: FormatJaeger, source: SourcePayload},
		{name: "xray beats datadog", job: `{"x-datadog-trace-id":"1","x-datadog-parent-id":"2","x-amzn-trace-id":"Root=1-5759e988-bd862e3fe1be46a994272793"}`, ok: true, traceID: "5759e988bd862e3fe1be46a994272793", format: FormatXRay, source: SourcePayload},
		{name: "only invalid carriers", job: `{"traceparent":"00-` + tpATrace + `-0000000000000000-01","trace_id":"xyz"}`, ok: false},
		{name: "custom precedence upstream first", cfg: only(FormatUpstream, FormatW3C), job: upstreamJob(`,"traceparent":"` + tpA + `"`), ok: true, traceID: upTrace, spanID: upSpan, format: FormatUpstream, source: SourcePayload},
		{name: "format left out of precedence is ignored", cfg: only(FormatW3C, FormatUpstream), job: `{"b3":"` + b3Trace + `-` + b3Span + `"}`, ok: false},
		{name: "format left out falls to listed one", cfg: only(FormatW3C, FormatUpstream), job: upstreamJob(`,"b3":"` + b3Trace + `-` + b3Span + `"`), ok: true, traceID: upTrace, spanID: upSpan, format: FormatUpstream, source: SourcePayload},
		{name: "same format: headers before metadata", job: `{"metadata":{"traceparent":"` + tpB + `"},"headers":{"traceparent":"` + tpA + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceHeaders},
		{name: "same format: carriers before payload", job: `{"traceparent":"` + tpB + `","opts":{"traceparent":"` + tpA + `"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata},
		{name: "same format: invalid in headers, valid in payload", job: `{"traceparent":"` + tpB + `","headers":{"traceparent":"garbage"}}`, ok: true, traceID: tpBTrace, spanID: tpBSpan, format: FormatW3C, source: SourcePayload},

		// tracestate and baggage
		{name: "tracestate and baggage kept", job: `{"headers":{"traceparent":"` + tpA + `","tracestate":"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE","baggage":"userId=alice"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceHeaders, state: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", baggage: "userId=alice"},
		{name: "invalid tracestate dropped", job: `{"traceparent":"` + tpA + `","tracestate":"Rojo=1"}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourcePayload},
		{name: "tracestate of another carrier not attached", job: `{"traceparent":"` + tpA + `","headers":{"tracestate":"rojo=1","baggage":"k=v"}}`, ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourcePayload},
		{name: "baggage travels with any format", job: upstreamJob(`,"baggage":"tenant=acme"`), ok: true, traceID: upTrace, spanID: upSpan, format: FormatUpstream, source: SourcePayload, baggage: "tenant=acme"},

		// never guess
		{name: "free text is not a carrier", job: `{"message":"trace ` + tpATrace + ` span ` + tpASpan + `","error":"traceparent=` + tpA + `"}`, ok: false},
		{name: "non-string traceparent", job: `{"traceparent":42,"headers":{"traceparent":["` + tpA + `"]}}`, ok: false},
		{name: "carrier of wrong type", job: `{"headers":"text/plain","metadata":[1,2],"opts":7}`, ok: false},
		{name: "empty object", job: `{}`, ok: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				cfg = *tc.cfg
			}
			e, err := NewExtractor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			d := json.NewDecoder(strings.NewReader(tc.job))
			if tc.num {
				d.UseNumber()
			}
			if err := d.Decode(&m); err != nil {
				t.Fatalf("test job is not JSON: %v", err)
			}
			// Map iteration order is random: repeat to catch order-dependent results.
			for range 20 {
				c, ok := e.Extract(m)
				checkExtracted(t, tc, c, ok)
				if t.Failed() {
					return
				}
			}
		})
	}
}

func checkExtracted(t *testing.T, tc extractCase, c Context, ok bool) {
	t.Helper()
	if ok != tc.ok {
		t.Fatalf("ok = %v, want %v (context %+v)", ok, tc.ok, c)
	}
	if !ok {
		if c != (Context{}) {
			t.Fatalf("not ok but context %+v", c)
		}
		return
	}
	var want Context
	want.TraceID = tid(t, tc.traceID)
	if tc.spanID != "" {
		want.SpanID = sid(t, tc.spanID)
	}
	want.Flags, want.Format, want.Source, want.TraceState, want.Baggage = tc.flags, tc.format, tc.source, tc.state, tc.baggage
	if c != want {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func TestExtractNil(t *testing.T) {
	e, _ := NewExtractor(DefaultConfig())
	if c, ok := e.Extract(nil); ok || c != (Context{}) {
		t.Fatalf("Extract(nil) = %+v, %v", c, ok)
	}
	if c, ok := e.ExtractAttributes(pcommon.NewMap()); ok || c != (Context{}) {
		t.Fatalf("ExtractAttributes(empty) = %+v, %v", c, ok)
	}
}

// TestExtractBoundsNested checks that a carrier with many nested maps is bounded and still
// deterministic: only the maxNested smallest keys are considered.
func TestExtractBoundsNested(t *testing.T) {
	e, _ := NewExtractor(DefaultConfig())
	opts := map[string]any{}
	for i := range 20 {
		opts[string(rune('a'+i))] = map[string]any{"x": "y"}
	}
	// "a".."h" are considered, "t" is not.
	opts["t"] = map[string]any{"traceparent": tpA}
	m := map[string]any{"opts": opts}
	for range 20 {
		if c, ok := e.Extract(m); ok {
			t.Fatalf("carrier beyond the bound was used: %+v", c)
		}
	}
	opts["a"] = map[string]any{"traceparent": tpA}
	for range 20 {
		if c, ok := e.Extract(m); !ok || c.TraceID != tid(t, tpATrace) {
			t.Fatalf("carrier within the bound not used: %+v %v", c, ok)
		}
	}
}

func TestExtractAttributes(t *testing.T) {
	e, err := NewExtractor(Config{Precedence: DefaultConfig().Precedence, ExtraPaths: []string{"meta.tracing"}})
	if err != nil {
		t.Fatal(err)
	}
	type attrCase struct {
		name  string
		build func(m pcommon.Map)
		ok    extractCase
	}
	for _, tc := range []attrCase{
		{"upstream worker log", func(m pcommon.Map) {
			m.PutStr("id", "353d84966cb8257fc790d46a824ad835")
			m.PutStr("trace_id", upTrace)
			m.PutStr("span_id", upSpan)
			m.PutStr("worker_id", "vm-15485-1795775243850107691-4b53-44")
		}, extractCase{ok: true, traceID: upTrace, spanID: upSpan, format: FormatUpstream, source: SourcePayload}},
		{"traceparent attribute wins", func(m pcommon.Map) {
			m.PutStr("trace_id", upTrace)
			m.PutStr("Traceparent", tpA)
		}, extractCase{ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourcePayload}},
		{"headers map attribute", func(m pcommon.Map) {
			h := m.PutEmptyMap("headers")
			h.PutStr("X-B3-TraceId", b3Trace)
			h.PutStr("X-B3-SpanId", b3Span)
		}, extractCase{ok: true, traceID: b3Trace, spanID: b3Span, format: FormatB3, source: SourceHeaders}},
		{"nested JSON string in opts", func(m pcommon.Map) {
			m.PutEmptyMap("opts").PutStr("tm", `{"traceparent":"`+tpA+`"}`)
		}, extractCase{ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata}},
		{"nested map in metadata", func(m pcommon.Map) {
			m.PutEmptyMap("metadata").PutEmptyMap("otel").PutStr("uber-trace-id", "abc:def:0:1")
		}, extractCase{ok: true, traceID: "00000000000000000000000000000abc", spanID: "0000000000000def", flags: 1, format: FormatJaeger, source: SourceMetadata}},
		{"extra path", func(m pcommon.Map) {
			m.PutEmptyMap("Meta").PutEmptyMap("tracing").PutStr("traceparent", tpA)
		}, extractCase{ok: true, traceID: tpATrace, spanID: tpASpan, flags: 1, format: FormatW3C, source: SourceMetadata}},
		{"non-string values ignored", func(m pcommon.Map) {
			m.PutInt("trace_id", 5)
			m.PutEmptySlice("traceparent").AppendEmpty().SetStr(tpA)
		}, extractCase{ok: false}},
		{"free text body-like attribute", func(m pcommon.Map) {
			m.PutStr("msg", "job completed trace_id="+upTrace)
		}, extractCase{ok: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := pcommon.NewMap()
			tc.build(m)
			c, ok := e.ExtractAttributes(m)
			checkExtracted(t, tc.ok, c, ok)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	for _, tc := range []struct {
		cfg  Config
		want []string
	}{
		{Config{}, []string{"precedence: must list at least one format"}},
		{Config{Precedence: []Format{FormatW3C, FormatNone}}, []string{"precedence[1]: invalid format 0"}},
		{Config{Precedence: []Format{FormatW3C, Format(42)}}, []string{"precedence[1]: invalid format 42"}},
		{Config{Precedence: []Format{FormatB3, FormatW3C, FormatB3}}, []string{`precedence[2]: format "b3" is listed twice`}},
		{Config{Precedence: []Format{FormatW3C}, ExtraPaths: []string{""}}, []string{"extra_paths[0]: must not be empty"}},
		{Config{Precedence: []Format{FormatW3C}, ExtraPaths: []string{"a..b"}}, []string{`extra_paths[0]: "a..b" has an empty segment`}},
		{Config{Precedence: []Format{FormatW3C}, ExtraPaths: []string{"a.b", "A.B"}}, []string{`extra_paths[1]: "A.B" duplicates extra_paths[0]`}},
		{Config{Precedence: []Format{FormatW3C}, ExtraPaths: []string{"Headers"}}, []string{`extra_paths[0]: "Headers" is already a built-in carrier`}},
		{Config{Precedence: []Format{FormatW3C}, ExtraPaths: []string{"a.b.c.d.e.f.g.h.i"}}, []string{`extra_paths[0]: "a.b.c.d.e.f.g.h.i" is deeper than 8 segments`}},
		{Config{Precedence: []Format{FormatW3C}, ExtraPaths: make([]string, 17)}, []string{"extra_paths: at most 16 paths, got 17"}},
	} {
		err := tc.cfg.Validate()
		if err == nil {
			t.Errorf("%+v: want error", tc.cfg)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q does not contain %q", tc.cfg, err, w)
			}
		}
		if _, err := NewExtractor(tc.cfg); err == nil {
			t.Errorf("NewExtractor accepted %+v", tc.cfg)
		}
	}
}

// TestConfigUnmarshal checks that formats decode from their names, as a component config
// embedding Config gets them from YAML.
func TestConfigUnmarshal(t *testing.T) {
	cm := confmap.NewFromStringMap(map[string]any{
		"precedence":  []any{"upstream", "W3C", "b3"},
		"extra_paths": []any{"meta.tracing"},
	})
	var cfg Config
	if err := cm.Unmarshal(&cfg); err != nil {
		t.Fatal(err)
	}
	want := []Format{FormatUpstream, FormatW3C, FormatB3}
	if len(cfg.Precedence) != len(want) {
		t.Fatalf("precedence = %v", cfg.Precedence)
	}
	for i := range want {
		if cfg.Precedence[i] != want[i] {
			t.Fatalf("precedence = %v, want %v", cfg.Precedence, want)
		}
	}
	if len(cfg.ExtraPaths) != 1 || cfg.ExtraPaths[0] != "meta.tracing" {
		t.Fatalf("extra_paths = %v", cfg.ExtraPaths)
	}
	bad := confmap.NewFromStringMap(map[string]any{"precedence": []any{"zipkin"}})
	var cfg2 Config
	if err := bad.Unmarshal(&cfg2); err == nil || !strings.Contains(err.Error(), "zipkin") {
		t.Fatalf("unknown format error = %v", err)
	}
}

// TestExtractorConcurrent backs the "safe for concurrent use" claim (run with -race).
func TestExtractorConcurrent(t *testing.T) {
	e, err := NewExtractor(Config{Precedence: DefaultConfig().Precedence, ExtraPaths: []string{"meta.tracing"}})
	if err != nil {
		t.Fatal(err)
	}
	jobs := []map[string]any{
		{"headers": map[string]any{"traceparent": tpA}},
		{"opts": map[string]any{"tm": `{"traceparent":"` + tpB + `"}`}},
		{"meta": map[string]any{"tracing": map[string]any{"b3": b3Trace + "-" + b3Span}}},
		{"trace_id": upTrace, "span_id": upSpan},
	}
	want := []string{tpATrace, tpBTrace, b3Trace, upTrace}
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 200 {
				j := (g + i) % len(jobs)
				if c, ok := e.Extract(jobs[j]); !ok || c.TraceIDHex() != want[j] {
					done <- fmt.Errorf("job %d: %+v %v", j, c, ok)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestExtractReport(t *testing.T) {
	e, _ := NewExtractor(DefaultConfig())
	for _, tc := range []struct {
		name    string
		job     map[string]any
		ok      bool
		format  Format
		invalid []Format
		errHas  string
	}{
		{"nothing rejected", map[string]any{"traceparent": tpA}, true, FormatW3C, nil, ""},
		{"bad traceparent, b3 used", map[string]any{"traceparent": "ff-" + tpATrace + "-" + tpASpan + "-01", "b3": b3Trace + "-" + b3Span},
			true, FormatB3, []Format{FormatW3C}, "version ff"},
		{"two rejected, upstream used", map[string]any{"traceparent": strings.ToUpper(tpA), "uber-trace-id": "0:1:0:1", "trace_id": upTrace},
			true, FormatUpstream, []Format{FormatW3C, FormatJaeger}, "trace-id is not 32 lowercase hex"},
		{"all rejected", map[string]any{"headers": map[string]any{"x-amzn-trace-id": "Root=1-5759e988"}}, false, FormatNone, []Format{FormatXRay}, "x-amzn-trace-id: Root"},
		{"empty value is absent, not rejected", map[string]any{"traceparent": "", "trace_id": upTrace}, true, FormatUpstream, nil, ""},
		{"lower formats are not tried", map[string]any{"traceparent": tpA, "b3": "garbage"}, true, FormatW3C, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok, rej := e.ExtractReport(tc.job)
			if ok != tc.ok || c.Format != tc.format {
				t.Fatalf("got %+v %v", c, ok)
			}
			var got []Format
			rej.Formats.Each(func(f Format) { got = append(got, f) })
			if fmt.Sprint(got) != fmt.Sprint(tc.invalid) {
				t.Fatalf("rejected %v, want %v", got, tc.invalid)
			}
			for _, f := range tc.invalid {
				if !rej.Formats.Has(f) {
					t.Fatalf("Has(%v) false", f)
				}
			}
			if tc.errHas == "" {
				if rej.Err != nil {
					t.Fatalf("unexpected error %v", rej.Err)
				}
			} else if rej.Err == nil || !strings.Contains(rej.Err.Error(), tc.errHas) {
				t.Fatalf("error %v, want it to mention %q", rej.Err, tc.errHas)
			}
			attrs := pcommon.NewMap()
			if err := attrs.FromRaw(tc.job); err != nil {
				t.Fatal(err)
			}
			ca, oka, reja := e.ExtractAttributesReport(attrs)
			if ca != c || oka != ok || reja != rej {
				t.Fatalf("attributes disagree: %+v %v %+v", ca, oka, reja)
			}
		})
	}
}
