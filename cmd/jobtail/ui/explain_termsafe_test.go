package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
	"github.com/jobtrace/jobtrace/internal/testutil/termcheck"
)

// hostileExplanation puts a and b in every data string the explanation panel and the queue
// strip show.
func hostileExplanation(a, b string) (jobtailclient.Explanation, []jobtailclient.QueueFigures) {
	fe := &jobtailclient.ErrorSpan{SpanID: a, Name: a, Service: b, OnCriticalPath: true}
	fe.Exception = &struct {
		Type       string `json:"type,omitempty"`
		Message    string `json:"message,omitempty"`
		Stacktrace string `json:"stacktrace,omitempty"`
	}{Type: a, Message: b, Stacktrace: a}
	att := jobtailclient.AttemptExplain{Attempt: 1, Status: a, WorkerID: b, WaitMS: f64(1), RunMS: f64(2),
		Error:          &jobtailclient.JobError{Type: a, Message: b, Stacktrace: a, Source: b},
		FirstErrorSpan: fe,
		Logs: []jobtailclient.LogEntry{{Timestamp: time.Unix(0, 0), Level: a, JobID: b, Service: a, Message: b,
			Attributes: map[string]any{a: b, "k": a}}}}
	c := &jobtailclient.Comparison{JobID: a, Status: b, SpansMissing: []string{a}, SpansExtra: []string{b}}
	c.Slower = append(c.Slower, struct {
		Name       string  `json:"name"`
		MS         float64 `json:"ms"`
		BaselineMS float64 `json:"baseline_ms"`
	}{Name: a, MS: 3, BaselineMS: 1})
	e := jobtailclient.Explanation{JobID: a, Queue: b, JobType: a, Status: b, Summary: a + " " + b,
		Attempts: []jobtailclient.AttemptExplain{att}, ComparedWith: c, Partial: true}
	q := []jobtailclient.QueueFigures{{Queue: a, Counts: map[string]int64{b: 1, "retried": 2}}}
	return e, q
}

func checkExplainPaths(t *testing.T, a, b string) {
	e, q := hostileExplanation(a, b)
	outs := map[string][]string{
		"panel":     RenderExplain(ExplainView{JobID: a, Explanation: &e, Cursor: 0}, 120, 30),
		"error":     RenderExplain(ExplainView{JobID: a, Err: errString(a + b)}, 120, 5),
		"loading":   RenderExplain(ExplainView{JobID: a, Loading: true}, 120, 5),
		"strip":     {QueueStripText(q, b)},
		"errorText": {ErrorText(e.Attempts[0]), ErrorSpanText(e.Attempts[0].FirstErrorSpan), ComparisonText(e.ComparedWith)},
	}
	// Rendered without colour (tests have no terminal), so nothing can hide an injected sequence.
	for name, lines := range outs {
		if err := termcheck.CheckLines(lines); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, strings.Join(lines, "\n"))
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestHostileDataIsEscapedInTheExplanation(t *testing.T) {
	checkExplainPaths(t, termcheck.Hostile, "job\u0085\x9b")
}

func FuzzExplainRenderPaths(f *testing.F) {
	for _, s := range []string{"", "ok", termcheck.Hostile, "İ\u0085\x9b", "\xe6\x97", "a\tb\nc\r"} {
		f.Add(s, "job-1")
	}
	f.Fuzz(checkExplainPaths)
}
