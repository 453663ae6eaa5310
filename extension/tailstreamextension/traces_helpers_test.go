package tailstreamextension

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
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

func mustTID(s string) pcommon.TraceID {
	var id pcommon.TraceID
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		panic(err)
	}
	return id
}

func mustSID(s string) pcommon.SpanID {
	var id pcommon.SpanID
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		panic(err)
	}
	return id
}

// spanSpec is one span of a hand-built trace; times are ms after base.
type spanSpec struct {
	service, name, id, parent string
	kind                      ptrace.SpanKind
	start, end                int
	errMsg                    string // non-empty: status ERROR with this message
	attrs                     map[string]any
	events                    []string
}

var base = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func at(ms int) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(base.Add(time.Duration(ms) * time.Millisecond))
}

func buildTraces(traceID string, specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	byService := map[string]ptrace.SpanSlice{}
	for _, sp := range specs {
		ss, ok := byService[sp.service]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", sp.service)
			ss = rs.ScopeSpans().AppendEmpty().Spans()
			byService[sp.service] = ss
		}
		s := ss.AppendEmpty()
		s.SetTraceID(mustTID(traceID))
		s.SetSpanID(mustSID(sp.id))
		if sp.parent != "" {
			s.SetParentSpanID(mustSID(sp.parent))
		}
		s.SetName(sp.name)
		s.SetKind(sp.kind)
		s.SetStartTimestamp(at(sp.start))
		s.SetEndTimestamp(at(sp.end))
		if sp.errMsg != "" {
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage(sp.errMsg)
		} else {
			s.Status().SetCode(ptrace.StatusCodeOk)
		}
		if err := s.Attributes().FromRaw(sp.attrs); err != nil {
			panic(err)
		}
		for _, e := range sp.events {
			ev := s.Events().AppendEmpty()
			ev.SetName(e)
			ev.SetTimestamp(at(sp.end))
		}
	}
	return td
}

// lifecycleLog builds one queuejob lifecycle log record (docs/CONVENTIONS.md).
func lifecycleLog(ld plog.Logs, event, jobID, queue, worker string, attempt int, traceID, spanID string, ms int) {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "jobqueue")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(at(ms))
	lr.Body().SetStr(strings.ReplaceAll(strings.TrimPrefix(event, "job_"), "_", " "))
	lr.SetSeverityText("INFO")
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.Attributes().PutStr("event.name", event)
	lr.Attributes().PutStr("job.id", jobID)
	lr.Attributes().PutStr("queue.name", queue)
	if worker != "" {
		lr.Attributes().PutStr("worker.id", worker)
	}
	lr.Attributes().PutInt("job.attempt", int64(attempt))
	if traceID != "" {
		lr.SetTraceID(mustTID(traceID))
	}
	if spanID != "" {
		lr.SetSpanID(mustSID(spanID))
	}
}

type configopaqueString = configopaque.String

func toJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
