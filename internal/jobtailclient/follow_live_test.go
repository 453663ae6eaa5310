package jobtailclient_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension"
	"github.com/jobtrace/jobtrace/internal/jobtailclient"
)

// realServer starts the tailstream extension itself on a free loopback port.
func realServer(t *testing.T) (tailstreamextension.Sink, string) {
	t.Helper()
	f := tailstreamextension.NewFactory()
	cfg := f.CreateDefaultConfig().(*tailstreamextension.Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext.(tailstreamextension.Sink), ext.(interface{ Addr() string }).Addr()
}

func logLine(ld plog.Logs, msg, jobID, traceID string, ts time.Time) {
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(msg)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	if jobID != "" {
		lr.Attributes().PutStr("job.id", jobID)
	}
	if traceID != "" {
		var id pcommon.TraceID
		_, _ = hex.Decode(id[:], []byte(traceID))
		lr.SetTraceID(id)
	}
}

// followTail follows job's lines on the server at addr, its last 10 first, until the test ends.
func followTail(t *testing.T, addr, job string) <-chan jobtailclient.Event {
	c, err := jobtailclient.New(jobtailclient.Options{Endpoint: addr})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch := c.Follow(ctx, jobtailclient.StreamRequest{
		Filters: jobtailclient.StreamFilters{JobID: job},
		Options: jobtailclient.StreamOptions{Follow: true, TailLines: 10},
	}, jobtailclient.FollowOptions{})
	t.Cleanup(func() { cancel(); drain(ch) })
	return ch
}

// Against the real server: a backlog arrives in array frames (?batch=true) and is read
// entry by entry, and a late-attributed line (old seq) is delivered, not taken for a
// duplicate.
func TestFollowBatchFramesAndLateLines(t *testing.T) {
	sink, addr := realServer(t)
	const trace = "5b8efff798038103d269b633813fc60c"
	now := time.Now().Add(-time.Minute)
	ld := plog.NewLogs()
	for i, m := range []string{"one", "two", "three", "four"} {
		logLine(ld, m, "jf", "", now.Add(time.Duration(i)*time.Millisecond))
	}
	// A line of the job that names only its trace, before anything knows the job.
	logLine(ld, "early, trace only", "", trace, now.Add(10*time.Millisecond))
	require.NoError(t, sink.PublishLogs(context.Background(), ld))

	ch := followTail(t, addr, "jf")
	var got []string
	for range 4 {
		e, _ := nextEntry(t, ch)
		got = append(got, e.Message)
	}
	assert.Equal(t, []string{"one", "two", "three", "four"}, got)

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	var tid pcommon.TraceID
	_, _ = hex.Decode(tid[:], []byte(trace))
	sp.SetTraceID(tid)
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	sp.SetKind(ptrace.SpanKindConsumer)
	sp.SetName("process q")
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Second)))
	sp.Attributes().PutStr("job.id", "jf")
	sp.Attributes().PutStr("job.status", "succeeded")
	sp.Attributes().PutStr("queue.name", "q")
	require.NoError(t, sink.PublishTraces(context.Background(), td))

	e, _ := nextEntry(t, ch)
	assert.Equal(t, "early, trace only", e.Message)
	assert.True(t, e.Late)
	assert.Equal(t, "jf", e.JobID)
	assert.Equal(t, "q", e.QueueName)
}

// Against the real server: a tail_lines replay comes in timestamp order, so its seqs go
// down when lines arrived out of time order (held worker lines). Every replayed line is
// delivered; none is taken for a repeat of a higher seq.
func TestFollowSortedReplayKeepsEveryLine(t *testing.T) {
	sink, addr := realServer(t)
	now := time.Now().Add(-time.Minute)
	ld := plog.NewLogs()
	for i, m := range []string{"fourth", "third", "second", "first"} {
		logLine(ld, m, "js", "", now.Add(time.Duration(3-i)*time.Millisecond))
	}
	require.NoError(t, sink.PublishLogs(context.Background(), ld))

	ch := followTail(t, addr, "js")
	ld = plog.NewLogs()
	logLine(ld, "live", "js", "", time.Now())
	var got []string
	for range 4 {
		e, _ := nextEntry(t, ch)
		got = append(got, e.Message)
	}
	assert.Equal(t, []string{"first", "second", "third", "fourth"}, got)
	require.NoError(t, sink.PublishLogs(context.Background(), ld))
	e, _ := nextEntry(t, ch)
	assert.Equal(t, "live", e.Message)
}
