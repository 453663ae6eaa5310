package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Seeded PII: none of these may leave the collector.
const (
	seedCard  = "4111 1111 1111 1111"
	seedEmail = "jane.customer@example.com"
	seedToken = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	seedSSN   = "123-45-6789"
)

// TestPIIRedactionEndToEnd sends OTLP logs and spans carrying a card, an email, a GitHub token
// and an SSN through the built collector (collector.yaml pipelines) and checks the file exporter
// output: the values are gone, placeholders are there, correlation ids are intact.
func TestPIIRedactionEndToEnd(t *testing.T) {
	c := StartCollector(t, WithFileExporter(), WithoutRedis())

	traceID := pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	spanID := pcommon.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	const jobID = "8f14e45fceea167a5a36dedd4bea2543"
	const workerID = "vm-15485-1795775243850107691-4b53-4"

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e-pii-worker")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTraceID(traceID)
	lr.SetSpanID(spanID)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.Body().SetStr("e2e-pii-marker payment failed for " + seedEmail + " card " + seedCard + " ssn " + seedSSN)
	lr.Attributes().PutStr("job.id", jobID)
	lr.Attributes().PutStr("worker.id", workerID)
	lr.Attributes().PutStr("trace_id", traceID.String())
	lr.Attributes().PutStr("span_id", spanID.String())
	lr.Attributes().PutStr("error", "git clone with "+seedToken+" failed")
	lr.Attributes().PutStr("password", "hunter2")
	c.SendLogs(t, ld)

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "e2e-pii-worker")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(traceID)
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	sp.SetParentSpanID(spanID)
	sp.SetName("e2e-pii-span charge " + seedCard)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(-time.Second)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	sp.Attributes().PutStr("job.id", jobID)
	sp.Attributes().PutStr("customer.email", seedEmail)
	sp.Attributes().PutStr("http.request.header.authorization", "token "+seedToken)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("kyc failed for ssn " + seedSSN)
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.message", "declined "+seedCard+" for "+seedEmail)
	c.SendTraces(t, td)

	var rec plog.LogRecord
	Eventually(t, 30*time.Second, func() bool {
		for _, r := range c.AllLogRecords(t) {
			if strings.Contains(r.Body().AsString(), "e2e-pii-marker") {
				rec = r
				return true
			}
		}
		return false
	}, "redacted log record in file exporter output")
	var span ptrace.Span
	Eventually(t, 30*time.Second, func() bool {
		for _, s := range c.AllSpans(t) {
			if strings.Contains(s.Name(), "e2e-pii-span") {
				span = s
				return true
			}
		}
		return false
	}, "redacted span in file exporter output")

	// Nothing seeded survives anywhere in the raw output files.
	for _, f := range []string{"out-logs.json", "out-traces.json"} {
		raw, err := os.ReadFile(filepath.Join(c.Dir, f))
		require.NoError(t, err)
		for _, seed := range []string{seedCard, "4111111111111111", seedEmail, seedToken, seedSSN, "hunter2"} {
			assert.NotContains(t, string(raw), seed, "%s leaked into %s", seed, f)
		}
	}

	assert.Equal(t, "e2e-pii-marker payment failed for [REDACTED:email] card [REDACTED:credit_card] ssn [REDACTED:ssn]", rec.Body().Str())
	attrs := rec.Attributes().AsRaw()
	assert.Equal(t, "git clone with [REDACTED:github_token] failed", attrs["error"])
	assert.Equal(t, "[REDACTED:key_name]", attrs["password"])
	assert.Equal(t, jobID, attrs["job.id"])
	assert.Equal(t, workerID, attrs["worker.id"])
	assert.Equal(t, traceID.String(), attrs["trace_id"])
	assert.Equal(t, spanID.String(), attrs["span_id"])
	assert.Equal(t, traceID, rec.TraceID())
	assert.Equal(t, spanID, rec.SpanID())

	assert.Equal(t, "e2e-pii-span charge [REDACTED:credit_card]", span.Name())
	assert.Equal(t, traceID, span.TraceID())
	assert.Equal(t, spanID, span.ParentSpanID())
	sa := span.Attributes().AsRaw()
	assert.Equal(t, jobID, sa["job.id"])
	assert.Equal(t, "[REDACTED:email]", sa["customer.email"])
	assert.Equal(t, "[REDACTED:key_name]", sa["http.request.header.authorization"])
	assert.Equal(t, "kyc failed for ssn [REDACTED:ssn]", span.Status().Message())
	assert.Equal(t, "declined [REDACTED:credit_card] for [REDACTED:email]", span.Events().At(0).Attributes().AsRaw()["exception.message"])
}

