package queuejobreceiver

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	libasynq "github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"github.com/jobtrace/jobtrace/internal/testutil/asynqtest"
)

// aclAsynq is the README's ACL line for the asynq preset (asynq's prefix is fixed).
const aclAsynq = "user jobtrace on ><password> resetkeys ~asynq:* resetchannels -@all +@read +ping"

// requireAsynqView compares the receiver's spans with asynq's Inspector for every task.
func requireAsynqView(t *testing.T, addr string, tasks []asynqtest.Task, got map[string]map[int64][]attemptOut) {
	t.Helper()
	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: addr})
	defer insp.Close()
	for _, w := range tasks {
		info, err := insp.GetTaskInfo(w.Queue, w.ID)
		require.NoError(t, err)
		attempts := got[w.ID]
		require.Len(t, attempts, info.Retried+1, "%s (%s): one span per attempt asynq ran: %+v", w.ID, w.Type, attempts)
		for n := int64(1); n <= int64(info.Retried+1); n++ {
			require.Len(t, attempts[n], 1, "%s attempt %d", w.ID, n)
			s := attempts[n][0]
			require.Equal(t, info.Queue, s.queue, "%s", w.ID)
			require.Equal(t, w.TraceID.String(), s.traceID, "%s: the trace of the task's headers", w.ID)
			require.Equal(t, "asynq", s.system)
			require.Equal(t, w.Type, s.typ)
			last := n == int64(info.Retried+1)
			switch {
			case last && info.State == libasynq.TaskStateCompleted:
				require.Equal(t, conventions.StatusSucceeded, s.status, "%s", w.ID)
			case last && info.State == libasynq.TaskStateArchived:
				require.Equal(t, conventions.StatusDeadLettered, s.status, "%s", w.ID)
				require.Equal(t, info.LastErr, s.errMsg, "%s", w.ID)
			case last:
				t.Fatalf("%s: asynq still reports %s", w.ID, info.State)
			default:
				require.Equal(t, conventions.StatusRetried, s.status, "%s attempt %d", w.ID, n)
				if w.Type == asynqtest.TypeFlaky {
					// asynq keeps the last error only: known for the attempt before a success.
					require.Equal(t, asynqtest.ErrFlaky, s.errMsg, "%s", w.ID)
				}
			}
		}
	}
}

// TestAsynqRealLibrary runs asynq's client and server against a private Redis and the
// receiver with `preset: asynq` alone, as the README's read-only ACL user, and a second
// receiver under MONITOR.
func TestAsynqRealLibrary(t *testing.T) {
	readmeHasLine(t, aclAsynq)
	l := startLibrary(t, "asynq", aclAsynq, nil)
	tasks := asynqtest.Enqueue(t, l.srv.Addr, 3)
	stop := asynqtest.RunServer(t, l.srv.Addr, nil)
	asynqtest.WaitFinished(t, l.srv.Addr, tasks)
	stop()
	want := 3*1 + 3*2 + 3*2 // ok: 1 attempt, flaky: 2, bad: 2
	eventually(t, 20*time.Second, "one span per asynq attempt", func() bool { return len(libSpans(l.r)) >= want },
		func() string { return eventSummary(l.r) })
	time.Sleep(100 * time.Millisecond)
	requireAsynqView(t, l.srv.Addr, tasks, byJob(libSpans(l.r)))
	l.checkReadOnly(t, "smembers", "lrange", "zrange", "zrevrange", "zrangebyscore", "hmget", "hgetall")
}

