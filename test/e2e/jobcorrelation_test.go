package e2e

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/jobtrace/jobtrace/internal/jobsim"
)

// workerLine is one line of a worker log file, as written.
type workerLine struct {
	raw  string
	json map[string]any // nil for plain-text lines
}

func readWorkerLines(t *testing.T, path string) []workerLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []workerLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := workerLine{raw: sc.Text()}
		if strings.HasPrefix(l.raw, "{") {
			if err := json.Unmarshal(sc.Bytes(), &l.json); err != nil {
				l.json = nil // broken JSON must pass as a plain body
			}
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fileRecords is what filelog read (it sets log.file.name), in output order.
func fileRecords(t *testing.T, c *Collector) []plog.LogRecord {
	t.Helper()
	var out []plog.LogRecord
	for _, r := range c.AllLogRecords(t) {
		if _, ok := r.Attributes().Get("log.file.name"); ok {
			out = append(out, r)
		}
	}
	return out
}

func str(r plog.LogRecord, k string) string {
	v, ok := r.Attributes().Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}

func str2(m pcommon.Map, k string) string {
	v, ok := m.Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}

var zapSeverity = map[string]plog.SeverityNumber{
	"debug": plog.SeverityNumberDebug, "info": plog.SeverityNumberInfo,
	"warn": plog.SeverityNumberWarn, "error": plog.SeverityNumberError,
}

// TestWorkerLogIntake feeds the real upstream capture through collector.yaml's filelog
// receiver and the pipeline, and checks every line came out whole, parsed, and in order.
func TestWorkerLogIntake(t *testing.T) {
	fixture := filepath.Join(repoRoot, "testdata", "go-redis-work-queue", "worker_and_producer.log")
	if _, err := os.Stat(fixture); err != nil {
		t.Fatalf("fixture not available: %v", err)
	}
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	// A truncated JSON line (a worker killed mid-write) must not break the lines after it.
	data = append(data, []byte("{\"level\":\"info\",\"ts\":1795775260.1,\"msg\":\"job comp\n")...)
	data = append(data, []byte(`{"level":"info","ts":1795775260.2,"caller":"worker/worker.go:224","msg":"job completed","id":"abc","trace_id":"6a79b6f19979c141f732172b72f8a621","span_id":"6b132cf7b96c0240","worker_id":"my-host-1-2-abcd-3"}`+"\n")...)
	c := StartCollector(t, WithFileExporter(), WithoutRedis())
	path := filepath.Join(c.Dir, "worker-logs", "worker.log")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := readWorkerLines(t, path)
	Eventually(t, 30*time.Second, func() bool { return len(fileRecords(t, c)) >= len(lines) },
		"filelog records: want %d", len(lines))
	recs := fileRecords(t, c)
	if len(recs) != len(lines) {
		t.Fatalf("got %d records for %d lines", len(recs), len(lines))
	}

	plain, stack := 0, 0
	for i, l := range lines {
		r := recs[i]
		if l.json == nil {
			plain++
			// piiredaction runs in the same pipeline and masks the SDK's IP addresses.
			if b := r.Body().AsString(); b != l.raw && b != strings.ReplaceAll(l.raw, "127.0.0.1", "[REDACTED:ipv4]") {
				t.Errorf("line %d: plain line body %q, want the raw line %q", i, r.Body().AsString(), l.raw)
			}
			continue
		}
		if got, want := r.Body().AsString(), l.json["msg"].(string); got != want {
			t.Fatalf("line %d: body %q, want msg %q (records out of order or msg not moved)", i, got, want)
		}
		for _, gone := range []string{"ts", "level", "msg"} {
			if _, ok := r.Attributes().Get(gone); ok {
				t.Errorf("line %d: attribute %q should have been consumed", i, gone)
			}
		}
		ts := l.json["ts"].(float64)
		if d := math.Abs(float64(r.Timestamp().AsTime().UnixNano()) - ts*1e9); d > 2e3 {
			t.Errorf("line %d: timestamp %s is %.0fns from ts %f", i, r.Timestamp().AsTime(), d, ts)
		}
		if want, ok := zapSeverity[l.json["level"].(string)]; !ok || r.SeverityNumber() != want {
			t.Errorf("line %d: severity %s/%q for level %v", i, r.SeverityNumber(), r.SeverityText(), l.json["level"])
		}
		for k, v := range l.json {
			switch k {
			case "ts", "level", "msg":
				continue
			}
			if got := str(r, k); got != fmt.Sprint(v) {
				t.Errorf("line %d: attribute %s = %q, want %q", i, k, got, v)
			}
		}
		if _, ok := l.json["stacktrace"]; ok {
			stack++
		}
		// jobcorrelation understood the zap fields.
		if tid, ok := l.json["trace_id"].(string); ok {
			if got := r.TraceID(); hex.EncodeToString(got[:]) != tid {
				t.Errorf("line %d: trace id %x, want %s", i, got, tid)
			}
		}
		if wid, ok := l.json["worker_id"].(string); ok {
			parts := strings.Split(wid, "-") // <host>-<pid>-<unixnano>-<4hex>-<slot>
			host := strings.Join(parts[:len(parts)-4], "-")
			if str(r, "worker.id") != wid || str(r, "worker.host") != host || str(r, "worker.slot") == "" {
				t.Errorf("line %d: worker attributes %v for worker_id %s", i, r.Attributes().AsRaw(), wid)
			}
		}
		if msg := l.json["msg"]; msg == "job completed" || msg == "job retried" || msg == "job dead-lettered" {
			if got := str(r, "job.id"); got != l.json["id"] {
				t.Errorf("line %d: job.id %q, want %v", i, got, l.json["id"])
			}
		}
	}
	if plain == 0 || stack == 0 {
		t.Fatalf("fixture should contain plain-text and stacktrace lines (plain %d, stacktrace %d)", plain, stack)
	}
}

const queuejobScope = "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

var jobMessages = map[string]bool{
	"job completed": true, "job retried": true, "job dead-lettered": true, "requeued abandoned job": true,
}

// TestJobCorrelationWithJobsim runs jobsim against the collector's private Redis, with its
// worker log in WORKER_LOGS: the queuejob receiver sees the queue, filelog the worker lines,
// and every job line must leave with its job, worker and queue, and none with a wrong one.
func TestJobCorrelationWithJobsim(t *testing.T) {
	cfg := jobsim.DefaultConfig()
	cfg.Jobs = 60
	cfg.Rate = 60
	cfg.Workers = 4
	cfg.FailRatio = 0.5
	cfg.MaxRetries = 2
	cfg.WorkTime = 20 * time.Millisecond
	sum := runJobsimThroughCollector(t, cfg)
	if sum.Retried == 0 || sum.DeadLettered == 0 {
		t.Fatalf("want retries and dead letters in the run, got %+v", sum)
	}
}

// Workers die mid-job; the reaper's "requeued abandoned job" lines carry no worker_id and must
// still get their job and queue.
func TestJobCorrelationWithJobsimAbandoned(t *testing.T) {
	cfg := jobsim.DefaultConfig()
	cfg.Jobs = 40
	cfg.Rate = 40
	cfg.Workers = 4
	cfg.FailRatio = 0
	cfg.AbandonRatio = 0.2
	cfg.HeartbeatTTL = time.Second
	cfg.WorkTime = 20 * time.Millisecond
	sum := runJobsimThroughCollector(t, cfg)
	if sum.Abandoned == 0 {
		t.Fatalf("want abandoned attempts in the run, got %+v", sum)
	}
}

func runJobsimThroughCollector(t *testing.T, cfg jobsim.Config) *jobsim.Summary {
	t.Helper()
	c := StartCollector(t, WithFileExporter())
	logFile := filepath.Join(c.Dir, "worker-logs", "worker.log")
	cfg.Redis = c.Redis.Addr
	cfg.Duration = 60 * time.Second
	cfg.LogFile = logFile
	cfg.OTLPEndpoint = c.OTLPHTTPURL
	sum, err := jobsim.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("jobsim: %v", err)
	}
	// At-least-once: a job whose heartbeat expired under a slow but live worker runs twice,
	// so the count of final outcomes may exceed the jobs.
	if sum.Final() < cfg.Jobs {
		t.Fatalf("jobsim finished %d of %d jobs", sum.Final(), cfg.Jobs)
	}

	lines := readWorkerLines(t, logFile)
	Eventually(t, 30*time.Second, func() bool { return len(fileRecords(t, c)) >= len(lines) },
		"filelog records: want %d", len(lines))
	recs := fileRecords(t, c)

	type key struct{ msg, id, worker, retries string }
	jobLines := map[key]int{}
	for _, l := range lines {
		if l.json == nil || !jobMessages[fmt.Sprint(l.json["msg"])] {
			continue
		}
		w, _ := l.json["worker_id"].(string)
		jobLines[key{l.json["msg"].(string), l.json["id"].(string), w, fmt.Sprint(l.json["retries"])}]++
	}
	if len(jobLines) == 0 {
		t.Fatal("jobsim wrote no job lines")
	}

	// The workers the queue itself showed running each job: the queuejob receiver's attempt
	// spans and lifecycle logs (job_started and after). jobsim's own record can miss an
	// attempt when the machine is so loaded that a heartbeat expires under a live worker and
	// the job runs twice; a worker from either source is one the job really had.
	ranOn := map[string]map[string]bool{}
	addRan := func(job, worker string) {
		if job == "" || worker == "" {
			return
		}
		if ranOn[job] == nil {
			ranOn[job] = map[string]bool{}
		}
		ranOn[job][worker] = true
	}
	for id, j := range sum.Jobs {
		for _, a := range j.Attempts {
			addRan(id, a.WorkerID)
		}
	}
	simOnly := 0
	for _, td := range c.FileTraces(t) {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				if ss.Scope().Name() != queuejobScope {
					continue
				}
				for _, sp := range ss.Spans().All() {
					j, w := str2(sp.Attributes(), "job.id"), str2(sp.Attributes(), "worker.id")
					if w != "" && !ranOn[j][w] {
						simOnly++
						if simOnly <= 3 {
							t.Logf("queuejob span %s job %s attempt %s status %s worker %s: not in jobsim's record",
								sp.Name(), j, str2(sp.Attributes(), "job.attempt"), str2(sp.Attributes(), "job.status"), w)
						}
					}
					addRan(j, w)
				}
			}
		}
	}
	for _, r := range c.AllLogRecords(t) {
		if ev := str(r, "event.name"); ev != "" && ev != "job_enqueued" {
			addRan(str(r, "job.id"), str(r, "worker.id"))
		}
	}
	if simOnly > 0 {
		t.Logf("%d queuejob attempt spans name a worker jobsim did not record for the job", simOnly)
	}

	seen, wrong := 0, 0
	for _, r := range recs {
		msg := r.Body().AsString()
		jobID := str(r, "job.id")
		if jobID == "" {
			if jobMessages[msg] {
				t.Errorf("job line without job.id: %v", r.Attributes().AsRaw())
			}
			continue
		}
		job := sum.Jobs[jobID]
		if job == nil {
			t.Errorf("record tagged with unknown job %q: %q %v", jobID, msg, r.Attributes().AsRaw())
			wrong++
			continue
		}
		// No record may carry another job's queue or a worker that never ran the job.
		if q := str(r, "queue.name"); q != "" && q != job.Queue {
			t.Errorf("job %s: queue.name %q, want %q (%q)", jobID, q, job.Queue, msg)
			wrong++
		}
		if w := str(r, "worker.id"); w != "" {
			if !ranOn[jobID][w] {
				t.Errorf("job %s: worker.id %q never ran it (%q)", jobID, w, msg)
				wrong++
			}
		}
		retries := "<nil>"
		if v, ok := r.Attributes().Get("retries"); ok {
			retries = v.AsString()
		}
		k := key{msg, str(r, "id"), str(r, "worker_id"), retries}
		if jobLines[k] == 0 {
			continue // producer lines and others
		}
		jobLines[k]--
		seen++
		if jobID != k.id || k.worker != "" && str(r, "worker.id") != k.worker || str(r, "queue.name") != job.Queue {
			t.Errorf("job line %+v tagged job.id=%q worker.id=%q queue.name=%q, want queue %q",
				k, jobID, str(r, "worker.id"), str(r, "queue.name"), job.Queue)
		}
	}
	for k, n := range jobLines {
		if n > 0 {
			t.Errorf("job line %+v: %d not found in the output", k, n)
		}
	}
	if wrong > 0 {
		// Say where the index got its idea: the spans that named the jobs.
		for _, sp := range c.AllSpans(t) {
			if j := str2(sp.Attributes(), "job.id"); j != "" && sum.Jobs[j] != nil {
				t.Logf("span %s job %s attempt %s status %s worker %s trace %s", sp.Name(), j,
					str2(sp.Attributes(), "job.attempt"), str2(sp.Attributes(), "job.status"), str2(sp.Attributes(), "worker.id"), sp.TraceID())
			}
		}
		for id, j := range sum.Jobs {
			for _, a := range j.Attempts {
				t.Logf("jobsim job %s attempt %d worker %s outcome %s", id, a.Number, a.WorkerID, a.Outcome)
			}
		}
	}
	t.Logf("%d jobs, %d job lines checked, %d records wrongly tagged", len(sum.Jobs), seen, wrong)
	return sum
}
