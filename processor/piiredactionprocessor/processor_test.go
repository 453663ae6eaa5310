package piiredactionprocessor

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/jobtrace/jobtrace/processor/piiredactionprocessor/internal/metadatatest"
)

const testKey = "0123456789abcdef0123456789abcdef"

func runLogs(t *testing.T, cfg *Config, ld plog.Logs) plog.Logs {
	t.Helper()
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(NewFactory().Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, sink.AllLogs(), 1)
	return sink.AllLogs()[0]
}

func runTraces(t *testing.T, cfg *Config, td ptrace.Traces) ptrace.Traces {
	t.Helper()
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(NewFactory().Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	require.NoError(t, p.Shutdown(context.Background()))
	return sink.AllTraces()[0]
}

func oneLog(body string, attrs map[string]any) (plog.Logs, plog.LogRecord) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(body)
	_ = lr.Attributes().FromRaw(attrs)
	return ld, lr
}

func firstLog(ld plog.Logs) plog.LogRecord {
	return ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
}

func defaultCfg() *Config { return createDefaultConfig().(*Config) }

func TestLogBodyAndAttributes(t *testing.T) {
	ld, _ := oneLog("charge failed for john@example.com card 4111 1111 1111 1111 ssn 123-45-6789 token ghp_16C7e42F292c6912E7710c838347Ae178B4a",
		map[string]any{
			"error":       "smtp rejected bob@example.org",
			"job.id":      "bob@example.org",
			"trace_id":    "4bf92f3577b34da6a3ce929d0e0e4736",
			"id":          "4111111111111111",
			"worker_id":   "10.0.0.1-1234-1700000000123456789-ab12-3",
			"password":    "hunter2",
			"max_tokens":  4096,
			"retries":     2,
			"card_amount": "12.50",
		})
	out := firstLog(runLogs(t, defaultCfg(), ld))
	assert.Equal(t, "charge failed for [REDACTED:email] card [REDACTED:credit_card] ssn [REDACTED:ssn] token [REDACTED:github_token]", out.Body().Str())
	a := out.Attributes().AsRaw()
	assert.Equal(t, "smtp rejected [REDACTED:email]", a["error"])
	// Correlation keys are never touched, even when they look like PII.
	assert.Equal(t, "bob@example.org", a["job.id"])
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", a["trace_id"])
	assert.Equal(t, "4111111111111111", a["id"])
	assert.Equal(t, "10.0.0.1-1234-1700000000123456789-ab12-3", a["worker_id"])
	// Key-name rule: the whole value, whatever it is.
	assert.Equal(t, "[REDACTED:key_name]", a["password"])
	assert.Equal(t, int64(4096), a["max_tokens"])
	assert.Equal(t, int64(2), a["retries"])
	assert.Equal(t, "[REDACTED:key_name]", a["card_amount"], "'card' is a sensitive key word")
}

func TestNestedBodyMapAndSlice(t *testing.T) {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(t, lr.Body().SetEmptyMap().FromRaw(map[string]any{
		"msg": "user alice@example.com",
		"user": map[string]any{
			"phone":   "+1 (555) 123-4567",
			"api_key": "abc",
			"tags":    []any{"ok", "4111111111111111", map[string]any{"Authorization": "Bearer xyz"}},
		},
		"amount": int64(4111111111111111),
		"small":  int64(42),
	}))
	out := firstLog(runLogs(t, defaultCfg(), ld)).Body().Map().AsRaw()
	assert.Equal(t, "user [REDACTED:email]", out["msg"])
	u := out["user"].(map[string]any)
	assert.Equal(t, "[REDACTED:phone]", u["phone"])
	assert.Equal(t, "[REDACTED:key_name]", u["api_key"])
	tags := u["tags"].([]any)
	assert.Equal(t, "ok", tags[0])
	assert.Equal(t, "[REDACTED:credit_card]", tags[1])
	assert.Equal(t, "[REDACTED:key_name]", tags[2].(map[string]any)["Authorization"])
	assert.Equal(t, "[REDACTED:credit_card]", out["amount"], "card numbers logged as integers")
	assert.Equal(t, int64(42), out["small"])
}

