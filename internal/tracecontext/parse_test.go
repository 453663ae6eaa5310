package tracecontext

import (
	"encoding/hex"
	"strings"
	"testing"
)

// Expected ids in these tables are written out by hand (decimal→hex conversions for Datadog
// were done outside this package); none is computed by the code under test.

func tid(t testing.TB, s string) [16]byte {
	t.Helper()
	var b [16]byte
	n, err := hex.Decode(b[:], []byte(s))
	if err != nil || n != 16 {
		t.Fatalf("bad test trace id %q", s)
	}
	return b
}

func sid(t testing.TB, s string) [8]byte {
	t.Helper()
	var b [8]byte
	n, err := hex.Decode(b[:], []byte(s))
	if err != nil || n != 8 {
		t.Fatalf("bad test span id %q", s)
	}
	return b
}

type parseCase struct {
	name    string
	parse   func() (Context, error)
	ok      bool
	traceID string // 32 hex
	spanID  string // 16 hex, "" = zero
	flags   byte
	format  Format
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.parse()
			if !tc.ok {
				if err == nil {
					t.Fatalf("want error, got %+v", c)
				}
				if c != (Context{}) {
					t.Fatalf("error must come with a zero Context, got %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.TraceID != tid(t, tc.traceID) {
				t.Errorf("trace id = %x, want %s", c.TraceID, tc.traceID)
			}
			var wantSpan [8]byte
			if tc.spanID != "" {
				wantSpan = sid(t, tc.spanID)
			}
			if c.SpanID != wantSpan {
				t.Errorf("span id = %x, want %q", c.SpanID, tc.spanID)
			}
			if c.Flags != tc.flags {
				t.Errorf("flags = %#x, want %#x", c.Flags, tc.flags)
			}
			if c.Format != tc.format {
				t.Errorf("format = %v, want %v", c.Format, tc.format)
			}
		})
	}
}

const (
	w3cTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	w3cSpan  = "00f067aa0ba902b7"
)

