package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobtrace/jobtrace/internal/jobsim"
	"github.com/jobtrace/jobtrace/internal/testutil/redistest"
	"github.com/jobtrace/jobtrace/internal/testutil/victorialogstest"
)

// durableTier is VictoriaLogs and Jaeger (Badger on disk) as examples/durable.yaml expects
// them, on free loopback ports, shared by every collector of a test.
type durableTier struct {
	VL        *victorialogstest.Server
	JaegerDir string
	otlpGRPC  string
	queryURL  string
	jaeger    *exec.Cmd
	jaegerOut string
	jaegerEnd chan struct{}
}

func startDurableTier(t *testing.T) *durableTier {
	t.Helper()
	d := &durableTier{VL: victorialogstest.Start(t), JaegerDir: filepath.Join(t.TempDir(), "jaeger")}
	bin := filepath.Join(repoRoot, "bin", "jaeger")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: build it with `make jaeger`", bin)
	}
	ports := freePorts(t, 4)
	d.otlpGRPC = fmt.Sprintf("127.0.0.1:%d", ports[0])
	query := fmt.Sprintf("127.0.0.1:%d", ports[1])
	d.queryURL = "http://" + query
	d.jaegerOut = filepath.Join(t.TempDir(), "jaeger.log")
	f, err := os.Create(d.jaegerOut)
	require.NoError(t, err)
	d.jaeger = exec.Command(bin, "--config", filepath.Join(repoRoot, "examples", "durable-jaeger.yaml"))
	d.jaeger.Env = append(os.Environ(), "JAEGER_DATA="+d.JaegerDir, "JAEGER_OTLP_GRPC="+d.otlpGRPC,
		fmt.Sprintf("JAEGER_OTLP_HTTP=127.0.0.1:%d", ports[2]), "JAEGER_QUERY_HTTP="+query,
		fmt.Sprintf("JAEGER_QUERY_GRPC=127.0.0.1:%d", ports[3]), "JAEGER_LOG_LEVEL=info")
	d.jaeger.Stdout, d.jaeger.Stderr = f, f
	require.NoError(t, d.jaeger.Start())
	d.jaegerEnd = make(chan struct{})
	go func() { _ = d.jaeger.Wait(); _ = f.Close(); close(d.jaegerEnd) }()
	t.Cleanup(func() {
		_ = d.jaeger.Process.Signal(os.Interrupt)
		select {
		case <-d.jaegerEnd:
		case <-time.After(15 * time.Second):
			_ = d.jaeger.Process.Kill()
			<-d.jaegerEnd
		}
		if t.Failed() {
			b, _ := os.ReadFile(d.jaegerOut)
			t.Logf("jaeger log:\n%s", b)
		}
	})
	Eventually(t, 90*time.Second, func() bool {
		select {
		case <-d.jaegerEnd:
			b, _ := os.ReadFile(d.jaegerOut)
			t.Fatalf("jaeger exited at start:\n%s", b)
		default:
		}
		resp, err := http.Get(d.queryURL + "/api/v3/services")
		if err != nil {
			return false
		}
		resp.Body.Close()
		c, err := net.DialTimeout("tcp", d.otlpGRPC, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return resp.StatusCode == http.StatusOK
	}, "jaeger (badger) up at %s", d.queryURL)
	return d
}

// collectorOptions run a collector with examples/durable.yaml against this tier.
func (d *durableTier) collectorOptions(redisAddr, workerLogs string) []Option {
	return []Option{
		WithRedis(redisAddr),
		WithConfigFile("examples/durable.yaml"),
		WithEnv("VICTORIALOGS_ENDPOINT", d.VL.URL),
		WithEnv("JAEGER_OTLP_ENDPOINT", d.otlpGRPC),
		WithEnv("JAEGER_QUERY_ENDPOINT", d.queryURL),
		WithEnv("WORKER_LOGS", filepath.Join(workerLogs, "*.log")),
	}
}

// storedLine is what a reader compares of a history line.
type storedLine struct {
	Timestamp time.Time `json:"timestamp"`
	Message   string    `json:"message"`
	TraceID   string    `json:"trace_id"`
	JobID     string    `json:"job_id"`
}

// jobHistory pages through /logs/history?job_id= with the cursor.
func jobHistory(t *testing.T, c *Collector, jobID string) (lines []storedLine, partial bool) {
	t.Helper()
	q := url.Values{"job_id": {jobID}, "limit": {"50"}}
	for page := 0; page < 100; page++ {
		var h struct {
			Entries    []storedLine `json:"entries"`
			NextCursor string       `json:"next_cursor"`
			Partial    bool         `json:"partial"`
		}
		require.Equal(t, http.StatusOK, getJSON(t, c, "/logs/history?"+q.Encode(), &h))
		lines = append(lines, h.Entries...)
		partial = partial || h.Partial
		if h.NextCursor == "" {
			return lines, partial
		}
		q.Set("cursor", h.NextCursor)
	}
	t.Fatalf("history of %s did not end within 100 pages", jobID)
	return nil, false
}

