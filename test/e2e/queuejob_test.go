package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobtrace/jobtrace/internal/jobsim"
)

// TestQueuejobJobsimThroughDistribution runs jobsim against the collector's private Redis and
// checks the job spans and lifecycle logs that leave the pipeline, plus jobsim's worker log
// lines picked up by filelog.
func TestQueuejobJobsimThroughDistribution(t *testing.T) {
	c := StartCollector(t, WithFileExporter(), WithOverlay(`
receivers:
  queuejob:
    poll_interval: 50ms
`))
	Eventually(t, 30*time.Second, func() bool { return strings.Contains(c.Output(), "observing the job queue") },
		"queuejob receiver never polled Redis")

	sc := jobsim.DefaultConfig()
	sc.Redis = c.Redis.Addr
	sc.Jobs = 12
	sc.Rate = 100
	sc.Workers = 3
	sc.FailRatio = 0.3
	sc.WorkTime = 300 * time.Millisecond
	sc.Duration = 60 * time.Second
	sc.LogFile = filepath.Join(c.Dir, "worker-logs", "jobsim.log")
	sum, err := jobsim.Run(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Final() != sc.Jobs {
		t.Fatalf("jobsim finished %d of %d jobs", sum.Final(), sc.Jobs)
	}
	want := map[string]jobsim.Attempt{} // job/attempt -> truth
	traceOf := map[string]string{}
	for _, j := range sum.Jobs {
		traceOf[j.ID] = j.TraceID
		for _, a := range j.Attempts {
			want[fmt.Sprintf("%s/%d", j.ID, a.Number)] = a
		}
	}

	got := map[string]bool{}
	withWorker := 0
	Eventually(t, 60*time.Second, func() bool {
		for _, sp := range c.AllSpans(t) {
			if !strings.HasPrefix(sp.Name(), "process ") {
				continue
			}
			a := sp.Attributes()
			id, _ := a.Get("job.id")
			n, _ := a.Get("job.attempt")
			key := fmt.Sprintf("%s/%d", id.Str(), n.Int())
			truth, ok := want[key]
			if !ok {
				t.Fatalf("span for an attempt jobsim did not make: %s", key)
			}
			if sp.TraceID().String() != traceOf[id.Str()] {
				t.Fatalf("%s: trace %s, want %s", key, sp.TraceID(), traceOf[id.Str()])
			}
			// A worker id is only known when a poll caught the attempt in its processing
			// list; on a starved machine a poll can miss a 300ms attempt, so it may be absent.
			if w, ok := a.Get("worker.id"); ok && w.Str() != truth.WorkerID {
				t.Fatalf("%s: worker %q, want %q", key, w.Str(), truth.WorkerID)
			} else if ok && !got[key] {
				withWorker++
			}
			st, _ := a.Get("job.status")
			if st.Str() != string(truth.Outcome) {
				t.Fatalf("%s: status %q, want %q", key, st.Str(), truth.Outcome)
			}
			got[key] = true
		}
		return len(got) == len(want)
	}, "job spans missing")
	if withWorker < len(want)/2 {
		t.Fatalf("only %d of %d job spans carry worker.id", withWorker, len(want))
	}

	// Lifecycle logs of the receiver and worker lines from filelog, both on the job's trace.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, workerLines := 0, 0
		var other []string
		for _, lr := range c.AllLogRecords(t) {
			a := lr.Attributes()
			if ev, ok := a.Get("event.name"); ok && ev.Str() != "job_started" && ev.Str() != "job_enqueued" {
				id, _ := a.Get("job.id")
				if lr.TraceID().String() != traceOf[id.Str()] {
					t.Fatalf("lifecycle log %s of %s on trace %s", ev.Str(), id.Str(), lr.TraceID())
				}
				ends++
				continue
			}
			if b := lr.Body().AsString(); b == "job completed" || b == "job retried" || b == "job dead-lettered" {
				workerLines++
			} else if len(other) < 5 {
				other = append(other, b)
			}
		}
		if ends == len(want) && workerLines == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempt-ending lifecycle logs and %d worker log lines, want %d each; other bodies: %q",
				ends, workerLines, len(want), other)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestQueuejobRedisDownAtStart: the collector must come up and say what it cannot reach.
func TestQueuejobRedisDownAtStart(t *testing.T) {
	c := StartCollector(t, WithoutRedis())
	Eventually(t, 30*time.Second, func() bool {
		return strings.Contains(c.Output(), "cannot read the job queue from Redis")
	}, "no log line about the unreachable Redis")
}
