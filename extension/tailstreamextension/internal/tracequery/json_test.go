package tracequery

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
)

func TestTagListJSON(t *testing.T) {
	l := Tags{
		{Key: "db.statement", Value: "SELECT \"x\" FROM t\nWHERE a = '\\'"},
		{Key: "ctl", Value: "a\x01b\tc\r"},
		{Key: "utf8", Value: "héllo ✓"},
		{Key: "bad", Value: "a\xffb"},
		{Key: "db.statement", Value: "duplicate dropped"},
	}
	b, err := json.Marshal(l)
	require.NoError(t, err)
	var got map[string]string
	require.NoError(t, json.Unmarshal(b, &got), "%s", b)
	assert.Equal(t, map[string]string{
		"db.statement": "SELECT \"x\" FROM t\nWHERE a = '\\'",
		"ctl":          "a\x01b\tc\r",
		"utf8":         "héllo ✓",
		"bad":          "a\ufffdb",
	}, got)
	b, _ = json.Marshal(Tags(nil))
	assert.Equal(t, "{}", string(b))
	b, _ = json.Marshal(Tags([]tracecache.KV{}))
	assert.Equal(t, "{}", string(b))
}

// The hand-written summary JSON must say exactly what encoding/json says for the struct.
func TestSummaryJSONMatchesEncodingJSON(t *testing.T) {
	res := Trace{ID: tracetest.MustTID(tracetest.T1), Source: "cache+backend", Partial: true, BackendErrors: []string{`zipkin: HTTP 503: "down"`}}
	res.Spans = tracecache.FromPdata(tracetest.Build(tracetest.T1,
		tracetest.Span{Service: "order-api", Name: "POST /orders \"quoted\"", ID: tracetest.SA, Kind: 2, Start: 0, End: 50},
		tracetest.Span{Service: "", Name: "no service\n", ID: tracetest.SB, Parent: tracetest.SA, Start: 10, End: 12, ErrMsg: "boom <&>",
			Attrs: map[string]any{"k": "v\t", "n": 3, "ü": "✓"}},
		tracetest.Span{Service: "jobqueue", Name: "process", ID: tracetest.SC1, Parent: tracetest.SB, Kind: 5, Start: 100, End: 300},
	))
	for _, maxSpans := range []int{1000, 1} {
		sum := Summarize(res, maxSpans)
		sum.TraceURL = "http://x/trace/" + tracetest.T1
		type plain Summary // same fields, no MarshalJSON
		want, err := json.Marshal(plain(sum))
		require.NoError(t, err)
		got := sum.AppendJSON(nil)
		require.True(t, json.Valid(got), "%s", got)
		var gotM, wantM map[string]any
		require.NoError(t, json.Unmarshal(got, &gotM))
		require.NoError(t, json.Unmarshal(want, &wantM))
		assert.Equal(t, wantM, gotM)
	}
}
