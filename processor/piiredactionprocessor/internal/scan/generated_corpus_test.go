package scan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type genLine struct {
	Text     string       `json:"text"`
	Spans    []corpusSpan `json:"spans"`
	Template string       `json:"template"`
}

func loadGenerated(t testing.TB, half string) []genLine {
	f, err := os.Open("../../testdata/generated/" + half + ".jsonl")
	require.NoError(t, err)
	defer f.Close()
	var out []genLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l genLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "%s line %d", half, len(out)+1)
		out = append(out, l)
	}
	require.NoError(t, sc.Err())
	return out
}

// score is the masking view of the corpus: a labelled span is caught when every letter and
// digit of it is inside some match, whatever detector matched; a match is a false positive when
// it touches no labelled span.
type score struct {
	spans, caught, matches, falsePos int
	missedBy, spansBy                map[string]int
	fpBy                             map[string]int
	cleanLines, cleanTouched         int
}

func (s *score) precision() float64 {
	if s.matches == 0 {
		return 1
	}
	return float64(s.matches-s.falsePos) / float64(s.matches)
}

func (s *score) recall() float64 {
	if s.spans == 0 {
		return 1
	}
	return float64(s.caught) / float64(s.spans)
}

func scoreLines(t *testing.T, sc *Scanner, lines []genLine, logDetails bool) *score {
	s := &score{missedBy: map[string]int{}, spansBy: map[string]int{}, fpBy: map[string]int{}}
	for i, l := range lines {
		ms := sc.Scan(l.Text, nil)
		covered := make([]bool, len(l.Text))
		for _, m := range ms {
			for k := m.Start; k < m.End; k++ {
				covered[k] = true
			}
		}
		for _, sp := range l.Spans {
			s.spans++
			s.spansBy[sp.Detector]++
			ok := true
			for k := sp.Start; k < sp.End; k++ {
				if isAlnum(l.Text[k]) && !covered[k] {
					ok = false
					break
				}
			}
			if ok {
				s.caught++
			} else {
				s.missedBy[sp.Detector]++
				if logDetails {
					t.Logf("tune line %d (%s): missed %s %q in %q", i+1, l.Template, sp.Detector, l.Text[sp.Start:sp.End], l.Text)
				}
			}
		}
		for _, m := range ms {
			s.matches++
			hit := false
			for _, sp := range l.Spans {
				if m.Start < sp.End && sp.Start < m.End {
					hit = true
					break
				}
			}
			if !hit {
				s.falsePos++
				name := "custom"
				if m.Det < int(NumKinds) {
					name = Kind(m.Det).String()
				}
				s.fpBy[name]++
				if logDetails {
					t.Logf("tune line %d (%s): false positive %s %q in %q", i+1, l.Template, name, l.Text[m.Start:m.End], l.Text)
				}
			}
		}
		if len(l.Spans) == 0 {
			s.cleanLines++
			if len(ms) > 0 {
				s.cleanTouched++
			}
		}
	}
	return s
}

func byKind(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, m[k])
	}
	return b.String()
}

// TestGeneratedCorpus scores the default scanner on both halves of the generated corpus
// (go run ./processor/piiredactionprocessor/internal/corpusgen). Only the tune half's misses
// and false positives are logged line by line; the held-out half reports counts per kind, and
// it alone carries the bar: recall >= 0.97 and precision >= 0.99.
func TestGeneratedCorpus(t *testing.T) {
	tune, holdout := loadGenerated(t, "tune"), loadGenerated(t, "holdout")
	require.GreaterOrEqual(t, len(tune)+len(holdout), 2000)
	sc := New(Options{})
	ts := scoreLines(t, sc, tune, true)
	hs := scoreLines(t, sc, holdout, false)
	for _, x := range []struct {
		name string
		s    *score
		n    int
	}{{"tune", ts, len(tune)}, {"held-out", hs, len(holdout)}} {
		// Printed unconditionally so `go test` without -v shows the figures.
		fmt.Printf("piiredaction generated corpus, %s half: %d lines, %d labelled spans: precision %.4f recall %.4f "+
			"(caught %d, matches %d, false positives %d; clean lines touched %d of %d)\n",
			x.name, x.n, x.s.spans, x.s.precision(), x.s.recall(), x.s.caught, x.s.matches, x.s.falsePos, x.s.cleanTouched, x.s.cleanLines)
		fmt.Printf("  %s spans by kind:%s\n  %s missed by kind:%s\n  %s false positives by detector:%s\n",
			x.name, byKind(x.s.spansBy), x.name, byKind(x.s.missedBy), x.name, byKind(x.s.fpBy))
	}
	assert.GreaterOrEqual(t, hs.recall(), 0.97, "held-out recall")
	assert.GreaterOrEqual(t, hs.precision(), 0.99, "held-out precision")
}

// TestGeneratedCorpusRuleFalsePositives runs each free-text rule (and the phone detector) alone
// on the lines that carry nothing to mask, in both halves, and reports how many it touches.
func TestGeneratedCorpusRuleFalsePositives(t *testing.T) {
	var clean []genLine
	for _, half := range []string{"tune", "holdout"} {
		for _, l := range loadGenerated(t, half) {
			if len(l.Spans) == 0 {
				clean = append(clean, l)
			}
		}
	}
	require.NotEmpty(t, clean)
	for _, k := range []Kind{SecretKeyword, SecretEntropy, AWSSecretKey, Phone, CreditCard, IBAN} {
		var off []Kind
		for o := Kind(0); o < NumKinds; o++ {
			if o != k {
				off = append(off, o)
			}
		}
		sc := New(Options{Disabled: off})
		touched := 0
		for _, l := range clean {
			for _, m := range sc.Scan(l.Text, nil) {
				touched++
				t.Logf("%s alone: false positive %q in %q", k, l.Text[m.Start:m.End], l.Text)
			}
		}
		rate := float64(touched) / float64(len(clean))
		fmt.Printf("piiredaction rule %-15s alone on %d clean lines: %d false positives (%.4f per line)\n", k, len(clean), touched, rate)
		assert.LessOrEqual(t, rate, 0.01, "%s false-positive rate on clean lines", k)
	}
}
