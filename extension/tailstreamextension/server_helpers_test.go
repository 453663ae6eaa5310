package tailstreamextension

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// testServer is a real extension listening on a free loopback port: the one test server of
// both API halves. Every JSON answer its do/api/get read is validated against
// docs/openapi.json (checkAnswer).
type testServer struct {
	ext   *tailstream
	base  string // http://127.0.0.1:port
	audit *observer.ObservedLogs
	tok   string // token getStream uses
}

type serverOpts struct {
	level zapcore.Level       // of the recorded logs (audit lines are Info)
	set   *extension.Settings // instead of nop settings recording logs (telemetry tests)
	now   func() time.Time    // the extension's clock; nil is time.Now
}

// launch starts the default config changed by mutate; the extension stops at cleanup.
func launch(t testing.TB, mutate func(*Config), o serverOpts) *testServer {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	srv := &testServer{}
	var set extension.Settings
	if o.set != nil {
		set = *o.set
	} else {
		core, logs := observer.New(o.level)
		set = extensiontest.NewNopSettings(typ)
		set.Logger = zap.New(core)
		srv.audit = logs
	}
	srv.ext = newTailstream(cfg, set)
	if o.now != nil {
		srv.ext.now = o.now
	}
	require.NoError(t, srv.ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, srv.ext.Shutdown(context.Background())) })
	srv.base = "http://" + srv.ext.Addr()
	return srv
}

func startServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	return launch(t, mutate, serverOpts{level: zap.InfoLevel})
}

// withUsers runs the mutations in order (nil ones skipped).
func withUsers(ms ...func(*Config)) func(*Config) {
	return func(c *Config) {
		for _, m := range ms {
			if m != nil {
				m(c)
			}
		}
	}
}

// do sends body (JSON-encoded unless nil) to path under the server root.
func (s *testServer) do(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	checkAnswer(t, req, resp.StatusCode, resp.Header, b)
	return resp.StatusCode, b
}

// api sends a raw body to path under /api/v1 and decodes the JSON answer into a map.
func (s *testServer) api(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+"/api/v1"+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	checkAnswer(t, req, resp.StatusCode, resp.Header, raw)
	out := map[string]any{}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return resp.StatusCode, out
}

func (s *testServer) get(t *testing.T, path, token string) (int, map[string]any) {
	return s.api(t, http.MethodGet, path, token, "")
}
