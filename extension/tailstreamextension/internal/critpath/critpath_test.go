package critpath

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Times are plain numbers; every expected path below is derived by hand in the comment next
// to the case, following the walk step by step.
func TestCompute(t *testing.T) {
	tests := []struct {
		name     string
		spans    []Span
		sections []Section
		ids      []string
	}{
		{
			// A: LFC is C (ends 90) → A[90,100]; C has no children → C[50,90]; back in A
			// with 50: B ends 40 < 50 → A[40,50]; B → B[10,40]; back in A with 10: none → A[0,10].
			name: "jaeger doc example",
			spans: []Span{
				{ID: "A", Start: 0, End: 100},
				{ID: "B", Parent: "A", Start: 10, End: 40},
				{ID: "C", Parent: "A", Start: 50, End: 90},
			},
			sections: []Section{{"A", 90, 100}, {"C", 50, 90}, {"A", 40, 50}, {"B", 10, 40}, {"A", 0, 10}},
			ids:      []string{"A", "C", "B"},
		},
		{
			// B [50,150] is clipped to [50,100]; D [120,130] then starts after clipped B's end
			// and is dropped; E [200,300] is outside A and dropped. A: LFC B ends 100 = A's end,
			// so the zero-length A section is skipped; B → B[50,100]; back in A with 50: nothing
			// ends before 50 → A[0,50].
			name: "overflowing children clipped and dropped",
			spans: []Span{
				{ID: "A", Start: 0, End: 100},
				{ID: "B", Parent: "A", Start: 50, End: 150},
				{ID: "D", Parent: "B", Start: 120, End: 130},
				{ID: "E", Parent: "A", Start: 200, End: 300},
			},
			sections: []Section{{"B", 50, 100}, {"A", 0, 50}},
			ids:      []string{"B", "A"},
		},
		{
			// F [-10,20] is clipped to [0,20]. A: LFC G (60) → A[60,100]; G[30,60]; back with
			// 30: F ends 20 → A[20,30]; F → F[0,20]; back with 0: none, A[0,0] is empty.
			name: "child starting before parent clipped",
			spans: []Span{
				{ID: "A", Start: 0, End: 100},
				{ID: "F", Parent: "A", Start: -10, End: 20},
				{ID: "G", Parent: "A", Start: 30, End: 60},
			},
			sections: []Section{{"A", 60, 100}, {"G", 30, 60}, {"A", 20, 30}, {"F", 0, 20}},
			ids:      []string{"A", "G", "F"},
		},
		{
			// C returns to A at 70 → B (60) → B: LFC B2 (55) → B[55,60]; B2[20,55]; back in B
			// with 20: B1 ends 30, not before 20 → B[0,20]; back in A with 0: empty.
			// B1 overlaps B2 and is not on the path.
			name: "step back across two levels",
			spans: []Span{
				{ID: "A", Start: 0, End: 100},
				{ID: "B", Parent: "A", Start: 0, End: 60},
				{ID: "B1", Parent: "B", Start: 5, End: 30},
				{ID: "B2", Parent: "B", Start: 20, End: 55},
				{ID: "C", Parent: "A", Start: 70, End: 90},
			},
			sections: []Section{{"A", 90, 100}, {"C", 70, 90}, {"A", 60, 70}, {"B", 55, 60}, {"B2", 20, 55}, {"B", 0, 20}},
			ids:      []string{"A", "C", "B", "B2"},
		},
		{
			// The CONSUMER C would be dropped as outside its PRODUCER parent P; the edge is
			// non-blocking, so C becomes a root of its own. P: LFC Q (8) → P[8,10]; Q[2,8];
			// P[0,2]. C: LFC X (140) → C[140,150]; X[60,140]; C[50,60].
			name: "producer to consumer is non-blocking",
			spans: []Span{
				{ID: "P", Start: 0, End: 10, Kind: KindProducer},
				{ID: "Q", Parent: "P", Start: 2, End: 8, Kind: KindClient},
				{ID: "C", Parent: "P", Start: 50, End: 150, Kind: KindConsumer},
				{ID: "X", Parent: "C", Start: 60, End: 140, Kind: KindClient},
			},
			sections: []Section{{"P", 8, 10}, {"Q", 2, 8}, {"P", 0, 2}, {"C", 140, 150}, {"X", 60, 140}, {"C", 50, 60}},
			ids:      []string{"P", "Q", "C", "X"},
		},
		{
			// Same shape with a SERVER child instead of a CONSUMER: the edge blocks, the child
			// starts after P's end and is dropped with its subtree.
			name: "blocking edge outside parent dropped",
			spans: []Span{
				{ID: "P", Start: 0, End: 10, Kind: KindProducer},
				{ID: "S", Parent: "P", Start: 50, End: 150, Kind: KindServer},
				{ID: "X", Parent: "S", Start: 60, End: 140},
			},
			sections: []Section{{"P", 0, 10}},
			ids:      []string{"P"},
		},
		{
			// O's parent is missing, so O is a root; R is a second root. Roots go by start:
			// O: LFC O1 → O[20,50]; O1[10,20]; O[0,10]. R has no children → R[5,100].
			name: "missing parent and several roots",
			spans: []Span{
				{ID: "R", Start: 5, End: 100},
				{ID: "O1", Parent: "O", Start: 10, End: 20},
				{ID: "O", Parent: "ffffffffffffffff", Start: 0, End: 50},
			},
			sections: []Section{{"O", 20, 50}, {"O1", 10, 20}, {"O", 0, 10}, {"R", 5, 100}},
			ids:      []string{"O", "O1", "R"},
		},
		{
			// NonBlocking (a FOLLOWS_FROM-like edge) detaches N whatever the kinds: A has no
			// blocking children → A[0,10]; N → N[20,30].
			name: "explicit non-blocking edge",
			spans: []Span{
				{ID: "A", Start: 0, End: 10},
				{ID: "N", Parent: "A", Start: 20, End: 30, NonBlocking: true},
			},
			sections: []Section{{"A", 0, 10}, {"N", 20, 30}},
			ids:      []string{"A", "N"},
		},
		{
			name:     "duplicate span ids keep the first",
			spans:    []Span{{ID: "A", Start: 0, End: 10}, {ID: "A", Start: 0, End: 99}},
			sections: []Section{{"A", 0, 10}},
			ids:      []string{"A"},
		},
		{
			name: "empty trace",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute(tt.spans)
			assert.Equal(t, tt.sections, got)
			if tt.ids != nil {
				assert.Equal(t, tt.ids, SpanIDs(got))
			}
		})
	}
}

func TestComputeDeepChain(t *testing.T) {
	// A 10,000-deep chain must not overflow the stack; every span is on the path.
	const n = 10000
	spans := make([]Span, n)
	for i := range spans {
		spans[i] = Span{ID: string(rune('a'+i%26)) + itoa(i), Start: int64(i), End: int64(2*n - i)}
		if i > 0 {
			spans[i].Parent = spans[i-1].ID
		}
	}
	ids := SpanIDs(Compute(spans))
	assert.Len(t, ids, n)
	assert.Equal(t, spans[0].ID, ids[0])
	assert.Equal(t, spans[n-1].ID, ids[n-1])
}

func TestComputeParentCycle(t *testing.T) {
	// Corrupt data: a cycle has no root; the call must return instead of looping.
	got := Compute([]Span{{ID: "A", Parent: "B", Start: 0, End: 10}, {ID: "B", Parent: "A", Start: 0, End: 10}})
	assert.Empty(t, got)
}

func itoa(i int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}
