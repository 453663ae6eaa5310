package tailstreamextension

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/metadatatest"
)

func TestOwnTelemetry(t *testing.T) {
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	ext := newTailstream(cfg, metadatatest.NewSettings(tt))
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) }) // after the client closes
	srv := &testServer{ext: ext, base: "http://" + ext.Addr()}

	v := srv.create(t, "", map[string]any{"filters": map[string]any{"job_id": "j1"}, "options": map[string]any{"rate_limit": 2}})
	code, _ := srv.do(t, http.MethodPost, "/api/v1/logs/streams", "", map[string]any{"filters": map[string]any{"log_level": []string{"x"}}})
	require.Equal(t, http.StatusBadRequest, code)
	srv.publish(t, lines("j1", 1, 5)...)    // 2 pass the bucket, 3 are rate limited
	srv.publish(t, lines("other", 1, 4)...) // filtered by the job index
	c := dialWS(t, v.Endpoint, "", nil)
	readWS(t, c, nEntries(2))

	noTime := []metricdatatest.Option{metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars()}
	metadatatest.AssertEqualTailstreamStreamsActive(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, noTime...)
	metadatatest.AssertEqualTailstreamLinesDropped(t, tt, []metricdata.DataPoint[int64]{
		{Value: 3, Attributes: attribute.NewSet(attribute.String("reason", "rate_limited"))}}, noTime...)
	metadatatest.AssertEqualTailstreamLinesFiltered(t, tt, []metricdata.DataPoint[int64]{{Value: 4}}, noTime...)
	metadatatest.AssertEqualTailstreamFilterEvaluations(t, tt, []metricdata.DataPoint[int64]{{Value: 5}}, noTime...)
	require.Eventually(t, func() bool {
		m, err := tt.GetMetric("otelcol_tailstream_lines_streamed")
		return err == nil && m.Data.(metricdata.Sum[int64]).DataPoints[0].Value == 2
	}, 5*time.Second, 10*time.Millisecond)
	metadatatest.AssertEqualTailstreamAPIRequests(t, tt, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.Int("status_code", 201))},
		{Value: 1, Attributes: attribute.NewSet(attribute.Int("status_code", 400))},
	}, noTime...)
}
