package tracecontext

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// fixtureDir holds verbatim upstream captures (see testdata/README.md at the repo root).
const fixtureDir = "../../testdata/go-redis-work-queue"

// The expected ids come straight from the raw text, by a regexp, not from any decoding here.
var (
	rawTraceID = regexp.MustCompile(`"trace_id":"([0-9a-f]{32})"`)
	rawSpanID  = regexp.MustCompile(`"span_id":"([0-9a-f]{16})"`)
)

func fixtureLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("fixture not available: %v", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestExtractUpstreamFixtures runs every real job the upstream queue stored through Extract.
func TestExtractUpstreamFixtures(t *testing.T) {
	e, _ := NewExtractor(DefaultConfig())
	n := 0
	for _, name := range []string{"completed_jobs.jsonl", "dead_letter_jobs.jsonl"} {
		for _, line := range fixtureLines(t, name) {
			tm, sm := rawTraceID.FindStringSubmatch(line), rawSpanID.FindStringSubmatch(line)
			if tm == nil || sm == nil {
				t.Fatalf("%s: fixture line without ids: %s", name, line)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			c, ok := e.Extract(m)
			if !ok || c.TraceIDHex() != tm[1] || c.SpanIDHex() != sm[1] || c.Format != FormatUpstream || c.Source != SourcePayload {
				t.Fatalf("%s: %s\n got %+v ok=%v", name, line, c, ok)
			}
			n++
		}
	}
	if n != 26 {
		t.Fatalf("checked %d jobs, the fixtures hold 26", n)
	}
}

// TestExtractAttributesWorkerLogFixture runs the upstream workers' zap lines, as the filelog
// receiver turns them into attributes, through ExtractAttributes.
func TestExtractAttributesWorkerLogFixture(t *testing.T) {
	e, _ := NewExtractor(DefaultConfig())
	with, without := 0, 0
	for _, line := range fixtureLines(t, "worker_and_producer.log") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		attrs := pcommon.NewMap()
		if err := attrs.FromRaw(m); err != nil {
			t.Fatal(err)
		}
		c, ok := e.ExtractAttributes(attrs)
		tm := rawTraceID.FindStringSubmatch(line)
		if tm == nil {
			if ok {
				t.Fatalf("context from a line without trace_id: %s -> %+v", line, c)
			}
			without++
			continue
		}
		if !ok || c.TraceIDHex() != tm[1] || c.Format != FormatUpstream {
			t.Fatalf("%s\n got %+v ok=%v", line, c, ok)
		}
		if sm := rawSpanID.FindStringSubmatch(line); sm != nil && c.SpanIDHex() != sm[1] {
			t.Fatalf("span id %s, want %s", c.SpanIDHex(), sm[1])
		}
		with++
	}
	if with != 138 {
		t.Fatalf("%d lines with trace_id, the fixture holds 138", with)
	}
	t.Logf("%d lines with trace context, %d JSON lines without", with, without)
}

// TestExtractJSONBounds checks the limits on the allocating JSON path.
func TestExtractJSONBounds(t *testing.T) {
	e, _ := NewExtractor(DefaultConfig())
	tm := `{"traceparent":"` + tpA + `"}`
	junk := `{"x":"y"}`
	// Five JSON strings in opts, keys sorted a..e; only maxJSONDecodes (4) are decoded.
	m := map[string]any{"opts": map[string]any{"a": junk, "b": junk, "c": junk, "d": junk, "e": tm}}
	if c, ok := e.Extract(m); ok {
		t.Fatalf("fifth JSON string decoded: %+v", c)
	}
	m["opts"].(map[string]any)["d"] = tm
	if _, ok := e.Extract(m); !ok {
		t.Fatal("fourth JSON string not decoded")
	}
	big := `{"traceparent":"` + tpA + `","pad":"` + strings.Repeat("x", maxJSONLen) + `"}`
	if c, ok := e.Extract(map[string]any{"opts": map[string]any{"tm": big}}); ok {
		t.Fatalf("JSON string over %d bytes decoded: %+v", maxJSONLen, c)
	}
	// Not an object: arrays and scalars inside strings are not carriers.
	if c, ok := e.Extract(map[string]any{"opts": map[string]any{"tm": `["` + tpA + `"]`}}); ok {
		t.Fatalf("JSON array used as carrier: %+v", c)
	}
}
