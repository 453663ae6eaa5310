package backends

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func toJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
