package logfilter

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

func compiler(t testing.TB) *Compiler {
	c, err := NewCompiler(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	return c
}

func TestCompileErrors(t *testing.T) {
	c := compiler(t)
	for spec, field := range map[*Spec]string{
		{LogLevel: []string{"loud"}}: "filters.log_level",
		{TraceID: "abc"}:             "filters.trace_id",
		{Since: "nope"}:              "filters.since",
		{Until: "x"}:                 "filters.until",
		{OTTL: `body ==`}:            "filters.ottl",
		{OTTL: `UnknownFunc(body)`}:  "filters.ottl",
		{Since: "1m", Until: "2m"}:   "filters.until",
	} {
		_, err := c.Compile(*spec, time.Now())
		var fe *Error
		require.ErrorAs(t, err, &fe, "%+v", spec)
		assert.Equal(t, field, fe.Field)
	}
	f, err := c.Compile(Spec{Since: "15m"}, time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 1, 1, 0, 45, 0, 0, time.UTC), f.Since(), "durations are relative to now")
}

// TestLiveAndRebuiltAgree: OTTL gives the same answer on the pipeline's record and on the
// record rebuilt from a stored entry (replay and history use the latter).
func TestLiveAndRebuiltAgree(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("sc")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetSeverityText("ERROR")
	lr.Body().SetStr("db timeout after 5000ms")
	lr.Attributes().PutInt("retries", 3)
	lr.Attributes().PutStr("job.id", "j1")
	lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	lr.SetEventName("job_retried")
	e := ring.FromRecord(rl.Resource(), sl.Scope(), lr, time.Now())

	c := compiler(t)
	for cond, want := range map[string]bool{
		`attributes["retries"] > 2`:                             true,
		`attributes["retries"] > 3`:                             false,
		`severity_number >= SEVERITY_NUMBER_ERROR`:              true,
		`resource.attributes["service.name"] == "svc"`:          true,
		`instrumentation_scope.name == "sc"`:                    true,
		`IsMatch(body, "timeout after \\d+ms")`:                 true,
		`event_name == "job_retried"`:                           true,
		`trace_id.string == "0102030405060708090a0b0c0d0e0f10"`: true,
		`attributes["missing"] == "x"`:                          false,
	} {
		f, err := c.Compile(Spec{OTTL: cond}, time.Now())
		require.NoError(t, err, cond)
		assert.Equal(t, want, f.Match(e), cond)
	}
}

func BenchmarkMatch(b *testing.B) {
	c := compiler(b)
	e := &ring.Entry{JobID: "j1", WorkerID: "w1", Level: "error", Message: "Database connection TIMEOUT after 5000ms", Timestamp: time.Now(), Attrs: ring.AttrsOf(map[string]any{"retries": int64(3)})}
	for name, spec := range map[string]Spec{
		"fields":       {JobID: "j1", LogLevel: []string{"error", "warn"}, Text: "timeout"},
		"ottl_rebuilt": {OTTL: `attributes["retries"] > 2`},
	} {
		f, err := c.Compile(spec, time.Now())
		require.NoError(b, err)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if !f.Match(e) {
					b.Fatal("no match")
				}
			}
		})
	}
}

// Issue 18, finding 3: 2,000 nested parentheses took 15.5 s in the OTTL parser. Nesting is
// refused before parsing, so the answer does not depend on the parser at all.
func TestDeepNestingRefusedBeforeParsing(t *testing.T) {
	c := compiler(t)
	deep := strings.Repeat("(", 2000) + "true" + strings.Repeat(")", 2000)
	_, err := c.Compile(Spec{OTTL: deep}, time.Now())
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "filters.ottl", fe.Field)
	assert.Contains(t, fe.Message, "nests 2000 levels deep; the limit is 64")

	ok := strings.Repeat("(", 64) + "true" + strings.Repeat(")", 64)
	_, err = c.Compile(Spec{OTTL: ok}, time.Now())
	require.NoError(t, err, "64 levels are allowed")
	// Brackets inside string literals are text, not nesting.
	_, err = c.Compile(Spec{OTTL: `body == "` + strings.Repeat("(", 100) + `"`}, time.Now())
	require.NoError(t, err)
}

// Issue 18, finding 2: the pattern of the reproduction costs ~1500 steps per input byte.
func TestPatternSizeBounded(t *testing.T) {
	c := compiler(t)
	_, err := c.Compile(Spec{OTTL: `IsMatch(body, "(?:x?){500}x{500}y")`}, time.Now())
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "filters.ottl", fe.Field)
	assert.Contains(t, fe.Message, "the limit is 500")
	// The same text compared as a plain string is not a pattern.
	_, err = c.Compile(Spec{OTTL: `body == "(?:x?){500}x{500}y"`}, time.Now())
	require.NoError(t, err)
	_, err = c.Compile(Spec{OTTL: `IsMatch(attributes["x"], "^ERROR .* timeout after [0-9]+ms$")`}, time.Now())
	require.NoError(t, err)
}

// Text search and OTTL look at MaxMatchBytes of the body only.
func TestLongBodiesCutBeforeMatching(t *testing.T) {
	c, err := NewCompilerWithLimits(componenttest.NewNopTelemetrySettings(), Limits{MaxMatchBytes: 1024})
	require.NoError(t, err)
	e := &ring.Entry{Level: "info", Message: strings.Repeat("a", 4096) + "needle", Timestamp: time.Now()}
	for _, spec := range []Spec{{Text: "needle"}, {OTTL: `IsMatch(body, "needle")`}} {
		f, err := c.Compile(spec, time.Now())
		require.NoError(t, err)
		assert.False(t, f.Match(e), "%+v matched beyond the cut", spec)
	}
	e.Message = "needle" + strings.Repeat("a", 4096)
	for _, spec := range []Spec{{Text: "needle"}, {OTTL: `IsMatch(body, "needle")`}} {
		f, err := c.Compile(spec, time.Now())
		require.NoError(t, err)
		assert.True(t, f.Match(e), "%+v", spec)
	}
	assert.Equal(t, "ab", cut("ab\u00e9", 3), "cut stays on a rune boundary")
}

// Compilations run in parallel: no lock serialises users (run with -race).
func TestConcurrentCompile(t *testing.T) {
	c := compiler(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f, err := c.Compile(Spec{OTTL: fmt.Sprintf(`attributes["n"] == %d`, i)}, time.Now())
			assert.NoError(t, err)
			assert.True(t, f.Match(&ring.Entry{Attrs: ring.AttrsOf(map[string]any{"n": int64(i)})}))
		}(i)
	}
	wg.Wait()
}
