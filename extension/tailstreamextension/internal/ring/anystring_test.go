package ring

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// anyString gives what encoding/json gave it before, without the reflection.
func TestAnyStringMatchesEncodingJSON(t *testing.T) {
	reference := func(v any) string {
		b, _ := json.Marshal(v)
		return strings.Trim(string(b), `"`)
	}
	for _, v := range []any{
		int64(0), int64(-42), int64(math.MaxInt64), true, false,
		1.5, 0.0, -0.0, 1e21, 1e20, 1e-7, 1e-6, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64,
		[]byte("raw bytes"), []byte{}, []byte(nil),
		[]any{int64(1), "two", 3.5, nil, true}, []any(nil),
		map[string]any{"b": int64(1), "a": "<x>&\u2028", "c": []any{}}, map[string]any(nil),
		uint32(7), // not what AsRaw gives: goes through encoding/json as before
	} {
		assert.Equal(t, reference(v), anyString(v), "%#v", v)
	}
	assert.Equal(t, "", anyString(math.NaN()), "NaN has no JSON")
	assert.Equal(t, "", anyString(math.Inf(1)))
	assert.Equal(t, "", anyString(nil))
	assert.Equal(t, "s", anyString("s"))
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _ = anyString(int64(12345)) }), 1.0)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = anyString(true) }))
}
