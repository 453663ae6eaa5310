package errnorm

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"upstream 502", "upstream …"},
		{"upstream 502 Bad Gateway", "upstream … Bad Gateway"},
		{"job job_12345 failed after 3 retries", "job … failed after … retries"},
		{"dial tcp 10.0.0.1:6379: connection refused", "dial tcp …: connection refused"},
		{"order 3f1c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6 not found", "order … not found"},
		{"trace 4bf92f3577b34da6a3ce929d0e0e4736 missing", "trace … missing"},
		{"key deadbeefcafebabe gone", "key … gone"},
		{"timeout after 1.5s", "timeout after …"},
		{"  spaced \n\t out  ", "spaced out"},
		{"no numbers here", "no numbers here"},
		{"upstream 502 from gw-17", "upstream … from …"},
	} {
		assert.Equal(t, tc.want, Normalize(tc.in), "Normalize(%q)", tc.in)
	}
}

// Two messages of one failure that differ only in ids and figures group together.
func TestNormalizeGroups(t *testing.T) {
	a := Normalize("charge card 8812 for order ord_77 failed: upstream 502 after 280ms")
	b := Normalize("charge card 19 for order ord_1234 failed: upstream 503 after 1200ms")
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, Normalize("charge card 19 failed: card declined"))
}

func TestNormalizeBounded(t *testing.T) {
	long := strings.Repeat("é", 400)
	got := Normalize(long)
	assert.LessOrEqual(t, len(got), MaxLen+len(Ellipsis))
	assert.True(t, utf8.ValidString(got))
	assert.True(t, strings.HasSuffix(got, Ellipsis))
}
