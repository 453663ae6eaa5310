package queuejobreceiver

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aclCelery is the README's ACL line for the celery preset (default queue and result names).
const aclCelery = "user jobtrace on ><password> resetkeys ~celery* ~_kombu.binding.* ~unacked ~unacked_index resetchannels -@all +@read +ping"

type celeryState struct {
	ID        string  `json:"jid"`
	Status    string  `json:"status"`
	Retries   *int    `json:"retries"`
	Queue     *string `json:"queue"`
	Name      *string `json:"name"`
	Error     *string `json:"error"`
	ErrorType *string `json:"error_type"`
}

// TestCeleryRealLibrary runs Debian's python3-celery 5.2 worker (kombu Redis broker, Redis
// result backend) with succeeding, once-retried and always-failing tasks carrying a traceparent
// header, then kills a worker running an acks_late task; the next worker's kombu restores the
// unacked message to its queue, which the receiver reports as the attempt abandoned.
// It runs twice: with result_extended and task_track_started, and with Celery's defaults, where
// results name neither the attempt nor the queue and no STARTED result is written.
func TestCeleryRealLibrary(t *testing.T) {
	requireTool(t, "python3-celery", "/usr/bin/python3", "-c", "import celery, kombu.transport.redis, redis")
	readmeHasLine(t, aclCelery)
	t.Run("result_extended", func(t *testing.T) { runCelery(t, true) })
	t.Run("defaults", func(t *testing.T) { runCelery(t, false) })
}

func runCelery(t *testing.T, extended bool) {
	l := startLibrary(t, PresetCelery, aclCelery, nil)
	dir := testdataDir(t, "celery")
	marks := t.TempDir()
	env := []string{"JOBTRACE_REDIS_URL=redis://" + l.srv.Addr + "/0", "JOBTRACE_MARKS=" + marks, "PYTHONPATH=" + dir,
		"JOBTRACE_CELERY_EXTENDED=" + map[bool]string{true: "1", false: "0"}[extended]}

	var jobs []enqueued
	for _, c := range []string{"ok", "flaky", "fail"} {
		jobs = append(jobs, jsonLines[enqueued](t, runScript(t, dir, env, "/usr/bin/python3", "enqueue.py", c, "5"))...)
	}
	ids, byID := map[string]bool{}, map[string]enqueued{}
	class := func(c string) map[string]bool {
		m := map[string]bool{}
		for _, j := range jobs {
			if j.Class == c {
				m[j.ID] = true
			}
		}
		return m
	}
	for _, j := range jobs {
		ids[j.ID], byID[j.ID] = true, j
	}
	// The trace context is only in the waiting message: the receiver must see each one.
	eventually(t, 10*time.Second, "job_enqueued for every task", func() bool { return countEvents(l.r, "job_enqueued", ids) == len(jobs) }, nil)

	workerArgs := []string{"-m", "celery", "-A", "celeryapp", "worker", "-P", "solo", "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "INFO"}
	worker := startProc(t, dir, env, "/usr/bin/python3", workerArgs...)
	oks, flaky, fails := class("celeryapp.ok"), class("celeryapp.flaky"), class("celeryapp.fail")
	eventually(t, 40*time.Second, "every task finished", func() bool {
		return countEvents(l.r, "job_succeeded", oks) == len(oks) && countEvents(l.r, "job_succeeded", flaky) == len(flaky) &&
			countEvents(l.r, "job_dead_lettered", fails) == len(fails)
	}, func() string { return eventSummary(l.r) + "\n" + worker.out.String() })

	// Killed mid-attempt: an acks_late task stays unacked while it runs; kill -9 the worker and
	// start another, whose kombu restores the message once visibility_timeout (3 s) has passed.
	slow := jsonLines[enqueued](t, runScript(t, dir, env, "/usr/bin/python3", "enqueue.py", "slow", "1"))[0]
	slowIDs := map[string]bool{slow.ID: true}
	eventually(t, 15*time.Second, "the slow task seen running", func() bool {
		_, err := os.Stat(marks + "/slow-running")
		return err == nil && countEvents(l.r, "job_started", slowIDs) == 1
	}, func() string { return worker.out.String() })
	require.NoError(t, syscall.Kill(-worker.cmd.Process.Pid, syscall.SIGKILL))
	worker.wait(t, 10*time.Second)
	time.Sleep(3500 * time.Millisecond)
	worker = startProc(t, dir, env, "/usr/bin/python3", workerArgs...)
	eventually(t, 20*time.Second, "the restored task reported abandoned", func() bool { return countEvents(l.r, "job_abandoned", slowIDs) == 1 },
		func() string { return eventSummary(l.r) + "\n" + worker.out.String() })

	// Celery's own view.
	all := keys(ids)
	states := jsonLines[celeryState](t, runScript(t, dir, env, "/usr/bin/python3", append([]string{"state.py"}, all...)...))
	require.Len(t, states, len(all))
	spans := libSpans(l.r)
	got := byJob(spans)
	total := 0
	for _, st := range states {
		j := byID[st.ID]
		att := got[st.ID]
		// Celery's view of the attempts: its result's retries with result_extended; without it
		// Celery records none, and the workload's design says (ok: 1; flaky, fail: 2).
		final := int64(1)
		if extended {
			require.NotNil(t, st.Retries)
			final = int64(*st.Retries + 1)
		} else if flaky[st.ID] || fails[st.ID] {
			final = 2
		}
		require.Len(t, att[final], 1, "%s: %+v", st.ID, att)
		f := att[final][0]
		switch {
		case oks[st.ID], flaky[st.ID]:
			require.Equal(t, "SUCCESS", st.Status)
			assert.Equal(t, "succeeded", f.status)
		case fails[st.ID]:
			require.Equal(t, "FAILURE", st.Status)
			assert.Equal(t, "dead_lettered", f.status)
			assert.Equal(t, *st.Error, f.errMsg)
			assert.Equal(t, *st.Error, f.statusMsg)
			assert.Equal(t, *st.ErrorType, f.errType)
		}
		for n := int64(1); n < final; n++ {
			require.Len(t, att[n], 1, "%s attempt %d: %+v", st.ID, n, att)
			r := att[n][0]
			assert.Equal(t, "retried", r.status)
			// The RETRY result carried the attempt's error.
			prefix := "always fails"
			if flaky[st.ID] {
				prefix = "flaky first attempt"
			}
			assert.True(t, strings.HasPrefix(r.errMsg, prefix), "%s attempt %d error %q", st.ID, n, r.errMsg)
		}
		total += int(final)
		for _, as := range att {
			for _, s := range as {
				assert.Equal(t, j.TraceID, s.traceID, "trace id of %s", st.ID)
				assert.Equal(t, "celery", s.queue)
				assert.Equal(t, "celery", s.system)
				assert.Equal(t, j.Class, s.typ)
				if extended {
					assert.Equal(t, *st.Queue, s.queue)
					assert.Equal(t, *st.Name, s.typ)
				}
			}
		}
	}
	// kombu may restore the message again while the second worker runs it (visibility_timeout
	// is shorter than the task): each restore is one more abandoned run of attempt 1.
	runs := got[slow.ID][1]
	require.NotEmpty(t, runs, "%+v", got[slow.ID])
	for _, s := range runs {
		assert.Equal(t, "abandoned", s.status)
		assert.Equal(t, slow.TraceID, s.traceID)
	}
	require.Len(t, spans, total+len(runs), "every attempt once")
	requireDistinctSpans(t, libSpans(l.r))
	l.checkReadOnly(t, "scan", "lrange", "zrange", "mget", "smembers")
}
