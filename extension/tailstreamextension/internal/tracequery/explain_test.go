package tracequery

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/explain"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// Without the caller's list of recent successes, the baseline is found by walking the catalog
// (same job type first); a job of another type is not a baseline while one of the type exists.
func TestExplainBaselineFromCatalog(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	job := func(trace, id, typ, status, spanID string, start, end int, extra ...tracetest.Span) {
		s := tracetest.Span{Service: "jobqueue", Name: "process q", ID: spanID, Kind: ptrace.SpanKindConsumer, Start: start, End: end,
			Attrs: tracetest.JobAttrs(id, "q", "w1", status, 1, map[string]any{"job.type": typ})}
		if status != conventions.StatusSucceeded {
			s.ErrMsg = "job failed"
		}
		svc.IngestTraces(tracetest.Build(trace, append([]tracetest.Span{s}, extra...)...))
	}
	job("11111111111111111111111111111111", "same-type", "charge", conventions.StatusSucceeded, "0000000000000001", 0, 100,
		tracetest.Span{Service: "w", Name: "step", ID: "0000000000000002", Parent: "0000000000000001", Start: 10, End: 50})
	job("22222222222222222222222222222222", "other-type", "refund", conventions.StatusSucceeded, "0000000000000011", 200, 300)
	job("33333333333333333333333333333333", "failing", "charge", conventions.StatusDeadLettered, "0000000000000021", 400, 900,
		tracetest.Span{Service: "w", Name: "step", ID: "0000000000000022", Parent: "0000000000000021", Start: 410, End: 800, ErrMsg: "slow"})
	j, err := svc.Job(context.Background(), Unscoped, "failing")
	require.NoError(t, err)
	out := svc.Explain(context.Background(), Unscoped, &j, nil, explain.Options{}, nil)
	require.NotNil(t, out.ComparedWith)
	assert.Equal(t, "same-type", out.ComparedWith.JobID)
	assert.Equal(t, []explain.Slower{{Name: "step", MS: 390, BaselineMS: 40}}, out.ComparedWith.Slower)

	// A scope that admits no other job: nothing to compare with.
	out = svc.Explain(context.Background(), queueOnly{"none"}, &j, nil, explain.Options{}, []string{"same-type"})
	assert.Nil(t, out.ComparedWith)
}

type queueOnly struct{ q string }

func (queueOnly) Scoped() bool { return true }
func (s queueOnly) AllowsJob(queue string, _ func(string) (string, bool)) bool {
	return queue == s.q
}
