package queuejobreceiver

import (
	"testing"
	"time"

	libasynq "github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/asynqtest"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
)

// requireAsynqView compares the receiver's spans with asynq's Inspector for every task.
func requireAsynqView(t *testing.T, addr string, tasks []asynqtest.Task, got map[string][]attemptSpan) int {
	t.Helper()
	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: addr})
	defer insp.Close()
	total := 0
	for _, w := range tasks {
		info, err := insp.GetTaskInfo(w.Queue, w.ID)
		require.NoError(t, err)
		spans := got[w.ID]
		require.Len(t, spans, info.Retried+1, "%s (%s): one span per attempt asynq ran: %+v", w.ID, w.Type, spans)
		total += len(spans)
		for k, s := range spans {
			require.EqualValues(t, k+1, s.attempt, "%s", w.ID)
			require.Equal(t, info.Queue, s.queue, "%s", w.ID)
			require.Equal(t, w.TraceID.String(), s.traceID, "%s: the trace of the task's headers", w.ID)
			require.Equal(t, "asynq", s.system)
			last := k == len(spans)-1
			switch {
			case last && info.State == libasynq.TaskStateCompleted:
				require.Equal(t, conventions.StatusSucceeded, s.status, "%s", w.ID)
			case last && info.State == libasynq.TaskStateArchived:
				require.Equal(t, conventions.StatusDeadLettered, s.status, "%s", w.ID)
				require.Equal(t, info.LastErr, s.errMsg, "%s", w.ID)
			case last:
				t.Fatalf("%s: asynq still reports %s", w.ID, info.State)
			default:
				require.Equal(t, conventions.StatusRetried, s.status, "%s attempt %d", w.ID, k+1)
				if k == len(spans)-2 && w.Type == asynqtest.TypeFlaky {
					// asynq keeps the last error only: known for the attempt before a success.
					require.Equal(t, asynqtest.ErrFlaky, s.errMsg, "%s", w.ID)
				}
			}
		}
	}
	return total
}

// TestAsynqRealLibrary runs asynq's client and server against a private Redis and the
// receiver, with `preset: asynq` alone, as the read-only ACL user of the README.
func TestAsynqRealLibrary(t *testing.T) {
	srv := redistest.Start(t, readerACL)
	r := startReceiver(t, asReader(libraryConfig(srv.Addr, "asynq")))
	r.waitOK(t)
	tasks := asynqtest.Enqueue(t, srv.Addr, 3)
	stop := asynqtest.RunServer(t, srv.Addr, nil)
	asynqtest.WaitFinished(t, srv.Addr, tasks)
	stop()
	waitSpans(t, r, 3*1+3*2+3*2)
	requireAsynqView(t, srv.Addr, tasks, attemptSpans(r.traces))
	require.Zero(t, r.metric(t, "otelcol_receiver_queuejob_polls_failed")[""])
}

func TestAsynqMonitorSeesNoWrite(t *testing.T) {
	srv := redistest.Start(t)
	mon := srv.Monitor()
	cfg := libraryConfig(srv.Addr, "asynq")
	cfg.ClientName = "jobtrace-queuejob"
	r := startReceiver(t, cfg)
	r.waitOK(t)
	tasks := asynqtest.Enqueue(t, srv.Addr, 1)
	stop := asynqtest.RunServer(t, srv.Addr, nil)
	asynqtest.WaitFinished(t, srv.Addr, tasks)
	stop()
	waitSpans(t, r, 1+2+2)
	requireNoWrites(t, srv, mon, cfg.ClientName, "smembers", "lrange", "zrange", "hget")
}

// TestAsynqShutdownRequeueAbandoned: a task still running when asynq's server stops is pushed
// back to pending by asynq; the receiver reports that attempt abandoned.
func TestAsynqShutdownRequeueAbandoned(t *testing.T) {
	srv := redistest.Start(t)
	r := startReceiver(t, libraryConfig(srv.Addr, "asynq"))
	r.waitOK(t)
	cl := libasynq.NewClient(libasynq.RedisClientOpt{Addr: srv.Addr})
	defer cl.Close()
	info, err := cl.Enqueue(libasynq.NewTask(asynqtest.TypeStuck, nil), libasynq.Queue(asynqtest.QueueMain))
	require.NoError(t, err)
	stuck := make(chan string, 1)
	stop := asynqtest.RunServer(t, srv.Addr, stuck)
	select {
	case <-stuck:
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck task never started")
	}
	time.Sleep(200 * time.Millisecond) // let a poll see it active
	stop()
	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: srv.Addr})
	defer insp.Close()
	got, err := insp.GetTaskInfo(asynqtest.QueueMain, info.ID)
	require.NoError(t, err)
	require.Equal(t, libasynq.TaskStatePending, got.State, "asynq requeued it")
	waitSpans(t, r, 1)
	spans := attemptSpans(r.traces)[info.ID]
	require.Len(t, spans, 1)
	require.Equal(t, conventions.StatusAbandoned, spans[0].status)
	require.EqualValues(t, 1, spans[0].attempt)
}
