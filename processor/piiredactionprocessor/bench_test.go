package piiredactionprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
)

// The benchmark input: one batch of 200 worker log records shaped like the filelog receiver's
// output for go-redis-work-queue's zap lines (body = msg, the other fields as attributes), with
// PII seeded into one record in five (error texts, bodies, payload attributes).
var piiSeeds = []string{
	"payment failed for john.doe@example.com: card 4111 1111 1111 1111 declined",
	"charge ok card=5555555555554444 amount=19.99",
	"kyc failed for ssn 123-45-6789 (applicant 42)",
	"callback failed: call +1 (555) 123-4567 or mail support@shop.example.com",
	"auth failed: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3b3JrZXIifQ.c2lnbmF0dXJlMTIz",
	"git clone with ghp_16C7e42F292c6912E7710c838347Ae178B4a failed",
	"s3 upload denied for AKIAIOSFODNN7EXAMPLE from 10.0.3.17",
	"GET https://admin:hunter2@db.example.com/backup?token=abc123 returned 401",
	"sepa debit DE89370400440532013000 bounced for jane@example.org",
	"refund to card 3782 822463 10005 for order 98765432",
	// Detectors of issue 14: brands beyond Visa/MC/Amex, national phones with extensions,
	// free-text secrets and lower-case IBANs.
	"refund to jcb 3530-1113-3330-0000 failed, call +44 20 7946 0958 ext. 204",
	"build log leaked aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"login failed: password is hunter2, payout to gb82west12345698765432",
	"callback to (11) 2345-6789 or 07911 123 456 requested",
	"maestro 5018 0000 0009 declined, api key: k9f8e7d6c5b4a3",
}

var cleanMsgs = []string{
	"job completed", "job retried", "enqueued job", "requeued abandoned job", "job dead-lettered",
}

func benchLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "jobqueue-worker")
	rl.Resource().Attributes().PutStr("host.name", "vm-15485")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < 200; i++ {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1795775244151045000 + int64(i)*1000))
		lr.SetSeverityText("info")
		msg := cleanMsgs[i%len(cleanMsgs)]
		a := lr.Attributes()
		a.PutStr("caller", fmt.Sprintf("worker/worker.go:%d", 200+i%40))
		a.PutStr("id", fmt.Sprintf("%032x", 0x353d84966cb8257f+i))
		a.PutStr("trace_id", fmt.Sprintf("b0ebecbb95fc949a97f3927a%08x", i))
		a.PutStr("span_id", fmt.Sprintf("90f6b561%08x", i))
		a.PutStr("worker_id", fmt.Sprintf("vm-15485-1795775243850107691-4b53-%d", i%8))
		a.PutStr("queue", "jobqueue:high_priority")
		a.PutInt("retries", int64(i%3))
		a.PutDouble("ts", 1795775244.151045+float64(i)/1000)
		a.PutStr("filepath", fmt.Sprintf("/data/in/batch-%04d/file-%06d.csv", i%50, i))
		a.PutInt("filesize", int64(1048576+i*17))
		if i%5 == 0 {
			seed := piiSeeds[(i/5)%len(piiSeeds)]
			if i%10 == 0 {
				msg = seed
				a.PutStr("error", "exit status 1 after 1500ms (attempt 2 of 3), see worker.go:231")
			} else {
				a.PutStr("error", seed)
			}
			a.PutStr("stacktrace", strings.Repeat("main.(*Worker).process\n\t/src/worker/worker.go:231 +0x1a5\n", 4))
		}
		lr.Body().SetStr(msg)
	}
	return ld
}

// contribRegexes is the closest contrib equivalent: email, card, SSN and token regexes.
var contribRegexes = []string{
	`[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}`,
	`\b(?:4[0-9]{3}|5[1-5][0-9]{2}|3[47][0-9]{2}|6011)[ -]?[0-9]{4,6}[ -]?[0-9]{4,5}[ -]?[0-9]{0,4}\b`,
	`\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b`,
	`ghp_[A-Za-z0-9]{36}`,
	`AKIA[0-9A-Z]{16}`,
	`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`,
	`(?i)bearer\s+[A-Za-z0-9._~+/=-]+`,
	`xox[baprs]-[A-Za-z0-9-]+`,
	`sk_live_[A-Za-z0-9]+`,
}

