package logfilter

import (
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
	live := &Live{RL: rl, SL: sl, LR: lr, OK: true}

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
		assert.Equal(t, want, f.Match(e, live), "live: %s", cond)
		assert.Equal(t, want, f.Match(e, nil), "rebuilt: %s", cond)
	}
}

func BenchmarkMatch(b *testing.B) {
	c := compiler(b)
	e := &ring.Entry{JobID: "j1", WorkerID: "w1", Level: "error", Message: "Database connection TIMEOUT after 5000ms", Timestamp: time.Now(), Attrs: map[string]any{"retries": int64(3)}}
	for name, spec := range map[string]Spec{
		"fields":       {JobID: "j1", LogLevel: []string{"error", "warn"}, Text: "timeout"},
		"ottl_rebuilt": {OTTL: `attributes["retries"] > 2`},
	} {
		f, err := c.Compile(spec, time.Now())
		require.NoError(b, err)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if !f.Match(e, nil) {
					b.Fatal("no match")
				}
			}
		})
	}
}
