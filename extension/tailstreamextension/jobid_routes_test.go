package tailstreamextension

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
	"github.com/jobtrace/jobtrace/internal/conventions"
)

// BullMQ's job.id is <queue>:<id> (and other libraries' ids may hold '/' or spaces): every
// /jobs/{id} route takes the id URL-encoded, as jobtail and browsers send it.
func TestJobIDRoutesAcceptEncodedIDs(t *testing.T) {
	srv := startTraceServer(t, nil)
	for _, id := range []string{"mails:1", "q/7", "a b%"} {
		td := tracetest.Build(t1, tracetest.Span{ID: sC1, Service: "jobqueue", Name: "process mails", Kind: ptrace.SpanKindConsumer,
			Start: 0, End: 100, Attrs: tracetest.JobAttrs(id, "mails", "w1", conventions.StatusSucceeded, 1, nil)})
		require.NoError(t, srv.ext.PublishTraces(context.Background(), td))
		esc := url.PathEscape(id)
		if id == "mails:1" {
			esc = "mails%3A1" // what url.QueryEscape-style clients send
		}
		code, body := srv.get(t, "/jobs/"+esc+"/trace", tokViewer)
		require.Equal(t, http.StatusOK, code, "%s: %v", id, body)
		assert.Equal(t, id, body["job_id"])
		code, body = srv.get(t, "/correlation/"+esc, tokViewer)
		require.Equal(t, http.StatusOK, code, "%s: %v", id, body)
	}
	code, _ := srv.get(t, "/jobs/mails:1/trace", tokViewer)
	assert.Equal(t, http.StatusOK, code, "unencoded ':' is fine too")
}