type jobTraceAnswer struct {
	TraceID    string `json:"trace_id"`
	Status     string `json:"status"`
	SpansCount int    `json:"spans_count"`
}

func runDurableJobsim(t *testing.T, redisAddr, workerLogs, otlp string, jobs int, seed uint64) *jobsim.Summary {
	t.Helper()
	cfg := jobsim.DefaultConfig()
	cfg.Redis = redisAddr
	cfg.Jobs = jobs
	cfg.Rate = 20
	cfg.Workers = 3
	cfg.FailRatio = 0.3
	cfg.MaxRetries = 1
	cfg.WorkTime = 150 * time.Millisecond
	cfg.Duration = 60 * time.Second
	cfg.Carrier = "w3c"
	cfg.Seed = seed
	cfg.LogFile = filepath.Join(workerLogs, "jobsim.log")
	cfg.OTLPEndpoint = otlp
	sum, err := jobsim.Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, jobs, sum.Final(), "jobsim finished every job")
	return sum
}

// TestDurableRestart runs jobsim through a collector with the durable overlay, restarts the
// collector, and checks that every job still answers /jobs/{id}/trace and
// /logs/history?job_id= with the same trace id and the same lines, from VictoriaLogs and Jaeger.
func TestDurableRestart(t *testing.T) {
	tier := startDurableTier(t)
	redis := redistest.Start(t)
	logs1 := filepath.Join(t.TempDir(), "worker-logs-1")
	require.NoError(t, os.MkdirAll(logs1, 0o755))
	c1 := StartCollector(t, tier.collectorOptions(redis.Addr, logs1)...)

	sum := runDurableJobsim(t, redis.Addr, logs1, c1.OTLPHTTPURL, 12, 21)
	ids := sortedJobIDs(sum.Jobs)
	assert.NotContains(t, strings.ToLower(c1.Output()), "deprecated", "the durable overlay starts without deprecation warnings")

	// Before the restart: every job is final in memory, and its lines are known.
	before := map[string][]storedLine{}
	Eventually(t, 45*time.Second, func() bool {
		for _, id := range ids {
			var jt jobTraceAnswer
			if getJSON(t, c1, "/jobs/"+url.PathEscape(id)+"/trace", &jt) != http.StatusOK ||
				jt.TraceID != sum.Jobs[id].TraceID || jt.Status != string(sum.Jobs[id].Outcome) {
				return false
			}
		}
		return true
	}, "every job final in /jobs/{id}/trace before the restart")
	// Worker lines wait for their job span (jobcorrelation's hold): let them all arrive.
	Eventually(t, 30*time.Second, func() bool {
		for _, id := range ids {
			lines, _ := jobHistory(t, c1, id)
			if !hasWorkerLine(lines) {
				return false
			}
			before[id] = lines
		}
		return true
	}, "every job's worker lines in /logs/history before the restart")
	// Lines still held or batched reach the ring and the store: wait until the history of every
	// job stops changing.
	snapshot := func() string {
		var b strings.Builder
		for _, id := range ids {
			before[id], _ = jobHistory(t, c1, id)
			fmt.Fprintln(&b, lineSet(before[id]))
		}
		return b.String()
	}
	prev := snapshot()
	Eventually(t, 30*time.Second, func() bool {
		time.Sleep(time.Second)
		cur := snapshot()
		stable := cur == prev
		prev = cur
		return stable
	}, "history before the restart settles")

	n := 0
	for _, id := range ids {
		n += len(before[id])
	}
	t.Logf("%d jobs, %d history lines before the restart", len(ids), n)

	// Restart: the exporters drain their queues on SIGTERM; the new collector starts empty.
	c1.Stop(t)
	tier.VL.Flush()
	logs2 := filepath.Join(t.TempDir(), "worker-logs-2")
	require.NoError(t, os.MkdirAll(logs2, 0o755))
	c2 := StartCollector(t, tier.collectorOptions(redis.Addr, logs2)...)

	Eventually(t, 30*time.Second, func() bool {
		for _, id := range ids {
			lines, partial := jobHistory(t, c2, id)
			if partial || len(lines) < len(before[id]) {
				return false
			}
		}
		return true
	}, "every job's lines back from the store after the restart")
	for _, id := range ids {
		want := sum.Jobs[id]
		var jt jobTraceAnswer
		require.Equal(t, http.StatusOK, getJSON(t, c2, "/jobs/"+url.PathEscape(id)+"/trace", &jt), id)
		assert.Equal(t, want.TraceID, jt.TraceID, "job %s: same trace id after the restart", id)
		assert.Equal(t, string(want.Outcome), jt.Status, "job %s: status from its stored lifecycle", id)
		assert.Positive(t, jt.SpansCount, "job %s: its trace comes back from Jaeger", id)

		after, partial := jobHistory(t, c2, id)
		assert.False(t, partial)
		assert.Equal(t, lineSet(before[id]), lineSet(after), "job %s: the same lines after the restart", id)
		assert.True(t, slices.IsSortedFunc(after, func(a, b storedLine) int { return b.Timestamp.Compare(a.Timestamp) }), "job %s: newest first by timestamp", id)
	}
	// The warm-up brought the job list back too.
	var page struct{ Jobs []e2eJob }
	require.Equal(t, http.StatusOK, getJSON(t, c2, "/jobs?limit=1000", &page))
	listed := map[string]bool{}
	for _, j := range page.Jobs {
		listed[j.ID] = true
	}
	for _, id := range ids {
		assert.True(t, listed[id], "job %s listed by /jobs after the restart", id)
	}
}

