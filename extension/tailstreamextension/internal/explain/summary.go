package explain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// summarize says in one sentence what happened, for pasting into an incident channel. Error
// text in it is normalised (ids and numbers become "…"), so one failure reads the same on
// every job it hits; the structured fields keep the raw message.
func summarize(job *Job, works []*attemptWork) string {
	if len(works) == 0 {
		if job.Status == conventions.StatusQueued || job.Status == "" {
			return "queued; no attempt has started yet"
		}
		return job.Status + "; no attempt is known"
	}
	last := works[len(works)-1]
	n := last.a.N
	switch last.a.Status {
	case conventions.StatusSucceeded:
		return "succeeded on attempt " + strconv.Itoa(n)
	case "", conventions.StatusRunning:
		s := "attempt " + strconv.Itoa(n) + " is running"
		if prev := previous(works, last); prev != "" {
			s += "; " + prev
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "attempt %d of %d ", n, n)
	b.WriteString(failurePhrase(last))
	if last.a.Status == conventions.StatusRetried {
		b.WriteString("; it will be retried")
	}
	if prev := previous(works, last); prev != "" {
		b.WriteString("; ")
		b.WriteString(prev)
	}
	return b.String()
}

// failurePhrase is "failed in svc › span: message (after 280 ms)" with what is known.
func failurePhrase(w *attemptWork) string {
	var b strings.Builder
	if w.a.Status == conventions.StatusAbandoned {
		b.WriteString("was abandoned (its worker stopped heartbeating)")
		return b.String()
	}
	b.WriteString("failed")
	if s := w.errSpan; s != nil {
		b.WriteString(" in ")
		if s.Service != "" {
			b.WriteString(s.Service)
			b.WriteString(" › ")
		}
		b.WriteString(s.Name)
	}
	if w.errText != "" {
		b.WriteString(": ")
		b.WriteString(w.errText)
	} else if w.errSpan == nil {
		b.WriteString(" (no error recorded)")
	}
	switch {
	case w.errSpan != nil:
		b.WriteString(" (after " + formatMS(durMS(w.errSpan.Start, w.errSpan.End)) + ")")
	case w.info.RunMS != nil:
		b.WriteString(" (after " + formatMS(*w.info.RunMS) + ")")
	}
	return b.String()
}

func formatMS(v float64) string {
	if v < 1000 {
		return strconv.Itoa(int(v+0.5)) + " ms"
	}
	return strconv.FormatFloat(v/1000, 'f', 1, 64) + " s"
}

// previous describes the attempts before the latest, grouping neighbours that failed alike:
// "attempts 1–2 failed the same way", "attempt 1 failed in x › y: …".
func previous(works []*attemptWork, last *attemptWork) string {
	var parts []string
	for i := 0; i < len(works)-1; {
		w := works[i]
		j := i
		for j+1 < len(works)-1 && works[j+1].a.Failed() == w.a.Failed() && works[j+1].key == w.key && (w.a.Failed() || works[j+1].a.Status == w.a.Status) {
			j++
		}
		label := "attempt " + strconv.Itoa(w.a.N)
		if j > i {
			label = "attempts " + strconv.Itoa(w.a.N) + "–" + strconv.Itoa(works[j].a.N)
		}
		switch {
		case !w.a.Failed():
			parts = append(parts, label+" "+orStr(w.a.Status, conventions.StatusRunning))
		case last.a.Failed() && w.key == last.key:
			parts = append(parts, label+" failed the same way")
		default:
			parts = append(parts, label+" "+failurePhrase(w))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// compare relates the latest attempt to the baseline by span name: names only one side has,
// and names whose total time grew over twice the baseline's (the five that grew most).
func compare(last *attemptWork, base *Baseline) *Comparison {
	bw := &attemptWork{a: &base.Attempt}
	ptrs := make([]*tracecache.Span, 0, len(base.Spans))
	for i := range base.Spans {
		if base.Spans[i].TraceID == base.Attempt.TraceID {
			ptrs = append(ptrs, &base.Spans[i])
		}
	}
	bw.subtree(ptrs, childIndex(ptrs), base.JobID)
	cur, ref := spanTimes(last), spanTimes(bw)
	c := &Comparison{JobID: base.JobID, Attempt: base.Attempt.N, Status: orStr(base.Attempt.Status, conventions.StatusSucceeded),
		SpansMissing: []string{}, SpansExtra: []string{}, Slower: []Slower{}}
	for name := range ref {
		if _, ok := cur[name]; !ok {
			c.SpansMissing = append(c.SpansMissing, name)
		}
	}
	for name, d := range cur {
		r, ok := ref[name]
		if !ok {
			c.SpansExtra = append(c.SpansExtra, name)
			continue
		}
		if d > 2*r && d-r >= 1 {
			c.Slower = append(c.Slower, Slower{Name: name, MS: d, BaselineMS: r})
		}
	}
	slices.Sort(c.SpansMissing)
	slices.Sort(c.SpansExtra)
	c.SpansMissing = c.SpansMissing[:min(len(c.SpansMissing), maxNames)]
	c.SpansExtra = c.SpansExtra[:min(len(c.SpansExtra), maxNames)]
	slices.SortFunc(c.Slower, func(a, b Slower) int {
		if da, db := a.MS-a.BaselineMS, b.MS-b.BaselineMS; da != db {
			if da > db {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	c.Slower = c.Slower[:min(len(c.Slower), maxSlower)]
	return c
}

// spanTimes sums span durations (ms) by name over the attempt's spans below its job spans:
// the job spans' names are the queue's, the same on both sides.
func spanTimes(w *attemptWork) map[string]float64 {
	out := map[string]float64{}
	for _, s := range w.spans {
		if w.roots[s.SpanID] {
			continue
		}
		out[s.Name] += durMS(s.Start, s.End)
	}
	return out
}
