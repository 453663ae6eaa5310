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
