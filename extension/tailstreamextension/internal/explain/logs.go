package explain

import (
	"cmp"
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// assignLogs gives each of the job's lines to one attempt: the attempt its job.attempt names
// (lifecycle lines), else the attempt whose spans its span id is in (instrumented workers),
// else the attempt running at its time. Worker lines of go-redis-work-queue carry the enqueue
// span and no attempt, so time is what places them. The receiver sees a start up to one poll
// late, so the boundary between two attempts is halfway between one's end and the next's start.
func assignLogs(works []*attemptWork, logs []*ring.Entry, jobID string) {
	if len(works) == 0 {
		return
	}
	byN := make(map[int]*attemptWork, len(works))
	bySpan := map[pcommon.SpanID]*attemptWork{}
	for _, w := range works {
		byN[w.a.N] = w
		for _, s := range w.spans {
			bySpan[s.SpanID] = w
		}
	}
	bounds := make([]time.Time, len(works))
	for k := 1; k < len(works); k++ {
		prevEnd, start := works[k-1].a.Ended, works[k].a.Started
		switch {
		case start.IsZero() && prevEnd.IsZero():
			bounds[k] = time.Time{}
		case start.IsZero():
			bounds[k] = prevEnd
		case prevEnd.IsZero() || prevEnd.After(start):
			bounds[k] = start
		default:
			bounds[k] = prevEnd.Add(start.Sub(prevEnd) / 2)
		}
	}
	for _, e := range logs {
		if e == nil || e.JobID != jobID {
			continue
		}
		var w *attemptWork
		if v, ok := e.Attr(conventions.AttrJobAttempt); ok {
			if n, err := strconv.Atoi(v); err == nil {
				w = byN[n]
			}
		}
		if w == nil && len(e.SpanID) == 16 {
			var id pcommon.SpanID
			if _, err := hex.Decode(id[:], []byte(e.SpanID)); err == nil {
				w = bySpan[id]
			}
		}
		if w == nil {
			w = works[0]
			for k := 1; k < len(works); k++ {
				if !bounds[k].IsZero() && !e.Timestamp.Before(bounds[k]) {
					w = works[k]
				}
			}
		}
		w.logs = append(w.logs, e)
	}
	for _, w := range works {
		slices.SortStableFunc(w.logs, byTime)
	}
}

func byTime(a, b *ring.Entry) int {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// selectLogs keeps the attempt's WARN and ERROR lines and the ContextLines lines before its
// first error, within the per-attempt and per-answer bounds. When something must go, the
// error lines stay longest, then the warnings, then the context nearest the error.
func (w *attemptWork) selectLogs(o *Options, totalN, totalB *int) ([]*ring.Entry, bool) {
	lines := w.logs
	first := -1
	for i, e := range lines {
		if isErrorLevel(e.Level) {
			first = i
			break
		}
	}
	if first < 0 && w.errSpan != nil {
		errAt := nsTime(w.errSpan.End)
		first = len(lines)
		for i, e := range lines {
			if !e.Timestamp.Before(errAt) {
				first = i
				break
			}
		}
	}
	var errs, warns, context []int
	for i, e := range lines {
		switch {
		case isErrorLevel(e.Level):
			errs = append(errs, i)
		case e.Level == "warn":
			warns = append(warns, i)
		}
	}
	if first >= 0 {
		for i := first - 1; i >= max(0, first-o.ContextLines); i-- {
			if l := lines[i].Level; !isErrorLevel(l) && l != "warn" {
				context = append(context, i)
			}
		}
	}
	want := len(errs) + len(warns) + len(context)
	keep := make([]int, 0, min(want, o.MaxLogs))
	n, b := 0, 0
	for _, group := range [][]int{errs, warns, context} {
		for _, i := range group {
			size := len(lines[i].JSON())
			if n+1 > o.MaxLogs || b+size > o.MaxLogBytes || *totalN+1 > o.MaxTotalLogs || *totalB+size > o.MaxTotalBytes {
				continue
			}
			keep = append(keep, i)
			n, b = n+1, b+size
			*totalN, *totalB = *totalN+1, *totalB+size
		}
	}
	slices.Sort(keep)
	out := make([]*ring.Entry, len(keep))
	for j, i := range keep {
		out[j] = lines[i]
	}
	return out, len(keep) < want
}
