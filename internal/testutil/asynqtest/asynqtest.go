// Package asynqtest runs a real asynq (github.com/hibiken/asynq) workload against a test's
// private redis-server: tasks enqueued by asynq's client with W3C trace context in asynq's task
// headers (the only carrier asynq has), processed by asynq's own server.
package asynqtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	libasynq "github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Task types and errors of the workload.
const (
	TypeOK     = "email:ok"    // succeeds first time
	TypeFlaky  = "email:flaky" // fails its first attempt, then succeeds
	TypeBad    = "email:bad"   // always fails; archived after MaxRetry(1) = 2 attempts
	TypeStuck  = "email:stuck" // blocks until the server shuts down; asynq requeues it
	ErrFlaky   = "flaky: first attempt fails"
	ErrBad     = "bad: always fails"
	QueueMain  = "default"
	QueueOther = "critical"
)

// Task is what the workload put in, for comparing with what the receiver reports.
type Task struct {
	ID, Queue, Type string
	TraceID         trace.TraceID
}

// TraceHeaders builds the headers map the way an asynq user propagates context: the OTel
// propagator injecting into the task's headers.
func TraceHeaders(tid trace.TraceID, sid trace.SpanID) map[string]string {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	h := map[string]string{}
	propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(h))
	return h
}

func testTraceID(i int) trace.TraceID {
	var t trace.TraceID
	copy(t[:], fmt.Sprintf("asynqtrace%06d", i))
	return t
}

// Enqueue enqueues n tasks of each finishing kind (ok, flaky, bad) over two queues.
func Enqueue(t testing.TB, addr string, n int) []Task {
	t.Helper()
	c := libasynq.NewClient(libasynq.RedisClientOpt{Addr: addr})
	defer c.Close()
	var out []Task
	i := 0
	for _, typ := range []string{TypeOK, TypeFlaky, TypeBad} {
		for k := 0; k < n; k++ {
			i++
			q := QueueMain
			if k%2 == 1 {
				q = QueueOther
			}
			tid := testTraceID(i)
			var sid trace.SpanID
			copy(sid[:], fmt.Sprintf("span%04d", i))
			opts := []libasynq.Option{libasynq.Queue(q), libasynq.Retention(time.Hour)}
			if typ == TypeBad {
				opts = append(opts, libasynq.MaxRetry(1))
			} else {
				opts = append(opts, libasynq.MaxRetry(3))
			}
			info, err := c.Enqueue(libasynq.NewTaskWithHeaders(typ, []byte(fmt.Sprintf(`{"n":%d}`, i)), TraceHeaders(tid, sid)), opts...)
			if err != nil {
				t.Fatalf("asynq enqueue: %v", err)
			}
			out = append(out, Task{ID: info.ID, Queue: q, Type: typ, TraceID: tid})
		}
	}
	return out
}

func handler(stuck chan<- string) libasynq.Handler {
	return libasynq.HandlerFunc(func(ctx context.Context, task *libasynq.Task) error {
		retried, _ := libasynq.GetRetryCount(ctx)
		switch task.Type() {
		case TypeFlaky:
			if retried == 0 {
				return errors.New(ErrFlaky)
			}
		case TypeBad:
			return errors.New(ErrBad)
		case TypeStuck:
			id, _ := libasynq.GetTaskID(ctx)
			stuck <- id
			<-ctx.Done() // never finishes on its own; shutdown requeues it
			return ctx.Err()
		}
		return nil
	})
}

// RunServer runs asynq's server until stop is called. Intervals are shortened so the test
// does not wait for asynq's production defaults (5 s retry forwarding, 1 s task check).
func RunServer(t testing.TB, addr string, stuck chan<- string) (stop func()) {
	t.Helper()
	srv := libasynq.NewServer(libasynq.RedisClientOpt{Addr: addr}, libasynq.Config{
		Concurrency:              4,
		Queues:                   map[string]int{QueueMain: 1, QueueOther: 1},
		RetryDelayFunc:           func(int, error, *libasynq.Task) time.Duration { return 50 * time.Millisecond },
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		TaskCheckInterval:        50 * time.Millisecond,
		ShutdownTimeout:          300 * time.Millisecond,
		LogLevel:                 libasynq.ErrorLevel,
	})
	if err := srv.Start(handler(stuck)); err != nil {
		t.Fatalf("asynq server: %v", err)
	}
	var once sync.Once
	stop = func() { once.Do(srv.Shutdown) }
	t.Cleanup(stop)
	return stop
}

// WaitFinished polls asynq's Inspector (the library's own view) until every task is
// completed or archived.
func WaitFinished(t testing.TB, addr string, tasks []Task) {
	t.Helper()
	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: addr})
	defer insp.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := 0
		for _, w := range tasks {
			info, err := insp.GetTaskInfo(w.Queue, w.ID)
			if err == nil && (info.State == libasynq.TaskStateCompleted || info.State == libasynq.TaskStateArchived) {
				done++
			}
		}
		if done == len(tasks) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("asynq finished %d of %d tasks in 30s", done, len(tasks))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
