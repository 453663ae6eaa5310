package tracequery

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracecache"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

func TestScopeSpansOwnership(t *testing.T) {
	svc := newTestService(t, defaultSettings())
	sp := func(id, parent string, attrs ...string) tracecache.Span {
		s := tracecache.Span{SpanID: tracetest.MustSID(id), Name: id}
		if parent != "" {
			s.ParentSpanID = tracetest.MustSID(parent)
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			s.Attrs = append(s.Attrs, tracecache.KV{Key: attrs[i], Value: attrs[i+1]})
		}
		return s
	}
	job := func(id, parent, jobID, queue string) tracecache.Span {
		return sp(id, parent, conventions.AttrJobID, jobID, conventions.AttrJobStatus, "succeeded", conventions.AttrQueueName, queue)
	}
	spans := []tracecache.Span{
		sp("0000000000000001", ""),                                  // no job: visible
		job("0000000000000002", "0000000000000001", "a", "low"),     // in scope
		sp("0000000000000003", "0000000000000002"),                  // under a
		job("0000000000000004", "0000000000000001", "b", "high"),    // out of scope
		sp("0000000000000005", "0000000000000004", "job.id", "a"),   // under b, whatever its job.id says
		sp("0000000000000006", "0000000000000005"),                  // deeper under b
		sp("0000000000000007", "00000000000000ff", "job.id", "zzz"), // missing parent, unknown job: no queue, hidden
		sp("0000000000000008", "0000000000000009"),                  // a parent cycle without a job span
		sp("0000000000000009", "0000000000000008"),
		job("000000000000000a", "000000000000000b", "c", "low"), // a cycle through a job span
		sp("000000000000000b", "000000000000000a"),
	}
	var got []string
	for _, s := range svc.ScopeSpans(queueScope{"low"}, spans) {
		got = append(got, s.Name)
	}
	assert.Equal(t, []string{"0000000000000001", "0000000000000002", "0000000000000003", "0000000000000008", "0000000000000009",
		"000000000000000a", "000000000000000b"}, got)
	assert.Len(t, svc.ScopeSpans(Unscoped, spans), len(spans))
	assert.Equal(t, "0000000000000004", spans[3].Name, "the input is not modified")
}
