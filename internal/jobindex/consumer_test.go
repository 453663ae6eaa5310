package jobindex

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func attrs(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConsumerJob(t *testing.T) {
	for _, tc := range []struct {
		name  string
		get   func(string) (string, bool)
		ids   []string
		want  SpanJob
		found bool
	}{
		{"bullmq-otel", attrs("bullmq.job.id", "7", "bullmq.queue.name", "mails", "bullmq.job.attempts.made", "2",
			"bullmq.job.name", "send", "bullmq.worker.id", "w-uuid"),
			nil, SpanJob{ID: "mails:7", Queue: "mails", Type: "send", Attempt: 2, Worker: "w-uuid"}, true},
		{"bullmq id without queue is not enough", attrs("bullmq.job.id", "7"), nil, SpanJob{}, false},
		{"semconv 1.24+", attrs("messaging.message.id", "m1", "messaging.destination.name", "q"), nil,
			SpanJob{ID: "m1", Queue: "q"}, true},
		{"ruby sidekiq", attrs("messaging.message_id", "jid1", "messaging.destination", "default", "messaging.sidekiq.job_class", "HardJob"), nil,
			SpanJob{ID: "jid1", Queue: "default", Type: "HardJob"}, true},
		{"python celery", attrs("messaging.message_id", "t1", "celery.retries", "2", "celery.task_name", "tasks.add"), nil,
			SpanJob{ID: "t1", Type: "tasks.add", Attempt: 3}, true},
		{"configured attribute wins", attrs("my.job", "x", "messaging.message.id", "m"), []string{"my.job"},
			SpanJob{ID: "x"}, true},
		{"bad counts ignored", attrs("messaging.message.id", "m", "bullmq.job.attempts.made", "-1", "celery.retries", "x"), nil,
			SpanJob{ID: "m"}, true},
		{"no message id", attrs("queue.name", "q", "job.id", "j"), nil, SpanJob{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ConsumerJob(tc.get, tc.ids)
			require.Equal(t, tc.found, ok)
			require.Equal(t, tc.want, got)
		})
	}
}
