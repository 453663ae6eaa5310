package jobcorrelationprocessor

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/internal/jobindex"
	"github.com/jobtrace/jobtrace/internal/joblookup/joblookuptest"
	"github.com/jobtrace/jobtrace/internal/testutil/exthost"
	"github.com/jobtrace/jobtrace/processor/jobcorrelationprocessor/internal/metadata"
)

// notALookup is an extension that cannot look jobs up.
type notALookup struct {
	component.StartFunc
	component.ShutdownFunc
}

var lookupExt = component.MustNewID("tailstream")

func hostWith(c component.Component) component.Host {
	return exthost.New(map[component.ID]component.Component{lookupExt: c})
}

// withLookup turns lookups on against lookupExt, with a hold only a span, a lookup or
// shutdown ends.
func withLookup(mutate func(*LookupConfig)) func(*Config) {
	return func(c *Config) {
		c.Hold.MaxWait = time.Hour
		id := lookupExt
		c.Lookup.Extension = &id
		if mutate != nil {
			mutate(&c.Lookup)
		}
	}
}

const (
	mLookups = "otelcol_processor_jobcorrelation_lookups"
	mHits    = "otelcol_processor_jobcorrelation_lookup_hits"
	mMisses  = "otelcol_processor_jobcorrelation_lookup_misses"
	mErrors  = "otelcol_processor_jobcorrelation_lookup_errors"
)

func TestLookupTagsRecordOfUnknownJob(t *testing.T) {
	fake := joblookuptest.NewFake()
	fake.Put(jobindex.JobContext{JobID: "j1", Queue: "high", WorkerID: worker1, JobType: "resize", TraceID: trace1, SpanID: span1, FromReceiver: true})
	p := newPipelinesOn(t, hostWith(fake), withLookup(nil))

	// A line that names only its job, whose span went to another gateway.
	p.sendLogs(logs(jobIDRec("j1"), jobIDRec("j1")))
	got := p.waitEmitted(2)
	for _, r := range got {
		assert.Equal(t, "j1", attrStr(t, r, "job.id"))
		assert.Equal(t, "high", attrStr(t, r, "queue.name"))
		assert.Equal(t, worker1, attrStr(t, r, "worker.id"))
		assert.Equal(t, "resize", attrStr(t, r, "job.type"))
		assert.Equal(t, trace1, r.TraceID())
		assert.Equal(t, span1, r.SpanID())
	}
	assert.Equal(t, int64(1), fake.Calls(), "one lookup for the job's lines")
	assert.Equal(t, int64(1), p.metric(mLookups))
	assert.Equal(t, int64(1), p.metric(mHits))
	assert.Equal(t, int64(2), p.metric("otelcol_processor_jobcorrelation_log_records_tagged"))

	// The answer is in the index now: a later line leaves at once, without another lookup.
	p.sendLogs(logs(jobIDRec("j1")))
	assert.Len(t, p.emitted(), 3)
	assert.Equal(t, int64(1), fake.Calls())
}

func TestLookupMissKeepsRecordHeld(t *testing.T) {
	fake := joblookuptest.NewFake()
	p := newPipelinesOn(t, hostWith(fake), withLookup(func(l *LookupConfig) { l.MissTTL = time.Hour }))

	p.sendLogs(logs(jobIDRec("j2")))
	require.Eventually(t, func() bool { return p.metric(mMisses) == 1 }, 5*time.Second, 5*time.Millisecond)
	// More lines of the missed job within miss_ttl ask nothing more.
	for range 5 {
		p.sendLogs(logs(jobIDRec("j2")))
	}
	time.Sleep(100 * time.Millisecond) // a few flush ticks, each of which could ask again
	assert.Equal(t, int64(1), fake.Calls())
	assert.Zero(t, p.logSink.LogRecordCount(), "a miss released the record")

	// The span still ends the wait, as without lookups.
	p.spans(oneJobSpan("j2", "low", worker1, "", trace2, span2))
	got := p.waitEmitted(6)
	for _, r := range got {
		assert.Equal(t, "low", attrStr(t, r, "queue.name"))
	}
}

