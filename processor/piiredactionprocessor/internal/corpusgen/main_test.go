package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The committed corpus is what the generator writes: edit templates, then re-run
// `go run ./processor/piiredactionprocessor/internal/corpusgen`.
func TestCommittedCorpusIsCurrent(t *testing.T) {
	tune, holdout := Generate(14, 2400)
	for name, ls := range map[string][]Line{"tune.jsonl": tune, "holdout.jsonl": holdout} {
		got, err := os.ReadFile(filepath.Join("..", "..", "testdata", "generated", name))
		require.NoError(t, err)
		assert.True(t, string(Encode(ls)) == string(got), "%s is stale: re-run the generator", name)
	}
}

// Labels are checked with this package's own Luhn and mod-97, never the scanner's.
func TestLabelsAreValid(t *testing.T) {
	tune, holdout := Generate(14, 2400)
	require.Len(t, tune, 1200)
	require.Len(t, holdout, 1200)
	seenTemplates := map[string]string{}
	kinds := map[string]int{}
	for half, ls := range [][]Line{tune, holdout} {
		for _, l := range ls {
			if prev, ok := seenTemplates[l.Template]; ok {
				require.Equal(t, prev, []string{"tune", "holdout"}[half], "template %s in both halves", l.Template)
			}
			seenTemplates[l.Template] = []string{"tune", "holdout"}[half]
			for _, sp := range l.Spans {
				v := l.Text[sp.Start:sp.End]
				kinds[sp.Detector]++
				switch sp.Detector {
				case "credit_card":
					assert.True(t, LuhnValid(v), "card %q", v)
					d := strings.NewReplacer(" ", "", "-", "").Replace(v)
					assert.True(t, len(d) >= 12 && len(d) <= 19, "card %q", v)
				case "iban":
					assert.True(t, IBANValid(v), "iban %q", v)
				}
			}
		}
	}
	for _, k := range []string{"credit_card", "phone", "iban", "secret", "aws_secret_key", "aws_access_key"} {
		assert.Greater(t, kinds[k], 50, k)
	}
	assert.True(t, LuhnValid("4111111111111111"))
	assert.False(t, LuhnValid("4111111111111112"))
	assert.True(t, IBANValid("GB82 WEST 1234 5698 7654 32"))
	assert.False(t, IBANValid("GB82 WEST 1234 5698 7654 33"))
}
