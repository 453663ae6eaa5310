package ring

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func msgs(es []*Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Message)
	}
	return out
}

func TestBufferSeqWrapAndAge(t *testing.T) {
	now := time.Now()
	b := New(3, time.Minute)
	assert.Zero(t, b.Head())
	assert.Empty(t, b.Snapshot(0, 0, now))
	for i, m := range []string{"a", "b", "c", "d", "e"} {
		ing := now
		if i == 2 {
			ing = now.Add(-2 * time.Minute) // too old
		}
		b.Append([]*Entry{{Message: m, Ingested: ing}})
	}
	assert.EqualValues(t, 5, b.Head())
	all := b.Snapshot(0, 0, now)
	assert.Equal(t, []string{"d", "e"}, msgs(all), "a, b overwritten; c older than max_age")
	assert.EqualValues(t, 4, all[0].Seq)
	assert.Equal(t, []string{"e"}, msgs(b.Snapshot(4, 0, now)))
	assert.Equal(t, []string{"d"}, msgs(b.Snapshot(0, 4, now)))
	assert.Empty(t, b.Snapshot(5, 0, now))
	assert.Empty(t, b.Snapshot(9, 0, now))

	var rev []string
	b.Reverse(now, func(e *Entry) bool { rev = append(rev, e.Message); return true })
	assert.Equal(t, []string{"e", "d"}, rev)
}

func TestFromRecordAndBack(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "worker")
	rl.Resource().Attributes().PutStr("host.name", "vm-1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("scope")
	lr := sl.LogRecords().AppendEmpty()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	lr.SetSeverityNumber(plog.SeverityNumberWarn2)
	lr.Body().SetStr("job retried")
	lr.Attributes().PutStr("id", "job-1") // upstream zap names only
	lr.Attributes().PutStr("worker_id", "w-1")
	lr.Attributes().PutStr("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736")
	lr.Attributes().PutInt("code.lineno", 42)
	lr.Attributes().PutStr("job.id", "job-1")

	e := FromRecord(rl.Resource(), sl.Scope(), lr, time.Now())
	assert.Equal(t, ts, e.Timestamp)
	assert.Equal(t, "warn", e.Level)
	assert.Equal(t, "worker", e.Service)
	assert.Equal(t, "job-1", e.JobID)
	assert.Equal(t, "w-1", e.WorkerID)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", e.TraceID)
	assert.Equal(t, &Source{Host: "vm-1", Line: 42}, e.Source)
	assert.Contains(t, string(e.JSON()), `"level":"warn"`)
	assert.Same(t, &e.JSON()[0], &e.JSON()[0], "marshalled once")

	rl2, _, lr2 := e.Record()
	assert.Equal(t, lr.Body().Str(), lr2.Body().Str())
	assert.Equal(t, lr.SeverityNumber(), lr2.SeverityNumber())
	assert.Equal(t, e.TraceID, lr2.TraceID().String())
	v, ok := rl2.Resource().Attributes().Get("service.name")
	require.True(t, ok)
	assert.Equal(t, "worker", v.Str())
}

func TestLevels(t *testing.T) {
	for in, want := range map[string]string{"": "info", "WARNING": "warn", "err": "error", "dpanic": "fatal", "DEBUG": "debug", "trace": "trace", "bogus": "info"} {
		assert.Equal(t, want, Level(plog.SeverityNumberUnspecified, in), in)
	}
	assert.Equal(t, "error", Level(plog.SeverityNumberError3, "info"), "the number wins")
}

func TestJSONKeptOnlyForRecentLines(t *testing.T) {
	now := time.Now()
	b := New(3*JSONKeep, time.Hour)
	var es []*Entry
	for i := 0; i < JSONKeep+10; i++ {
		e := &Entry{Message: "m" + strconv.Itoa(i), Level: "info", Timestamp: now, Ingested: now}
		es = append(es, e)
		b.Append([]*Entry{e})
		_ = e.JSON() // live fan-out marshals each line right after it is appended
	}
	for i, e := range es {
		assert.Equal(t, i >= 10, e.jsonCached(), "line %d", i+1)
	}
	// An old line still marshals, correctly, on every use (a replay), without caching again.
	old := es[3]
	var v map[string]any
	require.NoError(t, json.Unmarshal(old.JSON(), &v))
	assert.Equal(t, "m3", v["message"])
	assert.EqualValues(t, 4, v["seq"])
	assert.False(t, old.jsonCached())

	// A late attribution of an old line replaces it without a cache either.
	late := old.Attributed("j1", "w1", "q")
	require.True(t, b.Replace(late))
	_ = late.JSON()
	assert.False(t, late.jsonCached())
	assert.Contains(t, string(late.JSON()), `"job_id":"j1"`)
	// A recent one keeps caching.
	recent := es[len(es)-1].Attributed("j2", "", "")
	require.True(t, b.Replace(recent))
	_ = recent.JSON()
	assert.True(t, recent.jsonCached())
}
