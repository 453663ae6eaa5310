package tailstreamextension

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Tokens of the users every trace API test server has.
const (
	tokAdmin    = "tok-admin"
	tokViewer   = "tok-viewer"    // trace_viewer, unscoped
	tokLogsOnly = "tok-logs"      // log_viewer only
	tokScoped   = "tok-scoped"    // trace_viewer + log_viewer, queue low_priority only
	tokOwner    = "tok-owner-bob" // trace_viewer, jobs whose job.owner is bob
)

type traceTestServer struct {
	ext  *tailstream
	base string
}

func startTraceServer(t *testing.T, mutate func(*Config)) *traceTestServer {
	t.Helper()
	srv, _ := startTraceServerWithLogs(t, mutate)
	return srv
}

// startTraceServerWithLogs also records the extension's logs (audit lines among them).
func startTraceServerWithLogs(t *testing.T, mutate func(*Config)) (*traceTestServer, *observer.ObservedLogs) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Users = []UserConfig{
		{Name: "ops", Token: configopaque.String(tokAdmin), Roles: []string{roleAdmin}},
		{Name: "viewer", Token: configopaque.String(tokViewer), Roles: []string{roleTraceViewer}},
		{Name: "logs", Token: configopaque.String(tokLogsOnly), Roles: []string{roleLogViewer}},
		{Name: "scoped", Token: configopaque.String(tokScoped), Roles: []string{roleTraceViewer, roleLogViewer},
			Scope: ScopeConfig{Queues: []string{"low_priority"}}},
		{Name: "bob", Token: configopaque.String(tokOwner), Roles: []string{roleTraceViewer},
			Scope: ScopeConfig{Attribute: &AttributeRule{Key: "job.owner", Values: []string{"bob"}}}},
	}
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	set := extensiontest.NewNopSettings(NewFactory().Type())
	core, logs := observer.New(zap.DebugLevel)
	set.Logger = zap.New(core)
	ext, err := NewFactory().Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	ts := ext.(*tailstream)
	return &traceTestServer{ext: ts, base: "http://" + ts.Addr() + "/api/v1"}, logs
}

// do sends a request and decodes the JSON answer into a generic map (or into out if given).
func (s *traceTestServer) do(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]any{}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return resp.StatusCode, out
}

func (s *traceTestServer) get(t *testing.T, path, token string) (int, map[string]any) {
	return s.do(t, http.MethodGet, path, token, "")
}

// errorOf returns the error object of an error answer.
func errorOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	require.True(t, ok, "want an error body, got %v", body)
	return e
}

// The trace builders live in internal/tracetest, shared with the query service's tests.
type spanSpec = tracetest.Span

var (
	mustTID      = tracetest.MustTID
	mustSID      = tracetest.MustSID
	at           = tracetest.At
	base         = tracetest.Base
	buildTraces  = tracetest.Build
	lifecycleLog = tracetest.LifecycleLog
	jobAttrs     = tracetest.JobAttrs
	bigTrace     = tracetest.BigTrace
)

// backendConfig is a backend as the YAML gives it (confighttp client defaults), changed by
// mutate when not nil.
func backendConfig(name, typ, endpoint string, mutate func(*BackendConfig)) BackendConfig {
	b := newBackendConfig()
	b.Name, b.Type, b.Endpoint = name, typ, endpoint
	if mutate != nil {
		mutate(&b)
	}
	return b
}

func toJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
