package tailstreamexporter

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/tailstreamtest"
	"github.com/jobtrace/jobtrace/internal/testutil/exthost"
)

var host = exthost.New

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for id, want := range map[string]component.ID{
		"tailstream":        component.NewID(extensionType),
		"tailstream/custom": component.NewIDWithName(extensionType, "team_a"),
	} {
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		sub, err := cm.Sub(id)
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		require.NoError(t, cfg.Validate())
		assert.Equal(t, want, cfg.Extension, id)
	}
	assert.ErrorContains(t, (&Config{}).Validate(), "extension: must name a tailstream extension")
}

func TestStartFindsExtension(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	set := exportertest.NewNopSettings(f.Type())

	t.Run("missing", func(t *testing.T) {
		e, err := f.CreateLogs(context.Background(), set, cfg)
		require.NoError(t, err)
		err = e.Start(context.Background(), host(nil))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `extension "tailstream" not found`)
		assert.Contains(t, err.Error(), "service.extensions")
	})
	t.Run("wrong kind", func(t *testing.T) {
		e, err := f.CreateTraces(context.Background(), set, cfg)
		require.NoError(t, err)
		err = e.Start(context.Background(), host(map[component.ID]component.Component{cfg.Extension: nop{}}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is not a tailstream extension")
	})
}

// nop is a component that is not a tailstream Sink.
type nop struct {
	component.StartFunc
	component.ShutdownFunc
}

func TestPublishesToFakeSink(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	sink := tailstreamtest.NewSink()
	h := host(map[component.ID]component.Component{cfg.Extension: sink})
	set := exportertest.NewNopSettings(f.Type())

	le, err := f.CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, le.Start(context.Background(), h))
	te, err := f.CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, te.Start(context.Background(), h))

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("hello")
	require.NoError(t, le.ConsumeLogs(context.Background(), ld))
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("span")
	require.NoError(t, te.ConsumeTraces(context.Background(), td))

	require.Len(t, sink.Logs(), 1)
	assert.Equal(t, "hello", sink.Logs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str())
	require.Len(t, sink.Traces(), 1)
	assert.Equal(t, "span", sink.Traces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Name())

	sink.Err = errors.New("boom")
	assert.ErrorContains(t, le.ConsumeLogs(context.Background(), ld), "boom")
	require.NoError(t, le.Shutdown(context.Background()))
	require.NoError(t, te.Shutdown(context.Background()))

	var wrong nop
	e, err := f.CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	assert.ErrorContains(t, e.Start(context.Background(), host(map[component.ID]component.Component{cfg.Extension: wrong})), "is not a tailstream extension")
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestRealExtension runs the exporter against the real extension: logs exported show up in
// the extension's history API.
func TestRealExtension(t *testing.T) {
	ef := tailstreamextension.NewFactory()
	ecfg := ef.CreateDefaultConfig()
	addr := freePort(t)
	require.NoError(t, setEndpoint(ecfg, addr))
	ext, err := ef.Create(context.Background(), extensiontest.NewNopSettings(ef.Type()), ecfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, ext.Shutdown(context.Background())) }()

	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	le, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, le.Start(context.Background(), host(map[component.ID]component.Component{cfg.Extension: ext})))
	defer func() { require.NoError(t, le.Shutdown(context.Background())) }()

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("through the exporter")
	lr.Attributes().PutStr("job.id", "job-42")
	require.NoError(t, le.ConsumeLogs(context.Background(), ld))

	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/api/v1/logs/history?job_id=job-42")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var page struct {
		Entries []struct {
			Message string `json:"message"`
			JobID   string `json:"job_id"`
			Seq     uint64 `json:"seq"`
		} `json:"entries"`
	}
	require.NoError(t, json.Unmarshal(b, &page))
	require.Len(t, page.Entries, 1)
	assert.Equal(t, "through the exporter", page.Entries[0].Message)
	assert.Equal(t, "job-42", page.Entries[0].JobID)
	assert.EqualValues(t, 1, page.Entries[0].Seq)
}

// setEndpoint sets the extension's endpoint through its confmap, as a user's YAML would.
func setEndpoint(cfg component.Config, endpoint string) error {
	cm := confmapFrom(map[string]any{"endpoint": endpoint})
	return cm.Unmarshal(cfg)
}
