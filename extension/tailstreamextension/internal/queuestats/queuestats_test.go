package queuestats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/conventions"
)

var now = time.Date(2026, 12, 1, 10, 30, 30, 0, time.UTC)

// exact is the quantile DDSketch estimates: the value of rank floor(q×(n−1)) in sorted order.
func exact(sorted []float64, q float64) float64 {
	return sorted[int(math.Floor(q*float64(len(sorted)-1)))]
}

// The sketch's quantiles are within its stated relative accuracy of the exact percentiles, for
// several distributions, whether the samples sit in one slot or are merged from many.
func TestQuantilesWithinRelativeAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	dists := map[string]func() float64{
		"lognormal":   func() float64 { return math.Exp(3 + 1.2*rng.NormFloat64()) }, // ms, median ~20
		"exponential": func() float64 { return 5 + rng.ExpFloat64()*200 },
		"uniform":     func() float64 { return 1 + rng.Float64()*999 },
		"bimodal": func() float64 {
			if rng.IntN(10) == 0 {
				return 2000 + rng.Float64()*500
			}
			return 10 + rng.Float64()*5
		},
	}
	for name, gen := range dists {
		for _, spread := range []int{1, 15} {
			t.Run(name+"/slots="+strconv.Itoa(spread), func(t *testing.T) {
				s := New(Options{})
				alpha := s.Options().RelativeAccuracy
				var waits, runs []float64
				for i := range 20000 {
					w, r := gen(), gen()
					waits, runs = append(waits, w), append(runs, r)
					at := now.Add(-time.Duration(i%spread) * time.Minute)
					s.Observe(Sample{Queue: "q", JobType: "t", Status: conventions.StatusSucceeded, At: at,
						Wait: time.Duration(w * 1e6), Run: time.Duration(r * 1e6)})
				}
				slices.Sort(waits)
				slices.Sort(runs)
				got := s.Snapshot(15*time.Minute, now, nil)
				require.Len(t, got, 1)
				f := got[0].Figures
				require.EqualValues(t, 20000, f.Wait.Count)
				for _, c := range []struct {
					q    float64
					got  *float64
					data []float64
				}{
					{0.5, f.Wait.P50, waits}, {0.95, f.Wait.P95, waits}, {0.99, f.Wait.P99, waits},
					{0.5, f.Run.P50, runs}, {0.95, f.Run.P95, runs}, {0.99, f.Run.P99, runs},
				} {
					require.NotNil(t, c.got)
					want := exact(c.data, c.q)
					// Durations are truncated to whole nanoseconds on the way in.
					assert.InEpsilon(t, want, *c.got, alpha+1e-6, "q=%v exact %.4f sketch %.4f", c.q, want, *c.got)
				}
			})
		}
	}
}

func TestCountsRetryRateAndTopErrors(t *testing.T) {
	s := New(Options{})
	add := func(queue, typ, status, errMsg string, n int) {
		for i := range n {
			smp := Sample{Queue: queue, JobType: typ, Status: status, At: now, Wait: time.Millisecond, Run: -1}
			if errMsg != "" {
				smp.Error = errMsg + strconv.Itoa(i)
			}
			s.Observe(smp)
		}
	}
	add("payments", "charge", conventions.StatusSucceeded, "", 6)
	add("payments", "charge", conventions.StatusRetried, "upstream 50", 3)
	add("payments", "refund", conventions.StatusDeadLettered, "card declined, order ", 1)
	add("payments", "refund", conventions.StatusRetried, "timeout after ms: ", 4)
	add("payments", "refund", conventions.StatusRetried, "db locked row ", 2)
	add("payments", "refund", conventions.StatusRetried, "rare thing", 1)
	add("emails", "", conventions.StatusSucceeded, "", 2)
	got := s.Snapshot(15*time.Minute, now, nil)
	require.Len(t, got, 2)
	assert.Equal(t, "emails", got[0].Queue)
	p := got[1]
	assert.Equal(t, "payments", p.Queue)
	assert.Equal(t, map[string]int64{"succeeded": 6, "retried": 10, "dead_lettered": 1}, p.Counts)
	assert.EqualValues(t, 17, p.Attempts)
	assert.InDelta(t, 10.0/17, p.RetryRate, 1e-12)
	assert.Equal(t, []ErrorCount{{"timeout after ms: …", 4}, {"upstream …", 3}, {"db locked row …", 2}}, p.TopErrors)
	assert.Nil(t, p.Run.P50, "no run time was measured")
	assert.EqualValues(t, 17, p.Wait.Count)
	require.Len(t, p.JobTypes, 2)
	assert.Equal(t, "charge", p.JobTypes[0].JobType)
	assert.InDelta(t, 3.0/9, p.JobTypes[0].RetryRate, 1e-12)
	assert.Equal(t, "refund", p.JobTypes[1].JobType)
	assert.EqualValues(t, 8, p.JobTypes[1].Attempts)

	hidden := s.Snapshot(15*time.Minute, now, func(q string) bool { return q != "payments" })
	require.Len(t, hidden, 1)
	assert.Equal(t, "emails", hidden[0].Queue)
}