func hasWorkerLine(lines []storedLine) bool {
	for _, l := range lines {
		switch l.Message {
		case "job completed", "job retried", "job dead-lettered":
			return true
		}
	}
	return false
}

func lineSet(lines []storedLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Timestamp.UTC().Format(time.RFC3339Nano) + " " + l.TraceID + " " + l.Message
	}
	slices.Sort(out)
	return out
}

// vlCount asks VictoriaLogs itself how many lines of a job it holds.
func vlCount(t *testing.T, d *durableTier, jobID string) int {
	t.Helper()
	return vlQueryCount(t, d, fmt.Sprintf(`"job.id":=%q | count() n`, jobID))
}

// vlLifecycleCount counts the job's lifecycle records (event.name job_*) in VictoriaLogs: what a
// gateway rebuilds a job it never saw from (logstore's Lifecycle query).
func vlLifecycleCount(t *testing.T, d *durableTier, jobID string) int {
	t.Helper()
	return vlQueryCount(t, d, fmt.Sprintf(`"job.id":=%q and "event.name":"job_"* | count() n`, jobID))
}

func vlQueryCount(t *testing.T, d *durableTier, query string) int {
	t.Helper()
	q := url.Values{"query": {query}}
	resp, err := http.Get(d.VL.URL + "/select/logsql/query?" + q.Encode())
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var row struct {
		N string `json:"n"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&row) != nil {
		return -1
	}
	n, _ := strconv.Atoi(row.N)
	return n
}

// TestDurableStoreDown stops VictoriaLogs mid-run: the API answers from memory with
// partial: true, the pipeline keeps flowing (the live ring keeps filling, the exporter queues
// and retries), nothing crashes, and the lines of the outage reach the store once it is back.
func TestDurableStoreDown(t *testing.T) {
	tier := startDurableTier(t)
	redis := redistest.Start(t)
	logs := filepath.Join(t.TempDir(), "worker-logs")
	require.NoError(t, os.MkdirAll(logs, 0o755))
	c := StartCollector(t, tier.collectorOptions(redis.Addr, logs)...)

	first := runDurableJobsim(t, redis.Addr, logs, c.OTLPHTTPURL, 4, 31)
	tier.VL.Down()
	second := runDurableJobsim(t, redis.Addr, logs, c.OTLPHTTPURL, 4, 32)

	for _, id := range sortedJobIDs(second.Jobs) {
		want := second.Jobs[id]
		Eventually(t, 30*time.Second, func() bool {
			var jt jobTraceAnswer
			return getJSON(t, c, "/jobs/"+url.PathEscape(id)+"/trace", &jt) == http.StatusOK &&
				jt.TraceID == want.TraceID && jt.Status == string(want.Outcome)
		}, "job %s of the outage answers from memory", id)
		Eventually(t, 30*time.Second, func() bool {
			lines, partial := jobHistory(t, c, id)
			return partial && hasWorkerLine(lines)
		}, "job %s: history from the ring, marked partial", id)
	}
	for _, id := range sortedJobIDs(first.Jobs) {
		lines, partial := jobHistory(t, c, id)
		assert.True(t, partial)
		assert.NotEmpty(t, lines, "job %s from before the outage is still in the ring", id)
	}
	var jobs struct {
		Jobs    []e2eJob `json:"jobs"`
		Partial bool     `json:"partial"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, c, "/jobs?limit=1000", &jobs))
	assert.True(t, jobs.Partial, "the job list says it holds only what memory has (the store's breaker is open)")
	assert.GreaterOrEqual(t, len(jobs.Jobs), len(first.Jobs)+len(second.Jobs), "and it still lists every job memory holds")
	code := getJSON(t, c, "/jobs/never-seen/trace", nil)
	assert.Equal(t, http.StatusServiceUnavailable, code, "a job memory lacks cannot be denied while the store is down")
	resp, err := http.Get(c.HealthURL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the collector keeps running")

	// Back up: the exporter's retries deliver what queued during the outage.
	tier.VL.Up()
	for _, id := range sortedJobIDs(second.Jobs) {
		Eventually(t, 60*time.Second, func() bool {
			tier.VL.Flush()
			return vlCount(t, tier, id) > 0
		}, "job %s's lines reach VictoriaLogs after the outage", id)
	}
}

