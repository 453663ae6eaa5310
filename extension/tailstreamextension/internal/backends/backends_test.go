package backends

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const fixtureTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

func mustTraceID(t *testing.T, s string) pcommon.TraceID {
	id, err := traceIDFromHex(s)
	require.NoError(t, err)
	return id
}

// zipkinFake serves the recorded Zipkin v2 answer for its trace and 404 for any other, as
// Zipkin does.
func zipkinFake(t *testing.T, calls *atomic.Int32) *httptest.Server {
	body, err := os.ReadFile("testdata/zipkin_trace.json")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		switch r.URL.Path {
		case "/api/v2/trace/" + fixtureTrace:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		case "/api/v2/services":
			_, _ = w.Write([]byte(`["billing","order-api","queue-worker"]`))
		default:
			http.Error(w, "Trace not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestZipkinFetch(t *testing.T) {
	srv := zipkinFake(t, nil)
	b, err := New(Options{Name: "zipkin", Type: TypeZipkin, Endpoint: srv.URL, Timeout: time.Second}, nil)
	require.NoError(t, err)

	spans, err := b.Fetch(context.Background(), mustTraceID(t, fixtureTrace))
	require.NoError(t, err)
	require.Len(t, spans, 5, "the shared server half merges into its client span")
	byName := map[string]int{}
	for i, s := range spans {
		byName[s.Service+" "+s.Name] = i
		assert.Equal(t, fixtureTrace, s.TraceID.String())
	}
	consumer := spans[byName["queue-worker process high_priority"]]
	assert.Equal(t, ptrace.SpanKindConsumer, consumer.Kind)
	assert.Equal(t, "b2b2b2b2b2b2b2b2", consumer.ParentSpanID.String())
	assert.Equal(t, int64(1757875657120000000), consumer.Start, "µs become ns")
	assert.Equal(t, int64(2340000000), consumer.End-consumer.Start)
	assert.True(t, consumer.IsError())
	assert.Equal(t, "charge failed: upstream timeout", consumer.StatusMessage)
	v, _ := consumer.Attr("job.id")
	assert.Equal(t, "job_12345", v)
	assert.Equal(t, "job_retried", consumer.Events[0].Name)

	charge := spans[byName["queue-worker post /charge"]]
	assert.True(t, charge.IsError())
	assert.Equal(t, "upstream timeout", charge.StatusMessage, "the server half's error message is kept")
	peer, _ := charge.Attr("peer.service")
	assert.Equal(t, "billing", peer)

	ok := spans[byName["order-api post /orders"]]
	assert.False(t, ok.IsError())
	assert.True(t, ok.ParentSpanID.IsEmpty())

	_, err = b.Fetch(context.Background(), mustTraceID(t, "0af7651916cd43dd8448eb211c80319c"))
	assert.ErrorIs(t, err, ErrNotFound)
	assert.NoError(t, b.Probe(context.Background()))
	assert.Equal(t, StateClosed, b.Status().Breaker, "not found is an answer, not a failure")
}

func TestZipkin64BitTraceID(t *testing.T) {
	spans, err := DecodeZipkin([]byte(`[{"traceId":"a3ce929d0e0e4736","id":"1","name":"x","timestamp":1,"duration":2}]`))
	require.NoError(t, err)
	assert.Equal(t, "0000000000000000a3ce929d0e0e4736", spans[0].TraceID.String())
	assert.Equal(t, "0000000000000001", spans[0].SpanID.String())
	_, err = DecodeZipkin([]byte(`[{"traceId":"xyz","id":"1"}]`))
	assert.ErrorContains(t, err, "traceId")
	_, err = DecodeZipkin([]byte(`{"not":"an array"}`))
	assert.Error(t, err)
}

func TestJaegerDecode(t *testing.T) {
	body := `{"result":{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"jobqueue"}}]},` +
		`"scopeSpans":[{"scope":{},"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7",` +
		`"name":"process high_priority","kind":5,"startTimeUnixNano":"1000","endTimeUnixNano":"3000","status":{"code":2}}]}]}]}}`
	spans, err := DecodeJaeger([]byte(body))
	require.NoError(t, err)
	require.Len(t, spans, 1)
	assert.Equal(t, "jobqueue", spans[0].Service)
	assert.Equal(t, ptrace.SpanKindConsumer, spans[0].Kind)
	assert.True(t, spans[0].IsError())

	_, err = DecodeJaeger([]byte(`{"error":{"httpCode":404,"message":"trace not found"}}`))
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = DecodeJaeger([]byte(`{"error":{"httpCode":500,"message":"storage down"}}`))
	assert.ErrorContains(t, err, "HTTP 500")
	assert.NotContains(t, err.Error(), "storage down", "the backend's text is never repeated (issue 18 #7)")
	_, err = DecodeJaeger([]byte(`{"result":`))
	assert.Error(t, err)
}

func TestCircuitBreaker(t *testing.T) {
	var calls atomic.Int32
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		if !healthy.Load() {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	b, err := New(Options{Name: "z", Type: TypeZipkin, Endpoint: srv.URL, FailureThreshold: 3, OpenDuration: time.Minute}, nil)
	require.NoError(t, err)
	now := time.Unix(0, 0)
	b.br.now = func() time.Time { return now }
	id := mustTraceID(t, fixtureTrace)

	for range 3 {
		_, err = b.Fetch(context.Background(), id)
		assert.ErrorContains(t, err, "HTTP 503")
	}
	assert.Equal(t, StateOpen, b.Status().Breaker)
	_, err = b.Fetch(context.Background(), id)
	assert.ErrorIs(t, err, ErrCircuitOpen)
	assert.Equal(t, int32(3), calls.Load(), "an open breaker makes no call")

	// After the open period one probe goes out; it fails, so the breaker re-opens at once.
	now = now.Add(time.Minute)
	assert.Equal(t, StateHalfOpen, b.Status().Breaker)
	_, err = b.Fetch(context.Background(), id)
	assert.ErrorContains(t, err, "HTTP 503")
	assert.Equal(t, StateOpen, b.Status().Breaker)
	assert.Equal(t, int32(4), calls.Load())

	// Next probe succeeds (empty answer = not found, still an answer): closed again.
	now = now.Add(time.Minute)
	healthy.Store(true)
	_, err = b.Fetch(context.Background(), id)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, StateClosed, b.Status().Breaker)
	st := b.Status()
	assert.Equal(t, int64(4), st.FailureTotal)
	assert.NotNil(t, st.LastOKAt)
}

func TestHalfOpenLetsOneProbe(t *testing.T) {
	br := newBreaker(1, time.Second)
	now := time.Unix(0, 0)
	br.now = func() time.Time { return now }
	br.failure()
	assert.False(t, br.allow())
	now = now.Add(time.Second)
	assert.True(t, br.allow())
	assert.False(t, br.allow(), "a second caller waits for the probe's outcome")
	br.success()
	assert.True(t, br.allow())
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	b, err := New(Options{Name: "slow", Type: TypeJaeger, Endpoint: srv.URL, Timeout: 50 * time.Millisecond}, nil)
	require.NoError(t, err)
	_, err = b.Fetch(context.Background(), mustTraceID(t, fixtureTrace))
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	assert.Contains(t, b.Status().LastError, "slow")
}

func TestHeadersSentNotReported(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		http.NotFound(w, r)
	}))
	defer srv.Close()
	// Headers are the HTTP client's job (confighttp sets them on every request).
	cc := confighttp.NewDefaultClientConfig()
	cc.Headers.Set("Authorization", "Bearer s3cret")
	client, err := cc.ToClient(context.Background(), nil, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	b, err := New(Options{Name: "j", Type: TypeJaeger, Endpoint: srv.URL}, client)
	require.NoError(t, err)
	_, _ = b.Fetch(context.Background(), mustTraceID(t, fixtureTrace))
	assert.Equal(t, "Bearer s3cret", got)
	assert.NotContains(t, toJSON(t, b.Status()), "s3cret")
}

func TestUnknownType(t *testing.T) {
	_, err := New(Options{Type: "tempo"}, nil)
	assert.ErrorContains(t, err, "tempo")
}
