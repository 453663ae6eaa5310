package tracecontext

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

const fixtureJobs = "../../testdata/go-redis-work-queue/completed_jobs.jsonl"

var sinkCtx Context
var sinkOK bool

func mustExtractor(b testing.TB, cfg Config) *Extractor {
	b.Helper()
	e, err := NewExtractor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// w3cJob is a job as a producer instrumented with OTel would enqueue it: the upstream
// fields plus a traceparent at top level.
func w3cJob() map[string]any {
	return map[string]any{
		"id":            "f0877e0be6c8bb11e23f860ecf071d12",
		"filepath":      "/srv/data/batch-004/file-0047.log",
		"filesize":      float64(204890),
		"priority":      "low",
		"retries":       float64(0),
		"creation_time": "2026-11-27T10:27:26.204438078Z",
		"traceparent":   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
}

func BenchmarkExtractW3C(b *testing.B) {
	e := mustExtractor(b, DefaultConfig())
	m := w3cJob()
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		sinkCtx, sinkOK = e.Extract(m)
	}
	done()
	if !sinkOK || sinkCtx.Format != FormatW3C {
		b.Fatalf("not extracted: %+v", sinkCtx)
	}
}

// BenchmarkExtractW3CTraceState adds a tracestate, which is validated member by member.
func BenchmarkExtractW3CTraceState(b *testing.B) {
	e := mustExtractor(b, DefaultConfig())
	m := w3cJob()
	m["tracestate"] = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		sinkCtx, sinkOK = e.Extract(m)
	}
	done()
	if !sinkOK || sinkCtx.TraceState == "" {
		b.Fatalf("not extracted: %+v", sinkCtx)
	}
}

func BenchmarkExtractW3CHeaders(b *testing.B) {
	e := mustExtractor(b, DefaultConfig())
	m := map[string]any{
		"id":      "f0877e0be6c8bb11e23f860ecf071d12",
		"retries": float64(0),
		"headers": map[string]any{
			"Traceparent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"Content-Type": "application/json",
		},
	}
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		sinkCtx, sinkOK = e.Extract(m)
	}
	done()
	if !sinkOK || sinkCtx.Source != SourceHeaders {
		b.Fatalf("not extracted: %+v", sinkCtx)
	}
}

func firstFixtureLine(b testing.TB) []byte {
	b.Helper()
	f, err := os.Open(fixtureJobs)
	if err != nil {
		b.Fatalf("fixture not available: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		b.Fatal("empty fixture")
	}
	return append([]byte(nil), sc.Bytes()...)
}

func BenchmarkParseAndExtractUpstreamJob(b *testing.B) {
	e := mustExtractor(b, DefaultConfig())
	line := firstFixtureLine(b)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			b.Fatal(err)
		}
		sinkCtx, sinkOK = e.Extract(m)
	}
	done()
	if !sinkOK || sinkCtx.Format != FormatUpstream {
		b.Fatalf("not extracted: %+v", sinkCtx)
	}
}

// BenchmarkParseAndExtractUpstreamJobReusedMap decodes into one map cleared per job, as a
// poll loop can: Unmarshal then only allocates the strings.
func BenchmarkParseAndExtractUpstreamJobReusedMap(b *testing.B) {
	e := mustExtractor(b, DefaultConfig())
	line := firstFixtureLine(b)
	m := make(map[string]any, 16)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		clear(m)
		if err := json.Unmarshal(line, &m); err != nil {
			b.Fatal(err)
		}
		sinkCtx, sinkOK = e.Extract(m)
	}
	done()
	if !sinkOK || sinkCtx.Format != FormatUpstream {
		b.Fatalf("not extracted: %+v", sinkCtx)
	}
}

func BenchmarkExtractUpstreamDecoded(b *testing.B) {
	e := mustExtractor(b, DefaultConfig())
	var m map[string]any
	if err := json.Unmarshal(firstFixtureLine(b), &m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		sinkCtx, sinkOK = e.Extract(m)
	}
	done()
	if !sinkOK {
		b.Fatal("not extracted")
	}
}

func BenchmarkExtractBullMQNestedJSON(b *testing.B) {
	e := mustExtractor(b, DefaultConfig())
	m := map[string]any{
		"name": "email",
		"data": map[string]any{"to": "a@example.com"},
		"opts": map[string]any{
			"attempts": float64(3),
			"tm":       `{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`,
		},
	}
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		sinkCtx, sinkOK = e.Extract(m)
	}
	done()
	if !sinkOK {
		b.Fatal("not extracted")
	}
}

func BenchmarkExtractAttributesUpstream(b *testing.B) {
	e := mustExtractor(b, DefaultConfig())
	attrs := pcommon.NewMap()
	attrs.PutStr("id", "353d84966cb8257fc790d46a824ad835")
	attrs.PutStr("trace_id", "b0ebecbb95fc949a97f3927ac690b2ee")
	attrs.PutStr("span_id", "90f6b561148da7ea")
	attrs.PutStr("worker_id", "vm-15485-1795775243850107691-4b53-44")
	attrs.PutStr("caller", "worker/worker.go:224")
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		sinkCtx, sinkOK = e.ExtractAttributes(attrs)
	}
	done()
	if !sinkOK {
		b.Fatal("not extracted")
	}
}

func BenchmarkParseTraceparent(b *testing.B) {
	benchParse(b, func() (Context, error) {
		return ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	})
}

func BenchmarkParseB3Single(b *testing.B) {
	benchParse(b, func() (Context, error) {
		return ParseB3Single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")
	})
}

func BenchmarkParseB3Multi(b *testing.B) {
	benchParse(b, func() (Context, error) {
		return ParseB3Multi("80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", "1", "")
	})
}

func BenchmarkParseUberTraceID(b *testing.B) {
	benchParse(b, func() (Context, error) {
		return ParseUberTraceID("4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0%3A1")
	})
}

func BenchmarkParseXRay(b *testing.B) {
	benchParse(b, func() (Context, error) {
		return ParseXRay("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	})
}

func BenchmarkParseDatadog(b *testing.B) {
	benchParse(b, func() (Context, error) {
		return ParseDatadog("1311768467463790320", "1311768467463790321", "_dd.p.dm=-1,_dd.p.tid=640cfd8d00000000")
	})
}

func BenchmarkParsePlain(b *testing.B) {
	benchParse(b, func() (Context, error) {
		return ParsePlain("4BF92F3577B34DA6A3CE929D0E0E4736", "00F067AA0BA902B7")
	})
}

func BenchmarkValidTraceState(b *testing.B) {
	b.ReportAllocs()
	done := cpuTimer(b)
	for b.Loop() {
		_, sinkOK = ValidTraceState("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,tenant@vendor=x")
	}
	done()
	if !sinkOK {
		b.Fatal("invalid")
	}
}

func benchParse(b *testing.B, f func() (Context, error)) {
	b.ReportAllocs()
	var err error
	done := cpuTimer(b)
	for b.Loop() {
		sinkCtx, err = f()
	}
	done()
	if err != nil {
		b.Fatal(err)
	}
}