func TestActions(t *testing.T) {
	const in = "card 4111 1111 1111 1111 mail bob@example.com"
	tests := []struct {
		name string
		set  func(c *Config)
		body string
		attr any // expected value of attribute "msg" (nil: dropped)
	}{
		{"mask default", func(*Config) {}, "card [REDACTED:credit_card] mail [REDACTED:email]", "card [REDACTED:credit_card] mail [REDACTED:email]"},
		{"mask label", func(c *Config) { c.Detectors = map[string]DetectorConfig{"email": {Label: "EMAIL"}} },
			"card [REDACTED:credit_card] mail [REDACTED:EMAIL]", "card [REDACTED:credit_card] mail [REDACTED:EMAIL]"},
		{"fixed", func(c *Config) { c.DefaultAction = ActionFixed }, "card **** mail ****", "card **** mail ****"},
		{"fixed value", func(c *Config) {
			c.Detectors = map[string]DetectorConfig{"credit_card": {Action: ActionFixed, Value: "<card>"}}
		}, "card <card> mail [REDACTED:email]", "card <card> mail [REDACTED:email]"},
		{"partial", func(c *Config) { c.DefaultAction = ActionPartial },
			"card **** **** **** 1111 mail ***@example.com", "card **** **** **** 1111 mail ***@example.com"},
		{"drop removes the attribute, masks the body", func(c *Config) {
			c.Detectors = map[string]DetectorConfig{"credit_card": {Action: ActionDrop}}
		}, "card [REDACTED:credit_card] mail [REDACTED:email]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultCfg()
			tt.set(cfg)
			ld, _ := oneLog(in, map[string]any{"msg": in, "other": "x"})
			out := firstLog(runLogs(t, cfg, ld))
			assert.Equal(t, tt.body, out.Body().Str())
			v, ok := out.Attributes().Get("msg")
			if tt.attr == nil {
				assert.False(t, ok, "attribute should be dropped")
			} else {
				require.True(t, ok)
				assert.Equal(t, tt.attr, v.Str())
			}
			other, _ := out.Attributes().Get("other")
			assert.Equal(t, "x", other.Str())
		})
	}
}

func TestHashAction(t *testing.T) {
	hashOf := func(key, v string) string {
		cfg := defaultCfg()
		cfg.HMACKey = configopaque.String(key)
		cfg.Detectors = map[string]DetectorConfig{"email": {Action: ActionHash}}
		ld, _ := oneLog(v, nil)
		return firstLog(runLogs(t, cfg, ld)).Body().Str()
	}
	a1 := hashOf(testKey, "to bob@example.com")
	a2 := hashOf(testKey, "to bob@example.com")
	b := hashOf(testKey, "to eve@example.com")
	other := hashOf(strings.Repeat("k", 32), "to bob@example.com")
	assert.Regexp(t, `^to \[HMAC:email:[0-9a-f]{32}\]$`, a1)
	assert.Equal(t, a1, a2, "same value, same key: same hash (correlates across records)")
	assert.NotEqual(t, a1, b)
	assert.NotEqual(t, a1, other, "the key matters")
	assert.NotContains(t, a1, "bob")
}

func TestKeyNameRules(t *testing.T) {
	cfg := defaultCfg()
	cfg.ExtraSensitiveKeys = []string{"pin"}
	cfg.Detectors = map[string]DetectorConfig{"key_name": {Action: ActionDrop}}
	ld, _ := oneLog("x", map[string]any{
		"http.request.header.authorization": "Basic abc",
		"userPassword":                      "p",
		"x-api-key":                         "k",
		"set-cookie":                        "sid=1",
		"pin":                               1234,
		"discard_count":                     3,
		"max_tokens":                        5,
		"tokenizer":                         "bpe",
	})
	a := firstLog(runLogs(t, cfg, ld)).Attributes().AsRaw()
	assert.Equal(t, map[string]any{"discard_count": int64(3), "max_tokens": int64(5), "tokenizer": "bpe"}, a)

	cfg = defaultCfg()
	cfg.SensitiveKeys = []string{"pin"}
	ld, _ = oneLog("x", map[string]any{"pin": "1", "password": "pw"})
	a = firstLog(runLogs(t, cfg, ld)).Attributes().AsRaw()
	assert.Equal(t, "[REDACTED:key_name]", a["pin"])
	assert.Equal(t, "pw", a["password"], "sensitive_keys replaces the defaults")

	f := false
	cfg = defaultCfg()
	cfg.Detectors = map[string]DetectorConfig{"key_name": {Enabled: &f}}
	ld, _ = oneLog("x", map[string]any{"password": "pw"})
	assert.Equal(t, "pw", firstLog(runLogs(t, cfg, ld)).Attributes().AsRaw()["password"])
}

