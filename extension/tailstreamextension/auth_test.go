package tailstreamextension

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func rbacServer(t *testing.T) *testServer {
	return startServer(t, func(c *Config) {
		c.Users = []UserConfig{
			{Name: "root", Token: "tok-admin", Roles: []string{roleAdmin}},
			{Name: "hi", TokenSHA256: sha("tok-high"), Roles: []string{roleLogViewer}, Scope: ScopeConfig{Queues: []string{"high"}}},
			{Name: "alice", Token: "tok-alice", Roles: []string{roleLogViewer}, Scope: ScopeConfig{Attribute: &AttributeRule{Key: "job.owner", Values: []string{"alice"}}}},
			{Name: "tracer", Token: "tok-trace", Roles: []string{roleTraceViewer}},
		}
	})
}

func scopeCorpus() []rec {
	return []rec{
		{job: "h1", queue: "high", msg: "high queue line", attrs: map[string]any{"job.owner": "bob"}},
		{job: "l1", queue: "low", msg: "low queue line", attrs: map[string]any{"job.owner": "alice"}},
		{job: "n1", msg: "no queue line"},
	}
}

func TestAuthMatrix(t *testing.T) {
	srv := rbacServer(t)
	paths := []struct{ method, path string }{
		{http.MethodPost, "/api/v1/logs/streams"},
		{http.MethodGet, "/api/v1/logs/streams"},
		{http.MethodGet, "/api/v1/logs/history"},
		{http.MethodGet, "/api/v1/logs/tail"},
		{http.MethodGet, "/api/v1/logs/streams/0123456789abcdef0123456789abcdef"},
		{http.MethodPatch, "/api/v1/logs/streams/0123456789abcdef0123456789abcdef"},
		{http.MethodDelete, "/api/v1/logs/streams/0123456789abcdef0123456789abcdef"},
		{http.MethodGet, "/api/v1/logs/streams/0123456789abcdef0123456789abcdef/events"},
	}
	for _, p := range paths {
		for _, tc := range []struct {
			token string
			want  int
		}{{"", 401}, {"wrong", 401}, {"tok-admin-but-longer", 401}, {"tok-trace", 403}} {
			code, b := srv.do(t, p.method, p.path, tc.token, nil)
			assert.Equal(t, tc.want, code, "%s %s token=%q: %s", p.method, p.path, tc.token, b)
			e := apiErr(t, b)
			assert.NotEmpty(t, e.Code)
			assert.NotContains(t, string(b), "tok-", "tokens are never echoed")
		}
	}
	// The WebSocket attach refuses before upgrading.
	_, err := tryDialWS("ws"+srv.base[4:]+"/api/v1/logs/tail", "", nil)
	assert.ErrorContains(t, err, "401")
	// The query parameter is for browsers' WebSocket and EventSource only (security_test.go).
	code, _ := srv.do(t, http.MethodGet, "/api/v1/logs/streams?access_token=tok-admin", "", nil)
	assert.Equal(t, http.StatusUnauthorized, code)
	// The OpenAPI document and health need no token.
	code, _ = srv.do(t, http.MethodGet, "/api/v1/openapi.json", "", nil)
	assert.Equal(t, http.StatusOK, code)
}

