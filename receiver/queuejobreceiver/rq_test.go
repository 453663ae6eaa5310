package queuejobreceiver

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aclRQ is the README's ACL line for the rq preset.
const aclRQ = "user jobtrace on ><password> resetkeys ~rq:* resetchannels -@all +@read +ping"

type rqState struct {
	ID          string  `json:"jid"`
	Status      string  `json:"status"`
	Origin      string  `json:"origin"`
	ResultType  *string `json:"result_type"`
	ExcString   *string `json:"exc_string"`
	RetriesLeft *int    `json:"retries_left"`
}

// TestRQRealLibrary runs Debian's python3-rq 1.13 worker against a private redis-server with
// succeeding, once-retried and always-failing jobs carrying meta['traceparent'], then kills a
// job's work horse mid-attempt, which RQ itself reports as a failure of the horse.
func TestRQRealLibrary(t *testing.T) {
	requireTool(t, "python3-rq", "/usr/bin/python3", "-c", "import rq, redis")
	readmeHasLine(t, aclRQ)
	l := startLibrary(t, PresetRQ, aclRQ, nil)
	dir := testdataDir(t, "rq")
	marks := t.TempDir()
	url := "redis://" + l.srv.Addr
	env := []string{"JOBTRACE_MARKS=" + marks, "PYTHONPATH=" + dir}

	var jobs []enqueued
	// fail's retry waits a second in rq:scheduled:default (moved back by --with-scheduler).
	for _, c := range []struct{ fn, retries, interval string }{{"ok", "0", "0"}, {"flaky", "1", "0"}, {"fail", "1", "1"}} {
		jobs = append(jobs, jsonLines[enqueued](t, runScript(t, dir, env, "/usr/bin/python3", "enqueue.py", url, c.fn, "5", c.retries, c.interval))...)
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
	eventually(t, 10*time.Second, "job_enqueued for every job", func() bool { return countEvents(l.r, "job_enqueued", ids) == len(jobs) }, nil)

	worker := startProc(t, dir, env, "/usr/bin/python3", "/usr/bin/rq", "worker", "default", "-u", url, "--path", dir, "--with-scheduler")
	oks, flaky, fails := class("rqtasks.ok"), class("rqtasks.flaky"), class("rqtasks.fail")
	eventually(t, 40*time.Second, "every job finished", func() bool {
		return countEvents(l.r, "job_succeeded", oks) == len(oks) && countEvents(l.r, "job_succeeded", flaky) == len(flaky) &&
			countEvents(l.r, "job_dead_lettered", fails) == len(fails)
	}, func() string { return eventSummary(l.r) })

	// A job killed mid-attempt: SIGKILL its work horse; the RQ worker reports the loss.
	slow := jsonLines[enqueued](t, runScript(t, dir, env, "/usr/bin/python3", "enqueue.py", url, "slow", "1", "0"))[0]
	slowIDs := map[string]bool{slow.ID: true}
	eventually(t, 15*time.Second, "the slow job seen running", func() bool {
		_, err := os.Stat(marks + "/slow-running")
		return err == nil && countEvents(l.r, "job_started", slowIDs) == 1
	}, nil)
	horses := childPIDs(t, worker.cmd.Process.Pid)
	require.NotEmpty(t, horses, "the worker's work horse")
	for _, pid := range horses {
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	}
	eventually(t, 15*time.Second, "the killed job reported abandoned", func() bool { return countEvents(l.r, "job_abandoned", slowIDs) == 1 },
		func() string { return worker.out.String() })

	// RQ's own view.
	all := append([]string{slow.ID}, keys(ids)...)
	states := jsonLines[rqState](t, runScript(t, dir, env, "/usr/bin/python3", append([]string{"state.py", url}, all...)...))
	require.Len(t, states, len(all))
	got := byJob(libSpans(l.r))
	byID[slow.ID] = slow
	total := 0
	for _, st := range states {
		j := byID[st.ID]
		att := got[st.ID]
		switch {
		case st.ID == slow.ID:
			require.Equal(t, "failed", st.Status)
			require.NotNil(t, st.ExcString)
			require.True(t, strings.HasPrefix(*st.ExcString, "Work-horse terminated unexpectedly"), *st.ExcString)
			require.Len(t, att[1], 1)
			assert.Equal(t, "abandoned", att[1][0].status)
			assert.Equal(t, strings.TrimSpace(*st.ExcString), att[1][0].errMsg)
			total++
		case oks[st.ID]:
			require.Equal(t, "finished", st.Status)
			require.Len(t, att[1], 1, "%s: %+v", st.ID, att)
			assert.Equal(t, "succeeded", att[1][0].status)
			total++
		case flaky[st.ID]:
			require.Equal(t, "finished", st.Status)
			require.Len(t, att[1], 1, "%s: %+v", st.ID, att)
			require.Len(t, att[2], 1, "%s: %+v", st.ID, att)
			assert.Equal(t, "retried", att[1][0].status)
			assert.Empty(t, att[1][0].errMsg, "RQ stores no error for a retried attempt")
			assert.Equal(t, "succeeded", att[2][0].status)
			total += 2
		case fails[st.ID]:
			require.Equal(t, "failed", st.Status)
			require.Equal(t, "FAILED", *st.ResultType)
			require.Len(t, att[1], 1, "%s: %+v", st.ID, att)
			require.Len(t, att[2], 1, "%s: %+v", st.ID, att)
			assert.Equal(t, "retried", att[1][0].status)
			f := att[2][0]
			assert.Equal(t, "dead_lettered", f.status)
			lines := strings.Split(strings.TrimSpace(*st.ExcString), "\n")
			assert.Equal(t, "RuntimeError: "+f.errMsg, lines[len(lines)-1])
			assert.Equal(t, f.errMsg, f.statusMsg)
			assert.Equal(t, "RuntimeError", f.errType)
			total += 2
		}
		for _, as := range att {
			for _, s := range as {
				assert.Equal(t, j.TraceID, s.traceID, "trace id of %s", st.ID)
				assert.Equal(t, st.Origin, s.queue)
				assert.Equal(t, "rq", s.system)
				assert.Equal(t, j.Class, s.typ)
			}
		}
	}
	require.Len(t, libSpans(l.r), total, "every attempt once")
	requireDistinctSpans(t, libSpans(l.r))
	l.checkReadOnly(t, "smembers", "lrange", "zrange", "zrevrangebyscore", "hmget", "xrevrange")
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// childPIDs lists a process's children (Linux /proc).
func childPIDs(t *testing.T, pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	require.NoError(t, err)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		require.NoError(t, err)
		out = append(out, n)
	}
	return out
}