func TestParseTraceparent(t *testing.T) {
	tp := func(s string) func() (Context, error) { return func() (Context, error) { return ParseTraceparent(s) } }
	runParseCases(t, []parseCase{
		{name: "valid sampled", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 1, format: FormatW3C},
		{name: "valid not sampled", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 0, format: FormatW3C},
		{name: "undefined flag bits cleared", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 3, format: FormatW3C},
		{name: "random flag kept", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 2, format: FormatW3C},
		{name: "outer whitespace trimmed", parse: tp(" \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 "), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 1, format: FormatW3C},
		{name: "future version exact length", parse: tp("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 1, format: FormatW3C},
		{name: "future version extra fields", parse: tp("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 1, format: FormatW3C},
		{name: "future version extra without dash", parse: tp("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"), ok: false},
		{name: "version 00 with extra field", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"), ok: false},
		{name: "version ff", parse: tp("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ok: false},
		{name: "version uppercase", parse: tp("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ok: false},
		{name: "version not hex", parse: tp("0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ok: false},
		{name: "trace id uppercase", parse: tp("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), ok: false},
		{name: "span id uppercase", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"), ok: false},
		{name: "flags uppercase", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"), ok: false},
		{name: "flags not hex", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"), ok: false},
		{name: "zero trace id", parse: tp("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), ok: false},
		{name: "zero span id", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), ok: false},
		{name: "span id not hex", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01"), ok: false},
		{name: "wrong delimiter", parse: tp("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ok: false},
		{name: "short trace id", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"), ok: false},
		{name: "too short", parse: tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"), ok: false},
		{name: "empty", parse: tp(""), ok: false},
		{name: "b3 value is not traceparent", parse: tp("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"), ok: false},
	})
}

func TestValidTraceState(t *testing.T) {
	many := make([]string, 33)
	for i := range many {
		many[i] = "k" + strings.Repeat("a", i) + "=v"
	}
	for _, tc := range []struct {
		in   string
		want string // "" = invalid
	}{
		{"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
		{" rojo=1 , congo=2 ", "rojo=1 , congo=2"},
		{"a=1,,b=2", "a=1,,b=2"},
		{"tenant@vendor=x,a-b_c*d/e=y", "tenant@vendor=x,a-b_c*d/e=y"},
		{"0tenant@v=x", "0tenant@v=x"},
		{"", ""},
		{"Rojo=1", ""},                 // uppercase key
		{"1a=x", ""},                   // simple key must start with a letter
		{"a=1,a=2", ""},                // duplicate key
		{"a=b=c", ""},                  // '=' in value
		{"a", ""},                      // no '='
		{"a=", ""},                     // empty value
		{"tenant@=x", ""},              // empty system
		{"t@vendorvendorvendor=x", ""}, // system too long (>14)
		{"a=caf\u00e9", ""},            // non-ASCII value
		{strings.Join(many[:32], ","), strings.Join(many[:32], ",")},
		{strings.Join(many, ","), ""}, // 33 members
		{"a=" + strings.Repeat("v", 257), ""},
		{strings.Repeat("k", 257) + "=v", ""},
	} {
		got, ok := ValidTraceState(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ValidTraceState(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestValidBaggage(t *testing.T) {
	many := make([]string, 65)
	for i := range many {
		many[i] = "k=v"
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"userId=alice,serverNode=DF%2028,isProduction=false", true},
		{"key1=value1;property1;property2=v, key2 = value2", true},
		{"k=", true}, // empty value is allowed by the grammar
		{"", false},
		{"key1", false},
		{"k=v,,k2=v2", false},
		{"k=a b", false},
		{"k=\"q\"", false},
		{"k y=v", false},
		{"k=v;;", false},
		{strings.Join(many[:64], ","), true},
		{strings.Join(many, ","), false},
	} {
		got, ok := ValidBaggage(tc.in)
		if ok != tc.ok || (ok && got != strings.TrimSpace(tc.in)) || (!ok && got != "") {
			t.Errorf("ValidBaggage(%q) = %q, %v; want ok=%v", tc.in, got, ok, tc.ok)
		}
	}
}

func TestParseB3Single(t *testing.T) {
	b3 := func(s string) func() (Context, error) { return func() (Context, error) { return ParseB3Single(s) } }
	const tr, sp = "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1"
	runParseCases(t, []parseCase{
		{name: "full", parse: b3(tr + "-" + sp + "-1-05e3ac9a4f6e3b90"), ok: true, traceID: tr, spanID: sp, flags: 1, format: FormatB3},
		{name: "sampled", parse: b3(tr + "-" + sp + "-1"), ok: true, traceID: tr, spanID: sp, flags: 1, format: FormatB3},
		{name: "debug implies sampled", parse: b3(tr + "-" + sp + "-d"), ok: true, traceID: tr, spanID: sp, flags: 1, format: FormatB3},
		{name: "denied", parse: b3(tr + "-" + sp + "-0"), ok: true, traceID: tr, spanID: sp, flags: 0, format: FormatB3},
		{name: "deferred", parse: b3(tr + "-" + sp), ok: true, traceID: tr, spanID: sp, flags: 0, format: FormatB3},
		{name: "64-bit trace id left-padded", parse: b3("a2fb4a1d1a96d312-" + sp + "-1"), ok: true, traceID: "0000000000000000a2fb4a1d1a96d312", spanID: sp, flags: 1, format: FormatB3},
		{name: "sampling only 0", parse: b3("0"), ok: false},
		{name: "sampling only 1", parse: b3("1"), ok: false},
		{name: "sampling only d", parse: b3("d"), ok: false},
		{name: "parent without sampling", parse: b3(tr + "-" + sp + "-05e3ac9a4f6e3b90"), ok: false},
		{name: "trailing dash", parse: b3(tr + "-" + sp + "-"), ok: false},
		{name: "bad sampling", parse: b3(tr + "-" + sp + "-x"), ok: false},
		{name: "uppercase", parse: b3(strings.ToUpper(tr) + "-" + sp + "-1"), ok: false},
		{name: "zero trace id", parse: b3("00000000000000000000000000000000-" + sp), ok: false},
		{name: "zero span id", parse: b3(tr + "-0000000000000000"), ok: false},
		{name: "20-digit trace id", parse: b3("80f198ee56343ba864fe-" + sp), ok: false},
		{name: "short span id", parse: b3(tr + "-e457b5a2e4d86bd"), ok: false},
		{name: "short parent", parse: b3(tr + "-" + sp + "-1-05e3"), ok: false},
		{name: "bad parent", parse: b3(tr + "-" + sp + "-1-05e3ac9a4f6e3b9g"), ok: false},
		{name: "trace id alone", parse: b3(tr), ok: false},
		{name: "empty", parse: b3(""), ok: false},
	})
}

func TestParseB3Multi(t *testing.T) {
	m := func(a, b, c, d string) func() (Context, error) {
		return func() (Context, error) { return ParseB3Multi(a, b, c, d) }
	}
	const tr, sp = "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1"
	runParseCases(t, []parseCase{
		{name: "sampled", parse: m(tr, sp, "1", ""), ok: true, traceID: tr, spanID: sp, flags: 1, format: FormatB3},
		{name: "no sampling", parse: m(tr, sp, "", ""), ok: true, traceID: tr, spanID: sp, flags: 0, format: FormatB3},
		{name: "64-bit padded", parse: m("a2fb4a1d1a96d312", sp, "0", ""), ok: true, traceID: "0000000000000000a2fb4a1d1a96d312", spanID: sp, flags: 0, format: FormatB3},
		{name: "sampled true", parse: m(tr, sp, "True", ""), ok: true, traceID: tr, spanID: sp, flags: 1, format: FormatB3},
		{name: "sampled false", parse: m(tr, sp, "false", ""), ok: true, traceID: tr, spanID: sp, flags: 0, format: FormatB3},
		{name: "debug flag overrides", parse: m(tr, sp, "0", "1"), ok: true, traceID: tr, spanID: sp, flags: 1, format: FormatB3},
		{name: "bad sampled", parse: m(tr, sp, "2", ""), ok: false},
		{name: "missing span", parse: m(tr, "", "1", ""), ok: false},
		{name: "missing trace", parse: m("", sp, "1", ""), ok: false},
		{name: "uppercase", parse: m(strings.ToUpper(tr), sp, "1", ""), ok: false},
		{name: "span id too long", parse: m(tr, tr, "1", ""), ok: false},
		{name: "trace id 20 digits", parse: m("80f198ee56343ba864fe", sp, "", ""), ok: false},
		{name: "zero trace", parse: m("0000000000000000", sp, "", ""), ok: false},
		{name: "zero span", parse: m(tr, "0000000000000000", "", ""), ok: false},
	})
}

func TestParseUberTraceID(t *testing.T) {
	u := func(s string) func() (Context, error) { return func() (Context, error) { return ParseUberTraceID(s) } }
	runParseCases(t, []parseCase{
		{name: "plain", parse: u(w3cTrace + ":" + w3cSpan + ":0:1"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 1, format: FormatJaeger},
		{name: "url-encoded upper", parse: u(w3cTrace + "%3A" + w3cSpan + "%3A0%3A1"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 1, format: FormatJaeger},
		{name: "url-encoded lower", parse: u(w3cTrace + "%3a" + w3cSpan + "%3a0%3a0"), ok: true, traceID: w3cTrace, spanID: w3cSpan, flags: 0, format: FormatJaeger},
		{name: "short ids left-padded", parse: u("abc:def:0:1"), ok: true, traceID: "00000000000000000000000000000abc", spanID: "0000000000000def", flags: 1, format: FormatJaeger},
		{name: "64-bit trace id", parse: u("a2fb4a1d1a96d312:e457b5a2e4d86bd1:53995c3f42cd8ad8:1"), ok: true, traceID: "0000000000000000a2fb4a1d1a96d312", spanID: "e457b5a2e4d86bd1", flags: 1, format: FormatJaeger},
		{name: "uppercase accepted", parse: u("ABC:DEF:0:1"), ok: true, traceID: "00000000000000000000000000000abc", spanID: "0000000000000def", flags: 1, format: FormatJaeger},
		{name: "debug+sampled", parse: u("1:2:0:3"), ok: true, traceID: "00000000000000000000000000000001", spanID: "0000000000000002", flags: 1, format: FormatJaeger},
		{name: "debug alone is not sampled", parse: u("1:2:0:2"), ok: true, traceID: "00000000000000000000000000000001", spanID: "0000000000000002", flags: 0, format: FormatJaeger},
		{name: "empty parent and flags", parse: u("1:2::"), ok: true, traceID: "00000000000000000000000000000001", spanID: "0000000000000002", flags: 0, format: FormatJaeger},
		{name: "zero trace", parse: u("0:1:0:1"), ok: false},
		{name: "zero trace long", parse: u("000000:1:0:1"), ok: false},
		{name: "zero span", parse: u("1:0:0:1"), ok: false},
		{name: "three fields", parse: u("1:2:1"), ok: false},
		{name: "five fields", parse: u("1:2:0:1:0"), ok: false},
		{name: "trace id 33 digits", parse: u("1" + w3cTrace + ":2:0:1"), ok: false},
		{name: "span id 17 digits", parse: u("1:1" + w3cSpan + ":0:1"), ok: false},
		{name: "empty trace", parse: u(":2:0:1"), ok: false},
		{name: "bad hex", parse: u("xyz:2:0:1"), ok: false},
		{name: "bad parent", parse: u("1:2:zz:1"), ok: false},
		{name: "flags three digits", parse: u("1:2:0:100"), ok: false},
		{name: "truncated escape", parse: u("1%3A2%3A0%3"), ok: false},
		{name: "bad escape", parse: u("1%ZZ2:0:1"), ok: false},
		{name: "empty", parse: u(""), ok: false},
	})
}

func TestParseXRay(t *testing.T) {
	x := func(s string) func() (Context, error) { return func() (Context, error) { return ParseXRay(s) } }
	const root = "Root=1-5759e988-bd862e3fe1be46a994272793"
	const want = "5759e988bd862e3fe1be46a994272793"
	runParseCases(t, []parseCase{
		{name: "full", parse: x(root + ";Parent=53995c3f42cd8ad8;Sampled=1"), ok: true, traceID: want, spanID: "53995c3f42cd8ad8", flags: 1, format: FormatXRay},
		{name: "reordered, not sampled", parse: x("Sampled=0;Parent=53995c3f42cd8ad8;" + root), ok: true, traceID: want, spanID: "53995c3f42cd8ad8", flags: 0, format: FormatXRay},
		{name: "unknown keys tolerated", parse: x(root + ";Self=1-67891234-12456789abcdef012345678;Lineage=a87bd80c:1|68fd508a:5;Foo=bar;Parent=53995c3f42cd8ad8;Sampled=1"), ok: true, traceID: want, spanID: "53995c3f42cd8ad8", flags: 1, format: FormatXRay},
		{name: "root only (load balancer)", parse: x(root), ok: true, traceID: want, format: FormatXRay},
		{name: "sampling deferred", parse: x(root + ";Parent=53995c3f42cd8ad8;Sampled=?"), ok: true, traceID: want, spanID: "53995c3f42cd8ad8", flags: 0, format: FormatXRay},
		{name: "spaces and trailing separator", parse: x(" " + root + " ; Parent=53995c3f42cd8ad8 ;"), ok: true, traceID: want, spanID: "53995c3f42cd8ad8", format: FormatXRay},
		{name: "version 2", parse: x("Root=2-5759e988-bd862e3fe1be46a994272793"), ok: false},
		{name: "uppercase", parse: x("Root=1-5759E988-bd862e3fe1be46a994272793"), ok: false},
		{name: "short random part", parse: x("Root=1-5759e988-bd862e3fe1be46a99427279"), ok: false},
		{name: "zero root", parse: x("Root=1-00000000-000000000000000000000000"), ok: false},
		{name: "no root", parse: x("Parent=53995c3f42cd8ad8;Sampled=1"), ok: false},
		{name: "lowercase key is unknown", parse: x("root=1-5759e988-bd862e3fe1be46a994272793"), ok: false},
		{name: "bad parent", parse: x(root + ";Parent=53995c3f42cd8ad"), ok: false},
		{name: "zero parent", parse: x(root + ";Parent=0000000000000000"), ok: false},
		{name: "bad sampled", parse: x(root + ";Sampled=2"), ok: false},
		{name: "part without =", parse: x(root + ";garbage"), ok: false},
		{name: "duplicate root", parse: x(root + ";" + root), ok: false},
		{name: "empty", parse: x(""), ok: false},
	})
}

func TestParseDatadog(t *testing.T) {
	d := func(a, b, c, p string) func() (Context, error) {
		return func() (Context, error) { return ParseDatadogWithPriority(a, b, c, p) }
	}
	// 1311768467463790320 = 0x123456789abcdef0, 1311768467463790321 = 0x123456789abcdef1,
	// 18446744073709551615 = 0xffffffffffffffff.
	runParseCases(t, []parseCase{
		{name: "64-bit", parse: d("1311768467463790320", "1311768467463790321", "", ""), ok: true, traceID: "0000000000000000123456789abcdef0", spanID: "123456789abcdef1", format: FormatDatadog},
		{name: "upper bits from _dd.p.tid", parse: d("1311768467463790320", "1", "_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000", "1"), ok: true, traceID: "640cfd8d00000000123456789abcdef0", spanID: "0000000000000001", flags: 1, format: FormatDatadog},
		{name: "tid with spaces in tags", parse: d("1", "2", " _dd.p.tid=640cfd8d00000000 ", "2"), ok: true, traceID: "640cfd8d000000000000000000000001", spanID: "0000000000000002", flags: 1, format: FormatDatadog},
		{name: "malformed tid ignored", parse: d("1", "2", "_dd.p.tid=XYZ", ""), ok: true, traceID: "00000000000000000000000000000001", spanID: "0000000000000002", format: FormatDatadog},
		{name: "uppercase tid ignored", parse: d("1", "2", "_dd.p.tid=640CFD8D00000000", ""), ok: true, traceID: "00000000000000000000000000000001", spanID: "0000000000000002", format: FormatDatadog},
		{name: "max uint64", parse: d("18446744073709551615", "18446744073709551615", "", "0"), ok: true, traceID: "0000000000000000ffffffffffffffff", spanID: "ffffffffffffffff", format: FormatDatadog},
		{name: "priority reject", parse: d("1", "2", "", "-1"), ok: true, traceID: "00000000000000000000000000000001", spanID: "0000000000000002", flags: 0, format: FormatDatadog},
		{name: "overflow", parse: d("18446744073709551616", "1", "", ""), ok: false},
		{name: "zero trace", parse: d("0", "1", "", ""), ok: false},
		{name: "zero parent", parse: d("1", "0", "", ""), ok: false},
		{name: "missing parent", parse: d("1", "", "", ""), ok: false},
		{name: "negative", parse: d("-1", "1", "", ""), ok: false},
		{name: "plus sign", parse: d("+1", "1", "", ""), ok: false},
		{name: "hex", parse: d("12a", "1", "", ""), ok: false},
		{name: "empty", parse: d("", "", "", ""), ok: false},
	})
}

func TestParsePlainAndUpstream(t *testing.T) {
	p := func(a, b string) func() (Context, error) { return func() (Context, error) { return ParsePlain(a, b) } }
	u := func(a, b string) func() (Context, error) {
		return func() (Context, error) { return ParseUpstream(a, b) }
	}
	runParseCases(t, []parseCase{
		{name: "plain", parse: p(w3cTrace, w3cSpan), ok: true, traceID: w3cTrace, spanID: w3cSpan, format: FormatPlain},
		{name: "plain uppercase normalised", parse: p(strings.ToUpper(w3cTrace), strings.ToUpper(w3cSpan)), ok: true, traceID: w3cTrace, spanID: w3cSpan, format: FormatPlain},
		{name: "plain 64-bit padded", parse: p("a2fb4a1d1a96d312", ""), ok: true, traceID: "0000000000000000a2fb4a1d1a96d312", format: FormatPlain},
		{name: "plain trace id alone", parse: p(w3cTrace, ""), ok: true, traceID: w3cTrace, format: FormatPlain},
		{name: "plain bad span", parse: p(w3cTrace, "xyz"), ok: false},
		{name: "plain zero span", parse: p(w3cTrace, "0000000000000000"), ok: false},
		{name: "plain uuid rejected", parse: p("4bf92f35-77b3-4da6-a3ce-929d0e0e4736", ""), ok: false},
		{name: "plain zero", parse: p("00000000000000000000000000000000", ""), ok: false},
		{name: "plain 31 digits", parse: p(w3cTrace[1:], ""), ok: false},
		{name: "plain empty", parse: p("", w3cSpan), ok: false},
		{name: "upstream", parse: u("39c479705e393343e92d4a770f474a9a", "71bdc768280d4db9"), ok: true, traceID: "39c479705e393343e92d4a770f474a9a", spanID: "71bdc768280d4db9", format: FormatUpstream},
		{name: "upstream uppercase", parse: u("39C479705E393343E92D4A770F474A9A", "71BDC768280D4DB9"), ok: true, traceID: "39c479705e393343e92d4a770f474a9a", spanID: "71bdc768280d4db9", format: FormatUpstream},
		{name: "upstream without span", parse: u("39c479705e393343e92d4a770f474a9a", ""), ok: true, traceID: "39c479705e393343e92d4a770f474a9a", format: FormatUpstream},
		{name: "upstream 64-bit rejected", parse: u("a2fb4a1d1a96d312", ""), ok: false},
		{name: "upstream span 8 digits", parse: u("39c479705e393343e92d4a770f474a9a", "71bdc768"), ok: false},
		{name: "upstream free text", parse: u("job 39c479705e393343e92d4a770f474a9a", ""), ok: false},
	})
}

func TestParseW3CDropsInvalidStateAndBaggage(t *testing.T) {
	c, err := ParseW3C("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Bad=1", "k=v")
	if err != nil {
		t.Fatal(err)
	}
	if c.TraceState != "" || c.Baggage != "k=v" {
		t.Fatalf("tracestate %q baggage %q", c.TraceState, c.Baggage)
	}
	if !c.IsValid() || !c.Sampled() {
		t.Fatalf("IsValid/Sampled wrong for %+v", c)
	}
}

func TestFormatAndSourceNames(t *testing.T) {
	want := map[Format]string{FormatNone: "none", FormatW3C: "w3c", FormatB3: "b3", FormatJaeger: "jaeger", FormatXRay: "xray", FormatDatadog: "datadog", FormatPlain: "plain", FormatUpstream: "upstream"}
	for f, s := range want {
		if f.String() != s {
			t.Errorf("%d.String() = %q, want %q", f, f.String(), s)
		}
		if f == FormatNone {
			if _, err := ParseFormat(s); err == nil {
				t.Error("ParseFormat(none) must fail")
			}
			continue
		}
		got, err := ParseFormat(strings.ToUpper(s))
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", strings.ToUpper(s), got, err)
		}
	}
	for alias, f := range map[string]Format{"tracecontext": FormatW3C, "B3Multi": FormatB3} {
		if got, err := ParseFormat(alias); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", alias, got, err, f)
		}
	}
	if _, err := ParseFormat("zipkin"); err == nil || !strings.Contains(err.Error(), "zipkin") {
		t.Errorf("ParseFormat(zipkin) error = %v", err)
	}
	for s, name := range map[Source]string{SourceHeaders: "headers", SourcePayload: "payload", SourceMetadata: "metadata"} {
		if s.String() != name {
			t.Errorf("Source %d = %q, want %q", s, s.String(), name)
		}
	}
}
