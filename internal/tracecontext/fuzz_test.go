package tracecontext

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Run each with e.g. `go test -run '^$' -fuzz '^FuzzExtract$' -fuzztime 20s ./internal/tracecontext/`.

func checkParsed(t *testing.T, c Context, err error, want Format, needSpan bool) {
	t.Helper()
	if err != nil {
		if c != (Context{}) {
			t.Fatalf("error %v with non-zero context %+v", err, c)
		}
		return
	}
	if !c.HasTraceID() {
		t.Fatalf("nil error but zero trace id: %+v", c)
	}
	if needSpan && !c.IsValid() {
		t.Fatalf("nil error but zero span id: %+v", c)
	}
	if c.Format != want {
		t.Fatalf("format %v, want %v", c.Format, want)
	}
	if c.Flags&^FlagSampled != 0 && want != FormatW3C {
		t.Fatalf("non-W3C format set flags %#x", c.Flags)
	}
}

func FuzzParseTraceparent(f *testing.F) {
	for _, s := range []string{tpA, tpB, "cc-" + tpATrace + "-" + tpASpan + "-01-future", "ff-" + tpATrace + "-" + tpASpan + "-01", "00-" + strings.ToUpper(tpATrace) + "-" + tpASpan + "-01", " " + tpA + "\t", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseTraceparent(s)
		checkParsed(t, c, err, FormatW3C, true)
		if err != nil {
			return
		}
		// Round trip: the accepted fields are exactly what we decoded, in lowercase.
		v := trimOWS(s)
		if got := v[3:35] + "-" + v[36:52]; got != hex.EncodeToString(c.TraceID[:])+"-"+hex.EncodeToString(c.SpanID[:]) {
			t.Fatalf("ids %x/%x do not match input %q", c.TraceID, c.SpanID, s)
		}
		if v[:2] == "00" && len(v) != traceparentLen || v[:2] == "ff" {
			t.Fatalf("accepted %q", s)
		}
	})
}

// otelTraceparent runs the OTel Go W3C propagator on s.
func otelTraceparent(s string) trace.SpanContext {
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": s})
	return trace.SpanContextFromContext(ctx)
}

// FuzzTraceparentMatchesOTel compares ParseTraceparent with the OTel Go propagator. Three
// differences are deliberate: we trim outer spaces/tabs as an HTTP stack would; for version
// 00 we accept (and clear) undefined flag bits where OTel rejects the header, since the spec
// only says they must be zero when propagating; and we reject version 00 followed by a lone
// "-", which OTel accepts although the spec requires exactly 55 characters.
func FuzzTraceparentMatchesOTel(f *testing.F) {
	for _, s := range []string{tpA, tpB, "01-" + tpATrace + "-" + tpASpan + "-01-x", "fe-" + tpATrace + "-" + tpASpan + "-01-", "00-" + tpATrace + "-" + tpASpan + "-04"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if trimOWS(s) != s {
			return
		}
		c, err := ParseTraceparent(s)
		if err == nil && s[:2] == "00" && s[53:55] > "03" {
			return
		}
		sc := otelTraceparent(s)
		if err != nil && len(s) == traceparentLen+1 && s[:2] == "00" && s[traceparentLen] == '-' && sc.IsValid() {
			return // OTel accepts a trailing "-" after version 00; the spec says exactly 55 chars
		}
		if (err == nil) != sc.IsValid() {
			t.Fatalf("%q: ours err=%v, otel valid=%v", s, err, sc.IsValid())
		}
		if err == nil && (c.TraceID != [16]byte(sc.TraceID()) || c.SpanID != [8]byte(sc.SpanID()) || c.Flags != byte(sc.TraceFlags())) {
			t.Fatalf("%q: ours %+v, otel %v", s, c, sc)
		}
	})
}

// FuzzTraceStateMatchesOTel compares ValidTraceState with the OTel Go tracestate parser. One
// difference is deliberate: the spec's grammar allows whitespace-only list members
// (list-member = ... / OWS), which OTel rejects.
func FuzzTraceStateMatchesOTel(f *testing.F) {
	for _, s := range []string{"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "a=1,a=2", "t@v=x", "0t@v=x", "1a=x", "a=b c", "a=1,,b=2", " a=1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range strings.Split(s, ",") {
			if m != "" && trimOWS(m) == "" {
				return
			}
		}
		_, ok := ValidTraceState(s)
		ts, err := trace.ParseTraceState(s)
		otelOK := err == nil && ts.Len() > 0
		if ok != otelOK {
			t.Fatalf("%q: ours %v, otel %v (%v)", s, ok, otelOK, err)
		}
	})
}