func TestAllowlists(t *testing.T) {
	cfg := defaultCfg()
	cfg.AllowedKeys = []string{"support.contact", "Password"}
	cfg.AllowedValues = []string{"support@example.com"}
	ld, _ := oneLog("mail support@example.com or bob@example.com", map[string]any{
		"support.contact": "bob@example.com",
		"password":        "kept because allowed keys match case-insensitively",
	})
	out := firstLog(runLogs(t, cfg, ld))
	assert.Equal(t, "mail support@example.com or [REDACTED:email]", out.Body().Str())
	assert.Equal(t, "bob@example.com", out.Attributes().AsRaw()["support.contact"])
	assert.Contains(t, out.Attributes().AsRaw()["password"], "kept")
}

func TestDisabledDetectorAndCustomRule(t *testing.T) {
	f := false
	cfg := defaultCfg()
	cfg.HMACKey = testKey
	cfg.Detectors = map[string]DetectorConfig{"ipv4": {Enabled: &f}}
	cfg.CustomRules = []CustomRule{
		{Name: "employee_id", Pattern: `EMP-[0-9]{6}`, Label: "employee"},
		{Name: "account", Pattern: `ACCT[0-9]{8}`, Validator: "luhn", Action: ActionHash},
	}
	ld, _ := oneLog("from 10.0.0.1 by EMP-123456 acct ACCT00000018 not ACCT00000017", nil)
	out := firstLog(runLogs(t, cfg, ld)).Body().Str()
	assert.Regexp(t, `^from 10\.0\.0\.1 by \[REDACTED:employee\] acct \[HMAC:account:[0-9a-f]{32}\] not ACCT00000017$`, out)
}

func TestResourceAndScopeAttributes(t *testing.T) {
	ld, _ := oneLog("ok", nil)
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("host.ip", "10.1.2.3")
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("service.name", "jobqueue")
	ld.ResourceLogs().At(0).ScopeLogs().At(0).Scope().Attributes().PutStr("owner", "ops@example.com")
	out := runLogs(t, defaultCfg(), ld)
	ra := out.ResourceLogs().At(0).Resource().Attributes().AsRaw()
	assert.Equal(t, "[REDACTED:ipv4]", ra["host.ip"])
	assert.Equal(t, "jobqueue", ra["service.name"])
	assert.Equal(t, "[REDACTED:email]", out.ResourceLogs().At(0).ScopeLogs().At(0).Scope().Attributes().AsRaw()["owner"])

	cfg := defaultCfg()
	cfg.Scope.ResourceAttributes = false
	cfg.Scope.LogBody = false
	ld, _ = oneLog("bob@example.com", nil)
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("host.ip", "10.1.2.3")
	out = runLogs(t, cfg, ld)
	assert.Equal(t, "10.1.2.3", out.ResourceLogs().At(0).Resource().Attributes().AsRaw()["host.ip"])
	assert.Equal(t, "bob@example.com", firstLog(out).Body().Str())
}

func TestSpans(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("GET /users/bob@example.com")
	span.SetTraceID(pcommon.TraceID{1, 2, 3})
	span.Attributes().PutStr("http.url", "https://u:pw@api.example.com/x?token=abc")
	span.Attributes().PutStr("job.id", "4111111111111111")
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage("declined 4111111111111111")
	ev := span.Events().AppendEmpty()
	ev.SetName("mail to a@example.com")
	ev.Attributes().PutStr("exception.message", "ssn 123-45-6789 invalid")
	link := span.Links().AppendEmpty()
	link.Attributes().PutStr("peer", "2001:db8::1")

	out := runTraces(t, defaultCfg(), td).ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, "GET /users/[REDACTED:email]", out.Name())
	assert.Equal(t, "https://[REDACTED:url_credentials]@api.example.com/x?token=[REDACTED:secret_param]", out.Attributes().AsRaw()["http.url"])
	assert.Equal(t, "4111111111111111", out.Attributes().AsRaw()["job.id"])
	assert.Equal(t, "declined [REDACTED:credit_card]", out.Status().Message())
	assert.Equal(t, "mail to [REDACTED:email]", out.Events().At(0).Name())
	assert.Equal(t, "ssn [REDACTED:ssn] invalid", out.Events().At(0).Attributes().AsRaw()["exception.message"])
	assert.Equal(t, "[REDACTED:ipv6]", out.Links().At(0).Attributes().AsRaw()["peer"])
	assert.Equal(t, pcommon.TraceID{1, 2, 3}, out.TraceID())
}

