// Package queuestats keeps per-queue and per-job-type figures over a recent window: attempts
// by status, retry rate, wait time (enqueue → start) and run time (start → end) quantiles, and
// the most frequent error messages. It is fed one Sample per ended attempt and answers for any
// window up to Slot × Slots.
//
// Time is cut into slots (one minute by default); each slot of each (queue, job type) holds two
// DDSketches (github.com/DataDog/sketches-go) with a bounded number of bins and a bounded map of
// normalised error messages, so memory is bounded per queue and type, and the number of (queue,
// type) pairs is bounded too. A window's answer merges the slots it covers: DDSketch merges are
// exact, so merged quantiles keep the sketch's relative accuracy.
package queuestats // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/queuestats"

import (
	"cmp"
	"container/list"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/errnorm"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// Options bound the statistics. Zero fields take the defaults.
type Options struct {
	Slot  time.Duration // default 1 minute
	Slots int           // default 60: windows up to an hour
	// MaxKeys bounds the (queue, job type) pairs; the least recently fed goes first.
	MaxKeys int // default 64
	// RelativeAccuracy of the sketches: a quantile q is within ±RelativeAccuracy×x_q of the
	// exact one x_q (default 0.01).
	RelativeAccuracy float64
	// MaxBins bounds each sketch. At 1 % accuracy 512 bins span a factor of about 22,000 (1 ms
	// to 22 s, 10 ms to 3.7 min); beyond that the lowest bins are merged, which only blurs
	// quantiles below that range.
	MaxBins int // default 512
	// MaxErrors bounds the distinct messages kept per slot; others are counted as "other".
	MaxErrors int // default 16
}

func (o *Options) defaults() {
	if o.Slot <= 0 {
		o.Slot = time.Minute
	}
	if o.Slots <= 0 {
		o.Slots = 60
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 64
	}
	if o.RelativeAccuracy <= 0 || o.RelativeAccuracy >= 1 {
		o.RelativeAccuracy = 0.01
	}
	if o.MaxBins <= 0 {
		o.MaxBins = 512
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = 16
	}
}

// MaxWindow is the longest window the options can answer for.
func (o Options) MaxWindow() time.Duration {
	o.defaults()
	return o.Slot * time.Duration(o.Slots)
}

// Sample is one ended attempt.
type Sample struct {
	Queue, JobType string
	Status         string // a job.status value
	At             time.Time
	// Wait is enqueue → start, Run start → end; negative means unknown.
	Wait, Run time.Duration
	// Error is the attempt's error message, raw (normalised here).
	Error string
}

type key struct{ queue, jobType string }

type slot struct {
	n         int64 // slot number (unix time / Slot); 0: unused
	counts    map[string]int64
	wait, run *ddsketch.DDSketch
	errors    map[string]int64
	others    int64
}

type series struct {
	key   key
	slots []slot
	el    *list.Element
}

// Stats is safe for concurrent use.
type Stats struct {
	opts Options
	mu   sync.Mutex
	m    map[key]*series
	lru  *list.List // of *series, front = most recently fed
	// dropped counts samples of keys evicted for MaxKeys, for the health of the figures.
	evicted int64
}

// New returns empty statistics.
func New(opts Options) *Stats {
	opts.defaults()
	return &Stats{opts: opts, m: map[key]*series{}, lru: list.New()}
}

// Options returns the options in effect.
func (s *Stats) Options() Options { return s.opts }

func (s *Stats) newSketch() *ddsketch.DDSketch {
	sk, err := ddsketch.LogCollapsingLowestDenseDDSketch(s.opts.RelativeAccuracy, s.opts.MaxBins)
	if err != nil {
		// Only an accuracy outside (0, 1) fails, and defaults() rules that out.
		panic(err)
	}
	return sk
}

func (s *Stats) slotNumber(t time.Time) int64 { return t.UnixNano()/int64(s.opts.Slot) + 1 }

// Observe adds one ended attempt.
func (s *Stats) Observe(smp Sample) {
	if smp.Status == "" || smp.At.IsZero() {
		return
	}
	k := key{smp.Queue, smp.JobType}
	errMsg := ""
	if smp.Error != "" {
		errMsg = errnorm.Normalize(smp.Error)
	}
	n := s.slotNumber(smp.At)
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[k]
	if se == nil {
		se = &series{key: k, slots: make([]slot, s.opts.Slots)}
		se.el = s.lru.PushFront(se)
		s.m[k] = se
		for len(s.m) > s.opts.MaxKeys {
			old := s.lru.Back().Value.(*series)
			s.lru.Remove(old.el)
			delete(s.m, old.key)
			s.evicted++
		}
	} else {
		s.lru.MoveToFront(se.el)
	}
	sl := &se.slots[int(n%int64(s.opts.Slots))]
	if sl.n != n {
		if sl.n > n {
			return // older than the ring holds
		}
		*sl = slot{n: n, counts: map[string]int64{}}
	}
	sl.counts[smp.Status]++
	if smp.Wait >= 0 {
		if sl.wait == nil {
			sl.wait = s.newSketch()
		}
		_ = sl.wait.Add(float64(smp.Wait) / 1e6)
	}
	if smp.Run >= 0 {
		if sl.run == nil {
			sl.run = s.newSketch()
		}
		_ = sl.run.Add(float64(smp.Run) / 1e6)
	}
	if errMsg != "" {
		if sl.errors == nil {
			sl.errors = map[string]int64{}
		}
		if _, ok := sl.errors[errMsg]; ok || len(sl.errors) < s.opts.MaxErrors {
			sl.errors[errMsg]++
		} else {
			sl.others++
		}
	}
}

// ObserveError counts an error message for an attempt Observe already counted (without its
// error): a worker's exception can reach the collector after the queue reported the attempt.
func (s *Stats) ObserveError(queue, jobType string, at time.Time, msg string) {
	if msg == "" || at.IsZero() {
		return
	}
	msg = errnorm.Normalize(msg)
	n := s.slotNumber(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[key{queue, jobType}]
	if se == nil {
		return
	}
	sl := &se.slots[int(n%int64(s.opts.Slots))]
	if sl.n != n {
		return
	}
	if sl.errors == nil {
		sl.errors = map[string]int64{}
	}
	if _, ok := sl.errors[msg]; ok || len(sl.errors) < s.opts.MaxErrors {
		sl.errors[msg]++
	} else {
		sl.others++
	}
}

// Quantiles of a duration in milliseconds; nil when nothing was measured.
type Quantiles struct {
	Count int64    `json:"count"`
	P50   *float64 `json:"p50_ms"`
	P95   *float64 `json:"p95_ms"`
	P99   *float64 `json:"p99_ms"`
}

// ErrorCount is one normalised error message and how many attempts ended with it.
type ErrorCount struct {
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

// Figures are the statistics of one queue, or of one job type in a queue.
type Figures struct {
	Counts    map[string]int64 `json:"counts"`
	Attempts  int64            `json:"attempts"`
	RetryRate float64          `json:"retry_rate"`
	Wait      Quantiles        `json:"wait"`
	Run       Quantiles        `json:"run"`
	TopErrors []ErrorCount     `json:"top_errors"`
}

// JobTypeFigures are a job type's figures.
type JobTypeFigures struct {
	JobType string `json:"job_type"`
	Figures
}

// QueueFigures are a queue's figures, over all its job types, then per type.
type QueueFigures struct {
	Queue string `json:"queue"`
	Figures
	JobTypes []JobTypeFigures `json:"job_types"`
}

// acc accumulates slots into figures.
type acc struct {
	counts    map[string]int64
	wait, run *ddsketch.DDSketch
	errors    map[string]int64
}

func (s *Stats) newAcc() *acc {
	return &acc{counts: map[string]int64{}, wait: s.newSketch(), run: s.newSketch(), errors: map[string]int64{}}
}

func (a *acc) add(sl *slot) {
	for k, v := range sl.counts {
		a.counts[k] += v
	}
	if sl.wait != nil {
		_ = a.wait.MergeWith(sl.wait)
	}
	if sl.run != nil {
		_ = a.run.MergeWith(sl.run)
	}
	for k, v := range sl.errors {
		a.errors[k] += v
	}
}

func (a *acc) merge(b *acc) {
	for k, v := range b.counts {
		a.counts[k] += v
	}
	_ = a.wait.MergeWith(b.wait)
	_ = a.run.MergeWith(b.run)
	for k, v := range b.errors {
		a.errors[k] += v
	}
}

func quantiles(sk *ddsketch.DDSketch) Quantiles {
	q := Quantiles{Count: int64(sk.GetCount() + 0.5)}
	if sk.IsEmpty() {
		return q
	}
	vs, err := sk.GetValuesAtQuantiles([]float64{0.5, 0.95, 0.99})
	if err != nil {
		return q
	}
	q.P50, q.P95, q.P99 = &vs[0], &vs[1], &vs[2]
	return q
}

func (a *acc) figures() Figures {
	f := Figures{Counts: a.counts, Wait: quantiles(a.wait), Run: quantiles(a.run), TopErrors: []ErrorCount{}}
	for _, v := range a.counts {
		f.Attempts += v
	}
	if f.Attempts > 0 {
		f.RetryRate = float64(a.counts[conventions.StatusRetried]) / float64(f.Attempts)
	}
	for m, c := range a.errors {
		f.TopErrors = append(f.TopErrors, ErrorCount{Message: m, Count: c})
	}
	slices.SortFunc(f.TopErrors, func(x, y ErrorCount) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return strings.Compare(x.Message, y.Message)
	})
	f.TopErrors = f.TopErrors[:min(3, len(f.TopErrors))]
	return f
}

// Snapshot returns the figures of the window ending at now, per queue (sorted by name), each
// with its job types (sorted; "" is attempts without a job type). Allow, when set, hides
// queues the caller may not see.
func (s *Stats) Snapshot(window time.Duration, now time.Time, allow func(queue string) bool) []QueueFigures {
	window = min(max(window, s.opts.Slot), s.opts.MaxWindow())
	last := s.slotNumber(now)
	// A window of k slots covers the current (partial) slot and the k-1 before it.
	first := last - int64(window/s.opts.Slot) + 1
	if window%s.opts.Slot != 0 {
		first--
	}
	first = max(first, last-int64(s.opts.Slots)+1)
	byQueue := map[string]map[string]*acc{}
	s.mu.Lock()
	for k, se := range s.m {
		if allow != nil && !allow(k.queue) {
			continue
		}
		var a *acc
		for i := range se.slots {
			sl := &se.slots[i]
			if sl.n < first || sl.n > last {
				continue
			}
			if a == nil {
				a = s.newAcc()
			}
			a.add(sl)
		}
		if a == nil {
			continue
		}
		if byQueue[k.queue] == nil {
			byQueue[k.queue] = map[string]*acc{}
		}
		byQueue[k.queue][k.jobType] = a
	}
	s.mu.Unlock()
	out := make([]QueueFigures, 0, len(byQueue))
	for q, types := range byQueue {
		total := s.newAcc()
		qf := QueueFigures{Queue: q, JobTypes: make([]JobTypeFigures, 0, len(types))}
		for t, a := range types {
			qf.JobTypes = append(qf.JobTypes, JobTypeFigures{JobType: t, Figures: a.figures()})
			total.merge(a)
		}
		qf.Figures = total.figures()
		slices.SortFunc(qf.JobTypes, func(x, y JobTypeFigures) int { return strings.Compare(x.JobType, y.JobType) })
		out = append(out, qf)
	}
	slices.SortFunc(out, func(x, y QueueFigures) int { return strings.Compare(x.Queue, y.Queue) })
	return out
}

// Keys is the number of (queue, job type) pairs held; Evicted how many were dropped for MaxKeys.
func (s *Stats) Keys() (held int, evicted int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m), s.evicted
}
