package scan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

type corpusSpan struct {
	Start    int    `json:"start"`
	End      int    `json:"end"`
	Detector string `json:"detector"`
}

type corpusLine struct {
	Text  string       `json:"text"`
	Spans []corpusSpan `json:"spans"`
}

func loadCorpus(t testing.TB) []corpusLine {
	f, err := os.Open("../../testdata/corpus.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var lines []corpusLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l corpusLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "corpus line %d", len(lines)+1)
		lines = append(lines, l)
	}
	require.NoError(t, sc.Err())
	return lines
}

// TestCorpusPrecisionRecall scores the scanner on the labelled corpus: a predicted span is a true
// positive only if start, end and detector all equal a labelled span.
func TestCorpusPrecisionRecall(t *testing.T) {
	lines := loadCorpus(t)
	require.GreaterOrEqual(t, len(lines), 150)
	s := New(Options{})
	var tp, fp, fn int
	perDet := map[string][3]int{}
	for i, l := range lines {
		want := map[corpusSpan]bool{}
		for _, sp := range l.Spans {
			want[sp] = true
		}
		for _, m := range s.Scan(l.Text, nil) {
			got := corpusSpan{m.Start, m.End, Kind(m.Det).String()}
			c := perDet[got.Detector]
			if want[got] {
				tp++
				c[0]++
				delete(want, got)
			} else {
				fp++
				c[1]++
				t.Logf("line %d: false positive %s %q in %q", i+1, got.Detector, l.Text[m.Start:m.End], l.Text)
			}
			perDet[got.Detector] = c
		}
		for sp := range want {
			fn++
			c := perDet[sp.Detector]
			c[2]++
			perDet[sp.Detector] = c
			t.Logf("line %d: missed %s %q in %q", i+1, sp.Detector, l.Text[sp.Start:sp.End], l.Text)
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(tp+fn)
	// Printed unconditionally so `go test` without -v shows the score too.
	fmt.Printf("piiredaction corpus: %d lines, %d labelled spans: precision %.4f recall %.4f (tp=%d fp=%d fn=%d)\n",
		len(lines), tp+fn, precision, recall, tp, fp, fn)
	for d, c := range perDet {
		t.Logf("%-16s tp=%d fp=%d fn=%d", d, c[0], c[1], c[2])
	}
	require.GreaterOrEqual(t, precision, 0.98, "precision")
	require.GreaterOrEqual(t, recall, 0.98, "recall")
}