func TestConditions(t *testing.T) {
	cfg := defaultCfg()
	cfg.Conditions.LogRecord = []string{`attributes["tenant"] == "eu"`}
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	eu := lrs.AppendEmpty()
	eu.Body().SetStr("a@example.com")
	eu.Attributes().PutStr("tenant", "eu")
	us := lrs.AppendEmpty()
	us.Body().SetStr("a@example.com")
	us.Attributes().PutStr("tenant", "us")
	out := runLogs(t, cfg, ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	assert.Equal(t, "[REDACTED:email]", out.At(0).Body().Str())
	assert.Equal(t, "a@example.com", out.At(1).Body().Str())

	cfg = defaultCfg()
	cfg.Conditions.Span = []string{`kind == SPAN_KIND_SERVER`}
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	s1 := spans.AppendEmpty()
	s1.SetName("a@example.com")
	s1.SetKind(ptrace.SpanKindServer)
	s2 := spans.AppendEmpty()
	s2.SetName("a@example.com")
	s2.SetKind(ptrace.SpanKindClient)
	outSpans := runTraces(t, cfg, td).ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	assert.Equal(t, "[REDACTED:email]", outSpans.At(0).Name())
	assert.Equal(t, "a@example.com", outSpans.At(1).Name())
}

func TestAuditAttributesAndTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := defaultCfg()
	cfg.Audit.RecordAttributes = true
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	ld, _ := oneLog("a@example.com b@example.com 4111111111111111", map[string]any{"password": "x"})
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	lrs.AppendEmpty().Body().SetStr("nothing here")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.NoError(t, p.Shutdown(context.Background()))

	out := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	a := out.At(0).Attributes().AsRaw()
	assert.Equal(t, int64(4), a["redaction.total"])
	assert.Equal(t, int64(2), a["redaction.email"])
	assert.Equal(t, int64(1), a["redaction.credit_card"])
	assert.Equal(t, int64(1), a["redaction.key_name"])
	assert.Equal(t, 0, out.At(1).Attributes().Len(), "no audit attributes on clean records")

	dp := func(det, field string, v int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("detector", det), attribute.String("field", field)), Value: v}
	}
	metadatatest.AssertEqualProcessorPiiredactionRedactions(t, tel, []metricdata.DataPoint[int64]{
		dp("email", "log.body", 2), dp("credit_card", "log.body", 1), dp("key_name", "log.attributes", 1),
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorPiiredactionRecords(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("signal", "logs")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestMetricDataPoints(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("logins")
	dps := m.SetEmptySum().DataPoints()
	dps.AppendEmpty().Attributes().PutStr("user", "bob@example.com")
	h := rm.ScopeMetrics().At(0).Metrics().AppendEmpty().SetEmptyHistogram().DataPoints()
	h.AppendEmpty().Attributes().PutStr("client", "10.0.0.1")

	run := func(cfg *Config) pmetric.Metrics {
		sink := new(consumertest.MetricsSink)
		p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(NewFactory().Type()), cfg, sink)
		require.NoError(t, err)
		cp := pmetric.NewMetrics()
		md.CopyTo(cp)
		require.NoError(t, p.ConsumeMetrics(context.Background(), cp))
		require.NoError(t, p.Shutdown(context.Background()))
		return sink.AllMetrics()[0]
	}
	off := run(defaultCfg())
	assert.Equal(t, "bob@example.com", off.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0).Attributes().AsRaw()["user"])

	cfg := defaultCfg()
	cfg.Scope.MetricDataPointAttributes = true
	on := run(cfg).ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	assert.Equal(t, "[REDACTED:email]", on.At(0).Sum().DataPoints().At(0).Attributes().AsRaw()["user"])
	assert.Equal(t, "[REDACTED:ipv4]", on.At(1).Histogram().DataPoints().At(0).Attributes().AsRaw()["client"])
}

func TestConditionErrorFailsClosed(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := defaultCfg()
	// Indexing a string attribute is a runtime error in OTTL.
	cfg.Conditions.LogRecord = []string{`attributes["tenant"]["region"] == "eu"`}
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	ld, _ := oneLog("mail a@example.com", map[string]any{"tenant": "eu"})
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, "mail [REDACTED:email]", firstLog(sink.AllLogs()[0]).Body().Str())
	metadatatest.AssertEqualProcessorPiiredactionConditionErrors(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}

func TestDataPointConditions(t *testing.T) {
	md := pmetric.NewMetrics()
	dps := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints()
	a := dps.AppendEmpty().Attributes()
	a.PutStr("user", "bob@example.com")
	a.PutBool("pii", true)
	dps.AppendEmpty().Attributes().PutStr("user", "eve@example.com")

	cfg := defaultCfg()
	cfg.Scope.MetricDataPointAttributes = true
	cfg.Conditions.DataPoint = []string{`attributes["pii"] == true`}
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(NewFactory().Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	require.NoError(t, p.Shutdown(context.Background()))
	out := sink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
	assert.Equal(t, "[REDACTED:email]", out.At(0).Attributes().AsRaw()["user"])
	assert.Equal(t, "eve@example.com", out.At(1).Attributes().AsRaw()["user"])
}

func TestKeyNameActions(t *testing.T) {
	tests := []struct {
		action Action
		want   string // regexp for the value of "password"
	}{
		{ActionMask, `^\[REDACTED:key_name\]$`},
		{ActionFixed, `^\*\*\*\*$`},
		{ActionHash, `^\[HMAC:key_name:[0-9a-f]{32}\]$`},
		{ActionPartial, `^\*{7}-\*{5}-2345$`}, // separators are kept
	}
	for _, tt := range tests {
		t.Run(string(tt.action), func(t *testing.T) {
			cfg := defaultCfg()
			cfg.HMACKey = testKey
			cfg.Detectors = map[string]DetectorConfig{"key_name": {Action: tt.action}}
			ld, _ := oneLog("x", map[string]any{"password": "correct-horse-2345", "user": "bob"})
			a := firstLog(runLogs(t, cfg, ld)).Attributes().AsRaw()
			assert.Regexp(t, tt.want, a["password"])
			assert.Equal(t, "bob", a["user"])
		})
	}
}

// The issue-14 line: a free-text AWS secret, a 15-digit JCB card, a UK number with its
// extension and a lower-case IBAN, next to ids that must survive.
func TestFreeTextDetectors(t *testing.T) {
	const body = "job 8f14e45fceea167a5a36dedd4bea2543 failed: aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, " +
		"card 213100000000001, call +44 20 7946 0958 ext. 204, refund to gb82west12345698765432 at 2026-12-01T09:30:00Z"
	ld, _ := oneLog(body, map[string]any{"job.id": "8f14e45fceea167a5a36dedd4bea2543", "note": "password is hunter2"})
	out := firstLog(runLogs(t, defaultCfg(), ld))
	assert.Equal(t, "job 8f14e45fceea167a5a36dedd4bea2543 failed: aws secret [REDACTED:aws_secret_key], "+
		"card [REDACTED:credit_card], call [REDACTED:phone], refund to [REDACTED:iban] at 2026-12-01T09:30:00Z", out.Body().Str())
	attrs := out.Attributes().AsRaw()
	assert.Equal(t, "8f14e45fceea167a5a36dedd4bea2543", attrs["job.id"])
	assert.Equal(t, "password is [REDACTED:secret_keyword]", attrs["note"])
}

func TestPhoneRegionsAndSecretKeywordsConfig(t *testing.T) {
	cfg := defaultCfg()
	cfg.Phone.Regions = nil // international numbers only
	cfg.SecretKeywords = []string{"pin"}
	ld, _ := oneLog("call 020 7946 0958 or +44 20 7946 0958, pin: 4321", nil)
	assert.Equal(t, "call 020 7946 0958 or [REDACTED:phone], pin: [REDACTED:secret_keyword]", firstLog(runLogs(t, cfg, ld)).Body().Str())

	cfg = defaultCfg()
	cfg.Detectors = map[string]DetectorConfig{"secret_keyword": {Enabled: new(bool)}}
	ld, _ = oneLog("password is hunter2", nil)
	assert.Equal(t, "password is hunter2", firstLog(runLogs(t, cfg, ld)).Body().Str())
}
