package tailstreamextension

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The query service's own benchmarks (summary, job→trace lookup, ingestion) are in
// internal/tracequery; this one adds the HTTP server, authentication and the audit log.

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkTraceSummaryHTTP1000 is the same through the real server: HTTP, auth, JSON.
func BenchmarkTraceSummaryHTTP1000(b *testing.B) {
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	t := &testing.T{}
	srv := startTraceServer(t, nil)
	b.Cleanup(func() { _ = srv.ext.Shutdown(context.Background()) })
	require.NoError(b, srv.ext.PublishTraces(context.Background(), bigTrace(traceID, 1000)))
	req, _ := http.NewRequest(http.MethodGet, srv.base+"/api/v1/traces/"+traceID+"/summary", http.NoBody)
	req.Header.Set("Authorization", "Bearer "+tokViewer)
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(durs, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(durs, 0.99).Microseconds())/1000, "p99-ms")
}
