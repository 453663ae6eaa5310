package asynq

import (
	"context"
	"strings"
	"testing"

	libasynq "github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/jobtrace/jobtrace/internal/testutil/asynqtest"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

// TestDecodeRealTaskMessages decodes the msg of tasks that asynq itself encoded, after asynq's
// own server retried and archived some, and compares every field with asynq's Inspector.
func TestDecodeRealTaskMessages(t *testing.T) {
	srv := redistest.Start(t)
	tasks := asynqtest.Enqueue(t, srv.Addr, 2)
	stop := asynqtest.RunServer(t, srv.Addr, nil)
	asynqtest.WaitFinished(t, srv.Addr, tasks)
	stop()

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: srv.Addr})
	defer insp.Close()
	seenRetried := false
	for _, w := range tasks {
		raw, err := rdb.HGet(context.Background(), "asynq:{"+w.Queue+"}:t:"+w.ID, "msg").Bytes()
		if err != nil {
			t.Fatalf("HGET msg of %s: %v", w.ID, err)
		}
		m, err := DecodeTaskMessage(raw)
		if err != nil {
			t.Fatalf("decode %s: %v", w.ID, err)
		}
		info, err := insp.GetTaskInfo(w.Queue, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != info.ID || m.Queue != info.Queue || m.Type != info.Type || string(m.Payload) != string(info.Payload) {
			t.Errorf("%s: decoded id/queue/type/payload %q/%q/%q/%q, asynq says %q/%q/%q/%q", w.ID,
				m.ID, m.Queue, m.Type, m.Payload, info.ID, info.Queue, info.Type, info.Payload)
		}
		if int(m.Retry) != info.MaxRetry || int(m.Retried) != info.Retried || m.ErrorMsg != info.LastErr {
			t.Errorf("%s: decoded retry/retried/error %d/%d/%q, asynq says %d/%d/%q", w.ID,
				m.Retry, m.Retried, m.ErrorMsg, info.MaxRetry, info.Retried, info.LastErr)
		}
		if lf := info.LastFailedAt; (m.LastFailedAt == 0) != lf.IsZero() || (!lf.IsZero() && lf.Unix() != m.LastFailedAt) {
			t.Errorf("%s: last_failed_at %d, asynq says %v", w.ID, m.LastFailedAt, lf)
		}
		if int64(info.Retention.Seconds()) != m.Retention {
			t.Errorf("%s: retention %d, asynq says %v", w.ID, m.Retention, info.Retention)
		}
		if len(m.Headers) != len(info.Headers) || m.Headers["traceparent"] != info.Headers["traceparent"] {
			t.Errorf("%s: headers %v, asynq says %v", w.ID, m.Headers, info.Headers)
		}
		sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(m.Headers)))
		if sc.TraceID() != w.TraceID {
			t.Errorf("%s: trace id from decoded headers %s, enqueued with %s", w.ID, sc.TraceID(), w.TraceID)
		}
		if m.Retried > 0 {
			seenRetried = true
		}
	}
	if !seenRetried {
		t.Fatal("workload produced no retried task; the test would not cover retried/error_msg")
	}
}

func TestDecodeTaskMessageRejectsMalformed(t *testing.T) {
	valid := protowire.AppendTag(nil, fID, protowire.BytesType)
	valid = protowire.AppendString(valid, "abc")
	if m, err := DecodeTaskMessage(valid); err != nil || m.ID != "abc" {
		t.Fatalf("minimal message: %v %+v", err, m)
	}
	unknown := protowire.AppendTag(append([]byte(nil), valid...), 99, protowire.Fixed64Type)
	unknown = protowire.AppendFixed64(unknown, 7)
	if _, err := DecodeTaskMessage(unknown); err != nil {
		t.Errorf("unknown field from a newer asynq must be skipped: %v", err)
	}
	wrongType := protowire.AppendTag(append([]byte(nil), valid...), fRetried, protowire.BytesType)
	wrongType = protowire.AppendString(wrongType, "x")
	notUTF8 := protowire.AppendTag(nil, fID, protowire.BytesType)
	notUTF8 = protowire.AppendBytes(notUTF8, []byte{0xff, 0xfe})
	for name, b := range map[string][]byte{
		"empty":           nil,
		"truncated":       valid[:len(valid)-1],
		"bad tag":         {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"wrong wire type": wrongType,
		"not utf8":        notUTF8,
		"json":            []byte(`{"id":"x"}`),
	} {
		if _, err := DecodeTaskMessage(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		} else if !strings.Contains(err.Error(), "asynq") {
			t.Errorf("%s: error %q does not say what failed", name, err)
		}
	}
}

func FuzzDecodeTaskMessage(f *testing.F) {
	b := protowire.AppendTag(nil, fID, protowire.BytesType)
	b = protowire.AppendString(b, "id")
	b = protowire.AppendTag(b, fHeaders, protowire.BytesType)
	entry := protowire.AppendTag(nil, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "traceparent")
	b = protowire.AppendBytes(b, entry)
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeTaskMessage(in)
		if err == nil && m.ID == "" {
			t.Fatal("accepted a message without id")
		}
	})
}
