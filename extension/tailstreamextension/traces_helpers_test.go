package tailstreamextension

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/tracetest"
	"go.opentelemetry.io/collector/config/configopaque"
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

// traceUsers are the users every trace API test server has.
func traceUsers(cfg *Config) {
	cfg.Users = []UserConfig{
		{Name: "ops", Token: configopaque.String(tokAdmin), Roles: []string{roleAdmin}},
		{Name: "viewer", Token: configopaque.String(tokViewer), Roles: []string{roleTraceViewer}},
		{Name: "logs", Token: configopaque.String(tokLogsOnly), Roles: []string{roleLogViewer}},
		{Name: "scoped", Token: configopaque.String(tokScoped), Roles: []string{roleTraceViewer, roleLogViewer},
			Scope: ScopeConfig{Queues: []string{"low_priority"}}},
		{Name: "bob", Token: configopaque.String(tokOwner), Roles: []string{roleTraceViewer},
			Scope: ScopeConfig{Attribute: &AttributeRule{Key: "job.owner", Values: []string{"bob"}}}},
	}
}

func startTraceServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	srv, _ := startTraceServerWithLogs(t, mutate)
	return srv
}

// startTraceServerWithLogs also records the extension's logs (audit lines among them).
func startTraceServerWithLogs(t *testing.T, mutate func(*Config)) (*testServer, *observer.ObservedLogs) {
	t.Helper()
	srv := launch(t, withUsers(traceUsers, mutate), serverOpts{level: zap.DebugLevel})
	return srv, srv.audit
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
