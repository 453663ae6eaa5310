package ring

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// reflectEntryType is Entry as encoding/json sees it, built from Entry's own fields, with the
// attributes as the map they stand for: json.Marshal of it is the reference the hand-written
// encoder must match byte for byte, and a field added to Entry joins it by itself.
var reflectEntryType = func() reflect.Type {
	var fields []reflect.StructField
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Entry]()) {
		if !f.IsExported() || f.Tag.Get("json") == "-" {
			continue
		}
		if f.Type == reflect.TypeFor[Attrs]() {
			f.Type = reflect.TypeFor[map[string]any]()
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
	}
	return reflect.StructOf(fields)
}()

// reflectValue copies e into a reflectEntryType, for json.Marshal.
func reflectValue(e *Entry) any {
	src := reflect.ValueOf(e).Elem()
	r := reflect.New(reflectEntryType)
	for i := range reflectEntryType.NumField() {
		v := src.FieldByName(reflectEntryType.Field(i).Name)
		if a, ok := v.Interface().(Attrs); ok {
			if a != nil {
				r.Elem().Field(i).Set(reflect.ValueOf(a.Map()))
			}
			continue
		}
		r.Elem().Field(i).Set(v)
	}
	return r.Interface()
}

func reflectJSON(e *Entry) ([]byte, error) { return json.Marshal(reflectValue(e)) }

// checkSameJSON compares the hand-written encoder with encoding/json on e: the same bytes, or
// both failing.
func checkSameJSON(t *testing.T, e *Entry) {
	t.Helper()
	want, wantErr := reflectJSON(e)
	got, gotErr := e.appendJSON(nil)
	if wantErr != nil || gotErr != nil {
		require.Errorf(t, wantErr, "encoding/json succeeded (%s) where appendJSON failed", want)
		require.Errorf(t, gotErr, "appendJSON succeeded (%s) where encoding/json failed: %v", got, wantErr)
		return
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("JSON differs\nencoding/json: %s\nappendJSON:    %s", want, got)
	}
	// What the rest of the extension calls, through the cache, and json.Marshal(e) itself.
	assert.Equal(t, string(want), string(e.JSON()))
	direct, err := json.Marshal(e)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(direct))
}

// awkward is a string with everything the escaper treats specially.
const awkward = "a\"b\\c/d\x00\x01\x1f\b\f\n\r\t\x7f <script>&amp;</script> \u2028\u2029 é 日本 🙂 \xff\xfe bad\xc3( trunc\xe2\x82"

func TestEntryJSONMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 12, 1, 13, 30, 0, 123456789, time.UTC)
	full := func() *Entry {
		return &Entry{
			Seq: 42, Timestamp: ts, Level: "error", Service: "billing", JobID: "job-1",
			WorkerID: "w-1", QueueName: "emails", TraceID: strings.Repeat("ab", 16),
			SpanID: strings.Repeat("cd", 8), Message: "charge failed",
			Attrs: AttrsOf(map[string]any{"job.id": "job-1", "retries": int64(3), "ok": false}),
		}
	}
	late := full().Attributed("job-2", "w-2", "sms")
	late.Late.ID = 7
	lateAttributed := (&Entry{Seq: 9, Timestamp: ts, Level: "info", Message: "late"}).Attributed("job-3", "", "")
	cases := map[string]*Entry{
		"zero":            {},
		"minimal":         {Seq: 1, Timestamp: ts, Level: "info"},
		"full":            full(),
		"empty attrs":     {Timestamp: ts, Attrs: Attrs{}},
		"late":            late,
		"late no attrs":   lateAttributed,
		"early of late":   late.Early(),
		"empty source":    {Timestamp: ts, Source: &Source{}},
		"source line":     {Timestamp: ts, Source: &Source{Line: -5}},
		"source file":     {Timestamp: ts, Source: &Source{File: "/var/log/a<b>.log", Line: 12}},
		"source all":      {Timestamp: ts, Source: &Source{Host: "h", Container: "c", File: "f", Line: math.MaxInt64}},
		"awkward strings": {Timestamp: ts, Level: awkward, Service: awkward, JobID: awkward, Message: awkward, Attrs: AttrsOf(map[string]any{awkward: awkward})},
		"max seq":         {Seq: math.MaxUint64, Timestamp: ts},
		"zoned time":      {Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", -(5*3600+30*60)))},
		"whole second":    {Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		"year 0":          {Timestamp: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year 10000":      {Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"zone 24h":        {Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("y", 24*3600))},
		"values": {Timestamp: ts, Attrs: AttrsOf(map[string]any{
			"nil": nil, "t": true, "f": false, "i": int64(math.MinInt64), "imax": int64(math.MaxInt64),
			"zero": 0.0, "negzero": math.Copysign(0, -1), "half": 0.5, "big": 1e21, "almost": 999999999999999999999.0,
			"small": 1e-7, "edge": 1e-6, "tiny": 5e-324, "huge": math.MaxFloat64, "neg": -1.5e-300, "pi": math.Pi,
			"e100": 1e100, "int-like": 3.0, "bytes": []byte("\x00\xffhi<>"), "empty bytes": []byte{}, "nil bytes": []byte(nil),
			"slice":     []any{"a", int64(1), 2.5, nil, true, []any{}, map[string]any{}},
			"nil slice": []any(nil), "nil map": map[string]any(nil),
			"map": map[string]any{"z": int64(1), "a": map[string]any{"<k>": []any{"\u2028"}}, "": "empty key", "é": 1.0},
		})},
		"rare value types": {Timestamp: ts, Attrs: AttrsOf(map[string]any{
			"int": 7, "uint8": uint8(200), "float32": float32(0.1), "strs": []string{"a", "<b>"},
			"raw": json.RawMessage(`{"x": 1}`), "time": ts,
		})},
		"NaN attribute":     {Timestamp: ts, Attrs: AttrsOf(map[string]any{"x": math.NaN()})},
		"Inf attribute":     {Timestamp: ts, Attrs: AttrsOf(map[string]any{"x": math.Inf(-1)})},
		"nested NaN":        {Timestamp: ts, Attrs: AttrsOf(map[string]any{"x": []any{map[string]any{"y": math.Inf(1)}}})},
		"unsupported value": {Timestamp: ts, Attrs: AttrsOf(map[string]any{"ch": make(chan int)})},
	}
	for _, ld := range []plog.Logs{burstLogs(3), workerLogs(3), bigLogs(2)} {
		for _, e := range entriesOf(ld, ts) {
			cases["record "+e.Message[:min(len(e.Message), 20)]] = e
		}
	}
	rl, sl, lr := richRecord()
	cases["rich record"] = FromRecord(rl.Resource(), sl.Scope(), lr, ts)
	for name, e := range cases {
		t.Run(name, func(t *testing.T) { checkSameJSON(t, e) })
	}
}

// A line json.Marshal cannot write (pdata carries NaN doubles; JSON has no NaN) still goes
// out, without its attributes, rather than being lost.
func TestEntryJSONNaNKeepsTheLine(t *testing.T) {
	e := &Entry{Seq: 3, Timestamp: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Level: "warn", Message: "m",
		Attrs: AttrsOf(map[string]any{"ratio": math.NaN()})}
	assert.JSONEq(t, `{"seq":3,"timestamp":"2026-12-01T00:00:00Z","level":"warn","message":"m"}`, string(e.JSON()))
}

func FuzzEntryJSON(f *testing.F) {
	f.Add(uint64(1), int64(1764595800123456789), 0, "info", "msg", "svc", "job", "key", "value", 1.5, int64(7), true, []byte("b"), uint8(0))
	f.Add(uint64(0), int64(0), 3600, "", "", "", "", "", "", 0.0, int64(0), false, []byte(nil), uint8(0xff))
	f.Add(uint64(math.MaxUint64), int64(math.MaxInt64), -86399, awkward, awkward, "\u2028", "<&>", awkward, "\xff", 1e21, int64(math.MinInt64), false, []byte{0, 1, 2}, uint8(0x55))
	f.Add(uint64(9), int64(-62135596800000000), 0, "warn", "a\x00b", "s", "j", "k", "v", 1e-7, int64(-1), true, []byte{}, uint8(0xaa))
	f.Add(uint64(9), int64(5), 90000, "x", "y", "z", "j", "k", "v", math.Inf(1), int64(1), true, []byte{}, uint8(0x0f))
	f.Add(uint64(9), int64(5), 0, "x", "y", "z", "j", "k", "v", math.NaN(), int64(1), true, []byte{}, uint8(0xf0))
	f.Fuzz(func(t *testing.T, seq uint64, nanos int64, zone int, level, msg, service, job, key, sval string,
		fval float64, ival int64, bval bool, bytesVal []byte, shape uint8) {
		e := &Entry{
			Seq: seq, Timestamp: time.Unix(0, nanos).In(time.FixedZone("z", zone)),
			Level: level, Message: msg, Service: service, JobID: job, WorkerID: sval, QueueName: key,
		}
		if shape&1 != 0 {
			e.Timestamp = e.Timestamp.UTC()
			e.TraceID, e.SpanID = sval, key
		}
		if shape&2 != 0 {
			e.Source = &Source{Host: service, File: msg, Line: ival}
		}
		if shape&4 != 0 {
			e.Late = &LateInfo{ID: seq}
		}
		if shape&8 != 0 {
			e.Attrs = AttrsOf(map[string]any{key: sval, key + "f": fval, key + "i": ival, key + "b": bval, key + "y": bytesVal})
		}
		if shape&16 != 0 {
			e.Attrs = e.Attrs.with(key+"m", map[string]any{sval: []any{fval, ival, msg, map[string]any{level: bval}}, key: nil})
		}
		if shape&32 != 0 {
			// A year beyond 9999 and zone offsets of a day and more: json.Marshal refuses them.
			e.Timestamp = time.Unix(int64(seq>>1), nanos).In(time.FixedZone("z", zone))
		}
		if shape&64 != 0 {
			e.Attrs = e.Attrs.with(key+"s", []any{sval, []byte(msg), nil})
		}
		checkSameJSON(t, e)
	})
}
