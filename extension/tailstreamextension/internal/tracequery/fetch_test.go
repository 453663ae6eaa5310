package tracequery

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
)

const zipkinTrace = "4bf92f3577b34da6a3ce929d0e0e4736" // ../backends/testdata/zipkin_trace.json

// A cached part of a trace (a child whose parent is missing) and the backend's answer are
// merged once, without duplicates; concurrent lookups share the one backend request, and a
// caller that gives up does not cancel it for the others.
func TestSharedFetchMergesWithCache(t *testing.T) {
	body, err := os.ReadFile("../backends/testdata/zipkin_trace.json")
	require.NoError(t, err)
	var calls atomic.Int32
	release := make(chan struct{})
	zk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		<-release
		_, _ = w.Write(body)
	}))
	defer zk.Close()
	s := defaultSettings()
	s.Backends = []BackendSettings{{Name: "zk", Type: "zipkin", Client: confighttp.ClientConfig{Endpoint: zk.URL}}}
	svc := newTestService(t, s)

	// One span of the trace came through the pipeline: a worker span under the consumer span
	// c3c3…, which the cache lacks, so the trace is incomplete and the backend is asked.
	svc.IngestTraces(tracetest.Build(zipkinTrace,
		tracetest.Span{Service: "queue-worker", Name: "local child", ID: "0d0d0d0d0d0d0d0d", Parent: "c3c3c3c3c3c3c3c3", Start: 0, End: 1}))
	id := tracetest.MustTID(zipkinTrace)

	// A caller whose request ends first gives up; the fetch goes on for the others.
	gone, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	results := make([]Trace, 5)
	errs := make([]error, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = svc.Trace(context.Background(), Unscoped, id)
		}()
	}
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	// The fetch is out (held by the server): this caller can only wait for it.
	goneErr := make(chan error, 1)
	go func() {
		_, err := svc.Trace(gone, Unscoped, id)
		goneErr <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-goneErr:
		assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled caller kept waiting")
	}
	time.Sleep(50 * time.Millisecond) // let the others queue behind the fetch
	close(release)
	wg.Wait()

	assert.Equal(t, int32(1), calls.Load(), "one backend request for all lookups")
	for i := range results {
		require.NoError(t, errs[i])
		assert.Equal(t, SourceCacheBackend, results[i].Source)
		assert.Equal(t, "zk", results[i].ServedBy)
		assert.Len(t, results[i].Spans, 6, "the backend's five spans and the cached one, once each")
	}
	// Merged into the cache: the next lookup is local.
	tr, err := svc.Trace(context.Background(), Unscoped, id)
	require.NoError(t, err)
	assert.Equal(t, SourceCache, tr.Source)
	assert.Len(t, tr.Spans, 6)
	assert.Equal(t, int32(1), calls.Load())
}

// With every backend down the cached part is answered as partial, and a trace nobody holds is
// ErrBackendsDown.
func TestBackendsDownAnswersPartial(t *testing.T) {
	s := defaultSettings()
	s.Backends = []BackendSettings{{Name: "dead", Type: "jaeger", Client: confighttp.ClientConfig{Endpoint: "http://127.0.0.1:1"}}}
	svc := newTestService(t, s)
	svc.IngestTraces(tracetest.Build(zipkinTrace,
		tracetest.Span{Service: "w", Name: "orphan", ID: "0d0d0d0d0d0d0d0d", Parent: "c3c3c3c3c3c3c3c3", Start: 0, End: 1}))

	tr, err := svc.Trace(context.Background(), Unscoped, tracetest.MustTID(zipkinTrace))
	require.NoError(t, err)
	assert.True(t, tr.Partial)
	assert.Equal(t, SourceCache, tr.Source)
	require.Len(t, tr.BackendErrors, 1)
	assert.Contains(t, tr.BackendErrors[0], "dead: ")

	_, err = svc.Trace(context.Background(), Unscoped, tracetest.MustTID(tracetest.T3))
	assert.ErrorIs(t, err, ErrBackendsDown)
}