// TestScopeIsolation: a scoped user never receives another scope's lines, whatever the
// filter, on streams, history and tail; stream ids are bound to their creator.
func TestScopeIsolation(t *testing.T) {
	srv := rbacServer(t)
	srv.tok = "tok-admin"
	hiAll := srv.create(t, "tok-high", map[string]any{})
	hiOTTL := srv.create(t, "tok-high", map[string]any{"filters": map[string]any{"ottl": `attributes["queue.name"] == "low"`}})
	hiJob := srv.create(t, "tok-high", map[string]any{"filters": map[string]any{"job_id": "l1"}})
	alice := srv.create(t, "tok-alice", map[string]any{})
	admin := srv.create(t, "tok-admin", map[string]any{})
	wsHi := dialWS(t, hiAll.Endpoint, "tok-high", nil)
	wsAlice := dialWS(t, alice.Endpoint, "tok-alice", nil)
	wsAdmin := dialWS(t, admin.Endpoint, "tok-admin", nil)
	sseOTTL := openSSE(t, hiOTTL.SSEEndpoint, "tok-high", nil)
	sseJob := openSSE(t, hiJob.SSEEndpoint, "tok-high", nil)

	srv.publish(t, scopeCorpus()...)
	srv.publish(t, rec{job: "h2", queue: "high", msg: "sentinel"})
	assert.Equal(t, []string{"high queue line", "sentinel"}, messages(readWS(t, wsHi, nEntries(2))))
	assert.Equal(t, []string{"low queue line"}, messages(readWS(t, wsAlice, nEntries(1))))
	assert.Len(t, messages(readWS(t, wsAdmin, nEntries(4))), 4)
	waitStats(t, srv, hiOTTL.StreamID, func(st map[string]any) bool { return st["lines_filtered"].(float64) == 4 })
	waitStats(t, srv, hiJob.StreamID, func(st map[string]any) bool { return st["lines_filtered"].(float64) == 4 })
	sseOTTL.close()
	sseJob.close()
	for _, c := range []*sseClient{sseOTTL, sseJob} {
		var got []msg
		for m := range c.events {
			got = append(got, m)
		}
		assert.Empty(t, entries(got), "a filter cannot widen the scope")
	}

	// History and one-shot tail are scoped too.
	code, b := srv.do(t, http.MethodGet, "/api/v1/logs/history", "tok-high", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(b), "high queue line")
	assert.NotContains(t, string(b), "low queue line")
	assert.NotContains(t, string(b), "no queue line")
	code, b = srv.do(t, http.MethodGet, "/api/v1/logs/history?job_id=l1", "tok-alice", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(b), "low queue line")
	tail := openSSE(t, srv.base+"/api/v1/logs/tail?tail_lines=-1", "tok-alice", nil).readAll(t)
	assert.Equal(t, []string{"low queue line"}, messages(tail))

	// Asking for a queue outside the scope is a 403, not an empty stream.
	code, b = srv.do(t, http.MethodPost, "/api/v1/logs/streams", "tok-high", map[string]any{"filters": map[string]any{"queue_name": "low"}})
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, "filters.queue_name", apiErr(t, b).Field)
	code, _ = srv.do(t, http.MethodGet, "/api/v1/logs/history?queue_name=low", "tok-high", nil)
	assert.Equal(t, http.StatusForbidden, code)

	// Another user's stream does not exist for you; the admin can see it.
	for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		code, _ = srv.do(t, m, "/api/v1/logs/streams/"+hiAll.StreamID, "tok-alice", map[string]any{})
		assert.Equal(t, http.StatusNotFound, code, m)
	}
	_, err := tryDialWS(hiAll.Endpoint, "tok-alice", nil)
	assert.ErrorContains(t, err, "404")
	code, _ = srv.do(t, http.MethodGet, "/api/v1/logs/streams/"+hiAll.StreamID, "tok-admin", nil)
	assert.Equal(t, http.StatusOK, code)
	code, b = srv.do(t, http.MethodGet, "/api/v1/logs/streams", "tok-alice", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 1, strings.Count(string(b), `"stream_id"`), "a user lists only their own streams: %s", b)
	code, b = srv.do(t, http.MethodGet, "/api/v1/logs/streams?all=true", "tok-admin", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 5, strings.Count(string(b), `"stream_id"`))

	assert.Len(t, hiAll.StreamID, 32, "128-bit ids")
	assert.NotEqual(t, hiAll.StreamID, hiOTTL.StreamID)
}