// TestAsynqShutdownRequeueAbandoned: a task still running when asynq's server stops is pushed
// back to pending by asynq; the receiver reports that attempt abandoned.
func TestAsynqShutdownRequeueAbandoned(t *testing.T) {
	l := startLibrary(t, "asynq", aclAsynq, nil)
	cl := libasynq.NewClient(libasynq.RedisClientOpt{Addr: l.srv.Addr})
	defer cl.Close()
	info, err := cl.Enqueue(libasynq.NewTask(asynqtest.TypeStuck, nil), libasynq.Queue(asynqtest.QueueMain))
	require.NoError(t, err)
	stuck := make(chan string, 1)
	stop := asynqtest.RunServer(t, l.srv.Addr, stuck)
	select {
	case <-stuck:
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck task never started")
	}
	eventually(t, 10*time.Second, "job_started of the stuck task", func() bool {
		return countEvents(l.r, conventions.EventJobStarted, map[string]bool{info.ID: true}) > 0
	}, func() string { return eventSummary(l.r) })
	stop()
	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: l.srv.Addr})
	defer insp.Close()
	got, err := insp.GetTaskInfo(asynqtest.QueueMain, info.ID)
	require.NoError(t, err)
	require.Equal(t, libasynq.TaskStatePending, got.State, "asynq requeued it")
	eventually(t, 10*time.Second, "the abandoned span", func() bool { return len(libSpans(l.r)) >= 1 },
		func() string { return eventSummary(l.r) })
	spans := byJob(libSpans(l.r))[info.ID][1]
	require.Len(t, spans, 1)
	require.Equal(t, conventions.StatusAbandoned, spans[0].status)
}

// TestAsynqWorkerProcess is not a test: TestAsynqLeaseExpiredAbandoned runs it in a child
// process, an asynq server it can SIGKILL mid-task.
func TestAsynqWorkerProcess(t *testing.T) {
	addr := os.Getenv("JOBTRACE_ASYNQ_WORKER")
	if addr == "" {
		t.Skip("helper process of TestAsynqLeaseExpiredAbandoned")
	}
	stuck := make(chan string, 1)
	asynqtest.RunServer(t, addr, stuck)
	fmt.Printf("started %s\n", <-stuck)
	select {} // killed by the parent
}

// TestAsynqLeaseExpiredAbandoned kills an asynq server mid-task. Its lease stops being extended
// and runs out within 30 s; asynq's Inspector then reports the task orphaned, and the receiver
// reports that attempt abandoned.
func TestAsynqLeaseExpiredAbandoned(t *testing.T) {
	if testing.Short() {
		t.Skip("waits up to 30 s for asynq's lease to run out")
	}
	l := startLibrary(t, "asynq", aclAsynq, nil)
	cl := libasynq.NewClient(libasynq.RedisClientOpt{Addr: l.srv.Addr})
	defer cl.Close()
	info, err := cl.Enqueue(libasynq.NewTask(asynqtest.TypeStuck, nil), libasynq.Queue(asynqtest.QueueMain))
	require.NoError(t, err)

	child := exec.Command(os.Args[0], "-test.run=^TestAsynqWorkerProcess$")
	child.Env = append(os.Environ(), "JOBTRACE_ASYNQ_WORKER="+l.srv.Addr)
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "started "); ok {
				started <- id
			}
		}
	}()
	select {
	case id := <-started:
		require.Equal(t, info.ID, id)
	case <-time.After(15 * time.Second):
		t.Fatal("the worker process never started the task")
	}
	eventually(t, 10*time.Second, "job_started of the task", func() bool {
		return countEvents(l.r, conventions.EventJobStarted, map[string]bool{info.ID: true}) > 0
	}, func() string { return eventSummary(l.r) })
	require.NoError(t, child.Process.Kill()) // SIGKILL: no shutdown, no requeue

	insp := libasynq.NewInspector(libasynq.RedisClientOpt{Addr: l.srv.Addr})
	defer insp.Close()
	orphaned := func() bool {
		tasks, err := insp.ListActiveTasks(asynqtest.QueueMain)
		return err == nil && len(tasks) == 1 && tasks[0].IsOrphaned
	}
	eventually(t, 40*time.Second, "asynq to report the task orphaned", orphaned, func() string { return "" })
	eventually(t, 5*time.Second, "the abandoned span", func() bool { return len(libSpans(l.r)) >= 1 },
		func() string { return eventSummary(l.r) })
	spans := byJob(libSpans(l.r))[info.ID][1]
	require.Len(t, spans, 1)
	require.Equal(t, conventions.StatusAbandoned, spans[0].status)
	require.Equal(t, "asynq: task lease expired", spans[0].errMsg)
}