func TestWindow(t *testing.T) {
	s := New(Options{})
	for m := range 90 {
		s.Observe(Sample{Queue: "q", Status: conventions.StatusSucceeded, At: now.Add(-time.Duration(m) * time.Minute), Wait: -1, Run: time.Duration(m+1) * time.Millisecond})
	}
	count := func(w time.Duration) int64 {
		got := s.Snapshot(w, now, nil)
		require.Len(t, got, 1)
		return got[0].Attempts
	}
	assert.EqualValues(t, 15, count(15*time.Minute))
	assert.EqualValues(t, 5, count(5*time.Minute))
	assert.EqualValues(t, 1, count(time.Second), "at least the current slot")
	assert.EqualValues(t, 60, count(3*time.Hour), "the ring holds an hour")
	// A sample older than the ring holds does not overwrite a newer slot.
	s.Observe(Sample{Queue: "q", Status: conventions.StatusRetried, At: now.Add(-2 * time.Hour), Wait: -1, Run: -1})
	assert.EqualValues(t, 60, count(time.Hour))
	got := s.Snapshot(time.Hour, now, nil)
	assert.Zero(t, got[0].Counts[conventions.StatusRetried])
	// Later, old slots fall out of the window.
	assert.Empty(t, s.Snapshot(15*time.Minute, now.Add(3*time.Hour), nil))
}

// Memory is bounded: pairs beyond MaxKeys evict the least recently fed, distinct messages
// beyond MaxErrors per slot are only counted, and a sketch never holds more than MaxBins bins
// however wide the values spread.
func TestBounded(t *testing.T) {
	s := New(Options{MaxKeys: 4, MaxErrors: 2, MaxBins: 64})
	for i := range 10 {
		s.Observe(Sample{Queue: "q" + strconv.Itoa(i), Status: conventions.StatusSucceeded, At: now, Wait: -1, Run: -1})
	}
	held, evicted := s.Keys()
	assert.Equal(t, 4, held)
	assert.EqualValues(t, 6, evicted)
	got := s.Snapshot(time.Hour, now, nil)
	var names []string
	for _, q := range got {
		names = append(names, q.Queue)
	}
	assert.Equal(t, []string{"q6", "q7", "q8", "q9"}, names)

	for i, msg := range []string{"alpha", "beta", "gamma", "delta", "alpha"} {
		s.Observe(Sample{Queue: "q9", Status: conventions.StatusRetried, At: now, Wait: time.Duration(1 << (2 * i)), Run: -1, Error: msg})
	}
	for e := 0; e < 40; e++ {
		s.Observe(Sample{Queue: "q9", Status: conventions.StatusSucceeded, At: now, Wait: time.Duration(math.Pow(1.5, float64(e))), Run: -1})
	}
	got = s.Snapshot(time.Hour, now, nil)
	q9 := got[len(got)-1]
	assert.Equal(t, []ErrorCount{{"alpha", 2}, {"beta", 1}}, q9.TopErrors)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, se := range s.m {
		for i := range se.slots {
			if sk := se.slots[i].wait; sk != nil {
				bins := 0
				sk.GetPositiveValueStore().ForEach(func(int, float64) bool { bins++; return false })
				assert.LessOrEqual(t, bins, 64)
			}
		}
	}
}

func TestObserveErrorLate(t *testing.T) {
	s := New(Options{})
	s.ObserveError("q", "t", now, "lost: no attempt counted yet")
	s.Observe(Sample{Queue: "q", JobType: "t", Status: conventions.StatusRetried, At: now, Wait: -1, Run: -1})
	s.ObserveError("q", "t", now, "upstream 502")
	s.ObserveError("q", "t", now.Add(-3*time.Hour), "too old")
	got := s.Snapshot(time.Hour, now, nil)
	require.Len(t, got, 1)
	assert.Equal(t, []ErrorCount{{"upstream …", 1}}, got[0].TopErrors)
	assert.EqualValues(t, 1, got[0].Attempts, "an error is not an attempt")
}

// BenchmarkObserve is the ingest cost of one ended attempt (a failed one: normalising its error
// is most of it), and BenchmarkSnapshot a 15-minute answer over 8 queues × 4 job types.
func BenchmarkObserve(b *testing.B) {
	s := New(Options{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		smp := Sample{Queue: "q" + strconv.Itoa(i%8), JobType: "t" + strconv.Itoa(i%4), Status: conventions.StatusSucceeded,
			At: now, Wait: time.Duration(i%1000) * time.Millisecond, Run: time.Duration(i%5000) * time.Millisecond}
		if i%10 == 0 {
			smp.Status, smp.Error = conventions.StatusRetried, "upstream 502 from gw-"+strconv.Itoa(i%7)
		}
		s.Observe(smp)
	}
}

func BenchmarkSnapshot(b *testing.B) {
	s := New(Options{})
	for i := range 100000 {
		s.Observe(Sample{Queue: "q" + strconv.Itoa(i%8), JobType: "t" + strconv.Itoa(i%4), Status: conventions.StatusSucceeded,
			At: now.Add(-time.Duration(i%15) * time.Minute), Wait: time.Duration(i%1000) * time.Millisecond, Run: time.Duration(i%5000) * time.Millisecond})
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := s.Snapshot(15*time.Minute, now, nil); len(got) != 8 {
			b.Fatal(len(got))
		}
	}
}