func getJSONAs(t *testing.T, c *Collector, token, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.TailstreamURL+"/api/v1"+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out), path)
	}
	return resp.StatusCode
}

const scopedUsers = `
extensions:
  tailstream:
    users:
      - {name: root, token: tok-root, roles: [admin]}
      - {name: hi, token: tok-high, roles: [log_viewer, trace_viewer], scope: {queues: [high_priority]}}
`

// TestDurableScope restarts a collector so that every answer comes from the stores, then
// checks that a user scoped to one queue gets nothing of another queue's job from them: the
// RBAC scope applies to store results exactly as to memory.
func TestDurableScope(t *testing.T) {
	tier := startDurableTier(t)
	redis := redistest.Start(t)
	logs1 := filepath.Join(t.TempDir(), "worker-logs-1")
	require.NoError(t, os.MkdirAll(logs1, 0o755))
	opts := append(tier.collectorOptions(redis.Addr, logs1), WithOverlay(scopedUsers))
	c1 := StartCollector(t, opts...)
	sum := runDurableJobsim(t, redis.Addr, logs1, c1.OTLPHTTPURL, 16, 51)
	var high, low string
	for _, id := range sortedJobIDs(sum.Jobs) {
		switch sum.Jobs[id].Queue {
		case "high_priority":
			high = id
		case "low_priority":
			low = id
		}
	}
	require.NotEmpty(t, high)
	require.NotEmpty(t, low)
	Eventually(t, 45*time.Second, func() bool {
		var jt jobTraceAnswer
		return getJSONAs(t, c1, "tok-root", "/jobs/"+low+"/trace", &jt) == http.StatusOK && jt.Status == string(sum.Jobs[low].Outcome) &&
			getJSONAs(t, c1, "tok-root", "/jobs/"+high+"/trace", &jt) == http.StatusOK && jt.Status == string(sum.Jobs[high].Outcome)
	}, "both jobs final before the restart")
	time.Sleep(3 * time.Second)
	c1.Stop(t)
	tier.VL.Flush()

	logs2 := filepath.Join(t.TempDir(), "worker-logs-2")
	require.NoError(t, os.MkdirAll(logs2, 0o755))
	// No warm-up: the jobs are rebuilt on request, under the caller's scope.
	c2 := StartCollector(t, append(tier.collectorOptions(redis.Addr, logs2), WithOverlay(scopedUsers+`    store:
      warm_window: -1s
`))...)

	type hist struct {
		Entries []storedLine `json:"entries"`
		Partial bool         `json:"partial"`
	}
	var h hist
	Eventually(t, 20*time.Second, func() bool {
		return getJSONAs(t, c2, "tok-root", "/logs/history?job_id="+low, &h) == http.StatusOK && len(h.Entries) > 0
	}, "the admin reads the low-queue job's history from the store")
	require.Equal(t, http.StatusOK, getJSONAs(t, c2, "tok-high", "/logs/history?job_id="+low, &h))
	assert.Empty(t, h.Entries, "a user scoped to high_priority gets no line of a low_priority job from the store")
	assert.False(t, h.Partial)
	assert.Equal(t, http.StatusNotFound, getJSONAs(t, c2, "tok-high", "/jobs/"+low+"/trace", nil), "nor the job")
	assert.Equal(t, http.StatusNotFound, getJSONAs(t, c2, "tok-high", "/correlation/"+low, nil))
	var all hist
	require.Equal(t, http.StatusOK, getJSONAs(t, c2, "tok-high", "/logs/history", &all))
	for _, l := range all.Entries {
		assert.NotEqual(t, low, l.JobID, "unfiltered history of the scoped user holds no low_priority line")
	}
	// Its own queue's job it does get, from the store.
	require.Equal(t, http.StatusOK, getJSONAs(t, c2, "tok-high", "/logs/history?job_id="+high, &h))
	assert.NotEmpty(t, h.Entries)
	var jt jobTraceAnswer
	require.Equal(t, http.StatusOK, getJSONAs(t, c2, "tok-high", "/jobs/"+high+"/trace", &jt))
	assert.Equal(t, sum.Jobs[high].TraceID, jt.TraceID)
}
