package jobtailtest // import "github.com/jobtrace/jobtrace/internal/jobtailclient/jobtailtest"

import (
	"time"

	"github.com/jobtrace/jobtrace/internal/jobtailclient"
)

// Trace ids and job ids of Seed's data, for assertions.
const (
	JobOK      = "job-ok-1"
	JobRetried = "job-retry-2"
	JobDead    = "job-dead-3"
	TraceOK    = "4bf92f3577b34da6a3ce929d0e0e4736"
	TraceDead  = "0af7651916cd43dd8448eb211c80319c"
	WorkerA    = "host-1234-1700000000000000000-ab12-0"
)

// Seed fills the fake with three jobs (succeeded, retried, dead-lettered), traces for two of
// them (the dead-lettered one with an error span off the critical path's end), and a few
// log lines. base anchors every timestamp so renders are reproducible.
func (s *Server) Seed(base time.Time) {
	s.AddJob(jobtailclient.Job{ID: JobOK, Queue: "high_priority", Status: jobtailclient.StatusSucceeded, Attempts: 1,
		WorkerID: WorkerA, Started: base, Ended: base.Add(2340 * time.Millisecond), TraceID: TraceOK})
	s.AddJob(jobtailclient.Job{ID: JobRetried, Queue: "low_priority", Status: jobtailclient.StatusRetried, Attempts: 2,
		WorkerID: WorkerA, Started: base.Add(time.Second), Ended: base.Add(1500 * time.Millisecond), TraceID: "aaaabbbbccccddddeeeeffff00001111"})
	s.AddJob(jobtailclient.Job{ID: JobDead, Queue: "high_priority", Status: jobtailclient.StatusDeadLettered, Attempts: 3,
		WorkerID: WorkerA, Started: base.Add(2 * time.Second), Ended: base.Add(2*time.Second + 900*time.Millisecond), TraceID: TraceDead})

	s.AddTrace(JobOK, OKTrace(base), "http://localhost:16686/trace/"+TraceOK)
	s.AddTrace(JobDead, DeadTrace(base.Add(2*time.Second)), "http://localhost:16686/trace/"+TraceDead)

	s.AppendLog(jobtailclient.LogEntry{Timestamp: base, Level: "info", Service: "jobqueue", JobID: JobOK, WorkerID: WorkerA,
		QueueName: "high_priority", TraceID: TraceOK, Message: "job started"})
	s.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(2340 * time.Millisecond), Level: "info", Service: "jobqueue", JobID: JobOK,
		WorkerID: WorkerA, QueueName: "high_priority", TraceID: TraceOK, Message: "job completed"})
	s.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(2 * time.Second), Level: "info", Service: "jobqueue", JobID: JobDead,
		WorkerID: WorkerA, QueueName: "high_priority", TraceID: TraceDead, Message: "job started"})
	s.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(2*time.Second + 800*time.Millisecond), Level: "error", Service: "worker",
		JobID: JobDead, WorkerID: WorkerA, QueueName: "high_priority", TraceID: TraceDead, Message: "upload failed: connection refused",
		Attributes: map[string]any{"error": "dial tcp 10.0.0.7:443: connection refused"}})
	s.AppendLog(jobtailclient.LogEntry{Timestamp: base.Add(2*time.Second + 900*time.Millisecond), Level: "error", Service: "jobqueue",
		JobID: JobDead, WorkerID: WorkerA, QueueName: "high_priority", TraceID: TraceDead, Message: "job dead-lettered"})
}

// OKTrace is a four-span trace: enqueue (PRODUCER) → process (CONSUMER) → {download, db
// query}; the critical path runs through process and db query.
func OKTrace(base time.Time) jobtailclient.TraceSummary {
	root := jobtailclient.Span{SpanID: "00f067aa0ba902b7", OperationName: "enqueue high_priority", ServiceName: "producer",
		StartTime: base, DurationMS: 40, Status: "ok", Kind: "PRODUCER"}
	return jobtailclient.TraceSummary{
		TraceID:  TraceOK,
		RootSpan: &root,
		Spans: []jobtailclient.Span{
			root,
			{SpanID: "1111111111111111", ParentSpanID: root.SpanID, OperationName: "process high_priority", ServiceName: "jobqueue",
				StartTime: base.Add(100 * time.Millisecond), DurationMS: 2240, Status: "ok", Kind: "CONSUMER",
				Tags: map[string]string{"job.id": JobOK, "worker.id": WorkerA, "messaging.system": "redis"}},
			{SpanID: "2222222222222222", ParentSpanID: "1111111111111111", OperationName: "download file", ServiceName: "worker",
				StartTime: base.Add(150 * time.Millisecond), DurationMS: 600, Status: "ok", Kind: "CLIENT"},
			{SpanID: "3333333333333333", ParentSpanID: "1111111111111111", OperationName: "db query", ServiceName: "postgres",
				StartTime: base.Add(800 * time.Millisecond), DurationMS: 1500, Status: "ok", Kind: "CLIENT",
				Tags: map[string]string{"db.statement": "SELECT * FROM users WHERE email = ****"}},
		},
		CriticalPath: []string{root.SpanID, "1111111111111111", "3333333333333333"},
		Services: []jobtailclient.ServiceStat{{Name: "producer", SpanCount: 1}, {Name: "jobqueue", SpanCount: 1},
			{Name: "worker", SpanCount: 1}, {Name: "postgres", SpanCount: 1}},
	}
}

// DeadTrace is a trace whose upload span failed.
func DeadTrace(base time.Time) jobtailclient.TraceSummary {
	root := jobtailclient.Span{SpanID: "aaaaaaaaaaaaaaa1", OperationName: "process high_priority", ServiceName: "jobqueue",
		StartTime: base, DurationMS: 900, Status: "error", Kind: "CONSUMER",
		Tags: map[string]string{"job.id": JobDead, "job.status": "dead_lettered"}}
	return jobtailclient.TraceSummary{
		TraceID:  TraceDead,
		RootSpan: &root,
		Spans: []jobtailclient.Span{
			root,
			{SpanID: "aaaaaaaaaaaaaaa2", ParentSpanID: root.SpanID, OperationName: "upload s3", ServiceName: "worker",
				StartTime: base.Add(100 * time.Millisecond), DurationMS: 700, Status: "error", Kind: "CLIENT",
				Tags: map[string]string{"error": "connection refused"}},
		},
		CriticalPath: []string{root.SpanID, "aaaaaaaaaaaaaaa2"},
		ErrorSpans:   []string{root.SpanID, "aaaaaaaaaaaaaaa2"},
		Services:     []jobtailclient.ServiceStat{{Name: "jobqueue", SpanCount: 1, ErrorCount: 1}, {Name: "worker", SpanCount: 1, ErrorCount: 1}},
	}
}
