package tailstreamextension

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/metadatatest"
)

func TestTraceTelemetry(t *testing.T) {
	zk, _ := zipkinFake(t)
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Users = []UserConfig{{Name: "viewer", Token: configopaque.String(tokViewer), Roles: []string{roleTraceViewer}}}
	withZipkin(zk.URL)(cfg)
	ext := newTailstream(cfg, metadatatest.NewSettings(tt))
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	srv := &testServer{ext: ext, base: "http://" + ext.Addr()}

	code, _ := srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer) // fetched: backend
	require.Equal(t, http.StatusOK, code)
	code, _ = srv.get(t, "/traces/"+zipkinTrace+"/spans", tokViewer) // now cached
	require.Equal(t, http.StatusOK, code)
	code, _ = srv.get(t, "/traces/00000000000000000000000000000abc/summary", tokViewer) // nowhere
	require.Equal(t, http.StatusNotFound, code)
	zk.Close()
	code, _ = srv.get(t, "/traces/00000000000000000000000000000abd/summary", tokViewer) // backend down, breaker opens (threshold 1)
	require.Equal(t, http.StatusServiceUnavailable, code)
	code, _ = srv.get(t, "/traces/00000000000000000000000000000abe/summary", tokViewer) // breaker open: no call
	require.Equal(t, http.StatusServiceUnavailable, code)

	noTime := []metricdatatest.Option{metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars()}
	src := func(s string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: n, Attributes: attribute.NewSet(attribute.String("source", s))}
	}
	metadatatest.AssertEqualTailstreamTraceLookups(t, tt, []metricdata.DataPoint[int64]{
		src("backend", 1), src("cache", 1), src("not_found", 1), src("unavailable", 2),
	}, noTime...)
	out := func(o string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: n, Attributes: attribute.NewSet(attribute.String("backend", "zipkin"), attribute.String("outcome", o))}
	}
	metadatatest.AssertEqualTailstreamTraceBackendRequests(t, tt, []metricdata.DataPoint[int64]{
		out("found", 1), out("not_found", 1), out("error", 1), out("circuit_open", 1),
	}, noTime...)
}