func TestLookupAsksAgainAfterMissTTL(t *testing.T) {
	fake := joblookuptest.NewFake()
	p := newPipelinesOn(t, hostWith(fake), withLookup(func(l *LookupConfig) { l.MissTTL = 20 * time.Millisecond }))

	p.sendLogs(logs(jobIDRec("j3")))
	require.Eventually(t, func() bool { return p.metric(mMisses) >= 1 }, 5*time.Second, 5*time.Millisecond)
	// The job reaches the store (another gateway exported it); the held record's next ask finds it.
	fake.Put(jobindex.JobContext{JobID: "j3", Queue: "high", WorkerID: worker1, TraceID: trace3, SpanID: span9})
	got := p.waitEmitted(1)
	assert.Equal(t, "high", attrStr(t, got[0], "queue.name"))
	assert.GreaterOrEqual(t, fake.Calls(), int64(2))
	assert.Equal(t, int64(1), p.metric(mHits))
}

func TestLookupErrorsAndTimeoutsDoNotBlock(t *testing.T) {
	fake := joblookuptest.NewFake()
	fake.SetDelay(time.Hour)
	p := newPipelinesOn(t, hostWith(fake), withLookup(func(l *LookupConfig) {
		l.Timeout = 30 * time.Millisecond
		l.MissTTL = time.Hour
	}))

	// The lookup hangs past its timeout; the pipeline goes on meanwhile.
	p.sendLogs(logs(jobIDRec("j4")))
	p.spans(oneJobSpan("j5", "low", worker1, "", trace2, span2))
	p.sendLogs(logs(jobIDRec("j5")))
	require.Eventually(t, func() bool { return p.metric(mErrors) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, p.metric(mHits))

	fake.SetDelay(0)
	fake.SetError(errors.New("store down"))
	p.sendLogs(logs(jobIDRec("j6")))
	require.Eventually(t, func() bool { return p.metric(mErrors) == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, p.logSink.LogRecordCount(), "j4's record waits, so j5's of the same scope waits behind it")

	// The spans end the wait, as without lookups.
	p.spans(oneJobSpan("j4", "high", worker1, "", trace1, span1))
	p.spans(oneJobSpan("j6", "high", worker1, "", trace3, span9))
	got := p.waitEmitted(3)
	assert.Equal(t, []string{"working on j4", "working on j5", "working on j6"}, bodies(got))
}

func TestLookupsBoundedInFlight(t *testing.T) {
	fake := joblookuptest.NewFake()
	fake.SetDelay(time.Hour)
	p := newPipelinesOn(t, hostWith(fake), withLookup(func(l *LookupConfig) {
		l.MaxInFlight = 2
		l.Timeout = time.Hour
	}))
	for i := range 10 {
		p.sendLogs(logs(jobIDRec("k" + strconv.Itoa(i))))
	}
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int64(2), fake.Calls(), "more lookups in flight than max_in_flight")
	// Shutdown cancels what is in flight instead of waiting an hour.
	p.shutdown()
	assert.Len(t, p.emitted(), 10, "shutdown releases every held record")
}

func TestLookupExtensionMissingOrWrong(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	withLookup(nil)(cfg)
	for name, host := range map[string]component.Host{
		`no extension "tailstream"`:                  componenttest.NewNopHost(),
		`extension "tailstream" cannot look jobs up`: hostWith(notALookup{}),
	} {
		set := processortest.NewNopSettings(typ)
		set.ID = component.NewIDWithName(typ, t.Name())
		lp, err := NewFactory().CreateLogs(context.Background(), set, cfg, new(consumertest.LogsSink))
		require.NoError(t, err)
		err = lp.Start(context.Background(), host)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "lookup.extension: ")
		assert.Contains(t, err.Error(), name)
		require.NoError(t, lp.Shutdown(context.Background()))
	}
}

func TestLookupMissCacheBounded(t *testing.T) {
	tel, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	fake := joblookuptest.NewFake()
	l := newLookuper(fake, jobindex.NewMemory(10, time.Hour), func() {}, LookupConfig{Timeout: time.Second, MaxInFlight: 1, MissTTL: time.Hour, MissCacheSize: 3}, tel, zap.NewNop())
	t.Cleanup(l.stop)
	for i := range 10 {
		l.request("m" + strconv.Itoa(i))
		require.Eventually(t, func() bool { return fake.Calls() == int64(i+1) && len(l.slots) == 0 }, 5*time.Second, time.Millisecond)
		l.mu.Lock()
		n := len(l.misses)
		l.mu.Unlock()
		assert.LessOrEqual(t, n, 3, "misses remembered beyond miss_cache_size")
	}
	// A miss still remembered is not asked again.
	l.request("m9")
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, int64(10), fake.Calls())
}
