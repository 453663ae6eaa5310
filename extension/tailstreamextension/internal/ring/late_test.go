package ring

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A late version rebuilds the exact version it replaced, whatever the line named itself.
func TestAttributedThenEarly(t *testing.T) {
	for name, e := range map[string]*Entry{
		"nothing":          {Seq: 3, Message: "m", TraceID: "t"},
		"its own worker":   {Seq: 3, Message: "m", WorkerID: "own", Attrs: AttrsOf(map[string]any{"x": "y"})},
		"queue attr only":  {Seq: 3, Message: "m", Attrs: AttrsOf(map[string]any{"queue.name": "attr-q"})},
		"empty attrs":      {Seq: 3, Message: "m", Attrs: Attrs{}},
		"worker attribute": {Seq: 3, Message: "m", Attrs: AttrsOf(map[string]any{"worker.id": "w-attr"})},
	} {
		before := string(e.JSON())
		late := e.Attributed("j1", "w1", "q1")
		require.NotNil(t, late.Late, name)
		assert.Contains(t, string(late.JSON()), `"late":true`, name)
		assert.Equal(t, "j1", late.JobID, name)
		assert.Equal(t, "j1", late.Attrs.Value("job.id"), name)
		early := late.Early()
		assert.Equal(t, before, string(early.JSON()), name)
		assert.Equal(t, e.Attrs, early.Attrs, name)
		assert.Nil(t, early.Late, name)
		assert.NotContains(t, string(early.JSON()), `"late"`, name)
		assert.Equal(t, string(e.JSON()), before, "%s: the original is untouched", name)
	}
	assert.Nil(t, (&Entry{}).Early(), "a line never late has no earlier version")
	assert.Zero(t, (&Entry{}).LateID())
}