func FuzzParseB3Single(f *testing.F) {
	for _, s := range []string{b3Trace + "-" + b3Span + "-1-05e3ac9a4f6e3b90", "a2fb4a1d1a96d312-" + b3Span, b3Trace + "-" + b3Span + "-d", "0", "1", "d", b3Trace + "-" + b3Span + "-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseB3Single(s)
		checkParsed(t, c, err, FormatB3, true)
		if err == nil && !strings.Contains(trimOWS(s), hex.EncodeToString(c.SpanID[:])) {
			t.Fatalf("span id %x not in input %q", c.SpanID, s)
		}
	})
}

func FuzzParseB3Multi(f *testing.F) {
	f.Add(b3Trace, b3Span, "1", "")
	f.Add("a2fb4a1d1a96d312", b3Span, "true", "1")
	f.Add("", "", "0", "")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		ctx, err := ParseB3Multi(a, b, c, d)
		checkParsed(t, ctx, err, FormatB3, true)
	})
}

func FuzzParseUberTraceID(f *testing.F) {
	for _, s := range []string{tpATrace + ":" + tpASpan + ":0:1", tpATrace + "%3A" + tpASpan + "%3A0%3A1", "abc:def:0:1", "ABC:DEF::", "0:1:0:1", "1%3", "%%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseUberTraceID(s)
		checkParsed(t, c, err, FormatJaeger, true)
	})
}

func FuzzParseXRay(f *testing.F) {
	for _, s := range []string{
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=1-5759e988-bd862e3fe1be46a994272793",
		"Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a:1|b:5",
		"Root=1-00000000-000000000000000000000000", ";;", "Root=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseXRay(s)
		checkParsed(t, c, err, FormatXRay, false)
		if err == nil && !strings.Contains(s, hex.EncodeToString(c.TraceID[4:])) {
			t.Fatalf("trace id %x not in %q", c.TraceID, s)
		}
	})
}

func FuzzParseDatadog(f *testing.F) {
	f.Add("1311768467463790320", "1311768467463790321", "_dd.p.tid=640cfd8d00000000", "1")
	f.Add("18446744073709551615", "1", "_dd.p.tid=XYZ", "-1")
	f.Add("18446744073709551616", "1", "", "")
	f.Add("0", "0", ",,=", "")
	f.Fuzz(func(t *testing.T, tr, parent, tags, prio string) {
		c, err := ParseDatadogWithPriority(tr, parent, tags, prio)
		checkParsed(t, c, err, FormatDatadog, true)
		if err != nil {
			return
		}
		// Cross-check the decimal parser against strconv.
		want, perr := strconv.ParseUint(trimOWS(tr), 10, 64)
		if perr != nil || binary.BigEndian.Uint64(c.TraceID[8:]) != want {
			t.Fatalf("trace id %x for %q (strconv: %d, %v)", c.TraceID, tr, want, perr)
		}
	})
}

func FuzzParsePlain(f *testing.F) {
	f.Add(tpATrace, tpASpan)
	f.Add(strings.ToUpper(tpATrace), "")
	f.Add("a2fb4a1d1a96d312", "x")
	f.Fuzz(func(t *testing.T, a, b string) {
		c, err := ParsePlain(a, b)
		checkParsed(t, c, err, FormatPlain, false)
		c, err = ParseUpstream(a, b)
		checkParsed(t, c, err, FormatUpstream, false)
	})
}