func TestAllowsJob(t *testing.T) {
	attrs := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	both := &principal{Name: "x", roles: []string{roleTraceViewer}, scope: ScopeConfig{Queues: []string{"high"}, Attribute: &AttributeRule{Key: "job.owner", Values: []string{"x"}}}}
	assert.True(t, both.AllowsJob("high", attrs(map[string]string{"job.owner": "x"})))
	assert.False(t, both.AllowsJob("low", attrs(map[string]string{"job.owner": "x"})))
	assert.False(t, both.AllowsJob("high", attrs(map[string]string{"job.owner": "y"})))
	assert.False(t, both.AllowsJob("high", attrs(nil)), "a missing attribute never widens access")
	assert.False(t, both.AllowsJob("high", nil))
	assert.True(t, anonymous.AllowsJob("", nil))
	assert.True(t, both.can(roleTraceViewer))
	assert.False(t, both.can(roleLogViewer))
	assert.True(t, anonymous.can(roleLogViewer), "admin holds every role")
}

func TestLoopbackRule(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		users    bool
		ok       bool
	}{
		{"127.0.0.1:0", false, true},
		{"localhost:0", false, true},
		{"[::1]:0", false, true},
		{"0.0.0.0:0", false, false},
		{":0", false, false},
		{"0.0.0.0:0", true, true},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.NetAddr.Endpoint = tc.endpoint
			// An admin whose token variable is unset is disabled: the loopback rule applies.
			cfg.Users = []UserConfig{{Name: "env-admin", Token: "", Roles: []string{roleAdmin}}}
			if tc.users {
				cfg.Users = []UserConfig{{Name: "a", Token: "t", Roles: []string{roleAdmin}}}
			}
			require.NoError(t, cfg.Validate())
			core, logs := observer.New(zap.WarnLevel)
			set := extensiontest.NewNopSettings(typ)
			set.Logger = zap.New(core)
			ext := newTailstream(cfg, set)
			err := ext.Start(context.Background(), componenttest.NewNopHost())
			if !tc.ok {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "not a loopback address")
				return
			}
			if err != nil && strings.Contains(err.Error(), "cannot assign") {
				t.Skip("no IPv6 loopback here")
			}
			require.NoError(t, err)
			require.NoError(t, ext.Shutdown(context.Background()))
			if !tc.users {
				assert.Equal(t, 1, logs.FilterMessageSnippet("no users configured").Len(), "warns at start")
			}
		})
	}
}

func TestAuditLog(t *testing.T) {
	srv := rbacServer(t)
	v := srv.create(t, "tok-high", map[string]any{"filters": map[string]any{"job_id": "j1", "text": "boom"}})
	c := dialWS(t, v.Endpoint, "tok-high", nil)
	waitAttached(t, srv, 1)
	srv.do(t, http.MethodPatch, "/api/v1/logs/streams/"+v.StreamID, "tok-high", map[string]any{"status": "paused"})
	srv.do(t, http.MethodDelete, "/api/v1/logs/streams/"+v.StreamID, "tok-high", nil)
	_, _, _ = c.Read(context.Background())
	require.Eventually(t, func() bool { return srv.audit.FilterField(zap.String("action", "stream.delete")).Len() == 1 }, 5*time.Second, 10*time.Millisecond)
	for _, action := range []string{"stream.create", "stream.attach", "stream.change", "stream.delete"} {
		entries := srv.audit.FilterLoggerName("audit").FilterField(zap.String("action", action)).All()
		require.Len(t, entries, 1, action)
		assert.Equal(t, "hi", entries[0].ContextMap()["user"])
		assert.Equal(t, v.StreamID, entries[0].ContextMap()["stream_id"])
	}
	created := srv.audit.FilterField(zap.String("action", "stream.create")).All()[0].ContextMap()
	assert.Contains(t, fmt.Sprint(created["filters"]), "boom", "the audit records the filter")
	for _, e := range srv.audit.All() {
		for _, v := range e.ContextMap() {
			assert.NotContains(t, toString(v), "tok-", "no token in the audit log")
		}
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	default:
		b, _ := jsonMarshal(x)
		return string(b)
	}
}
