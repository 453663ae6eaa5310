package piiredactionprocessor

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestDebugLogsNeverContainValues runs at debug level with OTTL conditions (whose own debug
// logging would dump the record) and checks no log line carries an original value.
func TestDebugLogsNeverContainValues(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	set := processortest.NewNopSettings(NewFactory().Type())
	set.Logger = zap.New(core)
	cfg := defaultCfg()
	cfg.Conditions.LogRecord = []string{`attributes["tenant"] == "eu"`, `attributes["missing"]["x"] == 1`}
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	ld, _ := oneLog("card 4111111111111111 mail secret.person@example.com", map[string]any{"tenant": "eu", "password": "hunter2"})
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.NoError(t, p.Shutdown(context.Background()))

	require.NotZero(t, logs.FilterMessage("redacted values").Len(), "debug summary is logged")
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + toString(v)
		}
		for _, secret := range []string{"4111111111111111", "secret.person", "hunter2"} {
			assert.NotContains(t, line, secret)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()).EncodeEntry(zapcore.Entry{}, []zapcore.Field{zap.Any("v", v)})
	if b == nil {
		return ""
	}
	return b.String()
}

// TestConcurrentBatches shares one processor between goroutines (the key cache and tally pool
// are shared); run with -race.
func TestConcurrentBatches(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(NewFactory().Type()), defaultCfg(), sink)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				ld, _ := oneLog("mail a@example.com", map[string]any{"password": "x", "note": "card 4111111111111111"})
				assert.NoError(t, p.ConsumeLogs(context.Background(), ld))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, sink.AllLogs(), 200)
	for _, ld := range sink.AllLogs() {
		lr := firstLog(ld)
		assert.Equal(t, "mail [REDACTED:email]", lr.Body().Str())
		assert.Equal(t, map[string]any{"password": "[REDACTED:key_name]", "note": "card [REDACTED:credit_card]"}, lr.Attributes().AsRaw())
	}
}

var _ = plog.NewLogs