// Issue 14's line: a free-text AWS secret, a 15-digit JCB card, a UK number with its extension
// and a lower-case IBAN.
const (
	seedAWSSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	seedJCB       = "2131 0000 0000 001"
	seedUKPhone   = "+44 20 7946 0958 ext. 204"
	seedIBANLower = "gb82 west 1234 5698 7654 32"
)

// TestPiiRedactionFreeTextEndToEnd sends that line through the built collector and reads it
// back from a live SSE tail, /logs/history and the file exporter: none of the four values (nor
// the phone's extension) survives anywhere, and job.id and the trace id are intact.
func TestPiiRedactionFreeTextEndToEnd(t *testing.T) {
	c := StartCollector(t, WithFileExporter(), WithoutRedis())
	api := c.TailstreamURL + "/api/v1"
	traceID := pcommon.TraceID{0x5b, 0x8e, 0xfa, 0xc2, 0x9d, 0x14, 0x4e, 0x11, 0x8a, 0x7f, 0x03, 0xd2, 0x66, 0x41, 0x19, 0xe0}
	spanID := pcommon.SpanID{0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, 0x72, 0x83}
	const jobID = "c4ca4238a0b923820dcc509a6f75849b"

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		api+"/logs/tail?follow=true&ottl="+url.QueryEscape(`IsMatch(body, "^e2e-pii14")`), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	body := "e2e-pii14 upload failed: aws secret " + seedAWSSecret + " rejected; refund to card " + seedJCB +
		"; customer asked to call " + seedUKPhone + "; payout iban " + seedIBANLower + " bounced"
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e-pii14-worker")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTraceID(traceID)
	lr.SetSpanID(spanID)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.SetSeverityText("error")
	lr.Body().SetStr(body)
	lr.Attributes().PutStr("job.id", jobID)
	c.SendLogs(t, ld)

	leaks := []string{seedAWSSecret, seedJCB, "213100000000001", "7946 0958", "ext. 204", seedIBANLower, "gb82west"}
	const want = "e2e-pii14 upload failed: aws secret [REDACTED:aws_secret_key] rejected; refund to card [REDACTED:credit_card]" +
		"; customer asked to call [REDACTED:phone]; payout iban [REDACTED:iban] bounced"

	// The live stream.
	sc := bufio.NewScanner(resp.Body)
	var live tsEntry
	var liveRaw string
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			require.NoError(t, json.Unmarshal([]byte(line[6:]), &live))
			if live.Type == "" {
				liveRaw = line
				break
			}
		}
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, want, live.Message)
	assert.Equal(t, jobID, live.JobID)
	assert.Equal(t, traceID.String(), live.TraceID)
	for _, l := range leaks {
		assert.NotContains(t, liveRaw, l, "live stream leaked %q", l)
	}

	// The history API.
	code, b := tsRequest(t, http.MethodGet, api+"/logs/history?text=e2e-pii14", "", nil)
	require.Equal(t, http.StatusOK, code, string(b))
	for _, l := range leaks {
		assert.NotContains(t, string(b), l, "/logs/history leaked %q", l)
	}
	var hist struct {
		Total int `json:"total"`
	}
	require.NoError(t, json.Unmarshal(b, &hist))
	require.Equal(t, 1, hist.Total, string(b))
	assert.Contains(t, string(b), jobID)
	assert.Contains(t, string(b), traceID.String())
	assert.Contains(t, string(b), "[REDACTED:aws_secret_key]")

	// The file exporter.
	var rec plog.LogRecord
	Eventually(t, 30*time.Second, func() bool {
		for _, r := range c.AllLogRecords(t) {
			if strings.HasPrefix(r.Body().AsString(), "e2e-pii14") {
				rec = r
				return true
			}
		}
		return false
	}, "redacted log record in file exporter output")
	assert.Equal(t, want, rec.Body().Str())
	assert.Equal(t, jobID, rec.Attributes().AsRaw()["job.id"])
	assert.Equal(t, traceID, rec.TraceID())
	assert.Equal(t, spanID, rec.SpanID())
	raw, err := os.ReadFile(filepath.Join(c.Dir, "out-logs.json"))
	require.NoError(t, err)
	for _, l := range leaks {
		assert.NotContains(t, string(raw), l, "file exporter output leaked %q", l)
	}
}
