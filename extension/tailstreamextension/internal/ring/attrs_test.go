package ring

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func richRecord() (plog.ResourceLogs, plog.ScopeLogs, plog.LogRecord) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("scope")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Unix(1700000000, 5)))
	lr.Body().SetStr("hello <b>&</b>")
	a := lr.Attributes()
	a.PutStr("z.last", "ü ✓ \"quoted\" <tag>")
	a.PutStr("worker_id", "w-1")
	a.PutInt("retries", 3)
	a.PutDouble("ratio", 0.25)
	a.PutBool("ok", true)
	a.PutEmptyBytes("raw").FromRaw([]byte{1, 2, 3})
	m := a.PutEmptyMap("nested")
	m.PutStr("b", "x")
	m.PutInt("a", 1)
	sl2 := a.PutEmptySlice("list")
	sl2.AppendEmpty().SetStr("one")
	sl2.AppendEmpty().SetInt(2)
	a.PutStr("A.upper", "first in byte order")
	a.PutStr("trace_id", "0102030405060708090a0b0c0d0e0f10")
	return rl, sl, lr
}

func TestAttrsMarshalLikeTheMap(t *testing.T) {
	rl, sl, lr := richRecord()
	e := FromRecord(rl.Resource(), sl.Scope(), lr, time.Now())
	want, err := json.Marshal(lr.Attributes().AsRaw())
	require.NoError(t, err)
	got, err := json.Marshal(e.Attrs)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	// The whole line, too: its attributes object is the map's.
	var line map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(e.JSON(), &line))
	assert.JSONEq(t, string(want), string(line["attributes"]))
	assert.Equal(t, "0102030405060708090a0b0c0d0e0f10", e.TraceID, "the id attribute still gives the trace id")

	// No attributes: the key is left out, as with an empty map.
	e2 := &Entry{Message: "m"}
	assert.NotContains(t, string(e2.JSON()), "attributes")
}

func TestAttrsLookupAndRecord(t *testing.T) {
	rl, sl, lr := richRecord()
	e := FromRecord(rl.Resource(), sl.Scope(), lr, time.Now())
	for k, v := range lr.Attributes().AsRaw() {
		got, ok := e.Attrs.Get(k)
		assert.True(t, ok, k)
		assert.Equal(t, v, got, k)
	}
	_, ok := e.Attrs.Get("absent")
	assert.False(t, ok)
	s, ok := e.Attr("service.name")
	assert.True(t, ok, "the resource is looked up after the record")
	assert.Equal(t, "svc", s)

	// Record gives OTTL the same attributes back.
	_, _, back := e.Record()
	assert.Equal(t, lr.Attributes().AsRaw(), back.Attributes().AsRaw())

	// Attribute adds what is missing, keeps the order and leaves a shared copy alone.
	c := e.Attributed("j1", "", "q1")
	assert.Equal(t, "j1", c.Attrs.Value("job.id"))
	assert.Equal(t, "q1", c.Attrs.Value("queue.name"))
	assert.Nil(t, e.Attrs.Value("job.id"), "the original is shared by streams and stays as it was")
	for i := 1; i < len(c.Attrs); i++ {
		assert.Less(t, c.Attrs[i-1].Key, c.Attrs[i].Key)
	}
}

func TestAttrsRepeatedKeyKeepsLast(t *testing.T) {
	// The OTLP wire format can repeat a key (pdata's API cannot): rename k2 to k1 in the bytes.
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Attributes().PutStr("k1", "first")
	lr.Attributes().PutStr("k2", "second")
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	b = bytes.Replace(b, []byte("k2"), []byte("k1"), 1)
	ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
	require.NoError(t, err)
	attrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	require.Equal(t, 2, attrs.Len(), "both copies arrive")
	a := attrsFrom(attrs)
	require.Len(t, a, 1)
	assert.Equal(t, attrs.AsRaw()["k1"], a[0].Value, "the value AsRaw keeps")
}

func TestAttrsUnmarshal(t *testing.T) {
	rl, sl, lr := richRecord()
	e := FromRecord(rl.Resource(), sl.Scope(), lr, time.Now())
	var back Entry
	require.NoError(t, json.Unmarshal(e.JSON(), &back))
	var want map[string]any
	b, _ := json.Marshal(lr.Attributes().AsRaw())
	require.NoError(t, json.Unmarshal(b, &want))
	assert.Equal(t, want, back.Attrs.Map())
	assert.Equal(t, string(e.JSON()), string(back.JSON()), "a decoded line marshals as it came")
}
