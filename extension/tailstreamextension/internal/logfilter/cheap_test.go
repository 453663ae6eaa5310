package logfilter

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// The hub runs MatchCheap on the ingest path for every stream and line: a text search,
// whose cost is the body's length times the search's, is left to MatchSlow (which also cuts
// the body), so a hostile search cannot stall ingest. Found while fixing issue 13's
// leftovers: the field checks repeated the text search on the whole body.
func TestTextSearchIsNotACheapCheck(t *testing.T) {
	c := compiler(t)
	f, err := c.Compile(Spec{Text: strings.Repeat("a", 4000) + "b", Service: "svc"}, time.Now())
	require.NoError(t, err)
	require.True(t, f.Slow())
	e := &ring.Entry{Service: "svc", Message: strings.Repeat("a", 256<<10)}
	assert.True(t, f.MatchCheap(e), "the cheap part looks at the fields only")
	assert.False(t, f.Match(e))
	assert.False(t, f.MatchCheap(&ring.Entry{Service: "other", Message: e.Message}))
	assert.True(t, f.Match(&ring.Entry{Service: "svc", Message: "x" + strings.Repeat("A", 4000) + "B"}), "case-insensitive, in the slow part")
}
