package queuejobreceiver

import (
	"encoding/json"

	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aclSidekiq is the README's ACL line for the sidekiq preset.
const aclSidekiq = "user jobtrace on ><password> resetkeys ~queues ~queue:* ~schedule ~retry ~dead ~processes ~*:workers ~*:work resetchannels -@all +@read +ping"

type enqueued struct {
	ID      string `json:"jid"`
	Class   string `json:"class"`
	TraceID string `json:"trace_id"`
}

// TestSidekiqRealLibrary runs Debian's ruby-sidekiq 6.4 against a private redis-server with
// succeeding, once-retried and always-failing jobs carrying a top-level traceparent, then a job
// killed mid-attempt by a shutdown whose timeout makes Sidekiq requeue it.
func TestSidekiqRealLibrary(t *testing.T) {
	requireTool(t, "ruby-sidekiq", "ruby", "-e", `require "sidekiq"; require "sidekiq/api"`)
	readmeHasLine(t, aclSidekiq)
	l := startLibrary(t, PresetSidekiq, aclSidekiq, nil)
	dir := testdataDir(t, "sidekiq")
	marks := t.TempDir()
	env := []string{"REDIS_URL=redis://" + l.srv.Addr, "JOBTRACE_MARKS=" + marks}

	var jobs []enqueued
	for _, c := range []string{"OkJob", "FlakyJob", "FailJob"} {
		jobs = append(jobs, jsonLines[enqueued](t, runScript(t, dir, env, "ruby", "enqueue.rb", c, "5"))...)
	}
	ids := map[string]bool{}
	byID := map[string]enqueued{}
	for _, j := range jobs {
		ids[j.ID], byID[j.ID] = true, j
	}
	// The receiver sees every job waiting before a worker runs.
	eventually(t, 10*time.Second, "job_enqueued for every job", func() bool { return countEvents(l.r, "job_enqueued", ids) == len(jobs) }, nil)

	worker := startProc(t, dir, env, "sidekiq", "-r", "./jobs.rb", "-c", "5", "-t", "1", "-q", "default")
	want := func(class string) map[string]bool {
		m := map[string]bool{}
		for _, j := range jobs {
			if j.Class == class {
				m[j.ID] = true
			}
		}
		return m
	}
	fails, flaky := want("FailJob"), want("FlakyJob")
	eventually(t, 45*time.Second, "the failing jobs dead and the flaky ones retried", func() bool {
		if countEvents(l.r, "job_dead_lettered", fails) != len(fails) || countEvents(l.r, "job_retried", flaky) != len(flaky) {
			return false
		}
		// and Sidekiq has run every retry
		r, _ := l.admin.ZCard(t.Context(), "retry").Result()
		q, _ := l.admin.LLen(t.Context(), "queue:default").Result()
		return r == 0 && q == 0 && len(flakyRan(t, marks)) == len(flaky)
	}, func() string { return worker.out.String() })
	// Every attempt ended (an OkJob's one, two of the others): Sidekiq counts each in
	// stat:processed, success or failure, flushed at its 5 s heartbeat. A SIGTERM while a last
	// attempt still runs on a loaded machine would requeue it.
	attempts := len(jobs) - len(fails) - len(flaky) + 2*len(fails) + 2*len(flaky)
	eventually(t, 20*time.Second, "Sidekiq's stat:processed to count every attempt", func() bool {
		n, _ := l.admin.Get(t.Context(), "stat:processed").Int()
		return n >= attempts
	}, func() string { return worker.out.String() })

	worker.signal(t, syscall.SIGTERM)
	worker.wait(t, 15*time.Second)

	// A job killed mid-attempt: Sidekiq's shutdown timeout (-t 1) requeues it. One thread only:
	// an idle thread's BRPOP, still pending in Redis when Sidekiq kills the thread, would take
	// the requeued job and lose it (a race of Sidekiq's BasicFetch, not of the receiver).
	worker = startProc(t, dir, env, "sidekiq", "-r", "./jobs.rb", "-c", "1", "-t", "1", "-q", "default")
	slow := jsonLines[enqueued](t, runScript(t, dir, env, "ruby", "enqueue.rb", "SlowJob", "1"))[0]
	slowIDs := map[string]bool{slow.ID: true}
	// In progress shows only at the 5 s heartbeat.
	eventually(t, 20*time.Second, "the slow job seen running", func() bool { return countEvents(l.r, "job_started", slowIDs) == 1 }, nil)
	worker.signal(t, syscall.SIGTERM)
	worker.wait(t, 15*time.Second)
	requeued, err := l.admin.LRange(t.Context(), "queue:default", 0, -1).Result()
	require.NoError(t, err)
	keys, _ := l.admin.Keys(t.Context(), "*").Result()
	require.Len(t, requeued, 1, "Sidekiq requeued the killed job; keys: %v", keys)
	require.Contains(t, requeued[0], slow.ID)
	eventually(t, 10*time.Second, "the requeued job reported abandoned", func() bool { return countEvents(l.r, "job_abandoned", slowIDs) == 1 }, nil)

	// Sidekiq's own view.
	type failure struct {
		RetryCount   int    `json:"retry_count"`
		ErrorMessage string `json:"error_message"`
		Queue        string `json:"queue"`
	}
	var state struct {
		Dead  map[string]failure `json:"dead"`
		Retry map[string]failure `json:"retry"`
	}
	require.NoError(t, json.Unmarshal([]byte(runScript(t, dir, env, "ruby", "state.rb")), &state))
	require.Len(t, state.Dead, len(fails))
	require.Empty(t, state.Retry)

	spans := libSpans(l.r)
	got := byJob(spans)
	for jid, d := range state.Dead {
		require.True(t, fails[jid])
		final := int64(d.RetryCount + 1)
		att := got[jid]
		require.Len(t, att[final], 1, "job %s: one dead span for attempt %d: %+v", jid, final, att)
		s := att[final][0]
		assert.Equal(t, "dead_lettered", s.status)
		assert.Equal(t, d.ErrorMessage, s.errMsg)
		assert.Equal(t, d.ErrorMessage, s.statusMsg)
		assert.Equal(t, "RuntimeError", s.errType)
		for n := int64(1); n < final; n++ {
			require.Len(t, att[n], 1, "job %s attempt %d", jid, n)
			assert.Equal(t, "retried", att[n][0].status)
			assert.True(t, strings.HasPrefix(att[n][0].errMsg, "always fails"), att[n][0].errMsg)
		}
	}
	for jid := range flaky {
		_, err := os.Stat(filepath.Join(marks, jid))
		require.NoError(t, err, "FlakyJob %s never ran", jid)
		att := got[jid]
		require.Len(t, att[1], 1, "job %s", jid)
		assert.Equal(t, "retried", att[1][0].status)
		assert.True(t, strings.HasPrefix(att[1][0].errMsg, "flaky first attempt"), att[1][0].errMsg)
		assert.Equal(t, "ArgumentError", att[1][0].errType)
	}
	require.Len(t, got[slow.ID][1], 1, "one abandoned span, not one per poll")
	require.Equal(t, "abandoned", got[slow.ID][1][0].status)
	require.Len(t, spans, 2*len(fails)+len(flaky)+1, "every attempt the data proves, once")
	for _, s := range spans {
		j, ok := byID[s.jobID]
		if s.jobID == slow.ID {
			j, ok = slow, true
		}
		require.True(t, ok, "span for a job nobody enqueued: %+v", s)
		assert.NotEqual(t, "succeeded", s.status, "Sidekiq stores nothing that proves a success: %+v", s)
		assert.Equal(t, j.TraceID, s.traceID, "trace id of %s", s.jobID)
		assert.Equal(t, "default", s.queue)
		assert.Equal(t, "sidekiq", s.system)
		assert.Equal(t, j.Class, s.typ)
	}
	t.Logf("%d spans for %d jobs; dead %d", len(spans), len(got), len(state.Dead))
	requireDistinctSpans(t, libSpans(l.r))
	l.checkReadOnly(t, "smembers", "zrange", "lrange", "hgetall")

}

func flakyRan(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
