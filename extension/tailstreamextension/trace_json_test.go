package tailstreamextension

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
)

func TestTagListJSON(t *testing.T) {
	l := tagList{
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
	b, _ = json.Marshal(tagList(nil))
	assert.Equal(t, "{}", string(b))
	b, _ = json.Marshal(tagList([]tracecache.KV{}))
	assert.Equal(t, "{}", string(b))
}

// The hand-written summary JSON must say exactly what encoding/json says for the struct.
func TestSummaryJSONMatchesEncodingJSON(t *testing.T) {
	res := traceResult{source: "cache+backend", partial: true, backendErrors: []string{`zipkin: HTTP 503: "down"`}}
	res.spans = tracecache.FromPdata(buildTraces(t1,
		spanSpec{service: "order-api", name: "POST /orders \"quoted\"", id: sA, kind: 2, start: 0, end: 50},
		spanSpec{service: "", name: "no service\n", id: sB, parent: sA, start: 10, end: 12, errMsg: "boom <&>",
			attrs: map[string]any{"k": "v\t", "n": 3, "ü": "✓"}},
		spanSpec{service: "jobqueue", name: "process", id: sC1, parent: sB, kind: 5, start: 100, end: 300},
	))
	for _, maxSpans := range []int{1000, 1} {
		sum := summarize(t1, res, maxSpans)
		sum.TraceURL = "http://x/trace/" + t1
		type plain traceSummary // same fields, no MarshalJSON
		want, err := json.Marshal(plain(sum))
		require.NoError(t, err)
		got := sum.appendJSON(nil)
		require.True(t, json.Valid(got), "%s", got)
		var gotM, wantM map[string]any
		require.NoError(t, json.Unmarshal(got, &gotM))
		require.NoError(t, json.Unmarshal(want, &wantM))
		assert.Equal(t, wantM, gotM)
	}
}
