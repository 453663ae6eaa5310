package hub

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// A condition that takes the evaluator milliseconds per line of slowBody (it looks for a "y"
// that is not there, BenchmarkSlowUpdateFilter), so that lines are still waiting for it when
// the PATCH and the next batch come. Every line matches.
const (
	slowOTTL = `(not IsMatch(body, "(?:x?){8}x{8}y"))`
	slowBody = 16 << 10
)

func updateLine(tag string, i int) *ring.Entry {
	return &ring.Entry{Level: "info", Message: tag + strconv.Itoa(i) + " " + strings.Repeat("x", slowBody), Ingested: time.Now()}
}

// TestUpdateKeepsArrivalOrder: a PATCH that changes a stream's filter never reorders its
// lines (live delivery is in arrival order, issue 13 point 6), and each line is judged by the
// filter that was in force when it arrived. Before, lines still waiting for the old filter's
// costly part were queued after the lines the new, cheap filter let straight in, and were
// judged by the new filter.
func TestUpdateKeepsArrivalOrder(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after logfilter.Spec
		// which of the lines "a<i>" (before the PATCH) and "b<i>" (after it) arrive
		wantA, wantB bool
	}{
		{name: "costly to cheap", before: logfilter.Spec{OTTL: slowOTTL}, after: logfilter.Spec{LogLevel: []string{"info"}}, wantA: true, wantB: true},
		{name: "cheap to costly", before: logfilter.Spec{LogLevel: []string{"info"}}, after: logfilter.Spec{OTTL: slowOTTL}, wantA: true, wantB: true},
		{name: "costly to a costly one the earlier lines fail", before: logfilter.Spec{OTTL: slowOTTL}, after: logfilter.Spec{OTTL: slowOTTL + ` and IsMatch(body, "^b")`}, wantA: true, wantB: true},
		{name: "costly to a cheap one the later lines fail", before: logfilter.Spec{OTTL: slowOTTL}, after: logfilter.Spec{Text: "no such line"}, wantA: true, wantB: false},
		{name: "unfiltered to costly that rejects the earlier lines", before: logfilter.Spec{}, after: logfilter.Spec{OTTL: slowOTTL + ` and IsMatch(body, "^b")`}, wantA: true, wantB: true},
		{name: "costly that rejects the later lines to unfiltered", before: logfilter.Spec{OTTL: slowOTTL + ` and IsMatch(body, "^a")`}, after: logfilter.Spec{}, wantA: true, wantB: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := limits
			l.FilterBudget = time.Minute // slow on purpose: no strikes
			h := newHub(t, ring.New(1000, time.Hour), l, &counts{})
			now := time.Now()
			s, err := h.Create("u", compile(t, tc.before), nil, Options{Follow: true, BufferSize: 1000}, false, now)
			require.NoError(t, err)
			const n = 20
			var as, bs []*ring.Entry
			for i := range n {
				as = append(as, updateLine("a", i))
				bs = append(bs, updateLine("b", i))
			}
			h.Ingest(as, now)
			s.Update(compile(t, tc.after), nil, nil, now.Add(time.Hour))
			h.Ingest(bs, now)

			var want []string
			if tc.wantA {
				want = append(want, msgPrefixes(as)...)
			}
			if tc.wantB {
				want = append(want, msgPrefixes(bs)...)
			}
			got := drainN(t, s, len(want))
			assert.Equal(t, want, msgPrefixes(got), "each line judged by the filter in force when it came, in arrival order")
			for i := 1; i < len(got); i++ {
				require.Less(t, got[i-1].Seq, got[i].Seq, "live delivery is in seq order")
			}
		})
	}
}

func msgPrefixes(es []*ring.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i], _, _ = strings.Cut(e.Message, " ")
	}
	return out
}

// The evaluation cost the test above relies on; logged so that a change in it is visible.
func BenchmarkSlowUpdateFilter(b *testing.B) {
	f := compile(b, logfilter.Spec{OTTL: slowOTTL})
	e := updateLine("a", 0)
	for b.Loop() {
		if !f.MatchSlow(e) {
			b.Fatal("no match")
		}
	}
}