// contribExtraRegexes adds phone, IPv4, IBAN and URL-credential regexes, closer to our detector set.
var contribExtraRegexes = []string{
	`\+?[0-9]{1,3}[ -]?\(?[0-9]{3}\)?[ -]?[0-9]{3}[ -]?[0-9]{4}`,
	`\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b`,
	`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b`,
	`://[^/\s:@]+:[^/\s@]+@`,
	`(?i)(?:token|password|api_key|secret)=[^&\s]+`,
}

func newContribLogs(b testing.TB, regexes []string, next consumer.Logs) processor.Logs {
	f := redactionprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*redactionprocessor.Config)
	cfg.AllowAllKeys = true
	cfg.BlockedValues = regexes
	cfg.Summary = "silent"
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(b, err)
	return p
}

func newPIILogs(b testing.TB, next consumer.Logs) processor.Logs {
	f := NewFactory()
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), next)
	require.NoError(b, err)
	return p
}

// countRedactions runs p once over the bench input and counts masked spans in the output.
func countRedactions(b testing.TB, mk func(consumer.Logs) processor.Logs, marker string) int {
	sink := new(consumertest.LogsSink)
	p := mk(sink)
	require.NoError(b, p.ConsumeLogs(context.Background(), benchLogs()))
	n := 0
	out := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < out.Len(); i++ {
		n += strings.Count(out.At(i).Body().AsString(), marker)
		out.At(i).Attributes().Range(func(_ string, v pcommon.Value) bool {
			n += strings.Count(v.AsString(), marker)
			return true
		})
	}
	return n
}

func benchProcessor(b *testing.B, p processor.Logs, redactions int) {
	in := benchLogs()
	records := in.LogRecordCount()
	ctx := context.Background()
	require.NoError(b, p.Start(ctx, componentNopHost{}))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ld := plog.NewLogs()
		in.CopyTo(ld)
		if err := p.ConsumeLogs(ctx, ld); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(redactions), "redactions/batch")
	require.NoError(b, p.Shutdown(ctx))
}

// BenchmarkRedaction compares piiredaction with contrib's redactionprocessor v0.159.0 on the
// same batch; run the sub-benchmarks in one invocation so they share machine conditions.
// "copy_only" is the cost of cloning the input each iteration, included in every other figure.
func BenchmarkRedaction(b *testing.B) {
	b.Run("copy_only", func(b *testing.B) {
		in := benchLogs()
		b.ReportAllocs()
		for b.Loop() {
			ld := plog.NewLogs()
			in.CopyTo(ld)
		}
		b.ReportMetric(float64(in.LogRecordCount())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("piiredaction", func(b *testing.B) {
		n := countRedactions(b, func(c consumer.Logs) processor.Logs { return newPIILogs(b, c) }, "[REDACTED:")
		benchProcessor(b, newPIILogs(b, consumertest.NewNop()), n)
	})
	b.Run("contrib_redaction_9_regexes", func(b *testing.B) {
		n := countRedactions(b, func(c consumer.Logs) processor.Logs { return newContribLogs(b, contribRegexes, c) }, "****")
		benchProcessor(b, newContribLogs(b, contribRegexes, consumertest.NewNop()), n)
	})
	all := append(append([]string(nil), contribRegexes...), contribExtraRegexes...)
	b.Run("contrib_redaction_14_regexes", func(b *testing.B) {
		n := countRedactions(b, func(c consumer.Logs) processor.Logs { return newContribLogs(b, all, c) }, "****")
		benchProcessor(b, newContribLogs(b, all, consumertest.NewNop()), n)
	})
}

// BenchmarkScanValue measures the scanner alone on a clean and a PII-bearing value.
func BenchmarkScanValue(b *testing.B) {
	r, err := newRedactor(createDefaultConfig().(*Config))
	require.NoError(b, err)
	for name, v := range map[string]string{
		"clean": "job completed in 1500ms on worker vm-15485-1795775243850107691-4b53-4 queue jobqueue:high_priority file /data/in/batch-0042/file-000123.csv",
		"pii":   piiSeeds[0] + " " + piiSeeds[3],
	} {
		b.Run(name, func(b *testing.B) {
			t := r.newTally()
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				_, _, _ = r.redactString(v, fieldLogBody, t)
			}
		})
	}
}

type componentNopHost struct{}

func (componentNopHost) GetExtensions() map[component.ID]component.Component { return nil }