// FuzzExtract feeds arbitrary JSON through Extract and checks the invariants: a found context
// has a trace id (and a span id for formats that require one) and a known source; results do
// not depend on map iteration order; and ExtractAttributes agrees on the same data as pdata.
func FuzzExtract(f *testing.F) {
	seeds := []string{
		upstreamJob(""),
		upstreamJob(`,"traceparent":"` + tpA + `"`),
		`{"headers":{"traceparent":"` + tpA + `","tracestate":"rojo=1","baggage":"k=v"}}`,
		`{"opts":{"attempts":3,"tm":"{\"traceparent\":\"` + tpA + `\"}"}}`,
		`{"headers":"{\"X-B3-TraceId\":\"` + b3Trace + `\",\"X-B3-SpanId\":\"` + b3Span + `\"}"}`,
		`{"metadata":{"UBER-TRACE-ID":"abc%3Adef%3A0%3A1"},"custom":{"x-datadog-trace-id":"1","x-datadog-parent-id":"2"}}`,
		`{"properties":{"X-Amzn-Trace-Id":"Root=1-5759e988-bd862e3fe1be46a994272793"}}`,
		`{"meta":{"tracing":{"b3":"` + b3Trace + `-` + b3Span + `-1"}}}`,
		`{"traceparent":"` + tpA + `","Traceparent":"` + tpB + `"}`,
		`{"metadata":"{\"inner\":\"{\\\"traceparent\\\":\\\"` + tpA + `\\\"}\"}"}`,
		`{"trace_context":{"trace_id":"` + upTrace + `"},"x-trace-id":"` + tpATrace + `"}`,
		`[]`, `null`, `{}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	def, err := NewExtractor(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	withPaths, err := NewExtractor(Config{
		Precedence: []Format{FormatUpstream, FormatDatadog, FormatPlain, FormatW3C, FormatB3},
		ExtraPaths: []string{"meta.tracing", "message.headers"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			return
		}
		for _, e := range []*Extractor{def, withPaths} {
			c, ok := e.Extract(m)
			checkExtractInvariants(t, c, ok)
			for range 3 {
				if c2, ok2 := e.Extract(m); c2 != c || ok2 != ok {
					t.Fatalf("non-deterministic: %+v vs %+v", c, c2)
				}
			}
			attrs := pcommon.NewMap()
			if attrs.FromRaw(m) != nil {
				continue
			}
			ca, oka := e.ExtractAttributes(attrs)
			if ca != c || oka != ok {
				t.Fatalf("Extract and ExtractAttributes disagree:\n map   %+v %v\n attrs %+v %v", c, ok, ca, oka)
			}
		}
	})
}

func checkExtractInvariants(t *testing.T, c Context, ok bool) {
	t.Helper()
	if !ok {
		if c != (Context{}) {
			t.Fatalf("not ok with context %+v", c)
		}
		return
	}
	if !c.HasTraceID() || c.Format == FormatNone || c.Format >= numFormats || c.Source >= numSources {
		t.Fatalf("bad context %+v", c)
	}
	switch c.Format {
	case FormatW3C, FormatB3, FormatJaeger, FormatDatadog:
		if !c.IsValid() {
			t.Fatalf("%v context without span id: %+v", c.Format, c)
		}
	}
	if c.TraceState != "" {
		if _, valid := ValidTraceState(c.TraceState); !valid || c.Format != FormatW3C {
			t.Fatalf("bad tracestate %q", c.TraceState)
		}
	}
	if c.Baggage != "" {
		if _, valid := ValidBaggage(c.Baggage); !valid {
			t.Fatalf("bad baggage %q", c.Baggage)
		}
	}
}

// FuzzExtractFields builds jobs from fuzzed keys and values placed in different carriers, so
// that the fuzzer reaches the parsers through Extract without having to produce JSON syntax.
func FuzzExtractFields(f *testing.F) {
	f.Add("traceparent", tpA, "tracestate", "rojo=1", uint8(0))
	f.Add("X-B3-TraceId", b3Trace, "X-B3-SpanId", b3Span, uint8(1))
	f.Add("uber-trace-id", "abc%3Adef%3A0%3A1", "baggage", "k=v", uint8(2))
	f.Add("x-datadog-trace-id", "1", "x-datadog-parent-id", "2", uint8(3))
	f.Add("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793", "trace_id", upTrace, uint8(4))
	f.Add("b3", "1", "x-trace-id", tpATrace, uint8(5))
	e, err := NewExtractor(Config{Precedence: DefaultConfig().Precedence, ExtraPaths: []string{"meta.tracing"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, where uint8) {
		carrier := map[string]any{k1: v1, k2: v2}
		var m map[string]any
		switch where % 6 {
		case 0:
			m = carrier
		case 1:
			m = map[string]any{"Headers": carrier}
		case 2:
			m = map[string]any{"metadata": map[string]any{"nested": carrier}}
		case 3:
			b, _ := json.Marshal(carrier)
			m = map[string]any{"opts": map[string]any{"tm": string(b)}}
		case 4:
			m = map[string]any{"meta": map[string]any{"tracing": carrier}}
		case 5:
			b, _ := json.Marshal(carrier)
			m = map[string]any{"custom": string(b), k1: v2}
		}
		c, ok := e.Extract(m)
		checkExtractInvariants(t, c, ok)
		attrs := pcommon.NewMap()
		if attrs.FromRaw(m) != nil {
			return
		}
		if ca, oka := e.ExtractAttributes(attrs); ca != c || oka != ok {
			t.Fatalf("Extract and ExtractAttributes disagree:\n map   %+v %v\n attrs %+v %v", c, ok, ca, oka)
		}
	})
}
